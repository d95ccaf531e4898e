//! Outbound HTTP policy: which hosts a plugin may reach, with which timeouts, and how much
//! it may read. Every request a plugin makes passes through [`HttpPolicy`], which wasmtime's
//! wasi:http implementation calls instead of opening a connection itself; allowed requests
//! are sent by [`super::send`] (TLS verified, proxies, resolve overrides).

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use super::methods::MethodRule;
use super::netlog::NetLog;
use super::pattern::{HostGrant, HostPattern, Reach};
use super::outbound::Outbound;
use super::send::IoFuture;
use super::throttle::{instance_id, Permit, Throttle};
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

pub struct HttpPolicy {
    allowed: Vec<HostGrant>,
    outbound: Arc<Outbound>,
    connect_timeout: Duration,
    first_byte_timeout: Duration,
    between_bytes_timeout: Duration,
    max_body_bytes: u64,
    max_header_bytes: usize,
    pub log: Arc<Mutex<NetLog>>,
    throttle: Arc<Throttle>,
    /// This instance, for the call's request gate.
    instance: u64,
    /// Which methods the current call may send; set by the host before each call.
    pub methods: MethodRule,
}

impl HttpPolicy {
    /// `allowed` is what [`super::grant::decide`] granted, `env:` patterns already resolved.
    pub fn new(allowed: Vec<HostGrant>, limits: &crate::config::Limits, outbound: Arc<Outbound>, throttle: Arc<Throttle>) -> HttpPolicy {
        HttpPolicy {
            allowed,
            outbound,
            connect_timeout: Duration::from_secs(limits.connect_timeout_secs),
            first_byte_timeout: Duration::from_secs(limits.first_byte_timeout_secs),
            between_bytes_timeout: Duration::from_secs(limits.between_bytes_timeout_secs),
            // Error bodies and redirects ride on top of the object itself.
            max_body_bytes: limits.max_download_bytes.saturating_add(1 << 20),
            max_header_bytes: usize::try_from(limits.max_header_bytes).unwrap_or(usize::MAX),
            log: Arc::default(),
            throttle,
            instance: instance_id(),
            methods: MethodRule::ReadOnly,
        }
    }

    /// None if no grant matches; otherwise whether a matching grant lets the connection
    /// reach internal addresses.
    pub fn admits(&self, host: &str, port: u16) -> Option<Reach> {
        let mut found = None;
        for g in self.allowed.iter().filter(|g| g.pattern.matches(host, port)) {
            if g.internal {
                return Some(Reach::Internal);
            }
            found = Some(Reach::PublicOnly);
        }
        found
    }

    /// The plugin may ask for shorter timeouts, never longer ones than the operator set.
    fn clamp(&self, options: Option<RequestOptions>) -> RequestOptions {
        let o = options.unwrap_or_default();
        let pick = |asked: Option<Duration>, cap: Duration| Some(asked.map_or(cap, |a| a.min(cap)));
        RequestOptions {
            connect_timeout: pick(o.connect_timeout, self.connect_timeout),
            first_byte_timeout: pick(o.first_byte_timeout, self.first_byte_timeout),
            between_bytes_timeout: pick(o.between_bytes_timeout, self.between_bytes_timeout),
        }
    }
}

/// The most of a request body the host takes from a plugin in one write. Copied out of the
/// sandbox into one allocation per write; wasmtime's 1 MiB default made a fresh 1 MiB
/// allocation per MiB sent, and the allocator kept about a dozen of them alive on an
/// upload of two parts at once. Small writes reuse the same memory at no measurable cost.
const BODY_WRITE_BYTES: usize = 64 * 1024;

impl WasiHttpHooks for HttpPolicy {
    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        BODY_WRITE_BYTES
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send> {
        drop(fut);
        let uri = request.uri();
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let host = uri.host().unwrap_or("").to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = format!("{host}:{port}");
        let reach;
        {
            let mut log = self.log.lock().unwrap();
            match self.admits(&host, port) {
                Some(r) => reach = r,
                None => {
                    let shown = scheme_contract::text::escape(&authority);
                    if log.note_denied(shown.clone()) {
                        tracing::warn!(authority = %shown, "denied outbound request: host not granted to this plugin");
                    }
                    return Box::new(async { Err(HttpError::HttpRequestDenied) });
                }
            }
        }
        let named = self.allowed.iter().any(|g| matches!(g.pattern, HostPattern::Exact { .. }) && g.pattern.matches(&host, port));
        if let Err(refused) = self.methods.admits(request.method().as_str(), &host, uri.path(), named) {
            let what = format!("{refused} (to {})", scheme_contract::text::escape(&authority));
            if self.log.lock().unwrap().note_refused_method(what.clone()) {
                tracing::warn!("refused a plugin request: {what}");
            }
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        tracing::debug!(method = %request.method(), authority = %authority, "outbound request");
        let options = self.clamp(options);
        let max = self.max_body_bytes;
        let max_headers = self.max_header_bytes;
        let (outbound, log) = (self.outbound.clone(), self.log.clone());
        let (throttle, instance) = (self.throttle.clone(), self.instance);
        Box::new(async move {
            // Held until the response body is finished or dropped: see `throttle`.
            let permit = throttle.enter(instance).await;
            let (response, io) = super::send::send(outbound, log.clone(), request, options, reach).await?;
            // The HTTP client bounds a response head only by its read buffer (~400 KiB);
            // the operator's limit applies to what the server sends as well as to what the
            // plugin builds.
            let size: usize = response.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
            if size > max_headers {
                log.lock().unwrap().failures.push(format!(
                    "{} sent {size} bytes of response headers, more than limits.max-header-bytes ({max_headers})",
                    scheme_contract::text::escape(&authority)
                ));
                return Err(ErrorCode::HttpResponseHeaderSize(wasmtime_wasi_http::p2::bindings::http::types::FieldSizePayload {
                    field_name: None,
                    field_size: u32::try_from(size).ok(),
                })
                .into());
            }
            let response = response.map(|body| CappedBody { inner: body, left: max, permit: Some(permit) }.boxed_unsync());
            Ok((response, io))
        })
    }

    /// Names the failure instead of calling every one "refused", and quietly: the plugin
    /// reports it (and may retry), and proxy failures already carry a note.
    fn p2_error_from_connect(&mut self, err: &std::io::Error) -> ErrorCode {
        use std::io::ErrorKind as K;
        tracing::debug!("connect error: {err}");
        match err.kind() {
            K::TimedOut => ErrorCode::ConnectionTimeout,
            K::HostUnreachable | K::NetworkUnreachable => ErrorCode::DestinationUnavailable,
            _ => ErrorCode::ConnectionRefused,
        }
    }
}

/// Fails a response body that grows past the download limit, whatever it declared, and
/// holds the request's place in the call's gate until the body ends.
struct CappedBody {
    inner: WasiBody,
    left: u64,
    permit: Option<Permit>,
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    if n > self.left {
                        return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(None))));
                    }
                    self.left -= n;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                self.permit = None;
                Poll::Ready(None)
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
