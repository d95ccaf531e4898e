//! A store's failed response turned into the error a user reads: kind, store code, request
//! id, what to do about it, and never a credential. The document format and the wording are
//! shared; what each code means is the plugin's table ([`ErrorStyle::classify`]).

mod doc;

pub use doc::{parse_error_doc, ErrorDoc, MAX_FIELD_CHARS};

use crate::http::Headers;
use crate::text::escape;
use crate::{Error, ErrorKind};

/// What a store's code means, and a hint on what to do; `None` leaves it to the status.
pub type CodeTable = fn(&str) -> Option<(ErrorKind, Option<&'static str>)>;

/// How one store reports errors.
#[derive(Clone, Copy)]
pub struct ErrorStyle {
    /// Names the store in messages ("OBS answered HTTP 404").
    pub store: &'static str,
    /// Headers holding the request id when the body has none, first match wins.
    pub request_id_headers: &'static [&'static str],
    /// Where a store puts the code and message of an answer without a body (HEAD).
    pub code_header: Option<&'static str>,
    pub message_header: Option<&'static str>,
    pub classify: CodeTable,
    /// Appended to refusals of anonymous requests: where credentials were looked for.
    pub anonymous_hint: &'static str,
}

/// What a status means when the store gave no code we know.
pub fn kind_of_status(status: u16) -> (ErrorKind, Option<&'static str>) {
    use ErrorKind::*;
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

/// Builds the user-facing error for a failed response. `redact` lists strings that must
/// never reach a message (the access key and token a hostile or chatty server may echo).
pub fn store_error(style: &ErrorStyle, status: u16, headers: &Headers, body: &[u8], anonymous: bool, redact: &[&str]) -> Error {
    let doc = parse_error_doc(body).unwrap_or_default();
    let request_id = doc
        .request_id
        .clone()
        .or_else(|| style.request_id_headers.iter().find_map(|h| headers.get(h)).map(str::to_string))
        .map(|s| clean(&s, redact));
    let code = doc
        .code
        .clone()
        .or_else(|| style.code_header.and_then(|h| headers.get(h)).map(str::to_string))
        .map(|s| clean(&s, redact));
    let (kind, hint) = code.as_deref().and_then(style.classify).unwrap_or_else(|| kind_of_status(status));

    let mut msg = format!("{} answered HTTP {status}", style.store);
    if let Some(c) = &code {
        msg.push(' ');
        msg.push_str(c);
    }
    let text = doc.message.clone().or_else(|| style.message_header.and_then(|h| headers.get(h)).map(str::to_string));
    if let Some(m) = text {
        msg.push_str(": ");
        msg.push_str(&clean(&m, redact));
    } else if !body.is_empty() && code.is_none() {
        msg.push_str(&format!(" with a body that is not an {} error document (a proxy or a different service?)", style.store));
    }
    if let Some(h) = hint {
        msg.push_str("; ");
        msg.push_str(h);
    }
    if anonymous && matches!(kind, ErrorKind::AccessDenied | ErrorKind::BadCredentials) {
        msg.push_str("; ");
        msg.push_str(style.anonymous_hint);
    }
    if let Some(r) = &request_id {
        msg.push_str(&format!(" (request id {r})"));
    }
    Error::new(kind, msg).with_store(code, request_id).with_status(status)
}

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

/// Escapes control characters and removes any secret the server echoed back. Secrets
/// shorter than 4 characters are left alone: replacing them would mangle ordinary words.
pub fn clean(s: &str, redact: &[&str]) -> String {
    let mut out = escape(s);
    for secret in redact.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "(redacted)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(code: &str) -> Option<(ErrorKind, Option<&'static str>)> {
        match code {
            "NoSuchKey" => Some((ErrorKind::NotFound, None)),
            "Skewed" => Some((ErrorKind::BadCredentials, Some("fix the clock"))),
            _ => None,
        }
    }

    const STYLE: ErrorStyle = ErrorStyle {
        store: "Store",
        request_id_headers: &["x-a-request-id", "x-b-request-id"],
        code_header: Some("x-a-error-code"),
        message_header: Some("x-a-error-message"),
        classify: table,
        anonymous_hint: "no credentials were found",
    };

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().copied().collect()
    }

    #[test]
    fn codes_then_statuses() {
        let body = b"<Error><Code>NoSuchKey</Code><Message>gone</Message><RequestId>R1</RequestId></Error>";
        let e = store_error(&STYLE, 404, &Headers::new(), body, false, &[]);
        assert_eq!((e.kind, e.store_code.as_deref(), e.request_id.as_deref(), e.http_status), (ErrorKind::NotFound, Some("NoSuchKey"), Some("R1"), Some(404)));
        assert_eq!(e.message, "Store answered HTTP 404 NoSuchKey: gone (request id R1)");
        let e = store_error(&STYLE, 403, &Headers::new(), b"<Error><Code>Skewed</Code></Error>", false, &[]);
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::BadCredentials, "Store answered HTTP 403 Skewed; fix the clock"));
        for (status, kind) in [(403, ErrorKind::AccessDenied), (400, ErrorKind::Internal), (503, ErrorKind::Network), (416, ErrorKind::Integrity), (301, ErrorKind::Network)] {
            let e = store_error(&STYLE, status, &Headers::new(), b"<Error><Code>New</Code></Error>", false, &[]);
            assert_eq!(e.kind, kind, "{status}");
        }
    }

    #[test]
    fn headers_stand_in_for_a_missing_body() {
        let h = headers(&[("x-b-request-id", "RB"), ("x-a-error-code", "NoSuchKey"), ("x-a-error-message", "msg")]);
        let e = store_error(&STYLE, 404, &h, b"", false, &[]);
        assert_eq!((e.kind, e.store_code.as_deref(), e.request_id.as_deref()), (ErrorKind::NotFound, Some("NoSuchKey"), Some("RB")));
        assert!(e.message.contains(": msg"), "{}", e.message);
        let h = headers(&[("x-a-request-id", "RA"), ("x-b-request-id", "RB")]);
        assert_eq!(store_error(&STYLE, 500, &h, b"", false, &[]).request_id.as_deref(), Some("RA"));
    }

    #[test]
    fn foreign_bodies_are_named() {
        let e = store_error(&STYLE, 502, &Headers::new(), b"<html>Bad Gateway</html>", false, &[]);
        assert_eq!(e.kind, ErrorKind::Network);
        assert!(e.message.contains("not an Store error document"), "{}", e.message);
    }

    #[test]
    fn anonymous_hint_and_redaction() {
        let body = b"<Error><Code>AccessDenied</Code><Message>key AKSECRETLIKE1234 tok-en-value\x1b[2J</Message><RequestId>AKSECRETLIKE1234</RequestId></Error>";
        let e = store_error(&STYLE, 403, &Headers::new(), body, true, &["AKSECRETLIKE1234", "tok-en-value", "ab"]);
        assert!(!e.message.contains("AKSECRETLIKE1234") && !e.message.contains("tok-en-value"), "{}", e.message);
        assert!(!e.message.contains('\x1b'));
        assert!(e.message.contains("no credentials were found"), "{}", e.message);
        assert_eq!(e.request_id.as_deref(), Some("(redacted)"));
        let e = redact_error(Error::internal("echo SECRETVALUE").with_store(Some("SECRETVALUE".into()), None), &["SECRETVALUE"]);
        assert_eq!((e.message.as_str(), e.store_code.as_deref()), ("echo (redacted)", Some("(redacted)")));
    }
}
