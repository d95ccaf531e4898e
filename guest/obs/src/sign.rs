//! OBS header and query-string signatures, byte-identical to the official SDK
//! (esdk-obs-python 3.26.6; every case in `tests/data/obs-sdk-signatures.json` is a test).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// `OBS` is Huawei's own scheme; `AWS` (V2) is the S3-compatible one OBS also accepts.
/// With no prefixed headers the two produce the same signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureType {
    Obs,
    V2,
}

impl SignatureType {
    fn header_prefix(self) -> &'static str {
        match self {
            SignatureType::Obs => "x-obs-",
            SignatureType::V2 => "x-amz-",
        }
    }

    fn auth_prefix(self) -> &'static str {
        match self {
            SignatureType::Obs => "OBS",
            SignatureType::V2 => "AWS",
        }
    }

    fn query_access_key(self) -> &'static str {
        match self {
            SignatureType::Obs => "AccessKeyId",
            SignatureType::V2 => "AWSAccessKeyId",
        }
    }

    pub fn security_token_header(self) -> &'static str {
        match self {
            SignatureType::Obs => "x-obs-security-token",
            SignatureType::V2 => "x-amz-security-token",
        }
    }
}

/// Query parameters that are part of the CanonicalizedResource (the SDK's list).
const SUB_RESOURCES: &[&str] = &[
    "CDNNotifyConfiguration", "acl", "append", "attname", "backtosource", "cors", "customdomain", "delete",
    "deletebucket", "directcoldaccess", "encryption", "inventory", "length", "lifecycle", "location", "logging",
    "metadata", "modify", "name", "notification", "partNumber", "policy", "position", "quota", "rename",
    "replication", "requestPayment", "response-cache-control", "response-content-disposition",
    "response-content-encoding", "response-content-language", "response-content-type", "response-expires",
    "restore", "storageClass", "storagePolicy", "storageinfo", "tagging", "torrent", "truncate", "uploadId",
    "uploads", "versionId", "versioning", "versions", "website", "x-image-process", "x-image-save-bucket",
    "x-image-save-object", "x-obs-security-token", "object-lock", "retention",
];

fn is_sub_resource(key: &str) -> bool {
    SUB_RESOURCES.contains(&key) || key.to_ascii_lowercase().starts_with("x-obs-")
}

pub use scheme_plugin_kit::encode::encode_path;
use scheme_plugin_kit::encode::percent_decode;

/// Query values as the SDK writes them into presigned URLs: the path rule, so `/` stays
/// literal there too.
pub fn encode_query_value(s: &str) -> String {
    encode_path(s)
}

/// `/<bucket>/<encoded key>` (or `/<bucket>/` for a bucket-level request, `/<bucket>` in
/// path style), plus sub-resources sorted by key with raw values.
pub fn canonical_resource(bucket: &str, key: Option<&str>, path_style: bool, query: &[(String, Option<String>)]) -> String {
    let mut r = String::from("/");
    r.push_str(bucket);
    match key {
        Some(k) => {
            r.push('/');
            r.push_str(&encode_path(k));
        }
        None if !path_style => r.push('/'),
        None => {}
    }
    append_sub_resources(&mut r, query);
    r
}

fn append_sub_resources(r: &mut String, query: &[(String, Option<String>)]) {
    let mut subs: Vec<&(String, Option<String>)> = query.iter().filter(|(k, _)| is_sub_resource(k)).collect();
    subs.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (k, v)) in subs.iter().enumerate() {
        r.push(if i == 0 { '?' } else { '&' });
        r.push_str(k);
        if let Some(v) = v {
            r.push('=');
            r.push_str(v);
        }
    }
}

/// The CanonicalizedResource of a request already on its way: the wire path is encoded
/// exactly as it is signed, so it is used as is (prefixed by the bucket when the bucket is
/// in the host name). `None` when a path-style path is not under `bucket`.
pub fn canonical_resource_from_path(bucket: &str, path_and_query: &str, path_style: bool) -> Option<String> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let mut r = if path_style {
        let rest = path.strip_prefix('/')?.strip_prefix(bucket)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        path.to_string()
    } else {
        format!("/{bucket}{path}")
    };
    if let Some(q) = query {
        append_sub_resources(&mut r, &parse_query(q));
    }
    Some(r)
}

/// `k=v&k2` with values percent-decoded (signatures use raw values).
pub fn parse_query(q: &str) -> Vec<(String, Option<String>)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), Some(percent_decode(v))),
            None => (percent_decode(p), None),
        })
        .collect()
}

