//! Whole upload operations against scripted answers, through a store that signs with a
//! marker and reads errors the kit's way: the promises every plugin is held to, and what
//! only the kit decides (limits, lost answers, a replaced object, secrets).

use super::digest::Md5Digest;
use super::*;
use crate::env::{Env, MapEnv};
use crate::http::testing::{FakeSleeper, FakeTransport, Reply};
use crate::http::{DownloadOptions, Headers, Method, Request, Scheme, Store, TransportErrorKind};
use crate::ops::testing::upload_promises::{self as promises, UPLOAD_ID};
use crate::ops::Call;
use crate::store_error::{store_error, ErrorStyle};
use crate::{test_call, Error, ErrorKind, Limits, PackageFormat};

const SECRET: &str = "SECRETtokenEchoedBack";

fn classify(code: &str) -> Option<(ErrorKind, Option<&'static str>)> {
    use ErrorKind::*;
    Some(match code {
        "NoSuchUpload" | "NoSuchBucket" => (NotFound, None),
        "BadDigest" | "InvalidPart" => (Integrity, None),
        "AccessDenied" => (AccessDenied, None),
        "InternalError" | "ServiceUnavailable" | "SlowDown" => (Network, None),
        _ => return None,
    })
}

const STYLE: ErrorStyle = ErrorStyle {
    store: "Store",
    request_id_headers: &["x-test-request-id"],
    code_header: Some("x-test-error-code"),
    message_header: None,
    classify,
    anonymous_hint: "anonymous",
};

struct Signing;

impl Store for Signing {
    fn sign(&mut self, req: &mut Request) -> crate::Result<()> {
        req.set_header("Authorization", "TEST signed");
        Ok(())
    }
    fn parse_error(&self, status: u16, headers: &Headers, body: &[u8], _: bool) -> Error {
        store_error(&STYLE, status, headers, body, false, &[])
    }
    fn etag_is_md5(&self, headers: &Headers) -> bool {
        headers.get("x-test-sse").is_none()
    }
}

struct Object;

impl Object {
    fn fetch(&self) -> Fetch<'_> {
        let mut opts = DownloadOptions::new(Scheme::Http, "b.store.test", "/dir/k.zip");
        opts.headers.push(("User-Agent".into(), "kit-test".into()));
        Fetch { opts, store: Box::new(Signing), credential_source: None }
    }
}

impl Remote for Object {
    fn display(&self) -> String {
        "bucket b, key dir/k.zip".into()
    }
    fn format(&self) -> PackageFormat {
        PackageFormat::Zip
    }
    fn prepare<'a, T: Transport>(&'a self, _: &'a dyn Env, _: &mut T, _: &Limits) -> crate::Result<Fetch<'a>> {
        Ok(self.fetch())
    }
    fn secrets(&self, _: &dyn Env) -> Vec<String> {
        vec![SECRET.into()]
    }
}

impl UploadRemote for Object {
    fn upload_limits(&self) -> UploadLimits {
        UploadLimits { max_parts: 100, min_part_size: 5 << 20, max_part_size: 1 << 20, max_single_put: 1 << 20, max_object_size: 1 << 30 }
    }
    fn prepare_upload<'a, T: Transport>(&'a self, _: &'a dyn Env, _: &mut T) -> crate::Result<Fetch<'a>> {
        Ok(self.fetch())
    }
}

fn md5_etag(bytes: &[u8]) -> String {
    format!("\"{}\"", Md5Digest::of(bytes).hex())
}

fn parts(etags: &[&str]) -> Vec<UploadedPart> {
    etags.iter().enumerate().map(|(i, e)| UploadedPart { number: i as u32 + 1, size: 1, etag: e.to_string(), retries: 0 }).collect()
}

#[test]
fn the_promises_every_plugin_keeps() {
    let env = MapEnv::new();
    let put = promises::a_put_sends_md5_and_checks_the_etag(&env, |c, b| put_object(c, &Object, b.into()));
    assert_eq!((put.url().as_str(), put.header("user-agent")), ("http://b.store.test/dir/k.zip", Some("kit-test")));
    promises::beginning_returns_the_upload_id(&env, |c| begin_multipart(c, &Object));
    promises::a_part_is_retried_whole(&env, |c, id, n, b| upload_part(c, &Object, id, n, b.into()));
    promises::completion_reads_errors_sent_after_200(&env, |c, id, p| complete_multipart(c, &Object, id, p));
    promises::aborting_a_gone_upload_is_done(&env, |c, id| abort_multipart(c, &Object, id));
}

