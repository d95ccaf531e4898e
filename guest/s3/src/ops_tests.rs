use std::fs;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use scheme_plugin_kit::env::MapEnv;
use scheme_plugin_kit::http::testing::{FakeSleeper, FakeTransport, Reply};
use scheme_plugin_kit::http::TransportErrorKind;
use scheme_plugin_kit::ops::testing::{dirs, promises, tgz_bytes, zip_bytes, zip_of_one};
use scheme_plugin_kit::ops::OTHER_PARTS_TAIL_BYTES;
use scheme_plugin_kit::test_call;
use scheme_plugin_kit::time::parse_rfc3339;
use scheme_plugin_kit::{ErrorKind, Limits};

use super::*;
use crate::profile::CONFIG_FILE_ID;
use crate::sign::{Payload, Signer};

const AK: &str = "AKIDEXAMPLE0000000001";
const SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE+token/with=special//chars+==";

fn env() -> MapEnv {
    MapEnv::new()
        .var(s::AWS_ACCESS_KEY_ID, AK)
        .var(s::AWS_SECRET_ACCESS_KEY, SK)
        .var(s::AWS_ENDPOINT_URL_S3, "http://127.0.0.1:9000")
        .at(parse_rfc3339("2024-10-15T07:20:09Z").unwrap())
}

fn b64_crc32(d: &[u8]) -> String {
    STANDARD.encode(crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(d).to_be_bytes())
}

fn b64_crc64nvme(d: &[u8]) -> String {
    STANDARD.encode(crc::Crc::<u64>::new(&crc::CRC_64_NVME).checksum(d).to_be_bytes())
}

#[test]
fn zip_end_to_end_signed_path_style() {
    let body = zip_bytes();
    let (len, crc) = (body.len().to_string(), b64_crc32(&body));
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[("Content-Length", &len), ("x-amz-checksum-crc32", &crc), ("ETag", "\"abc-2\"")], &body)]);
    let d = dirs();
    let uri = S3Uri::parse("s3://ray-jobs/my dir/pkg.zip").unwrap();
    let mut events = Vec::new();
    let stats = download_and_unpack(test_call!(&env(), &mut t, &mut |p, done, total, entries| events.push((p, done, total, entries))), &uri, &d.target, &d.scratch).unwrap();

    let req = &t.requests[0];
    assert_eq!(req.url(), "http://127.0.0.1:9000/ray-jobs/my%20dir/pkg.zip");
    assert_eq!(req.header("x-amz-checksum-mode"), Some("ENABLED"));
    // The same request signed independently must carry the same signature.
    let mut again = scheme_plugin_kit::http::Request::new(req.method, req.scheme, req.authority.clone(), req.path_and_query.clone());
    for (k, v) in req.headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("authorization")) {
        again.set_header(k, v.clone());
    }
    Signer { access_key: AK, secret_key: SK, session_token: None, region: "us-east-1" }.sign(&mut again, "20241015T072009Z", &Payload::Empty);
    assert_eq!(req.header("authorization"), again.header("authorization"));
    assert!(req.header("authorization").unwrap().contains("/20241015/us-east-1/s3/aws4_request, SignedHeaders=accept-encoding;host;range;x-amz-checksum-mode;x-amz-content-sha256;x-amz-date,"));
    assert_eq!(t.timeouts_seen[0], s::timeouts(&env()).unwrap());

    assert_eq!(fs::read(d.target.join("pkg/main.py")).unwrap(), b"print('hello')\n");
    assert_eq!(stats.download.verified.as_deref(), Some("crc32"));
    assert_eq!((stats.files, stats.executables.clone()), (2, vec!["pkg/run.sh".to_string()]));
    assert_eq!(stats.download.credential_source, Some(crate::credentials::Source::Environment.describe()));
    assert!(events.iter().any(|e| e.0 == Phase::Download && e.1 == body.len() as u64));
}

