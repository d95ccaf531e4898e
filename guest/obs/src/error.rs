//! OBS error responses: what each OBS code means to a user. The document and the message
//! are the kit's ([`scheme_plugin_kit::store_error`]).

use scheme_plugin_kit::http::Headers;
pub use scheme_plugin_kit::store_error::{parse_error_doc, redact_error, ErrorDoc as ObsErrorDoc};
use scheme_plugin_kit::store_error::{store_error, ErrorStyle};
use scheme_plugin_kit::{Error, ErrorKind};

/// What a failure with this OBS code means and what to do about it.
fn classify(code: &str) -> Option<(ErrorKind, Option<&'static str>)> {
    use ErrorKind::*;
    Some(match code {
        "NoSuchKey" | "NoSuchBucket" | "NoSuchVersion" => (NotFound, None),
        "AccessDenied" | "AllAccessDisabled" | "AccountProblem" | "InsufficientAccountInfo" => (AccessDenied, None),
        "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidToken" | "ExpiredToken" | "InvalidSecurity"
        | "TokenRefreshRequired" | "CredentialsNotSupported" => (
            BadCredentials,
            Some("check the access key, secret key and security token the plugin found (see the credential sources in the README)"),
        ),
        "RequestTimeTooSkewed" => (BadCredentials, Some("this machine's clock differs from the store's by more than 15 minutes: fix the clock (NTP)")),
        "InvalidObjectState" => (Unsupported, Some("the object is in archive or cold storage: restore it before downloading")),
        "VirtualHostDomainRequired" => {
            (InvalidUri, Some("this endpoint requires virtual-hosted addressing: use its domain name and leave OBS_PATH_STYLE unset"))
        }
        "PermanentRedirect" | "TemporaryRedirect" | "Redirect" => {
            (Network, Some("the bucket lives in another region: set OBS_ENDPOINT to that region's endpoint"))
        }
        "InvalidRange" => (Integrity, Some("the object is shorter than expected; it may have been replaced")),
        "SlowDown" | "ServiceUnavailable" | "InternalError" | "TooManyRequests" | "RequestTimeout" | "IncompleteBody" => (Network, None),
        // Uploads.
        "BadDigest" => (Integrity, Some("the bytes OBS received are not the bytes sent (their Content-MD5 differs)")),
        "InvalidPart" => (Integrity, Some("a part OBS holds is not the one the part list names; upload again")),
        "NoSuchUpload" => (NotFound, Some("the multipart upload was completed or aborted meanwhile; upload again")),
        "EntityTooLarge" | "EntityTooSmall" => (LimitExceeded, None),
        "KeyTooLongError" => (InvalidUri, None),
        "InvalidDigest" | "InvalidPartOrder" | "MalformedXML" | "MissingContentLength" => (Internal, None),
        _ => return None,
    })
}

const OBS: ErrorStyle = ErrorStyle {
    store: "OBS",
    request_id_headers: &["x-obs-request-id", "x-amz-request-id"],
    // HEAD answers have no body; OBS then puts the code in a header.
    code_header: Some("x-obs-error-code"),
    message_header: Some("x-obs-error-message"),
    classify,
    anonymous_hint: "no credentials were found (OBS_ACCESS_KEY_ID/OBS_SECRET_ACCESS_KEY, HUAWEICLOUD_SDK_AK/SK, ~/.obsutilconfig, \
                     ~/.huaweicloud/credentials, ECS metadata), so the request was anonymous",
};

/// Builds the user-facing error for a failed OBS response. `redact` lists strings that must
/// never reach a message (the access key and token a hostile or chatty server may echo).
pub fn obs_error(status: u16, headers: &Headers, body: &[u8], anonymous: bool, redact: &[&str]) -> Error {
    store_error(&OBS, status, headers, body, anonymous, redact)
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
        assert_eq!((d.code.as_deref(), d.request_id.as_deref(), d.host_id.as_deref()), (Some("NoSuchKey"), Some("0000018A2B3C"), Some("host-7")));
    }

    #[test]
    fn maps_codes_and_statuses() {
        let h = Headers::new();
        let e = obs_error(404, &h, NO_SUCH_KEY.as_bytes(), false, &[]);
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.store_code.as_deref(), Some("NoSuchKey"));
        assert_eq!(e.request_id.as_deref(), Some("0000018A2B3C"));
        assert_eq!(e.http_status, Some(404));
        assert!(e.message.starts_with("OBS answered HTTP 404 NoSuchKey") && e.message.contains("0000018A2B3C"), "{}", e.message);

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
            (400, "BadDigest", ErrorKind::Integrity),
            (400, "InvalidPart", ErrorKind::Integrity),
            (404, "NoSuchUpload", ErrorKind::NotFound),
            (400, "EntityTooSmall", ErrorKind::LimitExceeded),
            (400, "EntityTooLarge", ErrorKind::LimitExceeded),
            (400, "InvalidPartOrder", ErrorKind::Internal),
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
        let e = obs_error(403, &headers(&[("x-amz-request-id", "AMZ")]), b"", false, &[]);
        assert_eq!((e.kind, e.store_code, e.request_id.as_deref()), (ErrorKind::AccessDenied, None, Some("AMZ")));
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
        assert!(e.message.contains("anonymous") && e.message.contains("~/.obsutilconfig"), "{}", e.message);
    }
}