#[test]
fn stat_reads_size_and_etag_and_knows_nothing_from_a_missing_bucket() {
    let env = MapEnv::new();
    let mut t = FakeTransport::new(vec![Reply::fail(TransportErrorKind::Timeout), Reply::ok(200, &[("Content-Length", "42"), ("ETag", "\"e\"")], b"")]);
    let info = stat(test_call!(&env, &mut t), &Object).unwrap();
    assert_eq!(info, Some(ObjectInfo { size: 42, etag: Some("\"e\"".into()), verified: None, retries: 1 }));
    assert_eq!((t.requests[1].method, t.requests[1].header("authorization")), (Method::Head, Some("TEST signed")));
    let mut t = FakeTransport::new(vec![Reply::ok(404, &[], b"")]);
    assert_eq!(stat(test_call!(&env, &mut t), &Object).unwrap(), None);
    let mut t = FakeTransport::new(vec![Reply::ok(404, &[("x-test-error-code", "NoSuchBucket")], b"")]);
    let e = stat(test_call!(&env, &mut t), &Object).unwrap_err();
    assert_eq!((e.kind, e.store_code.as_deref()), (ErrorKind::NotFound, Some("NoSuchBucket")));
    assert!(e.message.starts_with("looking up bucket b, key dir/k.zip: "), "{}", e.message);
    let mut t = FakeTransport::new(vec![Reply::ok(403, &[], b"")]);
    assert_eq!(stat(test_call!(&env, &mut t), &Object).unwrap_err().kind, ErrorKind::AccessDenied);
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"")]);
    assert_eq!(stat(test_call!(&env, &mut t), &Object).unwrap_err().kind, ErrorKind::Network);
}

#[test]
fn an_etag_that_is_no_digest_is_accepted_unverified() {
    let env = MapEnv::new();
    for headers in [vec![("ETag", "\"0123456789abcdef0123456789abcdef\""), ("x-test-sse", "kms")], vec![("ETag", "\"opaque-tag\"")], vec![]] {
        let mut t = FakeTransport::new(vec![Reply::ok(200, &headers, b"")]);
        let info = put_object(test_call!(&env, &mut t), &Object, b"x".to_vec().into()).unwrap();
        assert_eq!(info.verified, None, "{headers:?}");
    }
    // A part must have one, since completing needs it.
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"")]);
    assert_eq!(upload_part(test_call!(&env, &mut t), &Object, UPLOAD_ID, 1, b"x".to_vec().into()).unwrap_err().kind, ErrorKind::Network);
}

#[test]
fn limits_are_checked_before_any_request() {
    let env = MapEnv::new();
    let mut t = FakeTransport::new(vec![]);
    let too_big = vec![0; (1 << 20) + 1];
    assert_eq!(put_object(test_call!(&env, &mut t), &Object, too_big.clone().into()).unwrap_err().kind, ErrorKind::LimitExceeded);
    assert_eq!(upload_part(test_call!(&env, &mut t), &Object, UPLOAD_ID, 1, too_big.into()).unwrap_err().kind, ErrorKind::LimitExceeded);
    assert_eq!(upload_part(test_call!(&env, &mut t), &Object, UPLOAD_ID, 101, vec![1].into()).unwrap_err().kind, ErrorKind::LimitExceeded);
    assert_eq!(upload_part(test_call!(&env, &mut t), &Object, UPLOAD_ID, 0, vec![1].into()).unwrap_err().kind, ErrorKind::Internal);
    assert_eq!(upload_part(test_call!(&env, &mut t), &Object, "", 1, vec![1].into()).unwrap_err().kind, ErrorKind::Internal);
    let many = (1..=101).map(|n| UploadedPart { number: n, size: 1, etag: "\"e\"".into(), retries: 0 }).collect();
    assert_eq!(complete_multipart(test_call!(&env, &mut t), &Object, UPLOAD_ID, many).unwrap_err().kind, ErrorKind::LimitExceeded);
    for bad in [vec![], parts(&["\"a\"", ""]), vec![UploadedPart { number: 1, size: 1, etag: "\"a\"".into(), retries: 0 }; 2]] {
        assert_eq!(complete_multipart(test_call!(&env, &mut t), &Object, UPLOAD_ID, bad).unwrap_err().kind, ErrorKind::Internal);
    }
    assert_eq!(abort_multipart(test_call!(&env, &mut t), &Object, "\n").unwrap_err().kind, ErrorKind::Internal);
    assert!(t.requests.is_empty());
    assert_eq!(plan_upload(&Object, 1000).unwrap(), UploadPlan { part_size: 1000, part_count: 1 });
    // This store's parts are at most 1 MiB: 3 MiB would need more than its 5 MiB minimum.
    let e = plan_upload(&Object, 3 << 20).unwrap_err();
    assert!(e.kind == ErrorKind::LimitExceeded && e.message.starts_with("planning the upload of bucket b, key dir/k.zip: "), "{e}");
}

