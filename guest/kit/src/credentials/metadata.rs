//! What the clouds' link-local metadata services have in common: small answers over plain
//! HTTP, often a session token asked for first, and temporary credentials with an RFC 3339
//! expiry. Each plugin keeps its service's paths, headers, fallbacks, answer format and
//! wording.

use std::time::SystemTime;

use crate::http::{fetch_small, Request, Timeouts, Transport, TransportErrorKind};
use crate::time::parse_rfc3339;

/// The link-local address the clouds' metadata services answer on (EC2's, ECS's,
/// OpenStack's).
pub const HOST: &str = "169.254.169.254";

/// Metadata answers are tiny; anything bigger is not the metadata service.
pub const MAX_ANSWER: usize = 64 << 10;

/// Why the metadata service gave nothing. None of these is fatal: the caller falls back
/// to anonymous access and mentions the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// No answer (not on that cloud, or the host does not allow the address).
    Unreachable(String),
    /// It answered, but not with credentials (no role bound to the instance, ...).
    Refused(u16),
    Malformed(&'static str),
}

impl Unavailable {
    /// The note for the anonymous-access message: `service` as messages name it, and
    /// `refused` for what a refusal most likely means on that cloud.
    pub fn describe(&self, service: &str, refused: impl FnOnce(u16) -> String) -> String {
        match self {
            Unavailable::Unreachable(e) => format!("{service} not reachable ({e})"),
            Unavailable::Refused(status) => refused(*status),
            Unavailable::Malformed(why) => format!("{service} answer unusable: {why}"),
        }
    }
}

/// The body of a 200 to `req`: another status is a refusal, a body over [`MAX_ANSWER`]
/// unusable.
pub fn answer<T: Transport>(t: &mut T, req: &Request, timeouts: &Timeouts) -> Result<Vec<u8>, Unavailable> {
    let r = fetch_small(t, req, timeouts, MAX_ANSWER).map_err(|e| Unavailable::Unreachable(e.to_string()))?;
    match (r.head.status, r.truncated) {
        (200, false) => Ok(r.body),
        (200, true) => Err(Unavailable::Malformed("answer too large")),
        (status, _) => Err(Unavailable::Refused(status)),
    }
}

/// The session token a token call (`put`) gets, or `None` where `older` reads how it failed
/// (a status, or a transport error) as a service that predates tokens, whose plain requests
/// come next.
pub fn session_token<T: Transport>(t: &mut T, put: &Request, timeouts: &Timeouts, older: impl Fn(Result<u16, TransportErrorKind>) -> bool) -> Result<Option<String>, Unavailable> {
    match fetch_small(t, put, timeouts, MAX_ANSWER) {
        Ok(r) if r.head.status == 200 && !r.truncated => token(r.body).map(Some),
        Ok(r) if older(Ok(r.head.status)) => Ok(None),
        Ok(r) => Err(Unavailable::Refused(r.head.status)),
        Err(e) if older(Err(e.kind)) => Ok(None),
        Err(e) => Err(Unavailable::Unreachable(e.to_string())),
    }
}

/// The session token in the body of the token call's 200. It goes into a header of every
/// later request, so it must be printable ASCII.
fn token(body: Vec<u8>) -> Result<String, Unavailable> {
    let tok = String::from_utf8(body).map_err(|_| Unavailable::Malformed("token is not text"))?;
    let tok = tok.trim().to_string();
    if tok.is_empty() || tok.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(Unavailable::Malformed("token is empty or not printable"));
    }
    Ok(tok)
}

