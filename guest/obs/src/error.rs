//! OBS error responses: the XML document, and what each status and code means to a user.

use quick_xml::events::Event;
use quick_xml::Reader;
use scheme_plugin_kit::http::Headers;
use scheme_plugin_kit::text::escape;
use scheme_plugin_kit::{Error, ErrorKind};

/// Longest text kept from any one element: error documents are for humans, and a hostile
/// server must not be able to fill our messages.
const MAX_FIELD_CHARS: usize = 512;

/// `<Error><Code/><Message/><RequestId/><HostId/><Resource/></Error>`, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObsErrorDoc {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    pub host_id: Option<String>,
    pub resource: Option<String>,
}

/// Parses an OBS (or S3-style) error document. Anything that is not one (an HTML page from
/// a proxy, garbage, an empty HEAD body) gives `None`.
pub fn parse_error_doc(body: &[u8]) -> Option<ObsErrorDoc> {
    let mut reader = Reader::from_reader(body);
    let mut doc = ObsErrorDoc::default();
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut field: Option<&'static str> = None;
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                depth += 1;
                let name = e.local_name();
                if depth == 1 {
                    if name.as_ref() != b"Error" {
                        return None;
                    }
                    root_seen = true;
                } else if depth == 2 {
                    field = match name.as_ref() {
                        b"Code" => Some("Code"),
                        b"Message" => Some("Message"),
                        b"RequestId" => Some("RequestId"),
                        b"HostId" => Some("HostId"),
                        b"Resource" => Some("Resource"),
                        _ => None,
                    };
                    text.clear();
                }
            }
            Ok(Event::Empty(e)) if depth == 0 && e.local_name().as_ref() == b"Error" => return Some(doc),
            Ok(Event::Text(t)) if field.is_some() && depth == 2 => push_capped(&mut text, &t.decode().ok()?),
            Ok(Event::CData(t)) if field.is_some() && depth == 2 => push_capped(&mut text, &t.decode().ok()?),
            Ok(Event::GeneralRef(r)) if field.is_some() && depth == 2 => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().map(String::from)
                } else {
                    match r.decode().ok()?.as_ref() {
                        "amp" => Some("&".into()),
                        "lt" => Some("<".into()),
                        "gt" => Some(">".into()),
                        "quot" => Some("\"".into()),
                        "apos" => Some("'".into()),
                        _ => None,
                    }
                };
                push_capped(&mut text, resolved.as_deref().unwrap_or("?"));
            }
            Ok(Event::End(_)) => {
                if let Some(f) = field.take().filter(|_| depth == 2) {
                    let v = text.trim().to_string();
                    let slot = match f {
                        "Code" => &mut doc.code,
                        "Message" => &mut doc.message,
                        "RequestId" => &mut doc.request_id,
                        "HostId" => &mut doc.host_id,
                        _ => &mut doc.resource,
                    };
                    if slot.is_none() && !v.is_empty() {
                        *slot = Some(v);
                    }
                }
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(doc);
                }
            }
            Ok(Event::Eof) => return root_seen.then_some(doc),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

fn push_capped(out: &mut String, s: &str) {
    let room = MAX_FIELD_CHARS.saturating_sub(out.chars().count());
    out.extend(s.chars().take(room));
}

/// What this failure means and what to do about it, by OBS code first, then by status.
fn classify(status: u16, code: Option<&str>) -> (ErrorKind, Option<&'static str>) {
    use ErrorKind::*;
    if let Some(code) = code {
        let by_code = match code {
            "NoSuchKey" | "NoSuchBucket" | "NoSuchVersion" => Some((NotFound, None)),
            "AccessDenied" | "AllAccessDisabled" | "AccountProblem" | "InsufficientAccountInfo" => Some((AccessDenied, None)),
            "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidToken" | "ExpiredToken" | "InvalidSecurity"
            | "TokenRefreshRequired" | "CredentialsNotSupported" => Some((
                BadCredentials,
                Some("check the access key, secret key and security token the plugin found (see the credential sources in the README)"),
            )),
            "RequestTimeTooSkewed" => Some((
                BadCredentials,
                Some("this machine's clock differs from the store's by more than 15 minutes: fix the clock (NTP)"),
            )),
            "InvalidObjectState" => Some((Unsupported, Some("the object is in archive or cold storage: restore it before downloading"))),
            "VirtualHostDomainRequired" => Some((
                InvalidUri,
                Some("this endpoint requires virtual-hosted addressing: use its domain name and leave OBS_PATH_STYLE unset"),
            )),
            "PermanentRedirect" | "TemporaryRedirect" | "Redirect" => {
                Some((Network, Some("the bucket lives in another region: set OBS_ENDPOINT to that region's endpoint")))
            }
            "InvalidRange" => Some((Integrity, Some("the object is shorter than expected; it may have been replaced"))),
            "SlowDown" | "ServiceUnavailable" | "InternalError" | "TooManyRequests" | "RequestTimeout" => Some((Network, None)),
            _ => None,
        };
        if let Some(r) = by_code {
            return r;
        }
    }
    match status {
        404 => (NotFound, None),
        403 => (AccessDenied, None),
        401 => (BadCredentials, None),
        405 => (Unsupported, None),
        416 => (Integrity, Some("the object is shorter than expected; it may have been replaced")),
        300..=399 | 408 | 429 | 500..=599 => (Network, None),
        _ => (Internal, None),
    }
}

