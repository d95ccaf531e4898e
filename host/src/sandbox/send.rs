//! Sends one plugin request over HTTP/1.1: resolve (with overrides), connect directly or
//! through a proxy (CONNECT for https, absolute-form for http), verify TLS against the
//! host's trusted roots, then apply the policy's three timeouts.
//!
//! Timeouts: `connect` covers everything before the request is written (resolution, TCP,
//! the proxy's CONNECT answer and the TLS handshake); `first byte` the wait for the response
//! head; `between bytes` each gap in the body, as wasmtime's default sender applies them.
//!
//! Failures the plugin can only see as a bare wasi:http error code (certificates, proxies,
//! trusted roots) are also described in [`NetLog::failures`] for the user's error message.

use super::netlog::NetLog;
use super::pattern::Reach;
use super::outbound::Outbound;
use super::proxy::ProxyUrl;
use super::tls::TlsFailure;
use super::tunnel::{self, TunnelError};
use bytes::Bytes;
use http::uri::Scheme;
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::future::poll_fn;
use std::net::{IpAddr, SocketAddr};
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

pub type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

/// Used only when a caller passes no timeout; the policy always passes all three.
const UNSET_TIMEOUT: Duration = Duration::from_secs(600);

trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static> Stream for T {}

/// Why a connection could not be set up, with what the user needs to fix it.
#[derive(Debug)]
pub enum ConnectError {
    /// Name resolution failed (`via`: the proxy whose own name failed).
    Resolve { detail: String, via: Option<String> },
    /// Every address refused or was unreachable.
    Dial { source: std::io::Error, via: Option<String> },
    /// The proxy would not open the tunnel.
    Tunnel { proxy: String, authority: String, error: TunnelError },
    /// The trusted roots could not be loaded.
    Roots(String),
    /// The host is not a name TLS can verify.
    InvalidName(String),
    /// A name granted by default resolved to an internal address.
    Internal { authority: String, addr: IpAddr },
    Tls(TlsFailure),
}

impl ConnectError {
    /// The wasi:http error for the plugin and, when the code alone would leave the user
    /// guessing, a sentence for the error message.
    pub fn into_parts(self) -> (HttpError, Option<String>) {
        match self {
            ConnectError::Resolve { detail, via } => {
                let note = via.map(|p| format!("cannot resolve the name of {p}: {detail}"));
                (HttpError::DnsError { rcode: Some(detail), info_code: None }, note)
            }
            ConnectError::Dial { source, via } => {
                let note = via.map(|p| format!("cannot connect to {p}: {source}"));
                (HttpError::Connect(source), note)
            }
            ConnectError::Tunnel { proxy, authority, error } => match error {
                TunnelError::Refused { status: 407, reason } => (
                    HttpError::ConfigurationError,
                    Some(format!("{proxy} refused the tunnel to {authority}: 407 {reason}; check the proxy credentials")),
                ),
                TunnelError::Refused { status, reason } if status >= 500 => (
                    HttpError::DestinationUnavailable,
                    Some(format!("{proxy} could not open a tunnel to {authority}: {status} {reason}")),
                ),
                TunnelError::Refused { status, reason } => (
                    HttpError::ConfigurationError,
                    Some(format!("{proxy} refused the tunnel to {authority}: {status} {reason}")),
                ),
                TunnelError::Protocol(m) => (HttpError::HttpProtocolError, Some(format!("{proxy} answered CONNECT {authority} wrongly: {m}"))),
                TunnelError::Io(m) => (HttpError::ConnectionTerminated, Some(format!("{proxy} dropped the tunnel to {authority}: {m}"))),
            },
            ConnectError::Roots(m) => (HttpError::ConfigurationError, Some(format!("cannot verify TLS certificates: {m}"))),
            ConnectError::InvalidName(host) => (
                HttpError::DnsError { rcode: Some("invalid dns name".into()), info_code: None },
                Some(format!("{} is not a host name TLS can verify", scheme_contract::text::escape(&host))),
            ),
            ConnectError::Internal { authority, addr } => (
                HttpError::HttpRequestDenied,
                Some(format!(
                    "{} resolves to {addr}, an address of this machine or its private network, which this plugin is not granted; \
                     an operator can grant it in [plugins.NAME] extra-allow-hosts or pin the name in [resolve]",
                    scheme_contract::text::escape(&authority)
                )),
            ),
            ConnectError::Tls(f) => {
                let code = f.http_error();
                (code, Some(f.to_string()))
            }
        }
    }
}

