//! Transport-neutral request and response values.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Put,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// The bytes a request sends. Shared rather than owned: every attempt of a retried upload
/// sends the same bytes, and the signer and the transport read them, without a copy of a
/// part that may be gigabytes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RequestBody(Arc<Vec<u8>>);

impl RequestBody {
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for RequestBody {
    fn from(bytes: Vec<u8>) -> Self {
        RequestBody(Arc::new(bytes))
    }
}

// A part's bytes in a test failure or a log line would drown everything else.
impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestBody({} bytes)", self.0.len())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// One outgoing request. `authority` is `host[:port]`; `path_and_query` starts with `/` and
/// is already encoded exactly as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub scheme: Scheme,
    pub authority: String,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    /// `None` sends no body at all (GET, HEAD, DELETE).
    pub body: Option<RequestBody>,
}

impl Request {
    pub fn new(method: Method, scheme: Scheme, authority: impl Into<String>, path_and_query: impl Into<String>) -> Self {
        Request { method, scheme, authority: authority.into(), path_and_query: path_and_query.into(), headers: Vec::new(), body: None }
    }

    /// The request with `body`, announced by a `Content-Length`: stores refuse uploads
    /// without one, and without it the runtime would fall back to a chunked body.
    pub fn with_body(mut self, body: RequestBody) -> Self {
        self.set_header("Content-Length", body.len().to_string());
        self.body = Some(body);
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Sets a header, replacing any value of the same name.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        self.path_and_query.split('?').next().unwrap_or("")
    }

    /// `scheme://authority/path` for messages. Callers must not put secrets in the query.
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme.as_str(), self.authority, self.path_and_query)
    }
}

/// Response headers with lower-cased names, in arrival order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, Vec<u8>)>,
}

impl Headers {
    pub fn new() -> Self {
        Headers::default()
    }

    pub fn push(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        self.entries.push((name.to_ascii_lowercase(), value.into()));
    }

    /// The first value of `name`, trimmed, if it is valid UTF-8.
    pub fn get(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.entries
            .iter()
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .map(str::trim)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    pub fn content_length(&self) -> Option<u64> {
        let v = self.get("content-length")?;
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        v.parse().ok()
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut h = Headers::new();
        for (k, v) in iter {
            h.push(k.as_ref(), v.as_ref().to_vec());
        }
        h
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub headers: Headers,
}

/// The three waits `wasi:http` lets a guest bound. The host's own defaults are 600 s each,
/// far too long for a stalled object store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub between_bytes: Duration,
}

impl Timeouts {
    /// The waits for a request that sends `body_bytes`. `wasi:http` starts the first-byte
    /// wait when the request starts, and a store answers only once the whole body is in:
    /// the wait grows by the time the body takes at [`SLOWEST_UPLOAD_BYTES_PER_SEC`].
    pub fn sending(self, body_bytes: u64) -> Timeouts {
        let extra = Duration::from_secs(body_bytes.div_ceil(SLOWEST_UPLOAD_BYTES_PER_SEC));
        Timeouts { first_byte: self.first_byte.saturating_add(extra), ..self }
    }
}

/// The slowest upload link a body's wait allows for: 256 KiB/s, so an 8 MiB part may take
/// 32 s more than an empty request before it counts as stalled.
pub const SLOWEST_UPLOAD_BYTES_PER_SEC: u64 = 256 << 10;

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(30),
            between_bytes: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// Could not establish the connection (refused, unreachable).
    Connect,
    /// Name resolution failed.
    Dns,
    /// One of the [`Timeouts`] expired.
    Timeout,
    /// The connection broke after it was established (reset, body cut short).
    Broken,
    /// TLS handshake or certificate failure: retrying cannot fix it.
    Tls,
    /// The host's sandbox refused this destination.
    Denied,
    /// The peer spoke something that is not valid HTTP.
    Protocol,
    Other,
}

/// A failure below HTTP status level. The message comes from the runtime and never holds
/// request headers, so it carries no credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub message: String,
}

impl TransportError {
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError { kind, message: message.into() }
    }

    /// Whether trying again may succeed. DNS failures are not retried: an unknown name does
    /// not appear within a backoff window, and retrying only hides a typo in the endpoint.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            TransportErrorKind::Connect | TransportErrorKind::Timeout | TransportErrorKind::Broken | TransportErrorKind::Protocol
        )
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::Connect => "connection failed",
            TransportErrorKind::Dns => "name resolution failed",
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::Broken => "connection broken",
            TransportErrorKind::Tls => "TLS failure",
            TransportErrorKind::Denied => "destination not allowed by the host",
            TransportErrorKind::Protocol => "HTTP protocol error",
            TransportErrorKind::Other => "transport error",
        };
        if self.message.is_empty() {
            f.write_str(what)
        } else {
            write!(f, "{what}: {}", self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_case_insensitive_and_trimmed() {
        let h: Headers = [("Content-Length", " 42 "), ("ETag", "\"abc\"")].into_iter().collect();
        assert_eq!(h.get("content-length"), Some("42"));
        assert_eq!(h.get("etag"), Some("\"abc\""));
        assert_eq!(h.content_length(), Some(42));
        let bad: Headers = [("content-length", "-1")].into_iter().collect();
        assert_eq!(bad.content_length(), None);
        let bad: Headers = [("content-length", "+5")].into_iter().collect();
        assert_eq!(bad.content_length(), None);
    }

    #[test]
    fn bodies_announce_their_length_and_stretch_the_first_byte_wait() {
        let r = Request::new(Method::Put, Scheme::Http, "h", "/k").with_body(RequestBody::from(vec![7; 10]));
        assert_eq!((r.header("content-length"), r.body.as_ref().map(RequestBody::len)), (Some("10"), Some(10)));
        assert_eq!(format!("{:?}", r.body.unwrap()), "RequestBody(10 bytes)");
        let t = Timeouts::default();
        assert_eq!(t.sending(0), t);
        let part = t.sending(8 << 20);
        assert_eq!((part.first_byte, part.connect, part.between_bytes), (t.first_byte + Duration::from_secs(32), t.connect, t.between_bytes));
        assert_eq!(t.sending(1).first_byte, t.first_byte + Duration::from_secs(1));
    }

    #[test]
    fn set_header_replaces() {
        let mut r = Request::new(Method::Get, Scheme::Https, "h", "/a?b=c");
        r.set_header("Range", "bytes=1-");
        r.set_header("range", "bytes=2-");
        assert_eq!(r.headers.len(), 1);
        assert_eq!(r.header("RANGE"), Some("bytes=2-"));
        assert_eq!(r.path(), "/a");
        assert_eq!(r.url(), "https://h/a?b=c");
    }
}