/// Builds the user-facing error for a failed OBS response. `redact` lists strings that must
/// never reach a message (the access key and token a hostile or chatty server may echo).
pub fn obs_error(status: u16, headers: &Headers, body: &[u8], anonymous: bool, redact: &[&str]) -> Error {
    let doc = parse_error_doc(body).unwrap_or_default();
    let request_id = doc
        .request_id
        .clone()
        .or_else(|| headers.get("x-obs-request-id").map(str::to_string))
        .or_else(|| headers.get("x-amz-request-id").map(str::to_string))
        .map(|s| clean(&s, redact));
    // HEAD answers have no body; OBS then puts the code in a header.
    let code = doc.code.clone().or_else(|| headers.get("x-obs-error-code").map(str::to_string)).map(|s| clean(&s, redact));
    let (kind, hint) = classify(status, code.as_deref());

    let mut msg = format!("OBS answered HTTP {status}");
    if let Some(c) = &code {
        msg.push(' ');
        msg.push_str(c);
    }
    let text = doc.message.clone().or_else(|| headers.get("x-obs-error-message").map(str::to_string));
    if let Some(m) = text {
        msg.push_str(": ");
        msg.push_str(&clean(&m, redact));
    } else if body.is_empty() || code.is_some() {
        // Nothing more to say.
    } else {
        msg.push_str(" with a body that is not an OBS error document (a proxy or a different service?)");
    }
    if let Some(h) = hint {
        msg.push_str("; ");
        msg.push_str(h);
    }
    if anonymous && matches!(kind, ErrorKind::AccessDenied | ErrorKind::BadCredentials) {
        msg.push_str(
            "; no credentials were found (OBS_ACCESS_KEY_ID/OBS_SECRET_ACCESS_KEY, HUAWEICLOUD_SDK_AK/SK, ~/.obsutilconfig, \
             ~/.huaweicloud/credentials, ECS metadata), so the request was anonymous",
        );
    }
    if let Some(r) = &request_id {
        msg.push_str(&format!(" (request id {r})"));
    }
    Error::new(kind, msg).with_store(code, request_id).with_status(status)
}

/// Escapes control characters and removes any secret the server echoed back.
/// `e` with every secret in `redact` replaced, in all of its text.
pub fn redact_error(mut e: Error, redact: &[&str]) -> Error {
    let scrub = |s: &mut String| {
        for secret in redact.iter().filter(|s| s.len() >= 4) {
            if s.contains(secret) {
                *s = s.replace(secret, "(redacted)");
            }
        }
    };
    scrub(&mut e.message);
    e.store_code.as_mut().map(scrub);
    e.request_id.as_mut().map(scrub);
    e
}

