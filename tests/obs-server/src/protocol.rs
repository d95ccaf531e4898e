//! Which protocol a request speaks, decided per request from its authentication: AWS
//! Signature V4 (`Authorization: AWS4-HMAC-SHA256 ...` or `?X-Amz-Algorithm=`) is S3; the
//! `OBS`/`AWS` V2 header signatures, their presigned forms and anonymous requests are OBS.
//! Both share one store and one credential list; only the answer's dialect differs (request
//! id headers, error document shape, checksum and metadata headers).

use http::HeaderMap;
use serde::Serialize;

use crate::query::Query;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Obs,
    S3,
}

/// The `Authorization` scheme of Signature V4.
pub const V4_ALGORITHM: &str = "AWS4-HMAC-SHA256";

impl Protocol {
    /// Looks only at the claimed authentication, never at its validity: a forged V4 request
    /// must still be refused in S3's dialect.
    pub fn detect(headers: &HeaderMap, query: &Query) -> Protocol {
        let v4_header = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("AWS4-"));
        if v4_header || query.has("X-Amz-Algorithm") {
            Protocol::S3
        } else {
            Protocol::Obs
        }
    }

    pub fn request_id_header(self) -> &'static str {
        match self {
            Protocol::Obs => "x-obs-request-id",
            Protocol::S3 => "x-amz-request-id",
        }
    }

    pub fn id2_header(self) -> &'static str {
        match self {
            Protocol::Obs => "x-obs-id-2",
            Protocol::S3 => "x-amz-id-2",
        }
    }

    pub fn server_name(self) -> &'static str {
        match self {
            Protocol::Obs => "OBS",
            Protocol::S3 => "AmazonS3",
        }
    }

    /// Namespace of XML result documents.
    pub fn xml_namespace(self) -> &'static str {
        match self {
            Protocol::Obs => "http://obs.myhwclouds.com/doc/2015-06-30/",
            Protocol::S3 => "http://s3.amazonaws.com/doc/2006-03-01/",
        }
    }

    /// Prefix of user metadata headers in answers.
    pub fn meta_prefix(self) -> &'static str {
        match self {
            Protocol::Obs => "x-obs-meta-",
            Protocol::S3 => "x-amz-meta-",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn detection_follows_the_claimed_scheme() {
        let none = Query::default();
        assert_eq!(
            Protocol::detect(&with_auth("AWS4-HMAC-SHA256 Credential=a/b"), &none),
            Protocol::S3
        );
        // SigV4a is still S3: it must be refused in S3's dialect, not OBS's.
        assert_eq!(
            Protocol::detect(&with_auth("AWS4-ECDSA-P256-SHA256 x"), &none),
            Protocol::S3
        );
        assert_eq!(
            Protocol::detect(&with_auth("AWS AK:sig"), &none),
            Protocol::Obs
        );
        assert_eq!(
            Protocol::detect(&with_auth("OBS AK:sig"), &none),
            Protocol::Obs
        );
        assert_eq!(Protocol::detect(&HeaderMap::new(), &none), Protocol::Obs);
        let presigned = Query::parse(Some("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=1"));
        assert_eq!(
            Protocol::detect(&HeaderMap::new(), &presigned),
            Protocol::S3
        );
        let v2 = Query::parse(Some("AWSAccessKeyId=a&Expires=1&Signature=s"));
        assert_eq!(Protocol::detect(&HeaderMap::new(), &v2), Protocol::Obs);
    }
}
