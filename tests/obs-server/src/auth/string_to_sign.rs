//! The V2-style StringToSign shared by OBS and AWS signatures, byte-compatible with
//! esdk-obs-python 3.26.6 (`obs/auth.py`):
//!
//! ```text
//! VERB \n Content-MD5 \n Content-Type \n Date-or-Expires \n CanonicalizedHeaders CanonicalizedResource
//! ```

use base64::Engine;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha1::Sha1;

use crate::query::Query;

/// Which family of prefixed headers and parameters a signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `Authorization: OBS ...`, `x-obs-*` headers.
    Obs,
    /// `Authorization: AWS ...` (S3 V2), `x-amz-*` headers.
    Aws,
}

impl Flavor {
    pub fn header_prefix(self) -> &'static str {
        match self {
            Flavor::Obs => "x-obs-",
            Flavor::Aws => "x-amz-",
        }
    }

    /// A header that replaces `Date` (and empties the Date line when present).
    pub fn date_header(self) -> &'static str {
        match self {
            Flavor::Obs => "x-obs-date",
            Flavor::Aws => "x-amz-date",
        }
    }

    pub fn token_name(self) -> &'static str {
        match self {
            Flavor::Obs => "x-obs-security-token",
            Flavor::Aws => "x-amz-security-token",
        }
    }
}

/// Sub-resource names that are signed (lower-cased), from the SDK's
/// `ALLOWED_RESOURCE_PARAMTER_NAMES`. Query names with the flavor's header prefix are signed too.
const SIGNED_SUBRESOURCES: &[&str] = &[
    "acl",
    "backtosource",
    "policy",
    "torrent",
    "logging",
    "location",
    "storageinfo",
    "quota",
    "storageclass",
    "storagepolicy",
    "requestpayment",
    "versions",
    "versioning",
    "versionid",
    "uploads",
    "uploadid",
    "partnumber",
    "website",
    "notification",
    "dispolicy",
    "lifecycle",
    "deletebucket",
    "delete",
    "cors",
    "restore",
    "tagging",
    "replication",
    "metadata",
    "encryption",
    "publicaccessblock",
    "bucketstatus",
    "policystatus",
    "x-obs-accesslabel",
    "inventory",
    "obscompresspolicy",
    "object-lock",
    "retention",
    "directcoldaccess",
    "append",
    "position",
    "truncate",
    "modify",
    "rename",
    "length",
    "name",
    "fileinterface",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "x-image-save-bucket",
    "x-image-save-object",
    "x-image-process",
    "x-oss-process",
    "x-workflow-prefix",
    "x-workflow-start",
    "x-workflow-limit",
    "x-workflow-template-name",
    "x-workflow-graph-name",
    "x-workflow-execution-state",
    "x-workflow-execution-type",
    "x-workflow-next-marker",
    "obsworkflowtriggerpolicy",
    "obsbucketalias",
    "obsalias",
];

/// Inputs of one StringToSign.
#[derive(Debug, Clone, Copy)]
pub struct SignInput<'a> {
    pub flavor: Flavor,
    pub method: &'a str,
    pub headers: &'a HeaderMap,
    /// `Some(expires)` for query-string authentication: it takes the Date line.
    pub expires: Option<&'a str>,
    /// `/<bucket>/<raw key>` as sent.
    pub canonical_resource: &'a str,
    pub query: &'a Query,
}

pub fn string_to_sign(input: &SignInput<'_>) -> String {
    let SignInput {
        flavor,
        method,
        headers,
        expires,
        canonical_resource,
        query,
    } = *input;
    let mut out = String::with_capacity(128 + canonical_resource.len());
    out.push_str(method);
    out.push('\n');
    out.push_str(&header_text(headers, "content-md5").unwrap_or_default());
    out.push('\n');
    out.push_str(&header_text(headers, "content-type").unwrap_or_default());
    out.push('\n');
    match expires {
        Some(expires) => out.push_str(expires),
        None if headers.contains_key(flavor.date_header()) => {}
        None => out.push_str(&header_text(headers, "date").unwrap_or_default()),
    }
    out.push('\n');
    out.push_str(&canonical_headers(flavor, headers));
    out.push_str(canonical_resource);
    out.push_str(&canonical_subresources(flavor, query));
    out
}

/// `name:value\n` for every header with the flavor's prefix, names lower-cased and sorted,
/// repeated headers comma-joined, values trimmed.
pub fn canonical_headers(flavor: Flavor, headers: &HeaderMap) -> String {
    let prefix = flavor.header_prefix();
    // HeaderName is already lower-case.
    let mut names: Vec<&str> = headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort_unstable();
    let mut out = String::new();
    for name in names {
        let joined: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| value_text(v.as_bytes()))
            .collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&joined.join(","));
        out.push('\n');
    }
    out
}

/// `?k=v&k2` for the signed sub-resources, sorted by name, values decoded.
pub fn canonical_subresources(flavor: Flavor, query: &Query) -> String {
    let mut signed: Vec<_> = query
        .params
        .iter()
        .filter(|p| is_signed_subresource(flavor, &p.name))
        .collect();
    if signed.is_empty() {
        return String::new();
    }
    signed.sort_by(|a, b| a.name.cmp(&b.name));
    let parts: Vec<String> = signed
        .iter()
        .map(|p| {
            let name = quote_name(&p.name);
            match &p.value {
                Some(v) => format!("{name}={v}"),
                None => name,
            }
        })
        .collect();
    format!("?{}", parts.join("&"))
}

/// Whether a query parameter is part of the signed resource.
pub fn is_signed_subresource(flavor: Flavor, name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SIGNED_SUBRESOURCES.contains(&lower.as_str()) || lower.starts_with(flavor.header_prefix())
}