/// The text that is signed. `date` is the Date header value, or the Expires value for a
/// presigned URL; it is replaced by an empty line when an `x-obs-date` header is sent.
pub fn string_to_sign(method: &str, headers: &[(String, String)], date: &str, resource: &str, sig: SignatureType) -> String {
    let get = |name: &str| {
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()).unwrap_or("")
    };
    let prefix = sig.header_prefix();
    let date_header = format!("{prefix}date");
    let mut canon: Vec<(String, String)> = Vec::new();
    for (k, v) in headers {
        let lk = k.trim().to_ascii_lowercase();
        if !lk.starts_with(prefix) {
            continue;
        }
        let v = v.trim();
        match canon.iter_mut().find(|(ck, _)| *ck == lk) {
            Some((_, cv)) => {
                cv.push(',');
                cv.push_str(v);
            }
            None => canon.push((lk, v.to_string())),
        }
    }
    canon.sort_by(|a, b| a.0.cmp(&b.0));
    let has_prefixed_date = canon.iter().any(|(k, _)| *k == date_header);

    let mut s = String::new();
    s.push_str(method);
    s.push('\n');
    s.push_str(get("content-md5"));
    s.push('\n');
    s.push_str(get("content-type"));
    s.push('\n');
    if !has_prefixed_date {
        s.push_str(date);
    }
    s.push('\n');
    for (k, v) in &canon {
        s.push_str(k);
        s.push(':');
        s.push_str(v);
        s.push('\n');
    }
    s.push_str(resource);
    s
}

/// Base64(HMAC-SHA1(secret, string_to_sign)).
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `Authorization` header value.
pub fn authorization(sig: SignatureType, access_key: &str, secret: &str, string_to_sign: &str) -> String {
    format!("{} {}:{}", sig.auth_prefix(), access_key, signature(secret, string_to_sign))
}

/// The query string of a presigned URL, in the SDK's order: the token (signed as a
/// sub-resource), then `Expires`, the access key and `Signature`.
#[allow(clippy::too_many_arguments)]
pub fn presign_query(sig: SignatureType, access_key: &str, secret: &str, token: Option<&str>, method: &str, bucket: &str, key: Option<&str>, path_style: bool, expires: u64) -> (String, String) {
    let query: Vec<(String, Option<String>)> = token
        .map(|t| vec![(sig.security_token_header().to_string(), Some(t.to_string()))])
        .unwrap_or_default();
    let resource = canonical_resource(bucket, key, path_style, &query);
    let sts = string_to_sign(method, &[], &expires.to_string(), &resource, sig);
    let mut q = String::new();
    if let Some(t) = token {
        q.push_str(sig.security_token_header());
        q.push('=');
        q.push_str(&encode_query_value(t));
        q.push('&');
    }
    q.push_str(&format!(
        "Expires={expires}&{}={}&Signature={}",
        sig.query_access_key(),
        encode_query_value(access_key),
        encode_query_value(&signature(secret, &sts))
    ));
    (q, sts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_sdk() {
        assert_eq!(encode_path("my dir/a+b=c&d.zip"), "my%20dir/a%2Bb%3Dc%26d.zip");
        assert_eq!(encode_path("100%/x%2Fy~!*'().zip"), "100%25/x%252Fy~%21%2A%27%28%29.zip");
        assert_eq!(encode_path("日.zip"), "%E6%97%A5.zip");
        assert_eq!(encode_path("a?b#c"), "a%3Fb%23c");
    }

    #[test]
    fn resources() {
        assert_eq!(canonical_resource("b", Some("k"), false, &[]), "/b/k");
        assert_eq!(canonical_resource("b", None, false, &[]), "/b/");
        assert_eq!(canonical_resource("b", None, true, &[]), "/b");
        let q = vec![
            ("versionId".to_string(), Some("v1".to_string())),
            ("acl".to_string(), None),
            ("not-signed".to_string(), Some("x".to_string())),
            ("x-obs-thing".to_string(), Some("a b".to_string())),
        ];
        assert_eq!(canonical_resource("b", Some("k"), false, &q), "/b/k?acl&versionId=v1&x-obs-thing=a b");
    }

    #[test]
    fn resource_from_wire_path() {
        assert_eq!(canonical_resource_from_path("b12", "/my%20dir/k.zip", false).as_deref(), Some("/b12/my%20dir/k.zip"));
        assert_eq!(canonical_resource_from_path("b12", "/b12/k.zip", true).as_deref(), Some("/b12/k.zip"));
        assert_eq!(canonical_resource_from_path("b12", "/b123/k.zip", true), None);
        assert_eq!(canonical_resource_from_path("b12", "/other/k.zip", true), None);
        assert_eq!(
            canonical_resource_from_path("b12", "/k.zip?versionId=v%2B1&foo=bar&acl", false).as_deref(),
            Some("/b12/k.zip?acl&versionId=v+1")
        );
        assert_eq!(parse_query("a=%zz&b=%4"), vec![("a".to_string(), Some("%zz".to_string())), ("b".to_string(), Some("%4".to_string()))]);
    }

    #[test]
    fn repeated_prefixed_headers_are_joined_and_sorted() {
        let h = vec![
            ("X-OBS-Meta-B".to_string(), " 2 ".to_string()),
            ("x-obs-meta-a".to_string(), "1".to_string()),
            ("x-obs-meta-b".to_string(), "3".to_string()),
            ("Range".to_string(), "bytes=0-1".to_string()),
        ];
        assert_eq!(string_to_sign("GET", &h, "D", "/b/k", SignatureType::Obs), "GET\n\n\nD\nx-obs-meta-a:1\nx-obs-meta-b:2,3\n/b/k");
        // V2 signs x-amz-* and ignores x-obs-*.
        assert_eq!(string_to_sign("GET", &h, "D", "/b/k", SignatureType::V2), "GET\n\n\nD\n/b/k");
    }
}
