//! S3 over real HTTP: Signature V4 requests (signed by the tests' own signer) against the same
//! server, store and credentials that OBS requests use; S3's answers and error documents.

mod common;

use common::sigv4::{AT_UNIX, EMPTY_SHA256, sha256_hex, signature_of, signed_chunks};
use common::{AK, RawResponse, Req, SK};
use obs_server::{
    AuthKind, ClockSetting, Credential, ObsServer, Protocol, ServerConfig, ServerHandle,
};

/// The OBS form of the instant the V4 requests are signed at.
const HTTP_DATE: &str = "Tue, 15 Oct 2024 07:20:09 GMT";
const TEMP_AK: &str = "AKTEMPORARY000000001";
const TEMP_SK: &str = "SKtemporarySecret00000000000000000000001";
const TOKEN: &str = "TOKtemporary+Session/Token==";

async fn start() -> ServerHandle {
    ObsServer::start(
        ServerConfig::default()
            .with_domain("obs.test")
            .with_credential(Credential::new(AK, SK))
            .with_credential(Credential::new(TEMP_AK, TEMP_SK).with_token(TOKEN))
            .with_bucket("priv-b")
            .with_clock(ClockSetting::Fixed {
                epoch_secs: AT_UNIX,
            }),
    )
    .await
    .expect("server starts")
}

fn host(server: &ServerHandle) -> String {
    server.local_addr().to_string()
}

/// A V4 GET of `target` with the payload hash of an empty body.
async fn v4_get(server: &ServerHandle, target: &str, extra: &[(&str, &str)]) -> RawResponse {
    let mut req = Req::new("GET", target);
    for (n, v) in extra {
        req = req.header(n, v);
    }
    req.signed_v4(AK, SK, &host(server), EMPTY_SHA256)
        .send(server)
        .await
}

fn md5_etag(data: &[u8]) -> String {
    use md5::Digest;
    format!("\"{}\"", hex::encode(md5::Md5::digest(data)))
}

fn crc32_b64(data: &[u8]) -> String {
    use base64::Engine;
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(data);
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
}

