//! Every request the official SDK (esdk-obs-python 3.26.6) signed, reproduced byte for byte:
//! string to sign, Authorization header or presigned query, URL and request line.

use obs_plugin::endpoint::Endpoint;
use obs_plugin::sign::{authorization, canonical_resource, presign_query, string_to_sign, SignatureType};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let v: Value = serde_json::from_str(include_str!("data/obs-sdk-signatures.json")).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn s<'a>(c: &'a Value, k: &str) -> Option<&'a str> {
    c[k].as_str()
}

fn sig_type(c: &Value) -> SignatureType {
    match s(c, "signature_type").unwrap() {
        "obs" => SignatureType::Obs,
        "v2" => SignatureType::V2,
        other => panic!("unknown signature type {other}"),
    }
}

/// Headers the signer sees: the case's own, the token, and the entity headers the SDK
/// derived (Content-Type from the file extension for PUT).
fn headers(c: &Value) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = c["headers_in"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
    if let Some(wire) = c["wire_headers"].as_array() {
        for pair in wire {
            let (k, v) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            if k.eq_ignore_ascii_case("content-type") || k.eq_ignore_ascii_case("content-md5") {
                h.push((k.to_string(), v.to_string()));
            }
        }
    }
    if let Some(t) = s(c, "token") {
        h.push((sig_type(c).security_token_header().to_string(), t.to_string()));
    }
    h
}

fn query(c: &Value) -> Vec<(String, Option<String>)> {
    c["query_in"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), Some(v.as_str().unwrap().to_string()))).collect()
}

/// `http://<host><path>` the way our endpoint module addresses the object.
fn url_and_path(c: &Value) -> (String, String) {
    let ep = Endpoint::parse(&format!("http://{}", s(c, "endpoint").unwrap()), c["path_style"].as_bool().unwrap()).unwrap();
    let bucket = s(c, "bucket").unwrap();
    let (authority, path) = match s(c, "key") {
        Some(k) => {
            let t = ep.object(bucket, k);
            (t.authority, t.path)
        }
        None if ep.path_style => (ep.authority(), format!("/{bucket}")),
        None => (format!("{bucket}.{}", ep.authority()), "/".to_string()),
    };
    let q: Vec<String> = query(c).into_iter().map(|(k, v)| format!("{k}={}", v.unwrap())).collect();
    let path = if q.is_empty() { path } else { format!("{path}?{}", q.join("&")) };
    (format!("http://{authority}{path}"), path)
}

#[test]
fn every_header_signed_vector_matches() {
    let mut checked = 0;
    for c in cases().iter().filter(|c| !c["expected_authorization"].is_null()) {
        let name = s(c, "name").unwrap();
        let sig = sig_type(c);
        let resource = canonical_resource(s(c, "bucket").unwrap(), s(c, "key"), c["path_style"].as_bool().unwrap(), &query(c));
        let sts = string_to_sign(s(c, "method").unwrap(), &headers(c), s(c, "date").unwrap(), &resource, sig);
        assert_eq!(sts, s(c, "expected_string_to_sign").unwrap(), "{name}: string to sign");
        let auth = authorization(sig, s(c, "ak").unwrap(), s(c, "sk").unwrap(), &sts);
        assert_eq!(auth, s(c, "expected_authorization").unwrap(), "{name}: Authorization");
        let (url, path) = url_and_path(c);
        assert_eq!(url, s(c, "expected_url").unwrap(), "{name}: URL");
        let line = format!("{} {path} HTTP/1.1", s(c, "method").unwrap());
        assert_eq!(line, s(c, "wire_request_line").unwrap(), "{name}: request line");
        checked += 1;
    }
    assert_eq!(checked, 14, "vector file changed: update the expected count");
}

#[test]
fn every_presigned_vector_matches() {
    let mut checked = 0;
    for c in cases().iter().filter(|c| c["expected_authorization"].is_null()) {
        let name = s(c, "name").unwrap();
        let expires = c["expires_epoch"].as_u64().unwrap();
        let (q, sts) = presign_query(
            sig_type(c),
            s(c, "ak").unwrap(),
            s(c, "sk").unwrap(),
            s(c, "token"),
            s(c, "method").unwrap(),
            s(c, "bucket").unwrap(),
            s(c, "key"),
            c["path_style"].as_bool().unwrap(),
            expires,
        );
        assert_eq!(sts, s(c, "expected_string_to_sign").unwrap(), "{name}: string to sign");
        let (url, _) = url_and_path(c);
        assert_eq!(format!("{url}?{q}"), s(c, "expected_url").unwrap(), "{name}: presigned URL");
        checked += 1;
    }
    assert_eq!(checked, 3, "vector file changed: update the expected count");
}