#[test]
fn tar_gz_virtual_hosted_on_aws_with_a_session_token() {
    let body = tgz_bytes();
    let crc = b64_crc64nvme(&body);
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[("x-amz-checksum-crc64nvme", &crc), ("x-amz-checksum-type", "FULL_OBJECT")], &body)]);
    let d = dirs();
    let e = MapEnv::new().var(s::AWS_ACCESS_KEY_ID, AK).var(s::AWS_SECRET_ACCESS_KEY, SK).var(s::AWS_SESSION_TOKEN, TOKEN).var(s::AWS_REGION, "eu-west-1");
    let uri = S3Uri::parse("s3://ray-jobs/jobs/job.tgz").unwrap();
    let stats = download_and_unpack(test_call!(&e, &mut t), &uri, &d.target, &d.scratch).unwrap();
    let req = &t.requests[0];
    assert_eq!(req.url(), "https://ray-jobs.s3.eu-west-1.amazonaws.com/jobs/job.tgz");
    assert_eq!(req.header("x-amz-security-token"), Some(TOKEN));
    assert!(req.header("authorization").unwrap().contains("/eu-west-1/s3/aws4_request") && req.header("authorization").unwrap().contains("x-amz-security-token"));
    assert_eq!(fs::read(d.target.join("pkg/a.py")).unwrap(), b"x = 1\n");
    assert_eq!(stats.download.verified.as_deref(), Some("crc64nvme"));
}

#[test]
fn a_checksum_that_does_not_match_is_an_integrity_error() {
    let body = tgz_bytes();
    let wrong = b64_crc32(b"something else");
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[("x-amz-checksum-crc32", &wrong)], &body)]);
    let d = dirs();
    let uri = S3Uri::parse("s3://ray-jobs/job.tar.gz").unwrap();
    let e = download_and_unpack(test_call!(&env(), &mut t), &uri, &d.target, &d.scratch).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    assert!(e.message.contains("crc32 mismatch"), "{}", e.message);
}

#[test]
fn wheel_is_not_unpacked_but_downloads() {
    let uri = S3Uri::parse("s3://ray-jobs/a-1.0-py3-none-any.whl").unwrap();
    promises::a_wheel_downloads_but_never_unpacks(&env(), |c, target, scratch| download_and_unpack(c, &uri, target, scratch), |c, file| download_to_file(c, &uri, file));
}

#[test]
fn store_errors_keep_code_and_request_id() {
    let d = dirs();
    let uri = S3Uri::parse("s3://ray-jobs/missing.zip").unwrap();
    let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>missing.zip</Key></Error>";
    let mut t = FakeTransport::new(vec![Reply::ok(404, &[("x-amz-request-id", "TX9ZPQ"), ("x-amz-id-2", "h")], body)]);
    let e = download_and_unpack(test_call!(&env(), &mut t), &uri, &d.target, &d.scratch).unwrap_err();
    assert_eq!((e.kind, e.store_code.as_deref(), e.request_id.as_deref(), e.http_status), (ErrorKind::NotFound, Some("NoSuchKey"), Some("TX9ZPQ"), Some(404)));
    assert!(e.message.contains("bucket ray-jobs, key missing.zip") && e.message.contains("TX9ZPQ"), "{}", e.message);
    assert!(!e.message.contains(AK) && !e.message.contains(SK));
    assert_eq!(t.requests.len(), 1, "a 404 is not retried, and not in another region");
}

