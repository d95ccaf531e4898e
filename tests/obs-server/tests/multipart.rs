//! Multipart upload over HTTP, signed as OBS (V2) and as S3 (V4).

mod common;

use common::sigv4::{AT_UNIX, EMPTY_SHA256, sha256_hex};
use common::{AK, RawResponse, Req, SK};
use obs_server::{ClockSetting, Credential, ObsServer, ServerConfig, ServerHandle};

const HTTP_DATE: &str = "Tue, 15 Oct 2024 07:20:09 GMT";
const MIN_PART: u64 = 1000;

async fn start() -> ServerHandle {
    ObsServer::start(
        ServerConfig::default()
            .with_credential(Credential::new(AK, SK))
            .with_bucket("priv-b")
            .with_min_part_bytes(MIN_PART)
            .with_clock(ClockSetting::Fixed {
                epoch_secs: AT_UNIX,
            }),
    )
    .await
    .expect("server starts")
}

fn md5(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}

fn multipart_etag(parts: &[&[u8]]) -> String {
    let joined: Vec<u8> = parts.iter().flat_map(|p| md5(p)).collect();
    format!("\"{}-{}\"", hex::encode(md5(&joined)), parts.len())
}

fn complete_doc(etags: &[(u32, String)]) -> String {
    let parts: String = etags
        .iter()
        .map(|(n, e)| format!("<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"))
        .collect();
    format!("<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>")
}

/// An OBS-signed request whose signed resource carries the sub-resources.
async fn obs(
    server: &ServerHandle,
    method: &str,
    target: &str,
    body: &[u8],
    content_type: Option<&str>,
) -> RawResponse {
    let mut req = Req::new(method, target);
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    req.body(body.to_vec())
        .signed_at("OBS", AK, SK, target, HTTP_DATE)
        .send(server)
        .await
}

#[tokio::test]
async fn obs_signed_multipart_upload() {
    let server = start().await;
    let parts: Vec<Vec<u8>> = vec![
        common::pattern(1500),
        common::pattern(1000),
        common::pattern(10),
    ];
    let init = obs(
        &server,
        "POST",
        "/priv-b/big.bin?uploads",
        b"",
        Some("application/zip"),
    )
    .await;
    assert_eq!(init.status, 200, "{}", init.text());
    assert!(
        init.text()
            .contains("xmlns=\"http://obs.myhwclouds.com/doc/2015-06-30/\"")
    );
    assert_eq!(init.xml("Key").as_deref(), Some("big.bin"));
    let id = init.xml("UploadId").expect("an upload id");
    assert_eq!(server.uploads()[0].upload_id, id);

    let mut etags = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i + 1;
        let resp = obs(
            &server,
            "PUT",
            &format!("/priv-b/big.bin?partNumber={n}&uploadId={id}"),
            data,
            None,
        )
        .await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        let etag = resp.header("etag").unwrap().to_string();
        assert_eq!(etag, format!("\"{}\"", hex::encode(md5(data))));
        etags.push((n as u32, etag));
    }
    assert_eq!(server.uploads()[0].parts, vec![1, 2, 3]);
    // The part list is checked before anything is assembled; the upload survives a bad list.
    let wrong = complete_doc(&[(1, etags[0].1.clone()), (2, "\"00\"".into())]);
    let resp = obs(
        &server,
        "POST",
        &format!("/priv-b/big.bin?uploadId={id}"),
        wrong.as_bytes(),
        Some("application/xml"),
    )
    .await;
    assert_eq!(
        (resp.status, resp.xml("Code").as_deref()),
        (400, Some("InvalidPart"))
    );
    let reversed = complete_doc(&[(3, etags[2].1.clone()), (2, etags[1].1.clone())]);
    let resp = obs(
        &server,
        "POST",
        &format!("/priv-b/big.bin?uploadId={id}"),
        reversed.as_bytes(),
        Some("application/xml"),
    )
    .await;
    assert_eq!(resp.xml("Code").as_deref(), Some("InvalidPartOrder"));
    let never_sent = complete_doc(&[(3, etags[2].1.clone()), (4, etags[2].1.clone())]);
    let resp = obs(
        &server,
        "POST",
        &format!("/priv-b/big.bin?uploadId={id}"),
        never_sent.as_bytes(),
        Some("application/xml"),
    )
    .await;
    assert_eq!(resp.xml("Code").as_deref(), Some("InvalidPart"));
    assert_eq!(resp.xml("PartNumber").as_deref(), Some("4"));
    let garbage = obs(
        &server,
        "POST",
        &format!("/priv-b/big.bin?uploadId={id}"),
        b"<nope",
        Some("application/xml"),
    )
    .await;
    assert_eq!(garbage.xml("Code").as_deref(), Some("MalformedXML"));

    let doc = complete_doc(&etags);
    let done = obs(
        &server,
        "POST",
        &format!("/priv-b/big.bin?uploadId={id}"),
        doc.as_bytes(),
        Some("application/xml"),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text());
    let expected_etag = multipart_etag(&[&parts[0], &parts[1], &parts[2]]);
    assert_eq!(done.xml("ETag"), Some(expected_etag.clone()));
    assert_eq!(done.xml("Bucket").as_deref(), Some("priv-b"));
    assert!(server.uploads().is_empty());
    let whole: Vec<u8> = parts.concat();
    assert_eq!(
        server.object("priv-b", "big.bin").as_deref(),
        Some(&whole[..])
    );

    let get = Req::new("GET", "/priv-b/big.bin")
        .signed_at("OBS", AK, SK, "/priv-b/big.bin", HTTP_DATE)
        .send(&server)
        .await;
    assert_eq!(get.body, whole);
    assert_eq!(get.header("etag"), Some(expected_etag.as_str()));
    assert_eq!(get.header("content-type"), Some("application/zip"));
    // Completing twice: the upload is gone.
    let again = obs(
        &server,
        "POST",
        &format!("/priv-b/big.bin?uploadId={id}"),
        doc.as_bytes(),
        Some("application/xml"),
    )
    .await;
    assert_eq!(
        (again.status, again.xml("Code").as_deref()),
        (404, Some("NoSuchUpload"))
    );
}

