//! The canonical request, StringToSign, signing key and signature of AWS Signature V4 as S3
//! computes them (the path is URI-encoded once, not twice as other services do).
//!
//! Everything is rebuilt from the raw request: the path and query are decoded and re-encoded
//! with the V4 rules, so a client that encoded a character the rules leave alone (or left
//! alone one they encode) still signs the bytes we check.

use hmac::{Hmac, Mac};
use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use sha2::{Digest, Sha256};

/// Everything but the unreserved characters `A-Z a-z 0-9 - _ . ~`.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The hash of an empty payload.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// V4's `UriEncode` of raw bytes (upper-case hex).
pub fn uri_encode(bytes: &[u8]) -> String {
    percent_encode(bytes, STRICT).to_string()
}

/// The canonical URI: each `/`-separated segment of the raw path decoded, then encoded once
/// (an encoded `%2F` inside a segment stays encoded).
pub fn canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_string();
    }
    raw_path
        .split('/')
        .map(|segment| uri_encode(&percent_decode_str(segment).collect::<Vec<u8>>()))
        .collect::<Vec<_>>()
        .join("/")
}

/// The canonical query string: every parameter but `X-Amz-Signature`, names and values
/// decoded and re-encoded strictly, sorted by name then value, a bare `name` as `name=`.
pub fn canonical_query(raw_query: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .unwrap_or_default()
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let decode = |s: &str| percent_decode_str(s).collect::<Vec<u8>>();
            (uri_encode(&decode(name)), uri_encode(&decode(value)))
        })
        .filter(|(name, _)| name != "X-Amz-Signature")
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `name:value\n` for each signed header (values of repeated headers comma-joined, each
/// trimmed, inner runs of spaces collapsed). A signed header the request lacks contributes an
/// empty value, which can only make the signature fail.
pub fn canonical_headers(headers: &HeaderMap, signed: &[String]) -> String {
    let mut out = String::new();
    for name in signed {
        let values: Vec<String> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| collapse_spaces(&header_text(v.as_bytes())))
            .collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

/// Header bytes as a signer saw them: UTF-8 when valid, otherwise Latin-1.
fn header_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

fn collapse_spaces(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut last_space = false;
    for c in value.trim().chars() {
        if c == ' ' {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out
}

/// Inputs of one canonical request.
#[derive(Debug, Clone, Copy)]
pub struct CanonicalInput<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// Lower-case, sorted, deduplicated.
    pub signed_headers: &'a [String],
    /// The `x-amz-content-sha256` value (hex, `UNSIGNED-PAYLOAD`, `STREAMING-...`).
    pub payload_hash: &'a str,
}

pub fn canonical_request(input: &CanonicalInput<'_>) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        input.method,
        canonical_uri(input.raw_path),
        canonical_query(input.raw_query),
        canonical_headers(input.headers, input.signed_headers),
        input.signed_headers.join(";"),
        input.payload_hash
    )
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `AWS4-HMAC-SHA256 \n <amz date> \n <scope> \n hex(sha256(canonical request))`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{}\n{amz_date}\n{scope}\n{}",
        crate::protocol::V4_ALGORITHM,
        sha256_hex(canonical_request.as_bytes())
    )
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The key derived from the secret for one day, region and service.
pub fn signing_key(secret_key: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret_key}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// Lower-case hex HMAC-SHA256 of `string_to_sign` under `key`.
pub fn signature(key: &[u8], string_to_sign: &str) -> String {
    hex::encode(hmac(key, string_to_sign.as_bytes()))
}

/// Constant-time comparison of a computed and a provided signature.
pub fn signatures_equal(computed: &str, provided: &str) -> bool {
    let (a, b) = (computed.as_bytes(), provided.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    // The worked examples of the S3 SigV4 documentation ("Signature Calculations for the
    // Authorization Header: Transferring Payload in a Single Chunk").
    const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
    const DATE: &str = "20130524T000000Z";

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

    fn signed(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn sign(creq: &str) -> String {
        let key = signing_key(SK, "20130524", "us-east-1", "s3");
        signature(&key, &string_to_sign(DATE, SCOPE, creq))
    }

    #[test]
    fn get_object_with_range() {
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", DATE),
        ]);
        let names = signed(&["host", "range", "x-amz-content-sha256", "x-amz-date"]);
        let creq = canonical_request(&CanonicalInput {
            method: "GET",
            raw_path: "/test.txt",
            raw_query: None,
            headers: &h,
            signed_headers: &names,
            payload_hash: EMPTY_SHA256,
        });
        assert_eq!(
            creq,
            format!(
                "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
                 x-amz-content-sha256:{EMPTY_SHA256}\nx-amz-date:{DATE}\n\n\
                 host;range;x-amz-content-sha256;x-amz-date\n{EMPTY_SHA256}"
            )
        );
        assert_eq!(
            string_to_sign(DATE, SCOPE, &creq),
            format!(
                "AWS4-HMAC-SHA256\n{DATE}\n{SCOPE}\n\
                 7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
            )
        );
        assert_eq!(
            sign(&creq),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn put_object_with_encoded_key_and_date_header() {
        let payload_hash = sha256_hex(b"Welcome to Amazon S3.");
        assert_eq!(
            payload_hash,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", DATE),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", &payload_hash),
        ]);
        let names = signed(&[
            "date",
            "host",
            "x-amz-content-sha256",
            "x-amz-date",
            "x-amz-storage-class",
        ]);
        // `$` sent raw or encoded: the canonical URI is the same.
        for raw_path in ["/test%24file.text", "/test$file.text"] {
            let creq = canonical_request(&CanonicalInput {
                method: "PUT",
                raw_path,
                raw_query: None,
                headers: &h,
                signed_headers: &names,
                payload_hash: &payload_hash,
            });
            assert!(creq.starts_with("PUT\n/test%24file.text\n\n"), "{creq}");
            assert_eq!(
                sign(&creq),
                "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
            );
        }
    }

    #[test]
    fn get_bucket_with_query() {
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", DATE),
        ]);
        let names = signed(&["host", "x-amz-content-sha256", "x-amz-date"]);
        let lifecycle = canonical_request(&CanonicalInput {
            method: "GET",
            raw_path: "/",
            raw_query: Some("lifecycle"),
            headers: &h,
            signed_headers: &names,
            payload_hash: EMPTY_SHA256,
        });
        assert!(lifecycle.starts_with("GET\n/\nlifecycle=\n"));
        assert_eq!(
            sign(&lifecycle),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
        // Parameters are sorted whatever order they came in.
        let list = canonical_request(&CanonicalInput {
            method: "GET",
            raw_path: "/",
            raw_query: Some("prefix=J&max-keys=2"),
            headers: &h,
            signed_headers: &names,
            payload_hash: EMPTY_SHA256,
        });
        assert!(list.starts_with("GET\n/\nmax-keys=2&prefix=J\n"));
        assert_eq!(
            sign(&list),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn presigned_get() {
        let h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
        let names = signed(&["host"]);
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
                     &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
                     &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
                     &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        let creq = canonical_request(&CanonicalInput {
            method: "GET",
            raw_path: "/test.txt",
            raw_query: Some(query),
            headers: &h,
            signed_headers: &names,
            payload_hash: "UNSIGNED-PAYLOAD",
        });
        assert!(!creq.contains("X-Amz-Signature"));
        assert_eq!(
            sign(&creq),
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn encoding_rules() {
        assert_eq!(canonical_uri("/b/a b+c~d/é"), "/b/a%20b%2Bc~d/%C3%A9");
        assert_eq!(canonical_uri("/b/a%20b%2bc%7Ed"), "/b/a%20b%2Bc~d");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/b/x%2Fy/z"), "/b/x%2Fy/z");
        // Bytes that are not UTF-8 survive the round trip.
        assert_eq!(canonical_uri("/b/%FF"), "/b/%FF");
        assert_eq!(
            canonical_query(Some("b=2&a=x%2Fy&a=1&flag&c=s p")),
            "a=1&a=x%2Fy&b=2&c=s%20p&flag="
        );
        assert_eq!(canonical_query(None), "");
        let h = headers(&[("x-amz-meta-a", "  two   spaces  "), ("x-amz-meta-a", "b")]);
        assert_eq!(
            canonical_headers(&h, &signed(&["x-amz-meta-a", "x-amz-missing"])),
            "x-amz-meta-a:two spaces,b\nx-amz-missing:\n"
        );
        assert!(signatures_equal("abc", "abc"));
        assert!(!signatures_equal("abc", "abd") && !signatures_equal("abc", "ab"));
    }
}
