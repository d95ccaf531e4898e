//! Temporary credentials of the EC2 instance's role from the instance metadata service:
//! IMDSv2 (a session token first), falling back to IMDSv1 where the token call is refused or
//! its answer never arrives (a container behind a hop limit of 1), as botocore does.

use std::time::{Duration, SystemTime};

use scheme_plugin_kit::credentials::metadata;
pub use scheme_plugin_kit::credentials::metadata::{Unavailable, HOST as METADATA_HOST};
use scheme_plugin_kit::http::{Method, Request, Scheme, Timeouts, Transport, TransportErrorKind};
use serde::Deserialize;

use super::{Credentials, Source};

const TOKEN_PATH: &str = "/latest/api/token";
const ROLE_PATH: &str = "/latest/meta-data/iam/security-credentials/";
const TOKEN_TTL_SECONDS: &str = "21600";

/// Off EC2 the address does not answer at all: keep the wait short (botocore waits 1 s),
/// since this is the last source before anonymous access.
pub fn timeouts() -> Timeouts {
    Timeouts { connect: Duration::from_secs(1), first_byte: Duration::from_secs(2), between_bytes: Duration::from_secs(2) }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    code: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    token: Option<String>,
    expiration: Option<String>,
}

/// Why the service gave nothing, for the anonymous-access message.
pub fn describe(why: &Unavailable) -> String {
    why.describe("EC2 instance metadata", |status| match status {
        404 => "EC2 instance metadata has no role credentials (is an instance profile attached?)".to_string(),
        s => format!("EC2 instance metadata answered HTTP {s}"),
    })
}

fn get(t: &mut impl Transport, path: &str, token: Option<&str>) -> Result<Vec<u8>, Unavailable> {
    let mut req = Request::new(Method::Get, Scheme::Http, METADATA_HOST, path);
    if let Some(tok) = token {
        req.set_header("X-aws-ec2-metadata-token", tok);
    }
    metadata::answer(t, &req, &timeouts())
}

/// The session token, or `None` for IMDSv1.
fn session_token(t: &mut impl Transport) -> Result<Option<String>, Unavailable> {
    let mut put = Request::new(Method::Put, Scheme::Http, METADATA_HOST, TOKEN_PATH);
    put.set_header("X-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL_SECONDS);
    put.set_header("Content-Length", "0");
    // After a 403, 404 or 405 to the PUT botocore goes on without a token, and so do we; the
    // PUT's answer is dropped on the way back when the hop limit is too low.
    metadata::session_token(t, &put, &timeouts(), |failed| matches!(failed, Ok(403..=405) | Err(TransportErrorKind::Timeout)))
}

/// The role's name, then its credentials.
pub fn fetch<T: Transport>(t: &mut T, now: SystemTime) -> Result<Credentials, Unavailable> {
    let token = session_token(t)?;
    let roles = get(t, ROLE_PATH, token.as_deref())?;
    let roles = String::from_utf8(roles).map_err(|_| Unavailable::Malformed("role name is not text"))?;
    let role = roles.lines().map(str::trim).find(|l| !l.is_empty()).ok_or(Unavailable::Malformed("no role name"))?;
    // IAM role names: letters, digits and `+=,.@_-`; anything else must not reach a path.
    if role.len() > 64 || !role.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b)) {
        return Err(Unavailable::Malformed("the role name is not an IAM role name"));
    }
    let body = get(t, &format!("{ROLE_PATH}{role}"), token.as_deref())?;
    parse_answer(&body, now)
}

