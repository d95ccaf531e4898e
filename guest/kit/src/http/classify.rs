//! What a response status means for a download, and the range headers of a resume.

/// How the engine treats a response, decided from the status alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 200: the whole object follows.
    Full,
    /// 206: part of the object follows (valid only as the answer to a resume).
    Partial,
    /// 301/302/303/307/308: followed only to an allowed host.
    Redirect,
    /// 412: `If-Match` failed, the object changed since the first response.
    PreconditionFailed,
    /// Worth retrying after a pause: the store is overloaded or briefly broken.
    Transient,
    /// Retrying gives the same answer (4xx, and 5xx that are not transient).
    Fatal,
}

pub fn classify(status: u16) -> Class {
    match status {
        200 => Class::Full,
        206 => Class::Partial,
        301 | 302 | 303 | 307 | 308 => Class::Redirect,
        412 => Class::PreconditionFailed,
        // 429 is the one 4xx that is transient by definition (rate limiting, "slow down");
        // every other 4xx is a verdict about the request and never retried.
        429 | 500 | 502 | 503 | 504 => Class::Transient,
        _ => Class::Fatal,
    }
}

/// Store codes that mean "you are asking too fast" (OBS, S3 and S3-compatible stores).
const THROTTLE_CODES: &[&str] = &[
    "SlowDown",
    "SlowDownRead",
    "SlowDownWrite",
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "TooManyRequests",
    "TooManyRequestsException",
    "ServiceUnavailable",
];

/// Whether a transient answer is the store throttling us rather than failing. 429 always
/// is; a 503 only with a throttling code or a `Retry-After`, because a bare 503 from a dead
/// backend or a proxy deserves the short budget, not minutes of patience.
pub fn is_throttle(status: u16, store_code: Option<&str>, has_retry_after: bool) -> bool {
    status == 429 || store_code.is_some_and(|c| THROTTLE_CODES.contains(&c)) || (status == 503 && has_retry_after)
}

/// `Content-Range: bytes <start>-<end>/<total|*>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    pub start: u64,
    pub end: u64,
    pub total: Option<u64>,
}

pub fn parse_content_range(v: &str) -> Option<ContentRange> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.trim().split_once('-')?;
    let start = parse_digits(start)?;
    let end = parse_digits(end)?;
    let total = match total.trim() {
        "*" => None,
        t => Some(parse_digits(t)?),
    };
    if end < start || total.is_some_and(|t| end >= t) {
        return None;
    }
    Some(ContentRange { start, end, total })
}

fn parse_digits(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An ETag usable in `If-Match`: a quoted strong tag. Weak tags (`W/"..."`) cannot be
/// used for byte ranges (RFC 9110 13.1.1), and unquoted junk is not an ETag at all.
pub fn strong_etag(v: &str) -> Option<&str> {
    let v = v.trim();
    let ok = v.len() >= 2
        && v.starts_with('"')
        && v.ends_with('"')
        && v[1..v.len() - 1].bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b));
    ok.then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_is_told_apart_from_failure() {
        assert!(is_throttle(503, Some("SlowDown"), false));
        assert!(is_throttle(503, Some("ServiceUnavailable"), false));
        assert!(is_throttle(429, None, false));
        assert!(is_throttle(503, None, true));
        assert!(is_throttle(500, Some("RequestLimitExceeded"), false));
        assert!(!is_throttle(503, None, false), "a bare 503 is a failure, not a request to slow down");
        assert!(!is_throttle(500, Some("InternalError"), true));
        assert!(!is_throttle(503, Some("slowdown"), false), "codes are case-sensitive");
    }

    #[test]
    fn statuses() {
        assert_eq!(classify(200), Class::Full);
        assert_eq!(classify(206), Class::Partial);
        for s in [301, 302, 303, 307, 308] {
            assert_eq!(classify(s), Class::Redirect);
        }
        assert_eq!(classify(304), Class::Fatal);
        assert_eq!(classify(412), Class::PreconditionFailed);
        for s in [429, 500, 502, 503, 504] {
            assert_eq!(classify(s), Class::Transient, "{s}");
        }
        for s in [201, 204, 400, 401, 403, 404, 405, 408, 416, 501, 505, 599, 100] {
            assert_eq!(classify(s), Class::Fatal, "{s}");
        }
    }

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range("bytes 10-19/20"), Some(ContentRange { start: 10, end: 19, total: Some(20) }));
        assert_eq!(parse_content_range("bytes 0-0/*"), Some(ContentRange { start: 0, end: 0, total: None }));
        assert_eq!(parse_content_range("bytes 10-9/20"), None);
        assert_eq!(parse_content_range("bytes 10-20/20"), None);
        assert_eq!(parse_content_range("bytes -5/20"), None);
        assert_eq!(parse_content_range("items 1-2/3"), None);
        assert_eq!(parse_content_range("bytes 1-2"), None);
        assert_eq!(parse_content_range("bytes +1-2/9"), None);
    }

    #[test]
    fn etags() {
        assert_eq!(strong_etag(" \"abc\" "), Some("\"abc\""));
        assert_eq!(strong_etag("W/\"abc\""), None);
        assert_eq!(strong_etag("abc"), None);
        assert_eq!(strong_etag("\"a\"b\""), None);
        assert_eq!(strong_etag("\"\""), Some("\"\""));
    }
}