#[tokio::test]
async fn one_server_speaks_both_protocols() {
    let server = start().await;
    let data = common::pattern(70_000);
    let put = Req::new("PUT", "/priv-b/dir/a%20b%2Bc.bin")
        .header("x-amz-meta-owner", "ray team")
        .header("x-amz-checksum-crc32", &crc32_b64(&data))
        .signed_v4(AK, SK, &host(&server), &sha256_hex(&data))
        .body(data.clone())
        .send(&server)
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.header("etag"), Some(md5_etag(&data).as_str()));
    assert_eq!(
        put.header("x-amz-checksum-crc32"),
        Some(crc32_b64(&data).as_str())
    );
    assert!(put.header("x-amz-request-id").is_some() && put.header("x-amz-id-2").is_some());
    assert_eq!(put.header("x-obs-request-id"), None);
    assert_eq!(
        server.object("priv-b", "dir/a b+c.bin").as_deref(),
        Some(&data[..])
    );

    // The OBS dialect reads what S3 wrote.
    let obs = Req::new("GET", "/priv-b/dir/a%20b%2Bc.bin")
        .signed_at("OBS", AK, SK, "/priv-b/dir/a%20b%2Bc.bin", HTTP_DATE)
        .send(&server)
        .await;
    assert_eq!(obs.status, 200, "{}", obs.text());
    assert_eq!(obs.body, data);
    assert!(obs.header("x-obs-request-id").is_some());
    assert_eq!(obs.header("x-amz-request-id"), None);
    assert_eq!(obs.header("server"), Some("OBS"));

    let s3 = v4_get(
        &server,
        "/priv-b/dir/a%20b%2Bc.bin",
        &[("x-amz-checksum-mode", "ENABLED")],
    )
    .await;
    assert_eq!(s3.status, 200, "{}", s3.text());
    assert_eq!(s3.body, data);
    assert_eq!(s3.header("server"), Some("AmazonS3"));
    assert_eq!(s3.header("etag"), Some(md5_etag(&data).as_str()));
    assert_eq!(s3.header("x-amz-meta-owner"), Some("ray team"));
    assert_eq!(
        s3.header("x-amz-checksum-crc32"),
        Some(crc32_b64(&data).as_str())
    );
    assert_eq!(s3.header("accept-ranges"), Some("bytes"));
    assert_eq!(s3.content_length(), Some(data.len()));
    assert_eq!(s3.header("last-modified"), Some(HTTP_DATE));
    // Without checksum mode, or for a range, no whole-object checksum.
    let plain = v4_get(&server, "/priv-b/dir/a%20b%2Bc.bin", &[]).await;
    assert_eq!(plain.header("x-amz-checksum-crc32"), None);
    let range = v4_get(
        &server,
        "/priv-b/dir/a%20b%2Bc.bin",
        &[
            ("range", "bytes=1000-1999"),
            ("x-amz-checksum-mode", "ENABLED"),
        ],
    )
    .await;
    assert_eq!(range.status, 206);
    assert_eq!(range.header("content-range"), Some("bytes 1000-1999/70000"));
    assert_eq!(range.body, &data[1000..2000]);
    assert_eq!(range.header("x-amz-checksum-crc32"), None);
    let head = Req::new("HEAD", "/priv-b/dir/a%20b%2Bc.bin")
        .signed_v4(AK, SK, &host(&server), EMPTY_SHA256)
        .send(&server)
        .await;
    assert_eq!(
        (head.status, head.content_length()),
        (200, Some(data.len()))
    );
    assert!(head.body.is_empty());

    // And S3 reads what OBS wrote, with the metadata in its own prefix.
    let obs_put = Req::new("PUT", "/priv-b/from-obs.bin")
        .header("x-obs-meta-team", "infra")
        .body(b"obs bytes".to_vec())
        .signed_at("OBS", AK, SK, "/priv-b/from-obs.bin", HTTP_DATE)
        .send(&server)
        .await;
    assert_eq!(obs_put.status, 200, "{}", obs_put.text());
    let s3_read = v4_get(&server, "/priv-b/from-obs.bin", &[]).await;
    assert_eq!(s3_read.body, b"obs bytes");
    assert_eq!(s3_read.header("x-amz-meta-team"), Some("infra"));

    let log = server.requests();
    let kinds: Vec<_> = log.iter().map(|r| (r.protocol, r.auth)).collect();
    assert_eq!(kinds[0], (Protocol::S3, Some(AuthKind::HeaderV4)));
    assert_eq!(kinds[1], (Protocol::Obs, Some(AuthKind::HeaderObs)));
    // The log never keeps a signature.
    for record in &log {
        let auth: Vec<_> = record
            .headers
            .iter()
            .filter(|(n, _)| n == "authorization")
            .collect();
        assert_eq!(
            auth,
            vec![&("authorization".to_string(), "<redacted>".to_string())]
        );
    }
}

#[tokio::test]
async fn errors_have_the_s3_shape() {
    let server = start().await;
    let missing = v4_get(&server, "/priv-b/nope.zip", &[]).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.xml("Code").as_deref(), Some("NoSuchKey"));
    assert_eq!(missing.xml("Key").as_deref(), Some("nope.zip"));
    assert_eq!(
        missing.xml("RequestId").as_deref(),
        missing.header("x-amz-request-id")
    );
    assert_eq!(
        missing.xml("HostId").as_deref(),
        missing.header("x-amz-id-2")
    );
    assert_eq!(missing.xml("Resource"), None);
    assert_eq!(missing.header("x-obs-error-code"), None);
    let text = missing.text();
    assert!(text.find("<Key>").unwrap() < text.find("<RequestId>").unwrap());

    let bucket = v4_get(&server, "/no-bucket/k", &[]).await;
    assert_eq!(
        (bucket.status, bucket.xml("Code").as_deref()),
        (404, Some("NoSuchBucket"))
    );
    let head = Req::new("HEAD", "/priv-b/nope.zip")
        .signed_v4(AK, SK, &host(&server), EMPTY_SHA256)
        .send(&server)
        .await;
    assert_eq!((head.status, head.body.len()), (404, 0));

    let wrong = Req::new("GET", "/priv-b/nope.zip")
        .signed_v4(AK, "not-the-secret", &host(&server), EMPTY_SHA256)
        .send(&server)
        .await;
    assert_eq!(
        (wrong.status, wrong.xml("Code").as_deref()),
        (403, Some("SignatureDoesNotMatch"))
    );
    let canonical = wrong
        .xml("CanonicalRequest")
        .expect("canonical request for debugging");
    assert!(
        canonical.starts_with("GET\n/priv-b/nope.zip\n\nhost:"),
        "{canonical}"
    );
    assert!(!wrong.text().contains(SK) && !wrong.text().contains("not-the-secret"));
    let unknown = Req::new("GET", "/priv-b/nope.zip")
        .signed_v4("AKNOBODY", SK, &host(&server), EMPTY_SHA256)
        .send(&server)
        .await;
    assert_eq!(
        (unknown.status, unknown.xml("Code").as_deref()),
        (403, Some("InvalidAccessKeyId"))
    );
    // A private bucket refuses an anonymous request (which speaks OBS: no V4 claimed).
    let anonymous = Req::new("GET", "/priv-b/nope.zip").send(&server).await;
    assert_eq!(anonymous.xml("Code").as_deref(), Some("AccessDenied"));
    assert!(anonymous.header("x-obs-request-id").is_some());
}

