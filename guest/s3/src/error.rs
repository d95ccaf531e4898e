//! S3 error responses: what each S3 code means to a user. The document and the message are
//! the kit's ([`scheme_plugin_kit::store_error`]); S3's error XML has OBS's shape.

use scheme_plugin_kit::http::Headers;
use scheme_plugin_kit::store_error::{store_error, ErrorStyle};
use scheme_plugin_kit::{Error, ErrorKind};

/// Codes that say the bucket is in another region than the request was signed for or sent to.
pub const WRONG_REGION_CODES: &[&str] = &["PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException", "TemporaryRedirect", "Redirect"];

const WRONG_REGION: &str = "the bucket lives in another region: set AWS_REGION (or the profile's region) to it";

fn classify(code: &str) -> Option<(ErrorKind, Option<&'static str>)> {
    use ErrorKind::*;
    Some(match code {
        "NoSuchKey" | "NoSuchBucket" | "NoSuchVersion" => (NotFound, None),
        "AccessDenied" | "AllAccessDisabled" | "AccountProblem" | "InvalidPayer" | "RequestIsNotMultiPartContent" => (AccessDenied, None),
        "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidToken" | "ExpiredToken" | "TokenRefreshRequired" | "InvalidSecurity"
        | "CredentialsNotSupported" | "MissingSecurityHeader" => (
            BadCredentials,
            Some("check the access key, secret key and session token the plugin found (see the credential sources in the README)"),
        ),
        "RequestTimeTooSkewed" => (BadCredentials, Some("this machine's clock differs from the store's by more than 15 minutes: fix the clock (NTP)")),
        "AuthorizationHeaderMalformed" => (BadCredentials, Some(WRONG_REGION)),
        "PermanentRedirect" | "TemporaryRedirect" | "Redirect" | "IllegalLocationConstraintException" => (Network, Some(WRONG_REGION)),
        "InvalidObjectState" => (Unsupported, Some("the object is in an archive storage class (Glacier, Deep Archive): restore it before downloading")),
        "InvalidBucketName" => (InvalidUri, None),
        "NotImplemented" => (Unsupported, None),
        "InvalidRange" => (Integrity, Some("the object is shorter than expected; it may have been replaced")),
        "PreconditionFailed" => (Integrity, Some("the object changed while it was being downloaded; try again")),
        "SlowDown" | "ServiceUnavailable" | "InternalError" | "RequestTimeout" | "TooManyRequests" | "Busy" | "IncompleteBody" => (Network, None),
        // Uploads.
        "BadDigest" | "XAmzContentSHA256Mismatch" => (Integrity, Some("the bytes S3 received are not the bytes sent (their checksum differs)")),
        "InvalidPart" => (Integrity, Some("a part S3 holds is not the one the part list names; upload again")),
        "NoSuchUpload" => (NotFound, Some("the multipart upload was completed or aborted meanwhile; upload again")),
        "EntityTooLarge" | "EntityTooSmall" => (LimitExceeded, None),
        "KeyTooLongError" => (InvalidUri, None),
        "InvalidDigest" | "InvalidPartOrder" | "MalformedXML" | "MissingContentLength" => (Internal, None),
        _ => return None,
    })
}

const S3: ErrorStyle = ErrorStyle {
    store: "S3",
    // OBS's S3 API answers with its own request id header.
    request_id_headers: &["x-amz-request-id", "x-obs-request-id"],
    // S3 answers a HEAD with a status and no code; nothing to read there.
    code_header: None,
    message_header: None,
    classify,
    anonymous_hint: "no credentials were found (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the profile in ~/.aws/credentials and ~/.aws/config, \
                     EC2 instance metadata), so the request was anonymous",
};

/// Builds the user-facing error for a failed S3 response. `redact` lists strings that must
/// never reach a message (the access key and token a hostile or chatty server may echo).
pub fn s3_error(status: u16, headers: &Headers, body: &[u8], anonymous: bool, redact: &[&str]) -> Error {
    store_error(&S3, status, headers, body, anonymous, redact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_kinds_and_request_ids() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>k.zip</Key><RequestId>4442587FB7D0A2F9</RequestId><HostId>host</HostId></Error>";
        let e = s3_error(404, &Headers::new(), body, false, &[]);
        assert_eq!((e.kind, e.store_code.as_deref(), e.request_id.as_deref(), e.http_status), (ErrorKind::NotFound, Some("NoSuchKey"), Some("4442587FB7D0A2F9"), Some(404)));
        assert_eq!(e.message, "S3 answered HTTP 404 NoSuchKey: The specified key does not exist. (request id 4442587FB7D0A2F9)");
        for (status, code, kind) in [
            (403, "AccessDenied", ErrorKind::AccessDenied),
            (403, "InvalidAccessKeyId", ErrorKind::BadCredentials),
            (403, "SignatureDoesNotMatch", ErrorKind::BadCredentials),
            (400, "ExpiredToken", ErrorKind::BadCredentials),
            (403, "RequestTimeTooSkewed", ErrorKind::BadCredentials),
            (400, "AuthorizationHeaderMalformed", ErrorKind::BadCredentials),
            (301, "PermanentRedirect", ErrorKind::Network),
            (403, "InvalidObjectState", ErrorKind::Unsupported),
            (503, "SlowDown", ErrorKind::Network),
            (416, "InvalidRange", ErrorKind::Integrity),
            (400, "BadDigest", ErrorKind::Integrity),
            (400, "XAmzContentSHA256Mismatch", ErrorKind::Integrity),
            (400, "InvalidPart", ErrorKind::Integrity),
            (404, "NoSuchUpload", ErrorKind::NotFound),
            (400, "EntityTooSmall", ErrorKind::LimitExceeded),
            (400, "EntityTooLarge", ErrorKind::LimitExceeded),
            (400, "InvalidPartOrder", ErrorKind::Internal),
            (403, "SomethingNew", ErrorKind::AccessDenied),
            (400, "SomethingNew", ErrorKind::Internal),
        ] {
            let e = s3_error(status, &Headers::new(), format!("<Error><Code>{code}</Code></Error>").as_bytes(), false, &[]);
            assert_eq!(e.kind, kind, "{status} {code}");
        }
        // A HEAD or a bodiless answer: the request id header stands in.
        let h: Headers = [("x-amz-request-id", "RID7"), ("x-amz-id-2", "x")].into_iter().collect();
        let e = s3_error(404, &h, b"", false, &[]);
        assert_eq!((e.kind, e.store_code, e.request_id.as_deref()), (ErrorKind::NotFound, None, Some("RID7")));
        assert!(s3_error(301, &Headers::new(), b"<Error><Code>PermanentRedirect</Code></Error>", false, &[]).message.contains("AWS_REGION"));
    }

    #[test]
    fn no_credential_reaches_a_message() {
        let body = b"<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id AKIDLEAKED00000001 you provided does not exist</Message><AWSAccessKeyId>AKIDLEAKED00000001</AWSAccessKeyId><RequestId>R</RequestId></Error>";
        let e = s3_error(403, &Headers::new(), body, false, &["AKIDLEAKED00000001"]);
        assert!(!e.message.contains("AKIDLEAKED00000001") && e.message.contains("(redacted)"), "{}", e.message);
        let e = s3_error(403, &Headers::new(), b"<Error><Code>AccessDenied</Code></Error>", true, &[]);
        assert!(e.message.contains("anonymous") && e.message.contains("~/.aws/credentials"), "{}", e.message);
    }
}