pub fn parse_answer(body: &[u8], now: SystemTime) -> Result<Credentials, Unavailable> {
    // serde_json's error text may quote the input, which holds the secret: drop it.
    let a: Answer = serde_json::from_slice(body).map_err(|_| Unavailable::Malformed("not the expected JSON"))?;
    if a.code.as_deref().is_some_and(|c| c != "Success") {
        return Err(Unavailable::Malformed("the service reports a failure code"));
    }
    let (access, secret) = match (a.access_key_id, a.secret_access_key) {
        (Some(a), Some(s)) if !a.trim().is_empty() && !s.trim().is_empty() => (a.trim().to_string(), s.trim().to_string()),
        _ => return Err(Unavailable::Malformed("no access key or secret key")),
    };
    let expires_at = metadata::expiry(a.expiration.as_deref(), now, "Expiration is not a timestamp")?;
    Ok(Credentials {
        access_key: access,
        secret_key: secret,
        session_token: a.token.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
        expires_at,
        source: Source::InstanceMetadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheme_plugin_kit::http::testing::{FakeTransport, Reply};
    use scheme_plugin_kit::time::parse_rfc3339;

    const ANSWER: &str = r#"{"Code":"Success","LastUpdated":"2024-10-15T07:00:00Z","Type":"AWS-HMAC","AccessKeyId":"ASIATEMP0000000001","SecretAccessKey":"TMPSECRET","Token":"TMPTOKEN","Expiration":"2024-10-15T13:20:09Z"}"#;

    fn now() -> SystemTime {
        parse_rfc3339("2024-10-15T07:20:09Z").unwrap()
    }

    #[test]
    fn imdsv2_flow() {
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"tok-v2\n"), Reply::ok(200, &[], b"ray-node-role\n"), Reply::ok(200, &[], ANSWER.as_bytes())]);
        let c = fetch(&mut t, now()).unwrap();
        assert_eq!((c.access_key.as_str(), c.secret_key.as_str(), c.session_token.as_deref()), ("ASIATEMP0000000001", "TMPSECRET", Some("TMPTOKEN")));
        assert_eq!(c.expires_at, Some(now() + Duration::from_secs(6 * 3600)));
        let urls: Vec<_> = t.requests.iter().map(|r| (r.method, r.url())).collect();
        assert_eq!(
            urls,
            vec![
                (Method::Put, "http://169.254.169.254/latest/api/token".to_string()),
                (Method::Get, "http://169.254.169.254/latest/meta-data/iam/security-credentials/".to_string()),
                (Method::Get, "http://169.254.169.254/latest/meta-data/iam/security-credentials/ray-node-role".to_string()),
            ]
        );
        assert_eq!(t.requests[0].header("x-aws-ec2-metadata-token-ttl-seconds"), Some("21600"));
        assert!(t.requests[1..].iter().all(|r| r.header("x-aws-ec2-metadata-token") == Some("tok-v2")));
        assert_eq!(t.timeouts_seen[0].connect, Duration::from_secs(1));
    }

    #[test]
    fn falls_back_to_imdsv1() {
        for first in [Reply::ok(403, &[], b""), Reply::ok(405, &[], b""), Reply::fail(TransportErrorKind::Timeout)] {
            let mut t = FakeTransport::new(vec![first, Reply::ok(200, &[], b"role"), Reply::ok(200, &[], ANSWER.as_bytes())]);
            fetch(&mut t, now()).unwrap();
            assert!(t.requests[1..].iter().all(|r| r.header("x-aws-ec2-metadata-token").is_none()));
        }
    }

    #[test]
    fn unavailable_cases() {
        let mut t = FakeTransport::new(vec![Reply::fail(TransportErrorKind::Connect)]);
        assert!(matches!(fetch(&mut t, now()), Err(Unavailable::Unreachable(_))));
        assert_eq!(t.requests.len(), 1, "no second request when the service is not there");
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"tok"), Reply::ok(404, &[], b"")]);
        let e = fetch(&mut t, now()).unwrap_err();
        assert_eq!(e, Unavailable::Refused(404));
        assert!(describe(&e).contains("instance profile"));
        let mut t = FakeTransport::new(vec![Reply::ok(400, &[], b"")]);
        assert_eq!(fetch(&mut t, now()), Err(Unavailable::Refused(400)));
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"tok"), Reply::ok(200, &[], b"../../etc")]);
        assert!(matches!(fetch(&mut t, now()), Err(Unavailable::Malformed(_))));
        assert_eq!(t.requests.len(), 2, "a strange role name is never requested");
        let leak = r#"{"AccessKeyId":"TMPSECRETLEAK"}"#;
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"tok"), Reply::ok(200, &[], b"r"), Reply::ok(200, &[], leak.as_bytes())]);
        let e = fetch(&mut t, now()).unwrap_err();
        assert!(!describe(&e).contains("TMPSECRETLEAK"), "{e:?}");
        assert!(matches!(parse_answer(ANSWER.replace("Success", "Failed").as_bytes(), now()), Err(Unavailable::Malformed(_))));
        let expired = ANSWER.replace("2024-10-15T13", "2024-10-15T05");
        assert!(matches!(parse_answer(expired.as_bytes(), now()), Err(Unavailable::Malformed(_))));
    }
}
