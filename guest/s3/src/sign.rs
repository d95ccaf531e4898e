//! AWS Signature Version 4 for S3, byte-identical to botocore's `S3SigV4Auth` (header
//! signatures) and `S3SigV4QueryAuth` (presigned URLs): every request in
//! `tests/vectors/sigv4-botocore.json` is a test.
//!
//! As botocore does for S3: the path is signed exactly as sent (no normalisation, no second
//! encoding), every header is signed but a few hop-by-hop and tracing ones, and the payload
//! hash is always sent as `x-amz-content-sha256`.

use hmac::{Hmac, Mac};
use scheme_plugin_kit::encode::encode_component;
use scheme_plugin_kit::http::{Method, Request, Scheme};
use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The hash of an empty body, what a GET signs.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const SERVICE: &str = "s3";

/// botocore's `SIGNED_HEADERS_BLACKLIST`: headers a proxy may add, change or drop.
const NOT_SIGNED: &[&str] = &[
    "baggage", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "traceparent", "tracestate", "trailer",
    "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
];

/// Who signs: the key pair and, for temporary credentials, the session token.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub session_token: Option<&'a str>,
    pub region: &'a str,
}

/// What the body contributes to a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// No body (every GET): the hash of nothing.
    Empty,
    /// Not signed, as S3 allows over TLS.
    Unsigned,
    /// The hex SHA-256 of the body.
    Sha256(String),
}

impl Payload {
    pub fn of_body(body: &[u8]) -> Payload {
        Payload::Sha256(hex::encode(Sha256::digest(body)))
    }

    /// What botocore's `S3SigV4Auth` signs for `req`: no body, the empty body's hash; the
    /// streamed body of a PUT (PutObject, UploadPart) that carries `Content-MD5`, over
    /// https, unsigned (TLS and the MD5 protect it, and hashing gigabytes twice is waste);
    /// any other body, its SHA-256 (always over plain http, where the signature is all that
    /// protects it).
    pub fn for_request(req: &Request) -> Payload {
        match &req.body {
            None => Payload::Empty,
            Some(_) if req.scheme == Scheme::Https && req.method == Method::Put && req.header("content-md5").is_some() => Payload::Unsigned,
            Some(body) => Payload::of_body(body.as_slice()),
        }
    }

    /// What `x-amz-content-sha256` says and the canonical request ends with.
    pub fn hash(&self) -> &str {
        match self {
            Payload::Empty => EMPTY_SHA256,
            Payload::Unsigned => UNSIGNED_PAYLOAD,
            Payload::Sha256(h) => h,
        }
    }
}

/// The intermediate texts, for tests and diagnosis. They hold no secret (the session token
/// is in the canonical request only when it is a signed header, which is sent anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
}

