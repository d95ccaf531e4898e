//! Every request botocore signed in `vectors/sigv4-botocore.json` (see `vectors/gen_sigv4.py`),
//! reproduced byte for byte: the URL our endpoint rules build for the same settings, the
//! canonical request, the string to sign, the `Authorization` header, and for requests with
//! a body (uploads) the payload our rule picks where botocore picked it; and every
//! presigned URL. botocore is not needed to run this: only its recorded answers.

use s3_plugin::endpoint::{Addressing, Endpoint, DEFAULT_REGION};
use s3_plugin::sign::{Payload, Signer};
use scheme_plugin_kit::http::{Method, Request, RequestBody, Scheme};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/sigv4-botocore.json")).unwrap()
}

fn s<'a>(c: &'a Value, k: &str) -> Option<&'a str> {
    c[k].as_str()
}

fn endpoint(c: &Value) -> Endpoint {
    let region = s(c, "region").unwrap_or(DEFAULT_REGION);
    let addressing = match s(c, "addressing_style") {
        Some(v) => Addressing::parse(v, "addressing_style").unwrap(),
        None => Addressing::Auto,
    };
    match s(c, "endpoint_url") {
        Some(url) => Endpoint::custom(url, "endpoint_url", region, addressing).unwrap(),
        None => Endpoint::aws(region, addressing),
    }
}

fn signer(c: &Value) -> Signer<'_> {
    Signer {
        access_key: s(c, "access_key").unwrap(),
        secret_key: s(c, "secret_key").unwrap(),
        session_token: s(c, "token"),
        region: s(c, "region").unwrap_or(DEFAULT_REGION),
    }
}

/// `scheme://authority/path?query` split as our requests hold it.
fn split_url(url: &str) -> (Scheme, &str, &str) {
    let (scheme, rest) = match url.split_once("://").unwrap() {
        ("https", r) => (Scheme::Https, r),
        ("http", r) => (Scheme::Http, r),
        (other, _) => panic!("scheme {other}"),
    };
    let at = rest.find('/').unwrap();
    (scheme, &rest[..at], &rest[at..])
}

#[test]
fn header_signatures_match_botocore() {
    let v = vectors();
    let cases = v["requests"].as_array().unwrap();
    assert!(cases.len() >= 45, "{} cases", cases.len());
    for c in cases {
        let name = s(c, "name").unwrap();
        let url = s(c, "url").unwrap();
        let (scheme, authority, path) = split_url(url);

        // The same settings give the same URL, bucket style and key encoding included. Our
        // rule differs from botocore's only for custom DNS endpoints left on `auto`, which
        // the vectors pin to a style.
        let t = endpoint(c).object(s(c, "bucket").unwrap(), s(c, "key").unwrap());
        let object_url = url.split('?').next().unwrap();
        assert_eq!(format!("{}://{}{}", t.scheme.as_str(), t.authority, t.path), object_url, "{name}: URL");

        let method = match s(c, "method").unwrap() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "PUT" => Method::Put,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            m => panic!("{name}: method {m}"),
        };
        let mut req = Request::new(method, scheme, authority, path);
        for h in c["headers_in"].as_array().unwrap() {
            req.headers.push((h[0].as_str().unwrap().to_string(), h[1].as_str().unwrap().to_string()));
        }
        if method != Method::Get {
            // What the plugin's store decides for the request it sends, as botocore decided.
            req.body = s(c, "body").map(|b| RequestBody::from(b.as_bytes().to_vec()));
            assert_eq!(Payload::for_request(&req).hash(), s(c, "x_amz_content_sha256").unwrap(), "{name}: the payload rule");
        }
        let payload = match s(c, "payload").unwrap() {
            "empty" => Payload::Empty,
            "unsigned" => Payload::Unsigned,
            "sha256" => Payload::of_body(s(c, "body").unwrap().as_bytes()),
            p => panic!("{name}: payload {p}"),
        };
        let signed = signer(c).sign(&mut req, s(c, "amz_date").unwrap(), &payload);
        assert_eq!(signed.canonical_request, s(c, "canonical_request").unwrap(), "{name}: canonical request");
        assert_eq!(signed.string_to_sign, s(c, "string_to_sign").unwrap(), "{name}: string to sign");
        assert_eq!(req.header("authorization"), s(c, "authorization"), "{name}: Authorization");
        assert_eq!(req.header("x-amz-content-sha256"), s(c, "x_amz_content_sha256"), "{name}: payload hash");
        assert_eq!(req.header("x-amz-security-token"), s(c, "x_amz_security_token"), "{name}: token");
    }
}

#[test]
fn presigned_urls_match_botocore() {
    let v = vectors();
    let cases = v["presigned"].as_array().unwrap();
    assert!(cases.len() >= 15, "{} cases", cases.len());
    for c in cases {
        let name = s(c, "name").unwrap();
        let want = s(c, "url").unwrap();
        let (scheme, authority, rest) = split_url(want);
        let path = rest.split('?').next().unwrap();
        let expires = c["expires"].as_u64().unwrap();
        let (url, signed) = signer(c).presign("GET", scheme, authority, path, s(c, "amz_date").unwrap(), expires);
        assert_eq!(signed.canonical_request, s(c, "canonical_request").unwrap(), "{name}: canonical request");
        assert_eq!(signed.string_to_sign, s(c, "string_to_sign").unwrap(), "{name}: string to sign");
        assert_eq!(url, want, "{name}: URL");
    }
}

#[test]
fn the_vectors_cover_what_they_claim() {
    let v = vectors();
    let reqs = v["requests"].as_array().unwrap();
    let has = |f: &dyn Fn(&Value) -> bool| reqs.iter().any(f);
    assert!(has(&|c| s(c, "payload") == Some("unsigned")));
    assert!(has(&|c| s(c, "payload") == Some("sha256")));
    assert!(has(&|c| s(c, "token").is_some()));
    assert!(has(&|c| s(c, "addressing_style") == Some("path")));
    assert!(has(&|c| s(c, "url").unwrap().starts_with("https://ray-jobs.s3.")));
    for key_feature in ["%", " ", "日", "?", "~", "\u{1F600}"] {
        assert!(has(&|c| s(c, "key").unwrap().contains(key_feature)), "no key with {key_feature:?}");
    }
    assert!(v["presigned"].as_array().unwrap().iter().any(|c| s(c, "token").is_some()));
    // Every request of an upload, and both payload choices for a PUT with Content-MD5.
    for method in ["HEAD", "PUT", "POST", "DELETE"] {
        assert!(has(&|c| s(c, "method") == Some(method)), "no {method}");
    }
    for payload in ["unsigned", "sha256"] {
        let put_with_md5 = |c: &Value| s(c, "method") == Some("PUT") && s(c, "payload") == Some(payload) && c["headers_in"].to_string().contains("content-md5");
        assert!(has(&put_with_md5), "no PUT with Content-MD5 and a {payload} payload");
    }
    assert!(has(&|c| s(c, "url").unwrap().contains("?partNumber=") && s(c, "url").unwrap().contains("uploadId=")));
    assert!(has(&|c| s(c, "url").unwrap().ends_with("?uploads")));
}