#[test]
fn a_bucket_in_another_region_is_retried_there_once() {
    let body = tgz_bytes();
    let aws = MapEnv::new().var(s::AWS_ACCESS_KEY_ID, AK).var(s::AWS_SECRET_ACCESS_KEY, SK).at(parse_rfc3339("2024-10-15T07:20:09Z").unwrap());
    let uri = S3Uri::parse("s3://ray-jobs/job.tgz").unwrap();
    let moved = b"<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message><Endpoint>ray-jobs.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>ray-jobs</Bucket></Error>";

    // 301 with x-amz-bucket-region (a regional endpoint of the wrong region).
    let d = dirs();
    let mut t = FakeTransport::new(vec![Reply::ok(301, &[("x-amz-bucket-region", "eu-west-1")], moved), Reply::ok(200, &[], &body)]);
    download_and_unpack(test_call!(&aws, &mut t), &uri, &d.target, &d.scratch).unwrap();
    assert_eq!(t.requests[0].url(), "https://ray-jobs.s3.amazonaws.com/job.tgz");
    assert_eq!(t.requests[1].url(), "https://ray-jobs.s3.eu-west-1.amazonaws.com/job.tgz");
    assert!(t.requests[1].header("authorization").unwrap().contains("/20241015/eu-west-1/s3/"));

    // 400 AuthorizationHeaderMalformed naming the region in its body (the global endpoint).
    let d = dirs();
    let malformed = b"<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is wrong; expecting 'ap-south-1'</Message><Region>ap-south-1</Region></Error>";
    let mut t = FakeTransport::new(vec![Reply::ok(400, &[], malformed), Reply::ok(200, &[], &body)]);
    download_and_unpack(test_call!(&aws, &mut t), &uri, &d.target, &d.scratch).unwrap();
    assert_eq!(t.requests[1].url(), "https://ray-jobs.s3.ap-south-1.amazonaws.com/job.tgz");

    // Once only: a second redirect is the error, with both regions in it.
    let d = dirs();
    let mut t = FakeTransport::new(vec![Reply::ok(301, &[("x-amz-bucket-region", "eu-west-1")], moved), Reply::ok(301, &[("x-amz-bucket-region", "eu-west-2")], moved)]);
    let e = download_to_file(test_call!(&aws, &mut t), &uri, &d.scratch.join("o")).unwrap_err();
    assert_eq!(t.requests.len(), 2);
    assert!(e.message.contains("in region eu-west-1, where S3 said") && e.message.contains("region eu-west-2"), "{}", e.message);

    // A custom endpoint keeps its host; only the signing region changes.
    let d = dirs();
    let minio = env();
    let mut t = FakeTransport::new(vec![Reply::ok(400, &[("x-amz-bucket-region", "us-west-2")], b"<Error><Code>AuthorizationHeaderMalformed</Code></Error>"), Reply::ok(200, &[], &body)]);
    download_and_unpack(test_call!(&minio, &mut t), &uri, &d.target, &d.scratch).unwrap();
    assert_eq!(t.requests[1].url(), t.requests[0].url());
    assert!(t.requests[1].header("authorization").unwrap().contains("/us-west-2/s3/"));

    // A tree that already holds something is never written over by a second attempt.
    let d = dirs();
    fs::write(d.target.join("stray"), b"x").unwrap();
    let mut t = FakeTransport::new(vec![Reply::ok(301, &[("x-amz-bucket-region", "eu-west-1")], moved)]);
    let e = download_and_unpack(test_call!(&aws, &mut t), &uri, &d.target, &d.scratch).unwrap_err();
    assert_eq!((e.kind, t.requests.len()), (ErrorKind::Network, 1));
}

#[test]
fn transient_failures_are_retried_and_signed_afresh() {
    let body = zip_bytes();
    let d = dirs();
    let uri = S3Uri::parse("s3://ray-jobs/pkg.zip").unwrap();
    let mut t = FakeTransport::new(vec![Reply::fail(TransportErrorKind::Connect), Reply::ok(500, &[], b"<Error><Code>InternalError</Code></Error>"), Reply::ok(200, &[], &body)]);
    let mut sleeper = FakeSleeper::default();
    let st = download_and_unpack(&mut Call { env: &env(), transport: &mut t, sleeper: &mut sleeper, limits: &Limits::default(), progress: &mut |_, _, _, _| {} }, &uri, &d.target, &d.scratch).unwrap();
    assert_eq!((st.download.retries, sleeper.slept.len()), (2, 2));
    assert!(t.requests.iter().all(|r| r.header("authorization").is_some()));
}

