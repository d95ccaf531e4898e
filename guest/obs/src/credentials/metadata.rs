//! Temporary credentials from the Huawei Cloud ECS metadata service.

use std::time::{Duration, SystemTime};

use scheme_plugin_kit::credentials::metadata;
pub use scheme_plugin_kit::credentials::metadata::{Unavailable, HOST as METADATA_HOST};
use scheme_plugin_kit::http::{Method, Request, Scheme, Timeouts, Transport};
/// Expiry times are RFC 3339 (the kit's parser, shared with other metadata services).
pub use scheme_plugin_kit::time::parse_rfc3339;
use serde::Deserialize;

use super::{Credentials, Source};

const TOKEN_PATH: &str = "/meta-data/latest/api/token";
const SECURITY_KEY_PATH: &str = "/openstack/latest/securitykey";
const TOKEN_TTL_SECONDS: &str = "21600";

/// Off Huawei Cloud the address does not answer at all: keep the wait short, since this
/// is the last source before anonymous access.
pub fn timeouts() -> Timeouts {
    Timeouts { connect: Duration::from_secs(2), first_byte: Duration::from_secs(5), between_bytes: Duration::from_secs(5) }
}

#[derive(Deserialize)]
struct Answer {
    credential: Credential,
}

#[derive(Deserialize)]
struct Credential {
    access: String,
    secret: String,
    securitytoken: Option<String>,
    expires_at: Option<String>,
}

/// Why the service gave nothing, for the anonymous-access message.
pub fn describe(why: &Unavailable) -> String {
    why.describe("ECS metadata service", |s| format!("ECS metadata service answered HTTP {s} (is an agency bound to this instance?)"))
}

fn request(method: Method, path: &str) -> Request {
    Request::new(method, Scheme::Http, METADATA_HOST, path)
}

/// The token flow (`PUT .../api/token`, then `GET .../securitykey` with the token); a
/// 404/405 on the token call means an older service that takes the plain GET.
pub fn fetch<T: Transport>(t: &mut T, now: SystemTime) -> Result<Credentials, Unavailable> {
    let to = timeouts();
    let mut put = request(Method::Put, TOKEN_PATH);
    put.set_header("X-Securitykey-Token-Ttl-Seconds", TOKEN_TTL_SECONDS);
    put.set_header("Content-Length", "0");
    let token = metadata::session_token(t, &put, &to, |failed| matches!(failed, Ok(404 | 405)))?;
    let mut get = request(Method::Get, SECURITY_KEY_PATH);
    if let Some(tok) = token {
        get.set_header("X-Securitykey-Token", tok);
    }
    let body = metadata::answer(t, &get, &to)?;
    parse_answer(&body, now)
}

pub fn parse_answer(body: &[u8], now: SystemTime) -> Result<Credentials, Unavailable> {
    // serde_json's error text may quote the input, which holds the secret: drop it.
    let a: Answer = serde_json::from_slice(body).map_err(|_| Unavailable::Malformed("not the expected JSON"))?;
    let c = a.credential;
    let (access, secret) = (c.access.trim().to_string(), c.secret.trim().to_string());
    if access.is_empty() || secret.is_empty() {
        return Err(Unavailable::Malformed("empty access or secret key"));
    }
    let expires_at = metadata::expiry(c.expires_at.as_deref(), now, "expires_at is not a timestamp")?;
    Ok(Credentials {
        access_key: access,
        secret_key: secret,
        security_token: c.securitytoken.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
        expires_at,
        source: Source::EcsMetadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheme_plugin_kit::http::testing::{FakeTransport, Reply};
    use scheme_plugin_kit::http::TransportErrorKind;

    const ANSWER: &str = r#"{"credential":{"access":"TMPAK0000000000000001","secret":"TMPSECRET","securitytoken":"TMPTOKEN","expires_at":"2024-10-15T09:20:09.000000Z"}}"#;

    fn now() -> SystemTime {
        httpdate::parse_http_date("Tue, 15 Oct 2024 07:20:09 GMT").unwrap()
    }

    #[test]
    fn token_flow() {
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"mdtoken123\n"), Reply::ok(200, &[], ANSWER.as_bytes())]);
        let c = fetch(&mut t, now()).unwrap();
        assert_eq!((c.access_key.as_str(), c.secret_key.as_str(), c.security_token.as_deref()), ("TMPAK0000000000000001", "TMPSECRET", Some("TMPTOKEN")));
        assert_eq!(c.expires_at, Some(now() + Duration::from_secs(7200)));
        assert_eq!(c.source, Source::EcsMetadata);
        let (put, get) = (&t.requests[0], &t.requests[1]);
        assert_eq!((put.method, put.url()), (Method::Put, "http://169.254.169.254/meta-data/latest/api/token".to_string()));
        assert_eq!(put.header("x-securitykey-token-ttl-seconds"), Some("21600"));
        assert_eq!((get.method, get.url()), (Method::Get, "http://169.254.169.254/openstack/latest/securitykey".to_string()));
        assert_eq!(get.header("x-securitykey-token"), Some("mdtoken123"));
        assert_eq!(t.timeouts_seen[0].connect, Duration::from_secs(2));
    }

    #[test]
    fn falls_back_to_plain_get() {
        for status in [404, 405] {
            let mut t = FakeTransport::new(vec![Reply::ok(status, &[], b""), Reply::ok(200, &[], ANSWER.as_bytes())]);
            fetch(&mut t, now()).unwrap();
            assert_eq!(t.requests[1].header("x-securitykey-token"), None);
        }
    }

    #[test]
    fn unavailable_cases() {
        let mut t = FakeTransport::new(vec![Reply::fail(TransportErrorKind::Connect)]);
        assert!(matches!(fetch(&mut t, now()), Err(Unavailable::Unreachable(_))));
        assert_eq!(t.requests.len(), 1, "no second request when the service is not there");
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"tok"), Reply::ok(404, &[], b"")]);
        assert_eq!(fetch(&mut t, now()), Err(Unavailable::Refused(404)));
        let mut t = FakeTransport::new(vec![Reply::ok(500, &[], b"")]);
        assert_eq!(fetch(&mut t, now()), Err(Unavailable::Refused(500)));
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"tok"), Reply::ok(200, &[], b"{\"credential\":{\"access\":\"TMPSECRETLEAK\"}}")]);
        let e = fetch(&mut t, now()).unwrap_err();
        assert!(!describe(&e).contains("TMPSECRETLEAK"), "{e:?}");
        let expired = ANSWER.replace("2024-10-15T09", "2024-10-15T05");
        assert!(matches!(parse_answer(expired.as_bytes(), now()), Err(Unavailable::Malformed(_))));
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"bad token\x01")]);
        assert!(matches!(fetch(&mut t, now()), Err(Unavailable::Malformed(_))));
    }
}
