use std::fs;

use scheme_plugin_kit::http::testing::{FakeSleeper, FakeTransport, Reply};
use scheme_plugin_kit::http::TransportErrorKind;
use scheme_plugin_kit::ops::testing::{dirs, promises, tgz_bytes, zip_bytes, zip_of_one};
use scheme_plugin_kit::test_call;

use super::*;
use crate::endpoint::Endpoint;
use scheme_plugin_kit::{ErrorKind, Limits};
use crate::credentials::{HUAWEICLOUD_CREDENTIALS_ID, OBSUTIL_CONFIG_ID};
use crate::env::MapEnv;
use crate::uri::ObsUri;

const AK: &str = "AKTESTEXAMPLE0000001";
const SK: &str = "SKtestExampleSecretKey0000000000000000001";

fn env() -> MapEnv {
    MapEnv::new()
        .var(s::OBS_ENDPOINT, "http://127.0.0.1:9000")
        .var(s::OBS_ACCESS_KEY_ID, AK)
        .var(s::OBS_SECRET_ACCESS_KEY, SK)
        .at(httpdate::parse_http_date("Tue, 15 Oct 2024 07:20:09 GMT").unwrap())
}

fn crc64(d: &[u8]) -> String {
    crc::Crc::<u64>::new(&crc::CRC_64_XZ).checksum(d).to_string()
}

#[test]
fn zip_end_to_end_signed_path_style() {
    let body = zip_bytes();
    let len = body.len().to_string();
    let crc = crc64(&body);
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[("Content-Length", &len), ("x-obs-checksum-crc64ecma", &crc), ("ETag", "\"abc-2\"")], &body)]);
    let d = dirs();
    let uri = ObsUri::parse("obs://ray-jobs/my dir/pkg.zip").unwrap();
    let mut events = Vec::new();
    let stats = download_and_unpack(test_call!(&env(), &mut t, &mut |p, done, total, entries| events.push((p, done, total, entries))), &uri, &d.target, &d.scratch).unwrap();

    let req = &t.requests[0];
    assert_eq!(req.url(), "http://127.0.0.1:9000/ray-jobs/my%20dir/pkg.zip");
    // Reference signature computed from the SDK rules for this resource and date.
    let sts = "GET\n\n\nTue, 15 Oct 2024 07:20:09 GMT\n/ray-jobs/my%20dir/pkg.zip";
    assert_eq!(req.header("authorization").unwrap(), crate::sign::authorization(crate::sign::SignatureType::Obs, AK, SK, sts));
    assert_eq!(t.timeouts_seen[0], s::timeouts(&env()).unwrap());

    assert_eq!(fs::read(d.target.join("pkg/main.py")).unwrap(), b"print('hello')\n");
    assert_eq!(stats.download.bytes_downloaded, body.len() as u64);
    assert_eq!(stats.download.verified.as_deref(), Some("crc64ecma"));
    assert_eq!(stats.files, 2);
    assert_eq!(stats.executables, vec!["pkg/run.sh".to_string()]);
    assert!(!d.scratch.join("object").exists(), "the downloaded object is removed after unpacking");
    assert!(events.iter().any(|e| e.0 == Phase::Download && e.1 == body.len() as u64));
    assert!(events.iter().any(|e| e.0 == Phase::Unpack && e.3 >= 3));
}

#[test]
fn tar_gz_end_to_end_virtual_hosted() {
    let body = tgz_bytes();
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], &body)]);
    let d = dirs();
    let e = env().var(s::OBS_ENDPOINT, "https://obs.cn-north-4.myhuaweicloud.com");
    let uri = ObsUri::parse("obs://ray-jobs/job.tgz").unwrap();
    let stats = download_and_unpack(test_call!(&e, &mut t), &uri, &d.target, &d.scratch).unwrap();
    assert_eq!(t.requests[0].url(), "https://ray-jobs.obs.cn-north-4.myhuaweicloud.com/job.tgz");
    assert_eq!(fs::read(d.target.join("pkg/a.py")).unwrap(), b"x = 1\n");
    assert_eq!(stats.download.verified, None);
}

#[test]
fn wheel_is_not_unpacked_but_downloads() {
    let uri = ObsUri::parse("obs://ray-jobs/a-1.0-py3-none-any.whl").unwrap();
    let st = promises::a_wheel_downloads_but_never_unpacks(&env(), |c, target, scratch| download_and_unpack(c, &uri, target, scratch), |c, file| download_to_file(c, &uri, file));
    assert_eq!(st.credential_source, Some(crate::credentials::Source::ObsEnv.describe()));
}