fn clean(s: &str, redact: &[&str]) -> String {
    let mut out = escape(s);
    for secret in redact.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "(redacted)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_SUCH_KEY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>0000018A2B3C</RequestId><HostId>host-7</HostId><Resource>/ray-jobs/x.zip</Resource><Key>x.zip</Key></Error>"#;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().copied().collect()
    }

    #[test]
    fn parses_document() {
        let d = parse_error_doc(NO_SUCH_KEY.as_bytes()).unwrap();
        assert_eq!(d.code.as_deref(), Some("NoSuchKey"));
        assert_eq!(d.message.as_deref(), Some("The specified key does not exist."));
        assert_eq!(d.request_id.as_deref(), Some("0000018A2B3C"));
        assert_eq!(d.host_id.as_deref(), Some("host-7"));
        assert_eq!(d.resource.as_deref(), Some("/ray-jobs/x.zip"));
    }

    #[test]
    fn entities_nesting_and_caps() {
        let d = parse_error_doc(b"<Error><Code>A&amp;B&#65;&unknown;</Code><Detail><Code>Inner</Code></Detail><Message><![CDATA[<x>]]></Message></Error>").unwrap();
        assert_eq!(d.code.as_deref(), Some("A&BA?"));
        assert_eq!(d.message.as_deref(), Some("<x>"));
        let long = format!("<Error><Message>{}</Message></Error>", "m".repeat(10_000));
        assert_eq!(parse_error_doc(long.as_bytes()).unwrap().message.unwrap().len(), MAX_FIELD_CHARS);
    }

    #[test]
    fn not_error_documents() {
        assert_eq!(parse_error_doc(b""), None);
        assert_eq!(parse_error_doc(b"<html><body>502 Bad Gateway</body></html>"), None);
        assert_eq!(parse_error_doc(b"PK\x03\x04garbage"), None);
        assert_eq!(parse_error_doc(b"<Error><Code>x</Code>"), Some(ObsErrorDoc { code: Some("x".into()), ..Default::default() }));
        assert!(parse_error_doc(b"<Error><Code>x</Wrong></Error>").is_none());
    }

    #[test]
    fn maps_codes_and_statuses() {
        let h = Headers::new();
        let e = obs_error(404, &h, NO_SUCH_KEY.as_bytes(), false, &[]);
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.store_code.as_deref(), Some("NoSuchKey"));
        assert_eq!(e.request_id.as_deref(), Some("0000018A2B3C"));
        assert_eq!(e.http_status, Some(404));
        assert!(e.message.contains("NoSuchKey") && e.message.contains("0000018A2B3C"), "{}", e.message);

        for (status, code, kind) in [
            (404, "NoSuchBucket", ErrorKind::NotFound),
            (403, "AccessDenied", ErrorKind::AccessDenied),
            (403, "InvalidAccessKeyId", ErrorKind::BadCredentials),
            (403, "SignatureDoesNotMatch", ErrorKind::BadCredentials),
            (403, "RequestTimeTooSkewed", ErrorKind::BadCredentials),
            (403, "InvalidObjectState", ErrorKind::Unsupported),
            (400, "VirtualHostDomainRequired", ErrorKind::InvalidUri),
            (301, "PermanentRedirect", ErrorKind::Network),
            (503, "SlowDown", ErrorKind::Network),
            (416, "InvalidRange", ErrorKind::Integrity),
            (403, "SomethingNew", ErrorKind::AccessDenied),
            (400, "SomethingNew", ErrorKind::Internal),
        ] {
            let body = format!("<Error><Code>{code}</Code><RequestId>r1</RequestId></Error>");
            let e = obs_error(status, &h, body.as_bytes(), false, &[]);
            assert_eq!(e.kind, kind, "{status} {code}");
            assert_eq!(e.store_code.as_deref(), Some(code));
        }
        let skew = obs_error(403, &h, b"<Error><Code>RequestTimeTooSkewed</Code></Error>", false, &[]);
        assert!(skew.message.contains("clock"), "{}", skew.message);
    }

    #[test]
    fn head_errors_use_headers() {
        let h = headers(&[("x-obs-request-id", "RID9"), ("x-obs-error-code", "NoSuchKey")]);
        let e = obs_error(404, &h, b"", false, &[]);
        assert_eq!((e.kind, e.store_code.as_deref(), e.request_id.as_deref()), (ErrorKind::NotFound, Some("NoSuchKey"), Some("RID9")));
        let e = obs_error(403, &Headers::new(), b"", false, &[]);
        assert_eq!(e.kind, ErrorKind::AccessDenied);
        assert_eq!(e.store_code, None);
    }

    #[test]
    fn html_pages_are_named_as_such() {
        let e = obs_error(502, &Headers::new(), b"<html>Bad Gateway</html>", false, &[]);
        assert_eq!(e.kind, ErrorKind::Network);
        assert!(e.message.contains("not an OBS error document"), "{}", e.message);
    }

    #[test]
    fn anonymous_hint_and_redaction() {
        let body = b"<Error><Code>InvalidAccessKeyId</Code><Message>key AKSECRETLIKE1234 token tok-en-value unknown\x1b[2J</Message><RequestId>AKSECRETLIKE1234</RequestId></Error>";
        let e = obs_error(403, &Headers::new(), body, false, &["AKSECRETLIKE1234", "tok-en-value"]);
        assert!(!e.message.contains("AKSECRETLIKE1234") && !e.message.contains("tok-en-value"), "{}", e.message);
        assert!(!e.message.contains('\x1b'));
        assert_eq!(e.request_id.as_deref(), Some("(redacted)"));
        let e = obs_error(403, &Headers::new(), b"<Error><Code>AccessDenied</Code></Error>", true, &[]);
        assert!(e.message.contains("anonymous"), "{}", e.message);
    }
}