#[tokio::test]
async fn small_parts_abort_and_unknown_uploads() {
    let server = start().await;
    let init = obs(&server, "POST", "/priv-b/k.bin?uploads", b"", None).await;
    let id = init.xml("UploadId").unwrap();
    let a = obs(
        &server,
        "PUT",
        &format!("/priv-b/k.bin?partNumber=1&uploadId={id}"),
        &[1; 999],
        None,
    )
    .await;
    let b = obs(
        &server,
        "PUT",
        &format!("/priv-b/k.bin?partNumber=2&uploadId={id}"),
        &[2; 5],
        None,
    )
    .await;
    let doc = complete_doc(&[
        (1, a.header("etag").unwrap().to_string()),
        (2, b.header("etag").unwrap().to_string()),
    ]);
    let resp = obs(
        &server,
        "POST",
        &format!("/priv-b/k.bin?uploadId={id}"),
        doc.as_bytes(),
        Some("application/xml"),
    )
    .await;
    assert_eq!(
        (resp.status, resp.xml("Code").as_deref()),
        (400, Some("EntityTooSmall"))
    );
    assert_eq!(resp.xml("MinSizeAllowed").as_deref(), Some("1000"));
    let bad_number = obs(
        &server,
        "PUT",
        &format!("/priv-b/k.bin?partNumber=10001&uploadId={id}"),
        b"x",
        None,
    )
    .await;
    assert_eq!(bad_number.xml("Code").as_deref(), Some("InvalidArgument"));
    // Another key cannot use the upload.
    let other = obs(
        &server,
        "PUT",
        &format!("/priv-b/other.bin?partNumber=1&uploadId={id}"),
        b"x",
        None,
    )
    .await;
    assert_eq!(other.xml("Code").as_deref(), Some("NoSuchUpload"));

    let aborted = obs(
        &server,
        "DELETE",
        &format!("/priv-b/k.bin?uploadId={id}"),
        b"",
        None,
    )
    .await;
    assert_eq!(aborted.status, 204, "{}", aborted.text());
    assert!(server.uploads().is_empty());
    let late = obs(
        &server,
        "PUT",
        &format!("/priv-b/k.bin?partNumber=3&uploadId={id}"),
        b"x",
        None,
    )
    .await;
    assert_eq!(
        (late.status, late.xml("Code").as_deref()),
        (404, Some("NoSuchUpload"))
    );
    let twice = obs(
        &server,
        "DELETE",
        &format!("/priv-b/k.bin?uploadId={id}"),
        b"",
        None,
    )
    .await;
    assert_eq!(twice.xml("Code").as_deref(), Some("NoSuchUpload"));
    assert_eq!(server.object("priv-b", "k.bin"), None);
    let no_bucket = obs(&server, "POST", "/nob/k.bin?uploads", b"", None).await;
    assert_eq!(no_bucket.xml("Code").as_deref(), Some("NoSuchBucket"));
    // Listing parts is not implemented, and says so.
    let list = obs(
        &server,
        "GET",
        &format!("/priv-b/k.bin?uploadId={id}"),
        b"",
        None,
    )
    .await;
    assert_eq!(list.status, 501);
}