#[test]
fn store_errors_keep_code_and_request_id_and_never_reach_the_file() {
    let d = dirs();
    let uri = ObsUri::parse("obs://ray-jobs/missing.zip").unwrap();
    let body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>RID42</RequestId></Error>";
    let mut t = FakeTransport::new(vec![Reply::ok(404, &[("Content-Type", "application/xml")], body)]);
    let e = download_and_unpack(test_call!(&env(), &mut t), &uri, &d.target, &d.scratch).unwrap_err();
    assert_eq!((e.kind, e.store_code.as_deref(), e.request_id.as_deref(), e.http_status), (ErrorKind::NotFound, Some("NoSuchKey"), Some("RID42"), Some(404)));
    assert!(e.message.contains("bucket ray-jobs, key missing.zip"), "{}", e.message);
    assert!(!e.message.contains(AK) && !e.message.contains(SK));
    // The (empty) file stays for the host to remove with its staging directory; the error
    // body never lands in it.
    assert_eq!(fs::read(d.scratch.join("object")).unwrap(), b"");
}

#[test]
fn an_error_page_saved_as_the_object_is_not_unpacked_as_success() {
    let d = dirs();
    let uri = ObsUri::parse("obs://ray-jobs/pkg.zip").unwrap();
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"<html>Login required</html>")]);
    let e = download_and_unpack(test_call!(&env(), &mut t), &uri, &d.target, &d.scratch).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
}

#[test]
fn download_limit_applies() {
    let d = dirs();
    let uri = ObsUri::parse("obs://ray-jobs/pkg.zip").unwrap();
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[("Content-Length", "1000")], &[0; 1000])]);
    let limits = Limits { max_download_bytes: 999, ..Limits::default() };
    let e = download_and_unpack(&mut Call { env: &env(), transport: &mut t, sleeper: &mut FakeSleeper::default(), limits: &limits, progress: &mut |_, _, _, _| {} }, &uri, &d.target, &d.scratch).unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
}

#[test]
fn transient_failures_are_retried_through_the_whole_stack() {
    let body = zip_bytes();
    let d = dirs();
    let uri = ObsUri::parse("obs://ray-jobs/pkg.zip").unwrap();
    let mut t = FakeTransport::new(vec![
        Reply::fail(TransportErrorKind::Connect),
        Reply::ok(503, &[("Retry-After", "1")], b"<Error><Code>SlowDown</Code></Error>"),
        Reply::ok(200, &[], &body),
    ]);
    let mut sleeper = FakeSleeper::default();
    let st = download_and_unpack(&mut Call { env: &env(), transport: &mut t, sleeper: &mut sleeper, limits: &Limits::default(), progress: &mut |_, _, _, _| {} }, &uri, &d.target, &d.scratch).unwrap();
    // OBS's SlowDown is throttling: waited on and told to the host, not counted as a retry.
    assert_eq!(st.download.retries, 1);
    assert_eq!(sleeper.slept.len(), 2);
    assert_eq!(sleeper.throttled, vec![std::time::Duration::from_secs(1)]);
    // Each attempt is signed afresh.
    assert!(t.requests.iter().all(|r| r.header("authorization").is_some()));
}

#[test]
fn endpoint_sources() {
    assert_eq!(Endpoint::from_env(&env()).unwrap().authority(), "127.0.0.1:9000");
    let from_file = MapEnv::new().file(OBSUTIL_CONFIG_ID, "endpoint=obs.ap-southeast-1.myhuaweicloud.com\n");
    let ep = Endpoint::from_env(&from_file).unwrap();
    assert_eq!((ep.host.as_str(), ep.path_style), ("obs.ap-southeast-1.myhuaweicloud.com", false));
    let both = from_file.clone().var(s::OBS_ENDPOINT, "http://localhost:1").var(s::OBS_PATH_STYLE, "true");
    assert_eq!(Endpoint::from_env(&both).unwrap().host, "localhost");
    let forced = from_file.var(s::OBS_PATH_STYLE, "true");
    assert!(Endpoint::from_env(&forced).unwrap().path_style);
    let none = MapEnv::new().file(HUAWEICLOUD_CREDENTIALS_ID, "[basic]\nak=a\nsk=b\n");
    assert!(Endpoint::from_env(&none).unwrap_err().message.contains("OBS_ENDPOINT"));
    assert!(Endpoint::from_env(&MapEnv::new().var(s::OBS_ENDPOINT, "ftp://x")).unwrap_err().message.starts_with("OBS_ENDPOINT"));
}

