//! Object and bucket operations over real HTTP: addressing, auth rules, ranges, conditions,
//! checksums, error documents.

mod common;

use common::{AK, Req, SK, start_default};
use obs_server::{ClockSetting, Credential, ObsServer, ServerConfig, crc64_xz};

#[tokio::test]
async fn put_then_get_path_style_and_virtual_host() {
    let server = start_default().await;
    let data = common::pattern(100_000);
    let put = Req::new("PUT", "/priv-b/dir/a%20b%2Bc.bin")
        .header("Content-Type", "application/zip")
        .header("x-obs-meta-owner", "ray team")
        .body(data.clone())
        .signed("OBS", AK, SK, "/priv-b/dir/a%20b%2Bc.bin")
        .send(&server)
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let etag = format!("\"{}\"", hex::encode(md5_of(&data)));
    assert_eq!(put.header("etag"), Some(etag.as_str()));
    assert_eq!(
        server.object("priv-b", "dir/a b+c.bin").as_deref(),
        Some(&data[..])
    );

    let path = Req::new("GET", "/priv-b/dir/a%20b%2Bc.bin")
        .signed("OBS", AK, SK, "/priv-b/dir/a%20b%2Bc.bin")
        .send(&server)
        .await;
    // Virtual-hosted: the same canonical resource, so the same signature rules.
    let vhost = Req::new("GET", "/dir/a%20b%2Bc.bin")
        .signed("AWS", AK, SK, "/priv-b/dir/a%20b%2Bc.bin")
        .send_host(&server, &format!("priv-b.obs.test:{}", server.port()))
        .await;
    for resp in [&path, &vhost] {
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.body, data);
        assert_eq!(resp.header("etag"), Some(etag.as_str()));
        assert_eq!(resp.header("content-type"), Some("application/zip"));
        assert_eq!(resp.header("x-obs-meta-owner"), Some("ray team"));
        assert_eq!(resp.header("accept-ranges"), Some("bytes"));
        assert_eq!(resp.content_length(), Some(data.len()));
        assert!(
            resp.header("last-modified")
                .is_some_and(|d| httpdate::parse_http_date(d).is_ok())
        );
    }
    let log = server.requests();
    let addressing: Vec<_> = log
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.addressing)
        .collect();
    assert_eq!(
        addressing,
        vec![
            Some(obs_server::addressing::Addressing::PathStyle),
            Some(obs_server::addressing::Addressing::VirtualHost)
        ]
    );
}

fn md5_of(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}

#[tokio::test]
async fn vhost_request_must_be_signed_for_its_own_bucket() {
    let server = start_default().await;
    server.put_object("priv-b", "k", b"x".to_vec()).unwrap();
    server.create_bucket("other-b", false).unwrap();
    server.put_object("other-b", "k", b"y".to_vec()).unwrap();
    // Signed for other-b but sent to priv-b's virtual host.
    let resp = Req::new("GET", "/k")
        .signed("OBS", AK, SK, "/other-b/k")
        .send_host(&server, "priv-b.obs.test")
        .await;
    assert_eq!(
        (resp.status, resp.xml("Code").as_deref()),
        (403, Some("SignatureDoesNotMatch"))
    );
}