/// Python's `urllib.parse.quote(name, safe='/')`, which the SDK applies to sub-resource names.
fn quote_name(name: &str) -> String {
    const SAFE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(name, SAFE).to_string()
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| value_text(v.as_bytes()))
}

/// Header bytes as the signer saw them: UTF-8 when valid, otherwise Latin-1 (Python's
/// http.client sends `str` headers Latin-1 encoded while the SDK signs their UTF-8 form).
fn value_text(bytes: &[u8]) -> String {
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    };
    text.trim().to_string()
}

/// `Base64(HMAC-SHA1(secret, string_to_sign))`.
pub fn sign(secret_key: &str, string_to_sign: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(mac(secret_key, string_to_sign).finalize().into_bytes())
}

/// Constant-time check of a base64 signature.
pub fn verify(secret_key: &str, string_to_sign: &str, provided_b64: &str) -> bool {
    match base64::engine::general_purpose::STANDARD.decode(provided_b64.trim()) {
        Ok(provided) => mac(secret_key, string_to_sign)
            .verify_slice(&provided)
            .is_ok(),
        Err(_) => false,
    }
}

fn mac(secret_key: &str, string_to_sign: &str) -> Hmac<Sha1> {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret_key.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const SK: &str = "SKtestExampleSecretKey0000000000000000001";
    const DATE: &str = "Tue, 15 Oct 2024 07:20:09 GMT";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn sts(flavor: Flavor, method: &str, h: &HeaderMap, resource: &str, query: &str) -> String {
        let q = Query::parse(Some(query));
        string_to_sign(&SignInput {
            flavor,
            method,
            headers: h,
            expires: None,
            canonical_resource: resource,
            query: &q,
        })
    }

    #[test]
    fn simple_get_matches_sdk_vector() {
        let h = headers(&[("date", DATE), ("range", "bytes=0-9")]);
        let s = sts(Flavor::Obs, "GET", &h, "/ray-jobs/job.zip", "");
        assert_eq!(s, format!("GET\n\n\n{DATE}\n/ray-jobs/job.zip"));
        assert_eq!(sign(SK, &s), "XH/xw6IBWdbYTPD7HMecyh5Pl6M=");
        assert!(verify(SK, &s, "XH/xw6IBWdbYTPD7HMecyh5Pl6M="));
        assert!(!verify(SK, &s, "XH/xw6IBWdbYTPD7HMecyh5Pl6N="));
        assert!(!verify(SK, &s, "not base64!"));
    }

    #[test]
    fn prefixed_date_empties_the_date_line() {
        let h = headers(&[("x-obs-date", DATE)]);
        assert_eq!(
            sts(Flavor::Obs, "GET", &h, "/ray-jobs/job.zip", ""),
            format!("GET\n\n\n\nx-obs-date:{DATE}\n/ray-jobs/job.zip")
        );
        // The SDK empties the Date line whenever x-obs-date is present, even next to Date.
        let h = headers(&[("x-obs-date", DATE), ("date", "D")]);
        assert_eq!(
            sts(Flavor::Obs, "GET", &h, "/b/k", ""),
            format!("GET\n\n\n\nx-obs-date:{DATE}\n/b/k")
        );
        // An x-obs-date means nothing to an AWS signature, which then keeps Date.
        let h = headers(&[("x-obs-date", DATE), ("date", "D")]);
        assert_eq!(sts(Flavor::Aws, "GET", &h, "/b/k", ""), "GET\n\n\nD\n/b/k");
    }

    #[test]
    fn canonical_headers_sorted_trimmed_joined() {
        let h = headers(&[
            ("x-obs-meta-b", "  two "),
            ("x-obs-meta-a", "1"),
            ("x-obs-meta-a", "2"),
            ("x-amz-meta-z", "aws"),
            ("content-type", "application/zip"),
            ("content-md5", "bWQ1"),
        ]);
        assert_eq!(
            sts(Flavor::Obs, "PUT", &h, "/b/k", ""),
            "PUT\nbWQ1\napplication/zip\n\nx-obs-meta-a:1,2\nx-obs-meta-b:two\n/b/k"
        );
        assert_eq!(
            sts(Flavor::Aws, "PUT", &h, "/b/k", ""),
            "PUT\nbWQ1\napplication/zip\n\nx-amz-meta-z:aws\n/b/k"
        );
    }

    #[test]
    fn subresources_filtered_sorted_decoded() {
        let h = HeaderMap::new();
        let s = sts(
            Flavor::Obs,
            "GET",
            &h,
            "/b/k",
            "versionId=v%2B1&uploads&response-content-type=text%2Fplain&foo=bar&x-obs-security-token=t%3D1&Signature=zzz",
        );
        assert_eq!(
            s,
            "GET\n\n\n\n/b/k?response-content-type=text/plain&uploads&versionId=v+1&x-obs-security-token=t=1"
        );
        // x-obs-* parameters are not sub-resources of an AWS signature.
        let s = sts(
            Flavor::Aws,
            "GET",
            &h,
            "/b/k",
            "x-obs-security-token=t&x-amz-security-token=u",
        );
        assert_eq!(s, "GET\n\n\n\n/b/k?x-amz-security-token=u");
    }

    #[test]
    fn latin1_header_bytes_are_signed_as_their_characters() {
        let mut h = HeaderMap::new();
        h.insert("x-obs-meta-n", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert_eq!(
            sts(Flavor::Obs, "PUT", &h, "/b/k", ""),
            "PUT\n\n\n\nx-obs-meta-n:caf\u{e9}\n/b/k"
        );
    }
}
