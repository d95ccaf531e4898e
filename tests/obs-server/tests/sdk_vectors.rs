//! Replays every request esdk-obs-python 3.26.6 produced (tests/data/obs-sdk-signatures.json)
//! byte for byte: the server must accept each one, must compute exactly the SDK's
//! StringToSign (read back from the SignatureDoesNotMatch report of a corrupted copy), and must
//! refuse a wrong signature and an unknown access key.

mod common;

use common::{RawResponse, send_raw};
use obs_server::{ClockSetting, Credential, ObsServer, ServerConfig, ServerHandle};
use serde_json::Value;

const VECTORS: &str = include_str!("data/obs-sdk-signatures.json");

struct Case {
    v: Value,
}

impl Case {
    fn s(&self, field: &str) -> Option<&str> {
        self.v.get(field).and_then(Value::as_str)
    }

    fn name(&self) -> &str {
        self.s("name").expect("case name")
    }

    fn presigned(&self) -> bool {
        self.v
            .get("expected_authorization")
            .is_none_or(Value::is_null)
    }

    /// The instant the SDK signed at.
    fn epoch(&self) -> i64 {
        if let Some(now) = self.v.get("now_epoch").and_then(Value::as_i64) {
            return now;
        }
        let date = self.s("date").expect("header cases carry a date");
        let t = httpdate::parse_http_date(date).expect("vector date parses");
        t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
    }