/// `YYYYMMDDTHHMMSSZ`.
pub fn amz_date(t: std::time::SystemTime) -> String {
    let (y, mo, d, h, mi, s) = scheme_plugin_kit::time::civil(t);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

fn hmac(key: &[u8], msg: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(msg.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

impl Signer<'_> {
    fn scope(&self, amz_date: &str) -> String {
        format!("{}/{}/{SERVICE}/aws4_request", &amz_date[..8], self.region)
    }

    fn signature(&self, amz_date: &str, string_to_sign: &str) -> String {
        let k_date = hmac(format!("AWS4{}", self.secret_key).as_bytes(), &amz_date[..8]);
        let k_region = hmac(&k_date, self.region);
        let k_service = hmac(&k_region, SERVICE);
        let k_signing = hmac(&k_service, "aws4_request");
        hex::encode(hmac(&k_signing, string_to_sign))
    }

    fn string_to_sign(&self, amz_date: &str, canonical_request: &str) -> String {
        format!("{ALGORITHM}\n{amz_date}\n{}\n{}", self.scope(amz_date), hex::encode(Sha256::digest(canonical_request.as_bytes())))
    }

    /// Signs `req` in place: sets `X-Amz-Date`, `X-Amz-Security-Token` (with a session
    /// token), `X-Amz-Content-SHA256` and `Authorization`, replacing earlier ones so a
    /// retried request is signed afresh. `amz_date` is `YYYYMMDDTHHMMSSZ` ([`amz_date`]).
    pub fn sign(&self, req: &mut Request, amz_date: &str, payload: &Payload) -> Signed {
        req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
        req.set_header("X-Amz-Date", amz_date);
        match self.session_token {
            Some(t) => req.set_header("X-Amz-Security-Token", t),
            None => req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("x-amz-security-token")),
        }
        req.set_header("X-Amz-Content-SHA256", payload.hash());

        let headers = headers_to_sign(req);
        let signed_headers = signed_header_names(&headers);
        let (path, query) = split_path(&req.path_and_query);
        let canonical_request = format!(
            "{}\n{path}\n{}\n{}\n\n{signed_headers}\n{}",
            req.method.as_str(),
            canonical_query(query),
            canonical_headers(&headers),
            payload.hash()
        );
        let string_to_sign = self.string_to_sign(amz_date, &canonical_request);
        let signature = self.signature(amz_date, &string_to_sign);
        req.set_header(
            "Authorization",
            format!("{ALGORITHM} Credential={}/{}, SignedHeaders={signed_headers}, Signature={signature}", self.access_key, self.scope(amz_date)),
        );
        Signed { canonical_request, string_to_sign, signature }
    }

    /// A presigned URL for `method` on `scheme://authority` + `path` (already encoded, no
    /// query), valid `expires` seconds from `amz_date`: the query string botocore writes,
    /// in its order.
    pub fn presign(&self, method: &str, scheme: Scheme, authority: &str, path: &str, amz_date: &str, expires: u64) -> (String, Signed) {
        let mut auth: Vec<(&str, String)> = vec![
            ("X-Amz-Algorithm", ALGORITHM.to_string()),
            ("X-Amz-Credential", format!("{}/{}", self.access_key, self.scope(amz_date))),
            ("X-Amz-Date", amz_date.to_string()),
            ("X-Amz-Expires", expires.to_string()),
            ("X-Amz-SignedHeaders", "host".to_string()),
        ];
        if let Some(t) = self.session_token {
            auth.push(("X-Amz-Security-Token", t.to_string()));
        }
        let query = auth.iter().map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v))).collect::<Vec<_>>().join("&");
        let host = canonical_host(scheme, authority);
        let canonical_request = format!("{method}\n{path}\n{}\nhost:{host}\n\nhost\n{UNSIGNED_PAYLOAD}", canonical_query(Some(&query)));
        let string_to_sign = self.string_to_sign(amz_date, &canonical_request);
        let signature = self.signature(amz_date, &string_to_sign);
        let url = format!("{}://{authority}{path}?{query}&X-Amz-Signature={signature}", scheme.as_str());
        (url, Signed { canonical_request, string_to_sign, signature })
    }
}

fn split_path(path_and_query: &str) -> (&str, Option<&str>) {
    match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    }
}

/// The query as sent (already encoded), its `k=v` pairs sorted, as botocore signs a URL's
/// own query string.
fn canonical_query(query: Option<&str>) -> String {
    let Some(q) = query.filter(|q| !q.is_empty()) else { return String::new() };
    let mut pairs: Vec<(&str, &str)> = q.split('&').map(|p| p.split_once('=').unwrap_or((p, ""))).collect();
    pairs.sort_unstable();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// The authority as botocore signs it: lower-case, without the scheme's default port.
fn canonical_host(scheme: Scheme, authority: &str) -> String {
    let a = authority.to_ascii_lowercase();
    match a.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && p.parse::<u16>().ok() == Some(scheme.default_port()) => h.to_string(),
        _ => a,
    }
}

/// Lower-cased names and values of the headers that are signed, `host` included.
fn headers_to_sign(req: &Request) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.clone()))
        .filter(|(k, _)| !NOT_SIGNED.contains(&k.as_str()))
        .collect();
    if !h.iter().any(|(k, _)| k == "host") {
        h.push(("host".into(), canonical_host(req.scheme, &req.authority)));
    }
    h
}

fn signed_header_names(headers: &[(String, String)]) -> String {
    let mut names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(";")
}