#[test]
fn anonymous_access_denied_explains_itself() {
    let uri = S3Uri::parse("s3://ray-jobs/pkg.zip").unwrap();
    let e = MapEnv::new().var(s::AWS_EC2_METADATA_DISABLED, "1");
    let refusal = Reply::ok(403, &[("x-amz-request-id", "R")], b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
    promises::anonymous_refusals_say_why(&e, refusal, "AWS_EC2_METADATA_DISABLED", |c, file| download_to_file(c, &uri, file));
}

#[test]
fn an_unsupported_profile_stops_before_any_request() {
    let d = dirs();
    let uri = S3Uri::parse("s3://ray-jobs/pkg.zip").unwrap();
    let e = MapEnv::new().file(CONFIG_FILE_ID, "[default]\nrole_arn = arn:aws:iam::123456789012:role/ray\nsource_profile = base\n");
    let mut t = FakeTransport::new(vec![]);
    let err = download_and_unpack(test_call!(&e, &mut t), &uri, &d.target, &d.scratch).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert!(err.message.contains("role_arn"), "{}", err.message);
    assert!(t.requests.is_empty());
}

#[test]
fn a_small_package_is_not_split_between_parts() {
    let body = zip_bytes();
    let len = body.len();
    let d = dirs();
    let uri = S3Uri::parse("s3://ray-jobs/pkg.zip").unwrap();
    // The tail a part other than 0 asks for holds the whole small object.
    let range = format!("bytes 0-{}/{len}", len - 1);
    let mut t = FakeTransport::new(vec![Reply::ok(206, &[("Content-Range", &range), ("ETag", "\"v1\"")], &body)]);
    let o = download_and_unpack_part(test_call!(&env(), &mut t), &uri, &d.target, &d.scratch, Part { index: 1, count: 2 }).unwrap();
    assert!(!o.split);
    assert_eq!(o.object_version.as_deref(), Some("\"v1\""));
    assert_eq!(t.requests.len(), 1);
    assert_eq!(t.requests[0].header("range").map(str::to_string), Some(format!("bytes=-{OTHER_PARTS_TAIL_BYTES}")));
    assert!(fs::read_dir(&d.target).unwrap().next().is_none());
}

#[test]
fn secrets_echoed_into_an_archive_never_reach_the_error() {
    let body = zip_of_one(&format!("../{AK}/{}.py", TOKEN.replace('/', "_")), b"x");
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], &body)]);
    let d = dirs();
    let uri = S3Uri::parse("s3://ray-jobs/pkg.zip").unwrap();
    let e = download_and_unpack(test_call!(&env(), &mut t), &uri, &d.target, &d.scratch).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsafeArchive, "{e}");
    assert!(!e.message.contains(AK) && e.message.contains("(redacted)"), "{}", e.message);
}

#[test]
fn declared_hosts() {
    assert_eq!(network_hosts(), vec!["*.amazonaws.com", "*.amazonaws.com.cn", "env:AWS_ENDPOINT_URL_S3", "env:AWS_ENDPOINT_URL", "169.254.169.254:80"]);
}

mod upload {
    //! The kit's upload promises on an S3 URI, and S3's own part: SigV4 over every request
    //! with the payload botocore would sign, and uploads that follow the bucket's region.

    use scheme_plugin_kit::http::testing::{FakeTransport, Reply};
    use scheme_plugin_kit::http::{Request, RequestBody};
    use scheme_plugin_kit::ops::testing::upload_promises::{self as promises, UPLOAD_ID};
    use scheme_plugin_kit::test_call;
    use scheme_plugin_kit::ErrorKind;

    use super::{env, AK, SK, TOKEN};
    use crate::ops::*;
    use crate::settings as s;
    use crate::sign::{Payload, Signer, EMPTY_SHA256, UNSIGNED_PAYLOAD};
    use crate::uri::S3Uri;
    use scheme_plugin_kit::env::MapEnv;
    use scheme_plugin_kit::time::parse_rfc3339;

    const AMZ_DATE: &str = "20241015T072009Z";

    fn uri() -> S3Uri {
        S3Uri::parse("s3://ray-jobs/my dir/pkg.zip").unwrap()
    }

