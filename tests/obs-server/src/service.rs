//! The HTTP service, independent of the listener: `serve_connection` takes any transport
//! (plain TCP or a TLS stream over it).
//!
//! Pipeline of a request: protocol (OBS or S3, from the claimed authentication) -> addressing
//! -> counters -> rate limit -> early faults (terminal answers, clock skew) -> `apiversion`
//! probe -> authentication -> operation -> request log.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use http::header::{HOST, IF_MATCH, RANGE};
use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::addressing::{self, Route, Target};
use crate::auth::{self, AuthRequest, claimed::claimed_access_key};
use crate::body::ResponseBody;
use crate::clock::shift;
use crate::conn::ConnControl;
use crate::faults::FaultRequest;
use crate::protocol::Protocol;
use crate::query::Query;
use crate::rate_limit::{Admission, Client};
use crate::request_log::RequestRecord;
use crate::respond::{ErrorCode, Exchange};
use crate::router::{self, Routed};
use crate::state::State;
use crate::{admin, ops};

/// One connection's view of the server.
#[derive(Clone)]
pub struct ObsService {
    state: Arc<State>,
    ctl: Arc<ConnControl>,
    peer: SocketAddr,
}

impl ObsService {
    pub fn new(state: Arc<State>, ctl: Arc<ConnControl>, peer: SocketAddr) -> Self {
        ObsService { state, ctl, peer }
    }
}

impl hyper::service::Service<Request<Incoming>> for ObsService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(handle(&this.state, &this.ctl, this.peer, req).await) })
    }
}

/// Serves HTTP/1.1 on `io` until the client goes away.
pub async fn serve_connection<I>(io: I, service: ObsService) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    http1::Builder::new()
        .keep_alive(true)
        .writev(true)
        .serve_connection(TokioIo::new(io), service)
        .await
}

async fn handle(
    state: &Arc<State>,
    ctl: &Arc<ConnControl>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<ResponseBody> {
    let request_id = state.ids.next();
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers()
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        });
    let raw_path = req.uri().path().to_string();
    let raw_query = req.uri().query().map(str::to_string);
    let is_head = req.method() == Method::HEAD;
    let protocol = Protocol::detect(req.headers(), &Query::parse(raw_query.as_deref()));
    let route = addressing::route(host.as_deref(), &raw_path, &state.config.domains);

    let mut record = RequestRecord {
        seq: state.log.next_seq(),
        request_id: request_id.clone(),
        peer: peer.to_string(),
        method: req.method().as_str().to_string(),
        path: raw_path.clone(),
        query: raw_query.as_deref().map(RequestRecord::redact_query),
        host: host.clone(),
        addressing: None,
        protocol,
        bucket: None,
        key: None,
        range: header_text(&req, RANGE),
        if_match: header_text(&req, IF_MATCH),
        has_authorization: req.headers().contains_key(http::header::AUTHORIZATION),
        has_security_token: req.headers().contains_key("x-obs-security-token")
            || req.headers().contains_key("x-amz-security-token")
            || raw_query
                .as_deref()
                .is_some_and(|q| q.contains("security-token=")),
        auth: None,
        headers: RequestRecord::redact_headers(req.headers()),
        status: 0,
        error_code: None,
        faults: Vec::new(),
        rate_limited: false,
    };

    let target = match route {
        Ok(Route::Admin(rest)) => return admin::handle(state, req, &rest, &request_id).await,
        Ok(Route::Obs(target)) => target,
        Err(e) => {
            let ex = Exchange {
                request_id,
                now: state.clock.now(),
                resource: raw_path,
                is_head,
                protocol,
            };
            return finish_record(state, &mut record, ex.error(&e));
        }
    };
    record.addressing = Some(target.addressing);
    record.bucket = target.bucket.clone();
    record.key = target.key.clone();
    let resp = obs_request(state, ctl, peer, req, &target, request_id, &mut record).await;
    finish_record(state, &mut record, resp)
}

/// The most of a faulted request's body the server reads before it answers.
const MAX_DRAINED_BODY: usize = 512 << 20;

async fn obs_request(
    state: &Arc<State>,
    ctl: &Arc<ConnControl>,
    peer: SocketAddr,
    req: Request<Incoming>,
    target: &Target,
    request_id: String,
    record: &mut RequestRecord,
) -> Response<ResponseBody> {
    let (parts, body) = req.into_parts();
    let method = parts.method;
    let query = Query::parse(parts.uri.query());
    let resource = match (&target.bucket, &target.key) {
        (Some(b), Some(k)) => format!("/{b}/{k}"),
        (Some(b), None) => format!("/{b}"),
        _ => "/".to_string(),
    };
    let mut ex = Exchange {
        request_id,
        now: state.clock.now(),
        resource,
        is_head: method == Method::HEAD,
        protocol: record.protocol,
    };

    if let Some(bucket) = target.bucket.as_deref() {
        state
            .log
            .count(bucket, target.key.as_deref(), method.as_str());
    }
    let client = Client {
        access_key: claimed_access_key(&parts.headers, &query),
        peer_ip: &peer.ip().to_string(),
    };
    if let Admission::Throttled { retry_after_secs } =
        state.limiter.admit(tokio::time::Instant::now(), client)
    {
        record.rate_limited = true;
        return ops::faulted::slow_down(&ex, retry_after_secs);
    }

    if let Some(bucket) = target.bucket.as_deref() {
        let early = state.faults.take_early(&FaultRequest {
            method: method.as_str(),
            bucket,
            key: target.key.as_deref(),
            has_range: parts.headers.contains_key(RANGE),
        });
        record
            .faults
            .extend(early.applied.iter().map(|s| s.to_string()));
        ex.now = shift(ex.now, early.date_skew_secs);
        if let Some(fault) = early.terminal {
            // Read what the client sends first, as a store that refuses a request after
            // receiving it does: a client still writing its body to a closed connection
            // would see a broken connection instead of the answer under test.
            let _ = http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_DRAINED_BODY)).await;
            return ops::faulted::respond(&ex, &fault);
        }
    }

    // The SDK negotiates its signature type with an unsigned probe before signing anything.
    if method == Method::HEAD && query.has("apiversion") {
        return ops::bucket::api_version(state, &ex, target.bucket.as_deref());
    }

    let auth = auth::authenticate(
        &AuthRequest {
            method: method.as_str(),
            headers: &parts.headers,
            query: &query,
            canonical_resource: &target.canonical_resource,
            raw_path: parts.uri.path(),
            raw_query: parts.uri.query(),
            now: ex.now,
            max_skew: state.config.max_skew,
            region: state.config.s3_region.as_deref(),
        },
        &state.config.credentials,
    );
    let auth = match auth {
        Ok(auth) => auth,
        Err(e) => return ex.error(&e),
    };
    record.auth = Some(auth.kind);
    let routed = Routed {
        state,
        ctl,
        ex: &ex,
        method: &method,
        target,
        query: &query,
        headers: &parts.headers,
        auth: auth.kind,
        v4: auth.v4.as_ref(),
    };
    router::dispatch(routed, body, &mut record.faults).await
}

fn finish_record(
    state: &State,
    record: &mut RequestRecord,
    resp: Response<ResponseBody>,
) -> Response<ResponseBody> {
    record.status = resp.status().as_u16();
    record.error_code = resp.extensions().get::<ErrorCode>().map(|c| c.0.clone());
    state.log.push(record.clone());
    resp
}

fn header_text(req: &Request<Incoming>, name: http::header::HeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}