    /// Request line target (path and query) and headers as the SDK sent them.
    fn wire(&self) -> (String, String, Vec<(String, String)>) {
        let method = self.s("method").unwrap().to_string();
        if self.presigned() {
            let url = self.s("expected_url").unwrap();
            let after_scheme = url.split_once("://").unwrap().1;
            let target = &after_scheme[after_scheme.find('/').unwrap()..];
            let headers = self.v["actual_signed_request_headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            return (method, target.to_string(), headers);
        }
        let line = self.s("wire_request_line").unwrap();
        let target = line.split(' ').nth(1).unwrap().to_string();
        let headers = self.v["wire_headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| {
                (
                    pair[0].as_str().unwrap().to_string(),
                    pair[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        (method, target, headers)
    }

    fn body_len(&self, headers: &[(String, String)]) -> usize {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap())
    }
}

fn cases() -> Vec<Case> {
    let doc: Value = serde_json::from_str(VECTORS).expect("vectors are JSON");
    doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .cloned()
        .map(|v| Case { v })
        .collect()
}

async fn server_for(case: &Case) -> ServerHandle {
    let mut cred = Credential::new(case.s("ak").unwrap(), case.s("sk").unwrap());
    if let Some(token) = case.s("token") {
        cred = cred.with_token(token);
    }
    let server = ObsServer::start(
        ServerConfig::default()
            .with_domain(case.s("endpoint").unwrap())
            .with_credential(cred)
            .with_clock(ClockSetting::Fixed {
                epoch_secs: case.epoch(),
            }),
    )
    .await
    .unwrap();
    let bucket = case.s("bucket").unwrap();
    server.create_bucket(bucket, false).unwrap();
    if let Some(key) = case.s("key")
        && case.s("method") != Some("PUT")
    {
        server
            .put_object(bucket, key, format!("content of {key}").into_bytes())
            .unwrap();
    }
    server
}

fn request_bytes(method: &str, target: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("connection"))
    {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

async fn send(
    server: &ServerHandle,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> RawResponse {
    send_raw(
        server.local_addr(),
        &request_bytes(method, target, headers, body),
    )
    .await
}

/// Replaces the base64 signature in the Authorization header or the `Signature` parameter.
fn corrupt_signature(
    target: &str,
    headers: &[(String, String)],
) -> (String, Vec<(String, String)>) {
    let bad = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let mut headers = headers.to_vec();
    let mut target = target.to_string();
    if let Some(auth) = headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
    {
        let (prefix, _) = auth.1.rsplit_once(':').unwrap();
        auth.1 = format!("{prefix}:{bad}");
    } else {
        let start = target.find("Signature=").unwrap() + "Signature=".len();
        let end = target[start..]
            .find('&')
            .map_or(target.len(), |i| start + i);
        target.replace_range(start..end, "AAAAAAAAAAAAAAAAAAAAAAAAAAA%3D");
    }
    (target, headers)
}

fn unknown_access_key(
    target: &str,
    headers: &[(String, String)],
    ak: &str,
) -> (String, Vec<(String, String)>) {
    let other = "AKUNKNOWN00000000000";
    let headers = headers
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                if n.eq_ignore_ascii_case("authorization") {
                    v.replace(ak, other)
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    (target.replace(ak, other), headers)
}

#[tokio::test]
async fn every_sdk_request_is_accepted() {
    let all = cases();
    assert!(all.len() >= 17, "vector file shrank: {} cases", all.len());
    for case in &all {
        let server = server_for(case).await;
        let (method, target, headers) = case.wire();
        let body = common::pattern(case.body_len(&headers));
        let resp = send(&server, &method, &target, &headers, &body).await;
        let name = case.name();
        if target.contains("versionId=") {
            // Versioning is off here, so a real version id cannot exist: the answer must be
            // NoSuchVersion, which only comes after authentication passed.
            assert_eq!(resp.status, 404, "{name}: {}", resp.text());
            assert_eq!(resp.xml("Code").as_deref(), Some("NoSuchVersion"), "{name}");
            continue;
        }
        assert!(
            resp.status == 200 || resp.status == 206,
            "{name}: status {} {}",
            resp.status,
            resp.text()
        );
        if method == "PUT" {
            let key = case.s("key").unwrap();
            assert_eq!(
                server.object(case.s("bucket").unwrap(), key).as_deref(),
                Some(&body[..]),
                "{name}"
            );
        } else if method == "GET" {
            let key = case.s("key").unwrap();
            let full = format!("content of {key}").into_bytes();
            let expected = if headers.iter().any(|(n, _)| n == "Range") {
                &full[..10]
            } else {
                &full[..]
            };
            assert_eq!(resp.body, expected, "{name}");
        }
    }
}

#[tokio::test]
async fn server_string_to_sign_equals_the_sdks() {
    for case in &cases() {
        let server = server_for(case).await;
        let (method, target, headers) = case.wire();
        let (bad_target, bad_headers) = corrupt_signature(&target, &headers);
        let body = common::pattern(case.body_len(&headers));
        let resp = send(&server, &method, &bad_target, &bad_headers, &body).await;
        let name = case.name();
        assert_eq!(resp.status, 403, "{name}");
        if method == "HEAD" {
            assert!(resp.body.is_empty(), "{name}: HEAD errors have no body");
            assert_eq!(
                resp.header("x-obs-error-code"),
                Some("SignatureDoesNotMatch"),
                "{name}"
            );
            continue;
        }
        assert_eq!(
            resp.xml("Code").as_deref(),
            Some("SignatureDoesNotMatch"),
            "{name}"
        );
        let mut expected = case.s("expected_string_to_sign").unwrap().to_string();
        if let Some(token) = case.s("token") {
            expected = expected.replace(token, "******");
        }
        assert_eq!(
            resp.xml("StringToSign").as_deref(),
            Some(expected.as_str()),
            "{name}"
        );
        if let Some(token) = case.s("token") {
            assert!(
                !resp.text().contains(token),
                "{name}: token leaked into the error body"
            );
        }
    }
}

#[tokio::test]
async fn unknown_access_key_is_refused() {
    for case in &cases() {
        let server = server_for(case).await;
        let (method, target, headers) = case.wire();
        let (t, h) = unknown_access_key(&target, &headers, case.s("ak").unwrap());
        let body = common::pattern(case.body_len(&headers));
        let resp = send(&server, &method, &t, &h, &body).await;
        assert_eq!(resp.status, 403, "{}", case.name());
        if method != "HEAD" {
            assert_eq!(
                resp.xml("Code").as_deref(),
                Some("InvalidAccessKeyId"),
                "{}",
                case.name()
            );
        }
    }
}

#[tokio::test]
async fn header_signatures_expire_with_the_clock_and_presigned_urls_with_expires() {
    for case in &cases() {
        let server = server_for(case).await;
        let (method, target, headers) = case.wire();
        let body = common::pattern(case.body_len(&headers));
        let late = if case.presigned() {
            case.v["expires_epoch"].as_i64().unwrap() + 1
        } else {
            case.epoch() + 15 * 60 + 1
        };
        server.set_clock(ClockSetting::Fixed { epoch_secs: late });
        let resp = send(&server, &method, &target, &headers, &body).await;
        assert_eq!(resp.status, 403, "{}", case.name());
        if method != "HEAD" {
            let want = if case.presigned() {
                "AccessDenied"
            } else {
                "RequestTimeTooSkewed"
            };
            assert_eq!(resp.xml("Code").as_deref(), Some(want), "{}", case.name());
        }
    }
}