/// `name:value` lines, sorted by name; repeated names joined with `,`; each value with its
/// runs of whitespace collapsed to one space and trimmed (Python's `' '.join(v.split())`).
fn canonical_headers(headers: &[(String, String)]) -> String {
    let mut names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .iter()
        .map(|name| {
            let values: Vec<String> = headers.iter().filter(|(k, _)| k == name).map(|(_, v)| collapse(v)).collect();
            format!("{name}:{}", values.join(","))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Python's `str.split()` whitespace: Unicode white space plus the ASCII separators
/// U+001C..U+001F.
fn collapse(v: &str) -> String {
    v.split(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheme_plugin_kit::http::Method;

    /// AWS's documented example (GET Object, "Example: GET Object" in the S3 SigV4 guide).
    #[test]
    fn aws_documentation_example() {
        let signer = Signer { access_key: "AKIAIOSFODNN7EXAMPLE", secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", session_token: None, region: "us-east-1" };
        let mut req = Request::new(Method::Get, Scheme::Https, "examplebucket.s3.amazonaws.com", "/test.txt");
        req.set_header("Range", "bytes=0-9");
        let signed = signer.sign(&mut req, "20130524T000000Z", &Payload::Empty);
        assert_eq!(signed.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
        assert_eq!(
            req.header("authorization"),
            Some("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        );
    }

    #[test]
    fn resigning_replaces_the_old_signature() {
        let signer = Signer { access_key: "AK", secret_key: "SK", session_token: Some("TOK"), region: "eu-west-1" };
        let mut req = Request::new(Method::Get, Scheme::Https, "b.s3.eu-west-1.amazonaws.com", "/k");
        let first = signer.sign(&mut req, "20240101T000000Z", &Payload::Empty);
        let second = signer.sign(&mut req, "20240101T000001Z", &Payload::Empty);
        assert_ne!(first.signature, second.signature);
        assert_eq!(req.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("authorization")).count(), 1);
        assert_eq!(req.header("x-amz-date"), Some("20240101T000001Z"));
        assert_eq!(req.header("x-amz-security-token"), Some("TOK"));
        let anon_token = Signer { session_token: None, ..signer };
        anon_token.sign(&mut req, "20240101T000001Z", &Payload::Unsigned);
        assert_eq!((req.header("x-amz-security-token"), req.header("x-amz-content-sha256")), (None, Some(UNSIGNED_PAYLOAD)));
    }

    #[test]
    fn the_payload_is_signed_as_botocore_decides() {
        use scheme_plugin_kit::http::RequestBody;
        let body = || RequestBody::from(b"hello, world\n".to_vec());
        let hashed = Payload::Sha256("853ff93762a06ddbf722c4ebe9ddd66d8f63ddaea97f521c3ecc20da7c976020".into());
        let put = |scheme| Request::new(Method::Put, scheme, "b.s3.amazonaws.com", "/k").with_body(body());
        assert_eq!(Payload::for_request(&Request::new(Method::Get, Scheme::Https, "h", "/k")), Payload::Empty);
        assert_eq!(Payload::for_request(&Request::new(Method::Delete, Scheme::Http, "h", "/k?uploadId=x")), Payload::Empty);
        assert_eq!(Payload::for_request(&put(Scheme::Https)), hashed, "no Content-MD5: hashed even over TLS");
        let mut with_md5 = put(Scheme::Https);
        with_md5.set_header("Content-MD5", "x");
        assert_eq!(Payload::for_request(&with_md5), Payload::Unsigned);
        with_md5.scheme = Scheme::Http;
        assert_eq!(Payload::for_request(&with_md5), hashed, "plain http: always hashed");
        let mut post = Request::new(Method::Post, Scheme::Https, "h", "/k?uploadId=x").with_body(body());
        post.set_header("Content-MD5", "x");
        assert_eq!(Payload::for_request(&post), hashed, "a POST's body is no stream: hashed");
        let empty = Request::new(Method::Post, Scheme::Https, "h", "/k?uploads").with_body(RequestBody::default());
        assert_eq!(Payload::for_request(&empty), Payload::Sha256(EMPTY_SHA256.into()));
    }

    #[test]
    fn pieces() {
        assert_eq!(amz_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_728_976_809)), "20241015T072009Z");
        assert_eq!(canonical_host(Scheme::Https, "H.example:443"), "h.example");
        assert_eq!(canonical_host(Scheme::Http, "h:443"), "h:443");
        assert_eq!(canonical_host(Scheme::Http, "[::1]:80"), "[::1]");
        assert_eq!(canonical_query(Some("b=2&a=1&a=0&c")), "a=0&a=1&b=2&c=");
        assert_eq!(collapse("  a \t b\u{1f}c  "), "a b c");
        assert_eq!(Payload::of_body(b""), Payload::Sha256(EMPTY_SHA256.into()));
    }
}