#[tokio::test]
async fn payload_hash_and_checksums_are_enforced() {
    let server = start().await;
    let lying = Req::new("PUT", "/priv-b/k.bin")
        .signed_v4(AK, SK, &host(&server), &sha256_hex(b"what was signed"))
        .body(b"what was sent".to_vec())
        .send(&server)
        .await;
    assert_eq!(
        (lying.status, lying.xml("Code").as_deref()),
        (400, Some("XAmzContentSHA256Mismatch"))
    );
    assert_eq!(
        lying.xml("S3ComputedContentSHA256"),
        Some(sha256_hex(b"what was sent"))
    );
    assert_eq!(server.object("priv-b", "k.bin"), None);

    let unsigned = Req::new("PUT", "/priv-b/k.bin")
        .signed_v4(AK, SK, &host(&server), "UNSIGNED-PAYLOAD")
        .body(b"unsigned body".to_vec())
        .send(&server)
        .await;
    assert_eq!(unsigned.status, 200, "{}", unsigned.text());
    assert_eq!(
        server.object("priv-b", "k.bin").as_deref(),
        Some(&b"unsigned body"[..])
    );

    let bad_crc = Req::new("PUT", "/priv-b/k.bin")
        .header("x-amz-checksum-crc32", &crc32_b64(b"other"))
        .signed_v4(AK, SK, &host(&server), "UNSIGNED-PAYLOAD")
        .body(b"changed".to_vec())
        .send(&server)
        .await;
    assert_eq!(
        (bad_crc.status, bad_crc.xml("Code").as_deref()),
        (400, Some("BadDigest"))
    );
    assert_eq!(
        server.object("priv-b", "k.bin").as_deref(),
        Some(&b"unsigned body"[..])
    );

    let no_hash = Req::new("GET", "/priv-b/k.bin").signed_v4(AK, SK, &host(&server), EMPTY_SHA256);
    let no_hash = Req {
        headers: no_hash
            .headers
            .into_iter()
            .filter(|(n, _)| n != "x-amz-content-sha256")
            .collect(),
        ..no_hash
    };
    let resp = no_hash.send(&server).await;
    assert_eq!(
        (resp.status, resp.xml("Code").as_deref()),
        (400, Some("InvalidRequest"))
    );
}

#[tokio::test]
async fn virtual_hosted_requests_sign_their_own_host_and_path() {
    let server = start().await;
    server
        .put_object("priv-b", "dir/k.zip", b"vhost".to_vec())
        .unwrap();
    let vhost = format!("priv-b.obs.test:{}", server.port());
    let ok = Req::new("GET", "/dir/k.zip")
        .signed_v4(AK, SK, &vhost, EMPTY_SHA256)
        .send_host(&server, &vhost)
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.body, b"vhost");
    // Signed as a path-style request, sent virtual-hosted: another canonical request.
    let moved = Req::new("GET", "/dir/k.zip")
        .signed_v4(AK, SK, &host(&server), EMPTY_SHA256)
        .send_host(&server, &vhost)
        .await;
    assert_eq!(moved.xml("Code").as_deref(), Some("SignatureDoesNotMatch"));
    // An x-amz header the signature does not cover.
    let mut smuggled = Req::new("GET", "/dir/k.zip").signed_v4(AK, SK, &vhost, EMPTY_SHA256);
    smuggled = smuggled.header("x-amz-meta-extra", "1");
    let resp = smuggled.send_host(&server, &vhost).await;
    assert_eq!(
        (resp.status, resp.xml("Code").as_deref()),
        (403, Some("AccessDenied"))
    );
    assert_eq!(
        resp.xml("HeadersNotSigned").as_deref(),
        Some("x-amz-meta-extra")
    );
}