/// Sends `request` and returns the response with its body still streaming, plus the
/// future that drives the connection.
pub async fn send(outbound: Arc<Outbound>, log: Arc<Mutex<NetLog>>, mut request: Request<WasiBody>, options: RequestOptions, reach: Reach) -> Result<(Response<WasiBody>, IoFuture), HttpError> {
    let uri = request.uri().clone();
    let https = uri.scheme() == Some(&Scheme::HTTPS);
    let host = uri.host().ok_or(HttpError::HttpRequestUriInvalid)?.to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = format!("{host}:{port}");
    let connect_timeout = options.connect_timeout.unwrap_or(UNSET_TIMEOUT);
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(UNSET_TIMEOUT);
    let between_bytes_timeout = options.between_bytes_timeout.unwrap_or(UNSET_TIMEOUT);
    let proxy = outbound.proxies.for_target(https, &host, port).cloned();
    // Debug only: the note reaches the user inside the error if the call fails, and a
    // failure the plugin's retry got past needs no warning.
    let note = |s: String| {
        tracing::debug!("{s}");
        log.lock().unwrap().note_failure(s);
    };

    let stream = match tokio::time::timeout(connect_timeout, establish(&outbound, &host, port, https, proxy.as_ref(), reach)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let (code, explained) = e.into_parts();
            if let Some(s) = explained {
                note(s);
            }
            return Err(code);
        }
        Err(_) => {
            if let Some(p) = &proxy {
                note(format!("connecting to {authority} through {p} timed out after {}s", connect_timeout.as_secs()));
            }
            return Err(HttpError::ConnectionTimeout);
        }
    };
    let (mut sender, conn) = tokio::time::timeout(connect_timeout, hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)??;

    match &proxy {
        // An http URL through a proxy: the proxy needs the whole URL and our credentials.
        Some(p) if !https => {
            request.headers_mut().remove(http::header::PROXY_AUTHORIZATION);
            if let Some(auth) = p.authorization() {
                request.headers_mut().insert(http::header::PROXY_AUTHORIZATION, auth.clone());
            }
        }
        // Direct or tunnelled: the origin gets origin-form.
        _ => {
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            *request.uri_mut() = Uri::builder().path_and_query(path).build().map_err(|_| HttpError::HttpRequestUriInvalid)?;
        }
    }

    let respond = async move {
        let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
            .await
            .map_err(|_| HttpError::ConnectionReadTimeout)?
            .map_err(HttpError::from)?;
        // tokio's interval panics on zero; one nanosecond is as good as zero here.
        let gap = between_bytes_timeout.max(Duration::from_nanos(1));
        let mut timer = tokio::time::interval(gap);
        timer.reset();
        Ok::<_, HttpError>(response.map(|incoming| GapLimitedBody { incoming, timer }.boxed_unsync()))
    };
    let mut respond = pin!(respond);
    let mut conn = Some(conn);
    // The response only arrives while the connection is driven; drive both until it does.
    let response = poll_fn(|cx| {
        if let Poll::Ready(r) = respond.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        let Some(c) = conn.as_mut() else { return Poll::Pending };
        let done = ready!(Pin::new(c).poll(cx));
        conn = None;
        match done {
            Ok(()) => respond.as_mut().poll(cx),
            Err(e) => Poll::Ready(Err(HttpError::from(e))),
        }
    })
    .await?;

    if let Some(p) = &proxy {
        if !https && response.status() == http::StatusCode::PROXY_AUTHENTICATION_REQUIRED {
            note(format!("{p} answered 407 Proxy Authentication Required for {authority}; check the proxy credentials"));
        }
    }
    let io: IoFuture = Box::new(async move {
        match conn {
            None => Ok(()),
            Some(c) => c.await.map_err(|e| if e.is_timeout() { HttpError::HttpResponseTimeout } else { HttpError::from(e) }),
        }
    });
    Ok((response, io))
}