    /// Credentials and the clock, on AWS's own endpoints.
    fn aws() -> MapEnv {
        MapEnv::new().var(s::AWS_ACCESS_KEY_ID, AK).var(s::AWS_SECRET_ACCESS_KEY, SK).at(parse_rfc3339("2024-10-15T07:20:09Z").unwrap())
    }

    /// `req` is signed as an independent signing of the same request with `payload`, in
    /// `region`, with the SignedHeaders `signed_headers`.
    fn signed(req: &Request, region: &str, token: Option<&str>, payload: &Payload, signed_headers: &str) {
        let mut again = Request::new(req.method, req.scheme, req.authority.clone(), req.path_and_query.clone());
        for (k, v) in req.headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("authorization")) {
            again.set_header(k, v.clone());
        }
        Signer { access_key: AK, secret_key: SK, session_token: token, region }.sign(&mut again, AMZ_DATE, payload);
        let auth = req.header("authorization").unwrap();
        assert_eq!(Some(auth), again.header("authorization"), "{} {}", req.method.as_str(), req.path_and_query);
        assert!(auth.contains(&format!("SignedHeaders={signed_headers},")), "{auth}");
    }

    fn hashed(req: &Request) -> Payload {
        let p = Payload::of_body(req.body.as_ref().map(RequestBody::as_slice).unwrap_or_default());
        if let Payload::Sha256(h) = &p {
            assert_eq!(req.header("x-amz-content-sha256"), Some(h.as_str()));
        }
        p
    }

    #[test]
    fn over_plain_http_every_body_is_hashed_into_the_signature() {
        let (u, e) = (uri(), env());
        let put = promises::a_put_sends_md5_and_checks_the_etag(&e, |c, b| put_object(c, &u, b.into()));
        assert_eq!(put.url(), "http://127.0.0.1:9000/ray-jobs/my%20dir/pkg.zip");
        signed(&put, "us-east-1", None, &hashed(&put), "content-length;content-md5;content-type;host;x-amz-content-sha256;x-amz-date");

        let begin = promises::beginning_returns_the_upload_id(&e, |c| begin_multipart(c, &u));
        assert_eq!(begin.header("x-amz-content-sha256"), Some(EMPTY_SHA256));
        signed(&begin, "us-east-1", None, &Payload::Empty, "content-length;content-type;host;x-amz-content-sha256;x-amz-date");

        for a in promises::a_part_is_retried_whole(&e, |c, id, n, b| upload_part(c, &u, id, n, b.into())) {
            assert_eq!(a.path_and_query, "/ray-jobs/my%20dir/pkg.zip?partNumber=3&uploadId=2~Up%2Fload%2BId%3D");
            signed(&a, "us-east-1", None, &hashed(&a), "content-length;content-md5;host;x-amz-content-sha256;x-amz-date");
        }

        let done = promises::completion_reads_errors_sent_after_200(&e, |c, id, p| complete_multipart(c, &u, id, p));
        signed(&done[0], "us-east-1", None, &hashed(&done[0]), "content-length;content-type;host;x-amz-content-sha256;x-amz-date");

        let abort = promises::aborting_a_gone_upload_is_done(&e, |c, id| abort_multipart(c, &u, id));
        signed(&abort, "us-east-1", None, &Payload::Empty, "host;x-amz-content-sha256;x-amz-date");
    }

    #[test]
    fn over_tls_streamed_bodies_with_an_md5_go_unsigned_as_with_botocore() {
        let e = aws().var(s::AWS_SESSION_TOKEN, TOKEN).var(s::AWS_REGION, "eu-west-1");
        let u = uri();
        let bytes = b"part bytes".to_vec();
        let etag = format!("\"{}\"", scheme_plugin_kit::ops::upload::digest::Md5Digest::of(&bytes).hex());
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[("ETag", &etag)], b"")]);
        upload_part(test_call!(&e, &mut t), &u, UPLOAD_ID, 1, bytes.into()).unwrap();
        let part = &t.requests[0];
        assert_eq!(part.url(), "https://ray-jobs.s3.eu-west-1.amazonaws.com/my%20dir/pkg.zip?partNumber=1&uploadId=2~Up%2Fload%2BId%3D");
        assert_eq!(part.header("x-amz-content-sha256"), Some(UNSIGNED_PAYLOAD));
        signed(part, "eu-west-1", Some(TOKEN), &Payload::Unsigned, "content-length;content-md5;host;x-amz-content-sha256;x-amz-date;x-amz-security-token");

        // The part list is no stream: hashed even over TLS.
        let done = b"<CompleteMultipartUploadResult><ETag>\"e-1\"</ETag></CompleteMultipartUploadResult>";
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[], done), Reply::ok(200, &[("Content-Length", "10"), ("ETag", "\"e-1\"")], b"")]);
        let parts = vec![UploadedPart { number: 1, size: 1, etag, retries: 0 }];
        complete_multipart(test_call!(&e, &mut t), &u, UPLOAD_ID, parts).unwrap();
        let complete = &t.requests[0];
        signed(complete, "eu-west-1", Some(TOKEN), &hashed(complete), "content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
        assert!(complete.header("x-amz-checksum-mode").is_none(), "a download's own header stays with downloads");
    }

    #[test]
    fn an_upload_to_a_bucket_in_another_region_goes_there() {
        let e = aws().var(s::AWS_REGION, "us-east-1");
        let bytes = b"zip".to_vec();
        let etag = format!("\"{}\"", scheme_plugin_kit::ops::upload::digest::Md5Digest::of(&bytes).hex());
        let moved = b"<Error><Code>PermanentRedirect</Code><Message>elsewhere</Message></Error>";
        let mut t = FakeTransport::new(vec![Reply::ok(301, &[("x-amz-bucket-region", "eu-west-1")], moved), Reply::ok(200, &[("ETag", &etag)], b"")]);
        let info = put_object(test_call!(&e, &mut t), &uri(), bytes.clone().into()).unwrap();
        assert_eq!((info.verified.as_deref(), info.size), (Some("md5"), 3));
        assert_eq!(t.requests[1].authority, "ray-jobs.s3.eu-west-1.amazonaws.com");
        assert_eq!(t.requests[1].body.as_ref().unwrap().as_slice(), &bytes[..], "the same bytes, not a copy lost on the way");
        assert!(t.requests[1].header("authorization").unwrap().contains("/eu-west-1/s3/aws4_request"));
    }

    #[test]
    fn s3_refusals_of_uploads_are_typed() {
        let u = uri();
        for (status, code, kind) in [
            (400, "XAmzContentSHA256Mismatch", ErrorKind::Integrity),
            (400, "EntityTooSmall", ErrorKind::LimitExceeded),
            (404, "NoSuchUpload", ErrorKind::NotFound),
            (403, "SignatureDoesNotMatch", ErrorKind::BadCredentials),
            (400, "InvalidPartOrder", ErrorKind::Internal),
        ] {
            let body = format!("<Error><Code>{code}</Code><RequestId>RQ</RequestId></Error>");
            let mut t = FakeTransport::new(vec![Reply::ok(status, &[], body.as_bytes())]);
            let parts = vec![UploadedPart { number: 1, size: 1, etag: "\"e\"".into(), retries: 0 }];
            let err = complete_multipart(test_call!(&env(), &mut t), &u, UPLOAD_ID, parts).unwrap_err();
            assert_eq!((err.kind, err.store_code.as_deref(), err.request_id.as_deref(), err.http_status), (kind, Some(code), Some("RQ"), Some(status)), "{code}");
            assert_eq!(t.requests.len(), 1, "{code} is not retried");
        }
    }

    #[test]
    fn plans_follow_s3_limits() {
        let u = uri();
        assert_eq!(plan_upload(&u, 8 << 20).unwrap(), UploadPlan { part_size: 8 << 20, part_count: 1 });
        let most = crate::remote::UPLOAD_LIMITS.max_object_size;
        let p = plan_upload(&u, most).unwrap();
        assert!(p.part_count <= 10_000 && p.part_size <= 5 << 30, "{p:?}");
        assert_eq!(plan_upload(&u, most + 1).unwrap_err().kind, ErrorKind::LimitExceeded);
    }
}