#[tokio::test]
async fn ranges() {
    let server = start_default().await;
    let data = common::pattern(1000);
    server.put_object("pub-b", "r.bin", data.clone()).unwrap();
    let get = |range: &'static str| Req::new("GET", "/pub-b/r.bin").header("Range", range);
    let cases = [
        ("bytes=0-9", 206, Some("bytes 0-9/1000"), 0..10),
        ("bytes=990-", 206, Some("bytes 990-999/1000"), 990..1000),
        ("bytes=-10", 206, Some("bytes 990-999/1000"), 990..1000),
        ("bytes=500-5000", 206, Some("bytes 500-999/1000"), 500..1000),
        ("bytes=5-1", 200, None, 0..1000),
        ("bytes=0-1,4-5", 200, None, 0..1000),
    ];
    for (range, status, content_range, span) in cases {
        let resp = get(range).send(&server).await;
        assert_eq!(resp.status, status, "{range}");
        assert_eq!(resp.header("content-range"), content_range, "{range}");
        assert_eq!(resp.body, &data[span.clone()], "{range}");
        assert_eq!(resp.content_length(), Some(span.len()), "{range}");
    }
    let unsat = get("bytes=1000-").send(&server).await;
    assert_eq!(unsat.status, 416);
    assert_eq!(unsat.xml("Code").as_deref(), Some("InvalidRange"));
    assert_eq!(unsat.header("content-range"), Some("bytes */1000"));
    let head = Req::new("HEAD", "/pub-b/r.bin")
        .header("Range", "bytes=-1")
        .send(&server)
        .await;
    assert_eq!(
        (head.status, head.header("content-range")),
        (206, Some("bytes 999-999/1000"))
    );
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn conditional_requests() {
    let server = start_default().await;
    let info = server
        .put_object("pub-b", "c.bin", b"conditional".to_vec())
        .unwrap();
    let mismatch = Req::new("GET", "/pub-b/c.bin")
        .header("Range", "bytes=3-")
        .header("If-Match", "\"0000\"")
        .send(&server)
        .await;
    assert_eq!(
        (mismatch.status, mismatch.xml("Code").as_deref()),
        (412, Some("PreconditionFailed"))
    );
    let matched = Req::new("GET", "/pub-b/c.bin")
        .header("Range", "bytes=3-")
        .header("If-Match", &info.etag)
        .send(&server)
        .await;
    assert_eq!((matched.status, matched.text().as_str()), (206, "ditional"));
    let not_modified = Req::new("GET", "/pub-b/c.bin")
        .header("If-None-Match", &info.etag)
        .send(&server)
        .await;
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
}

#[tokio::test]
async fn anonymous_access_rules() {
    let server = start_default().await;
    server.put_object("pub-b", "p", b"public".to_vec()).unwrap();
    server
        .put_object("priv-b", "p", b"private".to_vec())
        .unwrap();
    assert_eq!(
        Req::new("GET", "/pub-b/p").send(&server).await.text(),
        "public"
    );
    assert_eq!(Req::new("HEAD", "/pub-b").send(&server).await.status, 200);
    let denied = Req::new("GET", "/priv-b/p").send(&server).await;
    assert_eq!(
        (denied.status, denied.xml("Code").as_deref()),
        (403, Some("AccessDenied"))
    );
    let write = Req::new("PUT", "/pub-b/new").body("x").send(&server).await;
    assert_eq!(
        (write.status, write.xml("Code").as_deref()),
        (403, Some("AccessDenied"))
    );
    let missing = Req::new("GET", "/nope-b/p").send(&server).await;
    assert_eq!(
        (missing.status, missing.xml("Code").as_deref()),
        (404, Some("NoSuchBucket"))
    );
}

#[tokio::test]
async fn error_documents_and_request_ids() {
    let server = start_default().await;
    let resp = Req::new("GET", "/priv-b/missing%20key")
        .signed("OBS", AK, SK, "/priv-b/missing%20key")
        .send(&server)
        .await;
    assert_eq!(resp.status, 404);
    assert_eq!(resp.header("content-type"), Some("application/xml"));
    let text = resp.text();
    for field in ["Code", "Message", "RequestId", "HostId", "Resource"] {
        assert!(resp.xml(field).is_some(), "{field} missing in {text}");
    }
    assert_eq!(resp.xml("Code").as_deref(), Some("NoSuchKey"));
    assert_eq!(resp.xml("Resource").as_deref(), Some("/priv-b/missing key"));
    assert_eq!(
        resp.xml("RequestId").as_deref(),
        resp.header("x-obs-request-id")
    );
    let head = Req::new("HEAD", "/priv-b/missing")
        .signed("OBS", AK, SK, "/priv-b/missing")
        .send(&server)
        .await;
    assert_eq!(head.status, 404);
    assert!(head.body.is_empty(), "HEAD errors carry no body");
    let mut ids = std::collections::HashSet::new();
    for _ in 0..20 {
        let r = Req::new("GET", "/pub-b/none").send(&server).await;
        assert!(
            ids.insert(
                r.header("x-obs-request-id")
                    .expect("request id")
                    .to_string()
            )
        );
    }
}

#[tokio::test]
async fn wrong_secret_and_skewed_clock() {
    let server = start_default().await;
    server.put_object("priv-b", "k", b"v".to_vec()).unwrap();
    let wrong = Req::new("GET", "/priv-b/k")
        .signed("OBS", AK, "not-the-secret", "/priv-b/k")
        .send(&server)
        .await;
    assert_eq!(
        (wrong.status, wrong.xml("Code").as_deref()),
        (403, Some("SignatureDoesNotMatch"))
    );
    assert!(!wrong.text().contains(SK));
    let old = httpdate::fmt_http_date(
        std::time::SystemTime::now() - std::time::Duration::from_secs(16 * 60),
    );
    let skewed = Req::new("GET", "/priv-b/k")
        .signed_at("OBS", AK, SK, "/priv-b/k", &old)
        .send(&server)
        .await;
    assert_eq!(
        (skewed.status, skewed.xml("Code").as_deref()),
        (403, Some("RequestTimeTooSkewed"))
    );
    let near = httpdate::fmt_http_date(
        std::time::SystemTime::now() - std::time::Duration::from_secs(14 * 60),
    );
    let ok = Req::new("GET", "/priv-b/k")
        .signed_at("OBS", AK, SK, "/priv-b/k", &near)
        .send(&server)
        .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn x_obs_headers_are_signed() {
    let server = start_default().await;
    server.put_object("priv-b", "k", b"v".to_vec()).unwrap();
    let req = Req::new("GET", "/priv-b/k")
        .header("x-obs-meta-a", "1")
        .signed("OBS", AK, SK, "/priv-b/k");
    assert_eq!(req.send(&server).await.status, 200);
    // The same signature with the header's value changed must fail.
    let mut tampered = Req::new("GET", "/priv-b/k")
        .header("x-obs-meta-a", "1")
        .signed("OBS", AK, SK, "/priv-b/k");
    tampered.headers[0].1 = "2".into();
    assert_eq!(tampered.send(&server).await.status, 403);
}

#[tokio::test]
async fn temporary_credentials_need_their_token() {
    let token = "tok+en/with=chars";
    let server = ObsServer::start(
        ServerConfig::default()
            .with_credential(Credential::new(AK, SK).with_token(token))
            .with_bucket("tmp-b"),
    )
    .await
    .unwrap();
    server.put_object("tmp-b", "k", b"v".to_vec()).unwrap();
    let with = Req::new("GET", "/tmp-b/k")
        .header("x-obs-security-token", token)
        .signed("OBS", AK, SK, "/tmp-b/k");
    assert_eq!(with.send(&server).await.status, 200);
    let without = Req::new("GET", "/tmp-b/k")
        .signed("OBS", AK, SK, "/tmp-b/k")
        .send(&server)
        .await;
    assert_eq!(without.status, 403);
    let wrong = Req::new("GET", "/tmp-b/k")
        .header("x-obs-security-token", "other")
        .signed("OBS", AK, SK, "/tmp-b/k");
    let wrong = wrong.send(&server).await;
    assert_eq!(
        (wrong.status, wrong.xml("Code").as_deref()),
        (403, Some("InvalidToken"))
    );
    let log = server.requests();
    assert!(log.iter().all(|r| r.has_authorization));
    assert!(log.iter().filter(|r| r.has_security_token).count() == 2);
    assert!(
        !format!("{log:?}").contains(token),
        "the request log must not keep the token"
    );
}

#[tokio::test]
async fn presigned_urls_both_forms() {
    let server = start_default().await;
    server
        .put_object("priv-b", "dir/p q.zip", b"presigned".to_vec())
        .unwrap();
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 300;
    let sig = common::hmac_b64(SK, &format!("GET\n\n\n{expires}\n/priv-b/dir/p%20q.zip"));
    let sig_q =
        percent_encoding::utf8_percent_encode(&sig, percent_encoding::NON_ALPHANUMERIC).to_string();
    for ak_param in ["AccessKeyId", "AWSAccessKeyId"] {
        let target =
            format!("/priv-b/dir/p%20q.zip?{ak_param}={AK}&Expires={expires}&Signature={sig_q}");
        let resp = Req::new("GET", &target).send(&server).await;
        assert_eq!(
            (resp.status, resp.text().as_str()),
            (200, "presigned"),
            "{ak_param}"
        );
    }
    let expired = format!(
        "/priv-b/dir/p%20q.zip?AccessKeyId={AK}&Expires={}&Signature={sig_q}",
        expires + 1
    );
    assert_eq!(
        Req::new("GET", &expired)
            .send(&server)
            .await
            .xml("Code")
            .as_deref(),
        Some("SignatureDoesNotMatch")
    );
    let log = server.requests();
    assert!(
        log.iter()
            .all(|r| !r.query.as_deref().unwrap_or_default().contains(AK)),
        "AK redacted in the log"
    );
}

#[tokio::test]
async fn buckets_and_api_version() {
    let server = start_default().await;
    let probe = Req::new("HEAD", "/?apiversion").send(&server).await;
    assert_eq!(
        (probe.status, probe.header("x-obs-api")),
        (200, Some("3.0"))
    );
    let bucket_probe = Req::new("HEAD", "/priv-b?apiversion").send(&server).await;
    assert_eq!(
        (bucket_probe.status, bucket_probe.header("x-obs-api")),
        (200, Some("3.0"))
    );
    assert_eq!(
        Req::new("HEAD", "/nope-b?apiversion")
            .send(&server)
            .await
            .status,
        404
    );

    let create = Req::new("PUT", "/new-bucket")
        .body("<CreateBucketConfiguration><Location>local</Location></CreateBucketConfiguration>")
        .signed("OBS", AK, SK, "/new-bucket")
        .send(&server)
        .await;
    assert_eq!(create.status, 200, "{}", create.text());
    let again = Req::new("PUT", "/new-bucket")
        .signed("OBS", AK, SK, "/new-bucket")
        .send(&server)
        .await;
    assert_eq!(
        (again.status, again.xml("Code").as_deref()),
        (409, Some("BucketAlreadyOwnedByYou"))
    );
    let head = Req::new("HEAD", "/new-bucket")
        .signed("OBS", AK, SK, "/new-bucket")
        .send(&server)
        .await;
    assert_eq!(head.status, 200);
    let vhead = Req::new("HEAD", "/")
        .signed("OBS", AK, SK, "/new-bucket/")
        .send_host(&server, "new-bucket.obs.test")
        .await;
    assert_eq!(vhead.status, 200);
    let public = Req::new("PUT", "/open-bucket")
        .header("x-obs-acl", "public-read")
        .signed("OBS", AK, SK, "/open-bucket");
    assert_eq!(public.send(&server).await.status, 200);
    server
        .put_object("open-bucket", "k", b"open".to_vec())
        .unwrap();
    assert_eq!(
        Req::new("GET", "/open-bucket/k").send(&server).await.text(),
        "open"
    );
    let invalid = Req::new("PUT", "/Bad_Name")
        .signed("OBS", AK, SK, "/Bad_Name")
        .send(&server)
        .await;
    assert_eq!(
        (invalid.status, invalid.xml("Code").as_deref()),
        (400, Some("InvalidBucketName"))
    );
}

#[tokio::test]
async fn crc64_header_when_enabled() {
    let server = start_default().await;
    let data = common::pattern(5000);
    server.put_object("pub-b", "c", data.clone()).unwrap();
    assert_eq!(
        Req::new("GET", "/pub-b/c")
            .send(&server)
            .await
            .header("x-obs-checksum-crc64ecma"),
        None
    );
    server.set_crc64(true);
    let want = crc64_xz(&data).to_string();
    for method in ["GET", "HEAD"] {
        let resp = Req::new(method, "/pub-b/c").send(&server).await;
        assert_eq!(
            resp.header("x-obs-checksum-crc64ecma"),
            Some(want.as_str()),
            "{method}"
        );
    }
}

#[tokio::test]
async fn content_md5_and_delete() {
    let server = start_default().await;
    let bad = Req::new("PUT", "/priv-b/m")
        .header("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==")
        .body("hello")
        .signed("OBS", AK, SK, "/priv-b/m")
        .send(&server)
        .await;
    assert_eq!(
        (bad.status, bad.xml("Code").as_deref()),
        (400, Some("BadDigest"))
    );
    assert!(server.object("priv-b", "m").is_none());
    let good = Req::new("PUT", "/priv-b/m")
        .header("Content-MD5", "XUFAKrxLKna5cZ2REBfFkg==")
        .body("hello")
        .signed("OBS", AK, SK, "/priv-b/m")
        .send(&server)
        .await;
    assert_eq!(good.status, 200);
    let del = Req::new("DELETE", "/priv-b/m")
        .signed("OBS", AK, SK, "/priv-b/m")
        .send(&server)
        .await;
    assert_eq!(del.status, 204);
    assert!(server.object("priv-b", "m").is_none());
}

#[tokio::test]
async fn unsupported_operations_say_so() {
    let server = start_default().await;
    let list = Req::new("GET", "/priv-b")
        .signed("OBS", AK, SK, "/priv-b")
        .send(&server)
        .await;
    assert_eq!(
        (list.status, list.xml("Code").as_deref()),
        (501, Some("NotImplemented"))
    );
    let acl = Req::new("GET", "/priv-b/k?acl").send(&server).await;
    // Anonymous on a private bucket is refused before the operation is considered.
    assert_eq!(acl.status, 403);
    let post = Req::new("POST", "/priv-b/k")
        .signed("OBS", AK, SK, "/priv-b/k")
        .send(&server)
        .await;
    assert_eq!(post.status, 405);
}

#[tokio::test]
async fn fixed_clock_drives_date_header() {
    let server = start_default().await;
    server.set_clock(ClockSetting::Fixed {
        epoch_secs: 1_728_976_809,
    });
    let resp = Req::new("GET", "/pub-b/none").send(&server).await;
    assert_eq!(resp.header("date"), Some("Tue, 15 Oct 2024 07:20:09 GMT"));
}