/// Opens the byte stream the request is written to.
async fn establish(outbound: &Outbound, host: &str, port: u16, https: bool, proxy: Option<&ProxyUrl>, reach: Reach) -> Result<Box<dyn Stream>, ConnectError> {
    let authority = format!("{host}:{port}");
    // Roots first: if they cannot be loaded there is no point in connecting.
    let verifier = if https { Some(outbound.trust.verifier().map_err(|e| ConnectError::Roots(e.to_string()))?) } else { None };
    let (dial_host, dial_port) = proxy.map_or((host, port), |p| (p.host.as_str(), p.port));
    let via = proxy.map(ToString::to_string);
    let (addrs, overridden) = resolve(outbound, dial_host, dial_port).await.map_err(|detail| ConnectError::Resolve { detail, via: via.clone() })?;
    // The proxy and `[resolve]` overrides are the operator's own; a name the plugin was
    // granted by default must not lead to this machine or its private network.
    let addrs = if proxy.is_none() && !overridden && reach == Reach::PublicOnly {
        let public: Vec<SocketAddr> = addrs.iter().copied().filter(|a| !super::pattern::is_internal(a.ip())).collect();
        if public.is_empty() {
            return Err(ConnectError::Internal { authority, addr: addrs[0].ip() });
        }
        public
    } else {
        addrs
    };
    let mut tcp = dial(&addrs).await.map_err(|source| ConnectError::Dial { source, via: via.clone() })?;
    // Small requests (HEAD, ranges) must not wait for Nagle.
    let _ = tcp.set_nodelay(true);
    if let (Some(p), true) = (proxy, https) {
        tunnel::connect(&mut tcp, &authority, p.authorization())
            .await
            .map_err(|error| ConnectError::Tunnel { proxy: p.to_string(), authority: authority.clone(), error })?;
    }
    let Some(verifier) = verifier else { return Ok(Box::new(tcp)) };
    let name = server_name(host)?;
    let tls = tokio_rustls::TlsConnector::from(verifier.config.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| ConnectError::Tls(TlsFailure::classify(&authority, &verifier.roots, &e)))?;
    Ok(Box::new(tls))
}

/// The name certificates are checked against: always the requested host, never an
/// override's address.
fn server_name(host: &str) -> Result<rustls::pki_types::ServerName<'static>, ConnectError> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ip.into());
    }
    rustls::pki_types::ServerName::try_from(bare.to_string()).map_err(|_| ConnectError::InvalidName(host.to_string()))
}

/// Addresses for `host:port`, and whether they came from an override (else the system
/// resolver, or the host is an address itself).
async fn resolve(outbound: &Outbound, host: &str, port: u16) -> Result<(Vec<SocketAddr>, bool), String> {
    if let Some(addrs) = outbound.resolve.lookup(host, port) {
        tracing::debug!(host, port, ?addrs, "resolve override");
        return Ok((addrs.iter().map(|ip| SocketAddr::new(*ip, port)).collect(), true));
    }
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok((vec![SocketAddr::new(ip, port)], false));
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((bare, port)).await.map_err(|e| e.to_string())?.collect();
    if found.is_empty() {
        return Err(format!("{bare} has no address"));
    }
    Ok((found, false))
}

/// Tries each address in turn; the last error stands for all.
async fn dial(addrs: &[SocketAddr]) -> std::io::Result<TcpStream> {
    let mut last = None;
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address to connect to")))
}

/// A response body that fails when no data arrives for the between-bytes timeout.
struct GapLimitedBody {
    incoming: hyper::body::Incoming,
    timer: tokio::time::Interval,
}

impl Body for GapLimitedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(if e.is_timeout() { HttpError::HttpResponseTimeout } else { HttpError::from(e) }))),
            Poll::Ready(Some(Ok(frame))) => {
                self.timer.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.timer.poll_tick(cx));
                Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_come_from_the_requested_host() {
        assert_eq!(server_name("b.obs.test").unwrap(), rustls::pki_types::ServerName::try_from("b.obs.test").unwrap());
        assert_eq!(server_name("[::1]").unwrap(), rustls::pki_types::ServerName::from("::1".parse::<IpAddr>().unwrap()));
        assert!(matches!(server_name("bad name"), Err(ConnectError::InvalidName(_))));
    }

    #[test]
    fn proxy_refusals_become_clear_notes() {
        let refused = |status| ConnectError::Tunnel {
            proxy: "proxy p:3128 (from HTTPS_PROXY, with credentials)".into(),
            authority: "b.obs.test:443".into(),
            error: TunnelError::Refused { status, reason: "Whatever".into() },
        };
        let (code, note) = refused(407).into_parts();
        assert!(matches!(code, HttpError::ConfigurationError));
        assert_eq!(note.unwrap(), "proxy p:3128 (from HTTPS_PROXY, with credentials) refused the tunnel to b.obs.test:443: 407 Whatever; check the proxy credentials");
        assert!(matches!(refused(502).into_parts().0, HttpError::DestinationUnavailable), "a proxy's gateway error may pass: retry");
        let (code, note) = ConnectError::Dial { source: std::io::ErrorKind::ConnectionRefused.into(), via: None }.into_parts();
        assert!(matches!(code, HttpError::Connect(_)) && note.is_none(), "a plain refused connection needs no explanation");
    }
}