#[test]
fn anonymous_access_denied_explains_itself() {
    let uri = ObsUri::parse("obs://ray-jobs/pkg.zip").unwrap();
    let e = MapEnv::new().var(s::OBS_ENDPOINT, "http://127.0.0.1:9000").var(s::OBS_METADATA_DISABLED, "1");
    let refusal = Reply::ok(403, &[], b"<Error><Code>AccessDenied</Code><RequestId>R</RequestId></Error>");
    promises::anonymous_refusals_say_why(&e, refusal, "OBS_METADATA_DISABLED", |c, file| download_to_file(c, &uri, file));
}

#[test]
fn declared_hosts() {
    assert_eq!(network_hosts(), vec!["*.myhuaweicloud.com", "env:OBS_ENDPOINT", "169.254.169.254:80"]);
}

#[test]
fn secrets_echoed_into_an_archive_never_reach_the_error() {
    let token = "TOKENechoedBackByAHostileServer0001";
    let body = zip_of_one(&format!("../{AK}/{token}.py"), b"x");
    let len = body.len().to_string();
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[("Content-Length", &len)], &body)]);
    let d = dirs();
    let uri = ObsUri::parse("obs://ray-jobs/pkg.zip").unwrap();
    let env = env().var(s::OBS_SECURITY_TOKEN, token);
    let e = download_and_unpack(test_call!(&env, &mut t), &uri, &d.target, &d.scratch).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsafeArchive, "{e}");
    assert!(!e.message.contains(AK) && !e.message.contains(token), "{}", e.message);
    assert!(e.message.contains("(redacted)"), "{}", e.message);
}

mod upload {
    //! The kit's upload promises on an OBS URI, and OBS's own part: every request signed
    //! with its Content-MD5, Content-Type and sub-resources in the string to sign.

    use scheme_plugin_kit::http::testing::{FakeTransport, Reply};
    use scheme_plugin_kit::http::Request;
    use scheme_plugin_kit::ops::testing::upload_promises::{self as promises, UPLOAD_ID};
    use scheme_plugin_kit::test_call;
    use scheme_plugin_kit::ErrorKind;

    use super::{env, AK, SK};
    use crate::ops::*;
    use crate::remote::UPLOAD_LIMITS;
    use crate::sign::{authorization, SignatureType};
    use crate::uri::ObsUri;

    const DATE: &str = "Tue, 15 Oct 2024 07:20:09 GMT";

    fn uri() -> ObsUri {
        ObsUri::parse("obs://ray-jobs/my dir/pkg.zip").unwrap()
    }

    /// The request carries `Date` and the signature of exactly `string_to_sign`.
    fn signed(req: &Request, string_to_sign: &str) {
        assert_eq!(req.header("date"), Some(DATE));
        assert_eq!(req.header("authorization"), Some(authorization(SignatureType::Obs, AK, SK, string_to_sign).as_str()), "{string_to_sign:?}");
    }

    #[test]
    fn a_put_is_signed_with_its_md5_and_type() {
        let u = uri();
        let req = promises::a_put_sends_md5_and_checks_the_etag(&env(), |c, b| put_object(c, &u, b.into()));
        assert_eq!(req.url(), "http://127.0.0.1:9000/ray-jobs/my%20dir/pkg.zip");
        let md5 = req.header("content-md5").unwrap();
        signed(&req, &format!("PUT\n{md5}\napplication/zip\n{DATE}\n/ray-jobs/my%20dir/pkg.zip"));
    }

    #[test]
    fn multipart_requests_sign_their_sub_resources() {
        let (u, e) = (uri(), env());
        let begin = promises::beginning_returns_the_upload_id(&e, |c| begin_multipart(c, &u));
        signed(&begin, &format!("POST\n\napplication/zip\n{DATE}\n/ray-jobs/my%20dir/pkg.zip?uploads"));

        let attempts = promises::a_part_is_retried_whole(&e, |c, id, n, b| upload_part(c, &u, id, n, b.into()));
        for a in &attempts {
            let md5 = a.header("content-md5").unwrap();
            // Sub-resources sorted, their values raw (the URL carries them encoded).
            signed(a, &format!("PUT\n{md5}\n\n{DATE}\n/ray-jobs/my%20dir/pkg.zip?partNumber=3&uploadId={UPLOAD_ID}"));
        }

        let done = promises::completion_reads_errors_sent_after_200(&e, |c, id, p| complete_multipart(c, &u, id, p));
        signed(&done[0], &format!("POST\n\napplication/xml\n{DATE}\n/ray-jobs/my%20dir/pkg.zip?uploadId={UPLOAD_ID}"));

        let abort = promises::aborting_a_gone_upload_is_done(&e, |c, id| abort_multipart(c, &u, id));
        signed(&abort, &format!("DELETE\n\n\n{DATE}\n/ray-jobs/my%20dir/pkg.zip?uploadId={UPLOAD_ID}"));
    }

