//! Protocol errors and their XML body, OBS's
//! `<Error><Code/><Message/><RequestId/><HostId/><Resource/>[extra]</Error>` or S3's
//! `<Error><Code/><Message/>[extra]<RequestId/><HostId/></Error>`.

use http::StatusCode;

/// An error answer as OBS would send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObsError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Additional elements after `Resource` (never secrets).
    pub extra: Vec<(&'static str, String)>,
}

impl ObsError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        ObsError {
            status,
            code: code.into(),
            message: message.into(),
            extra: Vec::new(),
        }
    }

    pub fn with_extra(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDenied", message)
    }

    pub fn signature_mismatch() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method.",
        )
    }

    pub fn invalid_access_key() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The access key Id you provided does not exist in our records.",
        )
    }

    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
        )
        .with_extra("BucketName", bucket)
    }

    pub fn no_such_key(key: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        )
        .with_extra("Key", key)
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    pub fn not_implemented(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!("{what} is not implemented by this test server"),
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        )
    }

    /// The XML document; `resource` is the request's canonical path.
    pub fn to_xml(&self, request_id: &str, host_id: &str, resource: &str) -> String {
        let mut xml = String::with_capacity(256);
        xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
        push_element(&mut xml, "Code", &self.code);
        push_element(&mut xml, "Message", &self.message);
        push_element(&mut xml, "RequestId", request_id);
        push_element(&mut xml, "HostId", host_id);
        push_element(&mut xml, "Resource", resource);
        for (name, value) in &self.extra {
            push_element(&mut xml, name, value);
        }
        xml.push_str("</Error>");
        xml
    }

    /// The S3 form of the document: details between `Message` and `RequestId`, no `Resource`.
    pub fn to_s3_xml(&self, request_id: &str, host_id: &str) -> String {
        let mut xml = String::with_capacity(256);
        xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
        push_element(&mut xml, "Code", &self.code);
        push_element(&mut xml, "Message", &self.message);
        for (name, value) in &self.extra {
            push_element(&mut xml, name, value);
        }
        push_element(&mut xml, "RequestId", request_id);
        push_element(&mut xml, "HostId", host_id);
        xml.push_str("</Error>");
        xml
    }
}

pub fn push_element(xml: &mut String, name: &str, value: &str) {
    xml.push('<');
    xml.push_str(name);
    xml.push('>');
    escape_into(xml, value);
    xml.push_str("</");
    xml.push_str(name);
    xml.push('>');
}

/// XML text escaping; control characters that XML 1.0 cannot carry become `?` so a hostile
/// key can never produce an unparsable document.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push('?'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_has_all_fields_in_order_and_escapes() {
        let e = ObsError::no_such_key("a<b>&\"c'\u{1}.zip");
        let xml = e.to_xml("REQ1", "HOST1", "/bkt/a<b>");
        assert!(xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
        ));
        let order = [
            "<Code>",
            "<Message>",
            "<RequestId>REQ1<",
            "<HostId>HOST1<",
            "<Resource>/bkt/a&lt;b&gt;<",
            "<Key>",
        ];
        let mut at = 0;
        for part in order {
            let found = xml[at..]
                .find(part)
                .unwrap_or_else(|| panic!("{part} missing or out of order in {xml}"));
            at += found;
        }
        assert!(xml.contains("<Key>a&lt;b&gt;&amp;&quot;c&apos;?.zip</Key>"));
        assert!(xml.ends_with("</Error>"));
    }

    #[test]
    fn s3_xml_puts_details_before_the_ids() {
        let xml = ObsError::no_such_key("k&1").to_s3_xml("REQ1", "HOST1");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
             <Message>The specified key does not exist.</Message><Key>k&amp;1</Key>\
             <RequestId>REQ1</RequestId><HostId>HOST1</HostId></Error>"
        );
    }
}