#[tokio::test]
async fn signed_aws_chunked_upload() {
    let server = start().await;
    let data = common::pattern(200_000);
    let req = Req::new("PUT", "/priv-b/chunked.bin")
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", &data.len().to_string())
        .signed_v4(AK, SK, &host(&server), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    let body = signed_chunks(SK, &signature_of(&req), &data, 64 * 1024);
    let resp = req.body(body.clone()).send(&server).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("etag"), Some(md5_etag(&data).as_str()));
    assert_eq!(
        server.object("priv-b", "chunked.bin").as_deref(),
        Some(&data[..])
    );

    // A byte changed inside a signed chunk.
    let req = Req::new("PUT", "/priv-b/chunked2.bin")
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", &data.len().to_string())
        .signed_v4(AK, SK, &host(&server), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    let mut forged = signed_chunks(SK, &signature_of(&req), &data, 64 * 1024);
    let at = forged.len() / 2;
    forged[at] ^= 0xFF;
    let resp = req.body(forged).send(&server).await;
    assert_eq!(
        (resp.status, resp.xml("Code").as_deref()),
        (403, Some("SignatureDoesNotMatch"))
    );
    assert_eq!(server.object("priv-b", "chunked2.bin"), None);
}

#[tokio::test]
async fn skew_expiry_and_session_tokens() {
    let server = start().await;
    server
        .put_object("priv-b", "k.zip", b"data".to_vec())
        .unwrap();
    let presigned =
        |expires| Req::new("GET", "/priv-b/k.zip").presigned_v4(AK, SK, &host(&server), expires);
    assert_eq!(presigned(60).send(&server).await.status, 200);

    server.set_clock(ClockSetting::Fixed {
        epoch_secs: AT_UNIX + 61,
    });
    let expired = presigned(60).send(&server).await;
    assert_eq!(
        (expired.status, expired.xml("Message").as_deref()),
        (403, Some("Request has expired"))
    );
    server.set_clock(ClockSetting::Fixed {
        epoch_secs: AT_UNIX + 901,
    });
    let skewed = v4_get(&server, "/priv-b/k.zip", &[]).await;
    assert_eq!(
        (skewed.status, skewed.xml("Code").as_deref()),
        (403, Some("RequestTimeTooSkewed"))
    );
    assert_eq!(
        skewed.xml("RequestTime").as_deref(),
        Some("20241015T072009Z")
    );
    assert_eq!(
        skewed.xml("ServerTime").as_deref(),
        Some("20241015T073510Z")
    );
    server.set_clock(ClockSetting::Fixed {
        epoch_secs: AT_UNIX + 900,
    });
    assert_eq!(v4_get(&server, "/priv-b/k.zip", &[]).await.status, 200);

    let with_token = |token: &str| {
        Req::new("GET", "/priv-b/k.zip")
            .header("x-amz-security-token", token)
            .signed_v4(TEMP_AK, TEMP_SK, &host(&server), EMPTY_SHA256)
    };
    let ok = with_token(TOKEN).send(&server).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let wrong = with_token("another-token").send(&server).await;
    assert_eq!(
        (wrong.status, wrong.xml("Code").as_deref()),
        (400, Some("InvalidToken"))
    );
    let without = Req::new("GET", "/priv-b/k.zip")
        .signed_v4(TEMP_AK, TEMP_SK, &host(&server), EMPTY_SHA256)
        .send(&server)
        .await;
    assert_eq!(without.xml("Code").as_deref(), Some("InvalidAccessKeyId"));
}

#[tokio::test]
async fn a_configured_region_is_required() {
    let server = ObsServer::start(
        ServerConfig::default()
            .with_credential(Credential::new(AK, SK))
            .with_bucket("priv-b")
            .with_s3_region("eu-west-1")
            .with_clock(ClockSetting::Fixed {
                epoch_secs: AT_UNIX,
            }),
    )
    .await
    .unwrap();
    let resp = v4_get(&server, "/priv-b/k.zip", &[]).await;
    assert_eq!(
        (resp.status, resp.xml("Code").as_deref()),
        (400, Some("AuthorizationHeaderMalformed"))
    );
    assert_eq!(resp.xml("Region").as_deref(), Some("eu-west-1"));
    let bucket = Req::new("HEAD", "/priv-b")
        .presigned_v4(AK, SK, &host(&server), 60)
        .send(&server)
        .await;
    assert_eq!(bucket.status, 400);
}