    #[test]
    fn virtual_hosted_uploads_sign_the_same_resource() {
        let e = env().var(super::s::OBS_ENDPOINT, "https://obs.cn-north-4.myhuaweicloud.com");
        let u = uri();
        let mut t = FakeTransport::new(vec![Reply::ok(204, &[], b"")]);
        abort_multipart(test_call!(&e, &mut t), &u, "id+1").unwrap();
        let req = &t.requests[0];
        assert_eq!(req.url(), "https://ray-jobs.obs.cn-north-4.myhuaweicloud.com/my%20dir/pkg.zip?uploadId=id%2B1");
        signed(req, &format!("DELETE\n\n\n{DATE}\n/ray-jobs/my%20dir/pkg.zip?uploadId=id+1"));
    }

    #[test]
    fn stat_reads_obs_error_headers() {
        let u = uri();
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[("Content-Length", "5"), ("ETag", "\"e\"")], b"")]);
        let info = stat(test_call!(&env(), &mut t), &u).unwrap().unwrap();
        assert_eq!((info.size, info.etag.as_deref()), (5, Some("\"e\"")));
        signed(&t.requests[0], &format!("HEAD\n\n\n{DATE}\n/ray-jobs/my%20dir/pkg.zip"));
        let mut t = FakeTransport::new(vec![Reply::ok(404, &[("x-obs-error-code", "NoSuchKey")], b"")]);
        assert_eq!(stat(test_call!(&env(), &mut t), &u).unwrap(), None);
        let mut t = FakeTransport::new(vec![Reply::ok(404, &[("x-obs-error-code", "NoSuchBucket"), ("x-obs-request-id", "R9")], b"")]);
        let e = stat(test_call!(&env(), &mut t), &u).unwrap_err();
        assert_eq!((e.kind, e.request_id.as_deref()), (ErrorKind::NotFound, Some("R9")));
    }

    #[test]
    fn plans_follow_obs_limits() {
        let u = uri();
        assert_eq!(plan_upload(&u, 1 << 20).unwrap(), UploadPlan { part_size: 1 << 20, part_count: 1 });
        assert_eq!(plan_upload(&u, 100 << 20).unwrap(), UploadPlan { part_size: 5 << 20, part_count: 20 });
        // OBS holds objects up to 10,000 parts of 5 GiB, more than S3's 5 TiB.
        let most = UPLOAD_LIMITS.max_object_size;
        assert_eq!(plan_upload(&u, most).unwrap(), UploadPlan { part_size: 5 << 30, part_count: 10_000 });
        assert!(plan_upload(&u, 6 << 40).is_ok());
        let e = plan_upload(&u, most + 1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LimitExceeded);
        assert!(e.message.contains("bucket ray-jobs, key my dir/pkg.zip"), "{}", e.message);
    }

    #[test]
    fn credentials_never_reach_an_upload_error() {
        let token = "TOKENechoedBackByAHostileServer0001";
        let e = env().var(super::s::OBS_SECURITY_TOKEN, token);
        let echo = format!("<Error><Code>InvalidPart</Code><Message>{AK} {token}</Message><RequestId>{AK}</RequestId></Error>");
        let mut t = FakeTransport::new(vec![Reply::ok(400, &[], echo.as_bytes())]);
        let parts = vec![UploadedPart { number: 1, size: 1, etag: "\"e\"".into(), retries: 0 }];
        let err = complete_multipart(test_call!(&e, &mut t), &uri(), UPLOAD_ID, parts).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Integrity);
        for text in [err.message.as_str(), err.request_id.as_deref().unwrap()] {
            assert!(!text.contains(AK) && !text.contains(token), "{text}");
        }
        // The token is an x-obs- header: signed with the rest.
        assert_eq!(t.requests[0].header("x-obs-security-token"), Some(token));
    }
}