/// When the answer's credentials lapse, from its expiry field (`None` when absent or
/// blank); one that cannot be read is `not_a_timestamp`, and one already past is refused
/// rather than used for a request that would fail.
pub fn expiry(field: Option<&str>, now: SystemTime, not_a_timestamp: &'static str) -> Result<Option<SystemTime>, Unavailable> {
    let expires_at = match field.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(parse_rfc3339(s).ok_or(Unavailable::Malformed(not_a_timestamp))?),
        None => None,
    };
    if expires_at.is_some_and(|e| e <= now) {
        return Err(Unavailable::Malformed("the credentials have already expired"));
    }
    Ok(expires_at)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::http::testing::{FakeTransport, Reply};
    use crate::http::{Method, Scheme};

    fn get() -> Request {
        Request::new(Method::Get, Scheme::Http, HOST, "/creds")
    }

    fn put() -> Request {
        Request::new(Method::Put, Scheme::Http, HOST, "/token")
    }

    #[test]
    fn answers_refusals_and_silence() {
        let to = Timeouts::default();
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"{}")]);
        assert_eq!(answer(&mut t, &get(), &to), Ok(b"{}".to_vec()));
        let mut t = FakeTransport::new(vec![Reply::ok(404, &[], b"")]);
        assert_eq!(answer(&mut t, &get(), &to), Err(Unavailable::Refused(404)));
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[], &vec![b'x'; MAX_ANSWER + 1])]);
        assert_eq!(answer(&mut t, &get(), &to), Err(Unavailable::Malformed("answer too large")));
        let mut t = FakeTransport::new(vec![Reply::fail(TransportErrorKind::Connect)]);
        assert!(matches!(answer(&mut t, &get(), &to), Err(Unavailable::Unreachable(_))));
    }

    #[test]
    fn a_token_or_the_older_service_or_why_not() {
        let to = Timeouts::default();
        let older = |o: Result<u16, TransportErrorKind>| matches!(o, Ok(405) | Err(TransportErrorKind::Timeout));
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"tok\n")]);
        assert_eq!(session_token(&mut t, &put(), &to, older), Ok(Some("tok".to_string())));
        for reply in [Reply::ok(405, &[], b""), Reply::fail(TransportErrorKind::Timeout)] {
            let mut t = FakeTransport::new(vec![reply]);
            assert_eq!(session_token(&mut t, &put(), &to, older), Ok(None));
        }
        let mut t = FakeTransport::new(vec![Reply::ok(403, &[], b"")]);
        assert_eq!(session_token(&mut t, &put(), &to, older), Err(Unavailable::Refused(403)));
        // A token cut short is no token, and not a sign of an older service either.
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[], &vec![b'x'; MAX_ANSWER + 1])]);
        assert_eq!(session_token(&mut t, &put(), &to, older), Err(Unavailable::Refused(200)));
        let mut t = FakeTransport::new(vec![Reply::fail(TransportErrorKind::Connect)]);
        assert!(matches!(session_token(&mut t, &put(), &to, older), Err(Unavailable::Unreachable(_))));
    }

    #[test]
    fn tokens_are_trimmed_printable_text() {
        assert_eq!(token(b" tok-v2\n".to_vec()), Ok("tok-v2".to_string()));
        for bad in [&b""[..], b" \n", b"bad token", b"tok\x01", b"\xff\xfe"] {
            assert!(matches!(token(bad.to_vec()), Err(Unavailable::Malformed(_))), "{bad:?}");
        }
    }

    #[test]
    fn expiry_is_read_and_must_be_ahead() {
        let now = parse_rfc3339("2024-10-15T07:20:09Z").unwrap();
        assert_eq!(expiry(Some(" 2024-10-15T09:20:09Z "), now, "x"), Ok(Some(now + Duration::from_secs(7200))));
        assert_eq!(expiry(None, now, "x"), Ok(None));
        assert_eq!(expiry(Some("  "), now, "x"), Ok(None));
        assert_eq!(expiry(Some("tomorrow"), now, "Expiration is not a timestamp"), Err(Unavailable::Malformed("Expiration is not a timestamp")));
        assert_eq!(expiry(Some("2024-10-15T07:20:09Z"), now, "x"), Err(Unavailable::Malformed("the credentials have already expired")));
    }

    #[test]
    fn notes_name_the_service() {
        let refused = |s: u16| format!("refused with {s}");
        assert_eq!(Unavailable::Unreachable("timed out".into()).describe("The service", refused), "The service not reachable (timed out)");
        assert_eq!(Unavailable::Refused(404).describe("The service", refused), "refused with 404");
        assert_eq!(Unavailable::Malformed("no key").describe("The service", refused), "The service answer unusable: no key");
    }
}
