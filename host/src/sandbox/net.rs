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
use super::grant::HostGrant;
use super::outbound::Outbound;
use super::send::IoFuture;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// One entry of an allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// `host` or `host:port`. Without a port only 80 and 443 match.
    Exact { host: String, port: Option<u16> },
    /// `*.suffix` or `*.suffix:port`: any name ending in `.suffix` (not `suffix` itself).
    Suffix { suffix: String, port: Option<u16> },
    /// `env:VAR`: the authority of the URL in the host's environment variable `VAR`,
    /// resolved when the policy is built; nothing when `VAR` is unset.
    Env(String),
}

impl HostPattern {
    pub fn parse(s: &str) -> Result<HostPattern, String> {
        let s = s.trim();
        if let Some(var) = s.strip_prefix("env:") {
            if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("invalid environment variable name in host pattern {s:?}"));
            }
            return Ok(HostPattern::Env(var.to_string()));
        }
        let (host, port) = split_host_port(s).ok_or_else(|| format!("invalid host pattern {s:?}"))?;
        if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') || !suffix.contains('.') {
                return Err(format!("host pattern {s:?} is too broad"));
            }
            return Ok(HostPattern::Suffix { suffix: suffix.to_string(), port });
        }
        if host.contains('*') {
            return Err(format!("host pattern {s:?}: only a leading '*.' wildcard is allowed"));
        }
        Ok(HostPattern::Exact { host, port })
    }

    /// Replaces `env:VAR` with what it names right now: the endpoint itself and, for a DNS
    /// name, its subdomains on the same port (virtual-hosted buckets live at
    /// `<bucket>.<endpoint>`). Other patterns are returned as is.
    pub fn resolve(self) -> Vec<HostPattern> {
        self.resolve_with(&|v| std::env::var(v).ok())
    }

    /// [`HostPattern::resolve`] with the environment given as a lookup.
    pub fn resolve_with(self, env: &dyn Fn(&str) -> Option<String>) -> Vec<HostPattern> {
        match self {
            HostPattern::Env(var) => {
                let Some((host, port)) = env(&var).as_deref().and_then(authority_of_url) else {
                    return vec![];
                };
                let is_ip = host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok();
                let mut v = vec![HostPattern::Exact { host: host.clone(), port: Some(port) }];
                if !is_ip && host.contains('.') {
                    v.push(HostPattern::Suffix { suffix: host, port: Some(port) });
                }
                v
            }
            p => vec![p],
        }
    }

    pub fn matches(&self, host: &str, port: u16) -> bool {
        let port_ok = |p: &Option<u16>| match p {
            Some(p) => *p == port,
            None => port == 80 || port == 443,
        };
        match self {
            HostPattern::Exact { host: h, port: p } => h == host && port_ok(p),
            HostPattern::Suffix { suffix, port: p } => {
                host.len() > suffix.len() + 1
                    && host.ends_with(suffix.as_str())
                    && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                    && port_ok(p)
            }
            HostPattern::Env(_) => false,
        }
    }
}

/// Splits `host[:port]` / `[v6]:port`, lower-casing the host.
fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if s.is_empty() || s.contains(['/', '@', ' ', '?', '#']) {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (h, tail) = rest.split_once(']')?;
        let port = match tail {
            "" => None,
            t => Some(t.strip_prefix(':')?.parse().ok()?),
        };
        return Some((format!("[{}]", h.to_ascii_lowercase()), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => Some((h.to_ascii_lowercase(), Some(p.parse().ok()?))),
        Some(_) => None,
        None => Some((s.to_ascii_lowercase(), None)),
    }
}

/// `https://host:port/path` -> (host, port); a bare `host[:port]` means https.
pub fn authority_of_url(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => ("https".to_string(), url),
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = split_host_port(authority)?;
    let default = if scheme == "http" { 80 } else { 443 };
    Some((host, port.unwrap_or(default)))
}

/// Which addresses a granted name may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A grant the operator made or approved: any address.
    Internal,
    /// A name granted by default: refused if it resolves to an internal address.
    PublicOnly,
}

/// Per-call network state shared with the code that reports errors.
const MAX_DENIED_SHOWN: usize = 16;

#[derive(Debug, Default)]
pub struct NetLog {
    /// Distinct authorities the plugin tried to reach and was refused, in order (the first
    /// [`MAX_DENIED_SHOWN`]).
    pub denied: Vec<String>,
    /// Connection failures the plugin only sees as a bare wasi:http error code (TLS
    /// certificates, proxies, trusted roots), one sentence each, in order, without repeats
    /// (a plugin may retry), free of credentials.
    pub failures: Vec<String>,
}

impl NetLog {
    pub fn note_failure(&mut self, what: String) {
        if self.failures.len() < MAX_DENIED_SHOWN && !self.failures.contains(&what) {
            self.failures.push(what);
        }
    }
}