#[test]
fn a_lost_completion_answer_is_recovered_only_for_the_object_the_parts_make() {
    let env = MapEnv::new();
    let (a, b) = (md5_etag(b"part one"), md5_etag(b"part two"));
    let made = super::digest::multipart_etag([a.as_str(), b.as_str()].into_iter()).unwrap();
    let gone = b"<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>";
    let answers = |head_etag: &str| {
        vec![Reply::fail(TransportErrorKind::Broken), Reply::ok(404, &[], gone), Reply::ok(200, &[("Content-Length", "16"), ("ETag", head_etag)], b"")]
    };
    let mut t = FakeTransport::new(answers(&made));
    let info = complete_multipart(test_call!(&env, &mut t), &Object, UPLOAD_ID, parts(&[&a, &b])).unwrap();
    assert_eq!(info, ObjectInfo { size: 16, etag: Some(made.clone()), verified: Some("md5-of-parts".into()), retries: 1 });

    let mut t = FakeTransport::new(answers("\"someone-else-2\""));
    let e = complete_multipart(test_call!(&env, &mut t), &Object, UPLOAD_ID, parts(&[&a, &b])).unwrap_err();
    assert_eq!((e.kind, e.store_code.as_deref()), (ErrorKind::NotFound, Some("NoSuchUpload")));
    assert!(e.message.contains("answer was lost"), "{}", e.message);

    // On a first attempt, a missing upload is just that.
    let mut t = FakeTransport::new(vec![Reply::ok(404, &[], gone)]);
    let e = complete_multipart(test_call!(&env, &mut t), &Object, UPLOAD_ID, parts(&[&a, &b])).unwrap_err();
    assert_eq!((e.store_code.as_deref(), t.requests.len()), (Some("NoSuchUpload"), 1));
}

#[test]
fn a_completed_upload_is_verified_from_its_answer_alone() {
    let env = MapEnv::new();
    let (a, b) = (md5_etag(b"1"), md5_etag(b"2"));
    let made = super::digest::multipart_etag([a.as_str(), b.as_str()].into_iter()).unwrap();
    let done = format!("<CompleteMultipartUploadResult><ETag>{made}</ETag></CompleteMultipartUploadResult>");
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], done.as_bytes())]);
    let info = complete_multipart(test_call!(&env, &mut t), &Object, UPLOAD_ID, parts(&[&a, &b])).unwrap();
    assert_eq!((info.size, info.verified.as_deref(), t.requests.len()), (2, Some("md5-of-parts"), 1));

    // An ETag that is not the parts' digest (server-side encryption, another store's scheme)
    // is reported, unverified.
    let done = "<CompleteMultipartUploadResult><ETag>\"other\"</ETag></CompleteMultipartUploadResult>";
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], done.as_bytes())]);
    let info = complete_multipart(test_call!(&env, &mut t), &Object, UPLOAD_ID, parts(&[&a, &b])).unwrap();
    assert_eq!((info.etag.as_deref(), info.verified), (Some("\"other\""), None));
}

#[test]
fn throttled_parts_wait_and_tell_the_host() {
    let env = MapEnv::new();
    let bytes = b"part".to_vec();
    let mut t = FakeTransport::new(vec![
        Reply::ok(503, &[("Retry-After", "3")], b"<Error><Code>SlowDown</Code></Error>"),
        Reply::ok(200, &[("ETag", &md5_etag(&bytes))], b""),
    ]);
    let mut sleeper = FakeSleeper::default();
    let call = &mut Call { env: &env, transport: &mut t, sleeper: &mut sleeper, limits: &Limits::default(), progress: &mut |_, _, _, _| {} };
    let done = upload_part(call, &Object, UPLOAD_ID, 1, bytes.into()).unwrap();
    assert_eq!(done.retries, 0, "throttled answers are not retries");
    assert_eq!(sleeper.throttled, vec![std::time::Duration::from_secs(3)]);
}

#[test]
fn secrets_echoed_by_the_store_never_reach_an_error() {
    let env = MapEnv::new();
    let echo = format!("<Error><Code>AccessDenied</Code><Message>token {SECRET} refused</Message></Error>");
    let mut t = FakeTransport::new(vec![Reply::ok(403, &[], echo.as_bytes())]);
    let e = begin_multipart(test_call!(&env, &mut t), &Object).unwrap_err();
    assert!(!e.message.contains(SECRET) && e.message.contains("(redacted)"), "{}", e.message);
    assert!(e.message.starts_with("starting a multipart upload of bucket b, key dir/k.zip: "), "{}", e.message);
}