#[tokio::test]
async fn s3_signed_multipart_upload_with_checksums() {
    let server = start().await;
    let host = server.local_addr().to_string();
    let v4 = |method: &str, target: &str, body: &[u8], extra: &[(&str, &str)]| {
        let mut req = Req::new(method, target);
        for (n, v) in extra {
            req = req.header(n, v);
        }
        req.signed_v4(AK, SK, &host, &sha256_hex(body))
            .body(body.to_vec())
    };
    let init = v4(
        "POST",
        "/priv-b/s3.bin?uploads",
        b"",
        &[("x-amz-checksum-algorithm", "CRC32")],
    )
    .send(&server)
    .await;
    assert_eq!(init.status, 200, "{}", init.text());
    assert_eq!(init.header("x-amz-checksum-algorithm"), Some("CRC32"));
    assert!(init.header("x-amz-request-id").is_some());
    let id = init.xml("UploadId").unwrap();
    let crc = |data: &[u8]| {
        use base64::Engine;
        let c = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(data);
        base64::engine::general_purpose::STANDARD.encode(c.to_be_bytes())
    };
    let parts = [common::pattern(2000), common::pattern(7)];
    let mut doc =
        String::from("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (i, data) in parts.iter().enumerate() {
        let n = i + 1;
        let resp = v4(
            "PUT",
            &format!("/priv-b/s3.bin?partNumber={n}&uploadId={id}"),
            data,
            &[("x-amz-checksum-crc32", &crc(data))],
        )
        .send(&server)
        .await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(
            resp.header("x-amz-checksum-crc32"),
            Some(crc(data).as_str())
        );
        doc.push_str(&format!(
            "<Part><ETag>{}</ETag><ChecksumCRC32>{}</ChecksumCRC32><PartNumber>{n}</PartNumber></Part>",
            resp.header("etag").unwrap(),
            crc(data)
        ));
    }
    doc.push_str("</CompleteMultipartUpload>");
    // A part whose body does not match its checksum is refused and not stored.
    let bad = v4(
        "PUT",
        &format!("/priv-b/s3.bin?partNumber=3&uploadId={id}"),
        b"abc",
        &[("x-amz-checksum-crc32", &crc(b"abd"))],
    )
    .send(&server)
    .await;
    assert_eq!(bad.xml("Code").as_deref(), Some("BadDigest"));
    assert_eq!(server.uploads()[0].parts, vec![1, 2]);
    // The signature covers the document: a changed list is a payload mismatch.
    let tampered = Req::new("POST", &format!("/priv-b/s3.bin?uploadId={id}"))
        .signed_v4(AK, SK, &host, &sha256_hex(doc.as_bytes()))
        .body(doc.replace("<PartNumber>2", "<PartNumber>3"))
        .send(&server)
        .await;
    assert_eq!(
        tampered.xml("Code").as_deref(),
        Some("XAmzContentSHA256Mismatch")
    );

    let done = v4(
        "POST",
        &format!("/priv-b/s3.bin?uploadId={id}"),
        doc.as_bytes(),
        &[],
    )
    .send(&server)
    .await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert!(
        done.text()
            .contains("xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"")
    );
    let etag = multipart_etag(&[&parts[0], &parts[1]]);
    assert_eq!(done.xml("ETag"), Some(etag.clone()));
    let get = Req::new("GET", "/priv-b/s3.bin")
        .signed_v4(AK, SK, &host, EMPTY_SHA256)
        .send(&server)
        .await;
    assert_eq!(get.body, parts.concat());
    assert_eq!(get.header("etag"), Some(etag.as_str()));
}