pub struct HttpPolicy {
    allowed: Vec<HostGrant>,
    outbound: Arc<Outbound>,
    connect_timeout: Duration,
    first_byte_timeout: Duration,
    between_bytes_timeout: Duration,
    max_body_bytes: u64,
    max_header_bytes: usize,
    pub log: Arc<Mutex<NetLog>>,
}

impl HttpPolicy {
    /// `allowed` is what [`super::grant::decide`] granted, `env:` patterns already resolved.
    pub fn new(allowed: Vec<HostGrant>, limits: &crate::config::Limits, outbound: Arc<Outbound>) -> HttpPolicy {
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


impl WasiHttpHooks for HttpPolicy {
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
                    // Each distinct authority once, and only so many: a plugin that retries
                    // or sweeps addresses cannot flood the log.
                    let shown = crate::text::escape(&authority);
                    if log.denied.len() < MAX_DENIED_SHOWN && !log.denied.contains(&shown) {
                        tracing::warn!(authority = %shown, "denied outbound request: host not granted to this plugin");
                        log.denied.push(shown);
                    }
                    return Box::new(async { Err(HttpError::HttpRequestDenied) });
                }
            }
        }
        tracing::debug!(method = %request.method(), authority = %authority, "outbound request");
        let options = self.clamp(options);
        let max = self.max_body_bytes;
        let max_headers = self.max_header_bytes;
        let (outbound, log) = (self.outbound.clone(), self.log.clone());
        Box::new(async move {
            let (response, io) = super::send::send(outbound, log.clone(), request, options, reach).await?;
            // The HTTP client bounds a response head only by its read buffer (~400 KiB);
            // the operator's limit applies to what the server sends as well as to what the
            // plugin builds.
            let size: usize = response.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
            if size > max_headers {
                log.lock().unwrap().failures.push(format!(
                    "{} sent {size} bytes of response headers, more than limits.max-header-bytes ({max_headers})",
                    crate::text::escape(&authority)
                ));
                return Err(ErrorCode::HttpResponseHeaderSize(wasmtime_wasi_http::p2::bindings::http::types::FieldSizePayload {
                    field_name: None,
                    field_size: u32::try_from(size).ok(),
                })
                .into());
            }
            let response = response.map(|body| CappedBody { inner: body, left: max }.boxed_unsync());
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

/// Fails a response body that grows past the download limit, whatever it declared.
struct CappedBody {
    inner: WasiBody,
    left: u64,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_match() {
        let p = HostPattern::parse("*.myhuaweicloud.com").unwrap();
        assert!(p.matches("bucket.obs.cn-north-4.myhuaweicloud.com", 443));
        assert!(!p.matches("myhuaweicloud.com", 443));
        assert!(!p.matches("evilmyhuaweicloud.com", 443));
        assert!(!p.matches("a.myhuaweicloud.com", 8443));
        let p = HostPattern::parse("127.0.0.1:9000").unwrap();
        assert!(p.matches("127.0.0.1", 9000));
        assert!(!p.matches("127.0.0.1", 9001));
        let p = HostPattern::parse("[::1]:9000").unwrap();
        assert!(p.matches("[::1]", 9000));
        for bad in ["*", "*.", "*.com", "a*b.com", "host:notaport", "user@host", "", "env:", "env:A-B", "*.c*om"] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_patterns_resolve_to_exact_authorities() {
        assert_eq!(authority_of_url("http://127.0.0.1:9000"), Some(("127.0.0.1".into(), 9000)));
        assert_eq!(authority_of_url("obs.cn-north-4.myhuaweicloud.com"), Some(("obs.cn-north-4.myhuaweicloud.com".into(), 443)));
        assert_eq!(authority_of_url("http://Example.COM/x"), Some(("example.com".into(), 80)));
        // SAFETY: no other test reads or writes this variable.
        unsafe { std::env::set_var("SCHEME_HOST_TEST_ENDPOINT_VAR", "http://127.0.0.1:1234") };
        let p = HostPattern::parse("env:SCHEME_HOST_TEST_ENDPOINT_VAR").unwrap().resolve();
        assert_eq!(p.len(), 1, "an IP endpoint has no subdomains");
        assert!(p[0].matches("127.0.0.1", 1234));
        // SAFETY: as above.
        unsafe { std::env::set_var("SCHEME_HOST_TEST_ENDPOINT_VAR2", "https://obs.example.eu") };
        let p = HostPattern::parse("env:SCHEME_HOST_TEST_ENDPOINT_VAR2").unwrap().resolve();
        assert!(p.iter().any(|p| p.matches("bucket.obs.example.eu", 443)));
        assert!(!p.iter().any(|p| p.matches("bucket.obs.example.eu", 80)));
        assert!(HostPattern::parse("env:SCHEME_HOST_TEST_UNSET_VAR").unwrap().resolve().is_empty());
    }
}
