//! What every store plugin's upload operations promise whatever the store, checked the same
//! way for each plugin: it hands in an environment with credentials and closures over its
//! own operations on one URI of its scheme (`.zip`); each check panics on a broken promise
//! and hands back the requests of its main case, for the plugin's own signature checks.
//! Store codes are the ones OBS and S3 share; the plugin's error table must map them.

use super::promises::TestCall;
use crate::env::Env;
use crate::http::testing::{FakeTransport, Reply};
use crate::http::{Method, Request, TransportErrorKind};
use crate::ops::upload::digest::Md5Digest;
use crate::ops::upload::{ObjectInfo, UploadedPart};
use crate::{test_call, ErrorKind, Result};

/// The upload id the scripted store hands out; it needs encoding in a query.
pub const UPLOAD_ID: &str = "2~Up/load+Id=";

fn md5_etag(bytes: &[u8]) -> String {
    format!("\"{}\"", Md5Digest::of(bytes).hex())
}

fn body(r: &Request) -> &[u8] {
    r.body.as_ref().map(|b| b.as_slice()).unwrap_or_default()
}

/// A PUT carries the bytes with their length, type and `Content-MD5`, and an MD5 ETag must
/// be theirs. A store that found other bytes (`BadDigest`) or an ETag that is not their MD5
/// is an integrity error, never retried. Returns the successful PUT.
pub fn a_put_sends_md5_and_checks_the_etag(env: &dyn Env, put: impl Fn(&mut TestCall<'_>, Vec<u8>) -> Result<ObjectInfo>) -> Request {
    let bytes = b"PK\x05\x06 an upload".to_vec();
    let etag = md5_etag(&bytes);
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[("ETag", &etag)], b"")]);
    let info = put(test_call!(env, &mut t), bytes.clone()).unwrap();
    assert_eq!(info, ObjectInfo { size: bytes.len() as u64, etag: Some(etag), verified: Some("md5".into()), retries: 0 });
    let req = t.requests.pop().unwrap();
    assert_eq!((req.method, body(&req), req.path_and_query.contains('?')), (Method::Put, &bytes[..], false));
    assert_eq!(req.header("content-md5"), Some(Md5Digest::of(&bytes).content_md5().as_str()));
    assert_eq!(req.header("content-length"), Some(bytes.len().to_string().as_str()));
    assert_eq!(req.header("content-type"), Some("application/zip"));
    assert!(req.header("authorization").is_some(), "signed");

    let mut t = FakeTransport::new(vec![Reply::ok(200, &[("ETag", "\"0123456789abcdef0123456789abcdef\"")], b"")]);
    let e = put(test_call!(env, &mut t), bytes.clone()).unwrap_err();
    assert_eq!((e.kind, t.requests.len()), (ErrorKind::Integrity, 1), "{e}");
    assert!(e.message.contains(&Md5Digest::of(&bytes).hex()), "{}", e.message);

    let refused = b"<Error><Code>BadDigest</Code><Message>The Content-MD5 you specified did not match what we received.</Message><RequestId>RQ1</RequestId></Error>";
    let mut t = FakeTransport::new(vec![Reply::ok(400, &[], refused)]);
    let e = put(test_call!(env, &mut t), bytes).unwrap_err();
    assert_eq!((e.kind, e.store_code.as_deref(), e.request_id.as_deref(), e.http_status), (ErrorKind::Integrity, Some("BadDigest"), Some("RQ1"), Some(400)), "{e}");
    assert_eq!(t.requests.len(), 1);
    req
}

/// A multipart upload starts with `POST ?uploads` carrying the object's type, and the
/// store's upload id comes back as sent. Returns the request.
pub fn beginning_returns_the_upload_id(env: &dyn Env, begin: impl Fn(&mut TestCall<'_>) -> Result<String>) -> Request {
    let answer = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <Bucket>b</Bucket><Key>k</Key><UploadId>{UPLOAD_ID}</UploadId></InitiateMultipartUploadResult>"
    );
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[("Content-Type", "application/xml")], answer.as_bytes())]);
    assert_eq!(begin(test_call!(env, &mut t)).unwrap(), UPLOAD_ID);
    let req = t.requests.pop().unwrap();
    assert_eq!(req.method, Method::Post);
    assert!(req.path_and_query.ends_with("?uploads"), "{}", req.path_and_query);
    assert_eq!((req.header("content-type"), req.header("content-length")), (Some("application/zip"), Some("0")));

    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"<html>captive portal</html>")]);
    assert_eq!(begin(test_call!(env, &mut t)).unwrap_err().kind, ErrorKind::Network);
    req
}

/// A part that fails twice (a cut connection, then the store's 500) is sent again whole,
/// signed afresh, and its ETag comes back with the two retries counted. Returns the three
/// attempts.
pub fn a_part_is_retried_whole(env: &dyn Env, part: impl Fn(&mut TestCall<'_>, &str, u32, Vec<u8>) -> Result<UploadedPart>) -> Vec<Request> {
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let etag = md5_etag(&bytes);
    let mut t = FakeTransport::new(vec![
        Reply::fail(TransportErrorKind::Broken),
        Reply::ok(500, &[], b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"),
        Reply::ok(200, &[("ETag", &etag)], b""),
    ]);
    let done = part(test_call!(env, &mut t), UPLOAD_ID, 3, bytes.clone()).unwrap();
    assert_eq!(done, UploadedPart { number: 3, size: 100_000, etag, retries: 2 });
    let attempts = t.requests;
    assert_eq!(attempts.len(), 3);
    for r in &attempts {
        assert_eq!((r.method, body(r)), (Method::Put, &bytes[..]));
        assert!(r.path_and_query.ends_with("?partNumber=3&uploadId=2~Up%2Fload%2BId%3D"), "{}", r.path_and_query);
        assert_eq!(r.header("content-md5"), Some(Md5Digest::of(&bytes).content_md5().as_str()));
        assert!(r.header("authorization").is_some(), "every attempt is signed");
    }

    // A part the store keeps as other bytes is not retried.
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[("ETag", "\"0123456789abcdef0123456789abcdef\"")], b"")]);
    assert_eq!(part(test_call!(env, &mut t), UPLOAD_ID, 3, bytes).unwrap_err().kind, ErrorKind::Integrity);
    assert_eq!(t.requests.len(), 1);
    attempts
}

/// Completion sends the parts in number order; an error S3 sends after its `200` is an
/// error, retried when its code says so; the object's size is the sum of the parts', with
/// no HEAD (write-only credentials could not send one). Returns the successful completion.
pub fn completion_reads_errors_sent_after_200(env: &dyn Env, complete: impl Fn(&mut TestCall<'_>, &str, Vec<UploadedPart>) -> Result<ObjectInfo>) -> Vec<Request> {
    let parts = vec![UploadedPart { number: 2, size: 2 << 20, etag: "\"bb\"".into(), retries: 0 }, UploadedPart { number: 1, size: 8 << 20, etag: "\"aa\"".into(), retries: 1 }];
    let done = b"<CompleteMultipartUploadResult><Location>l</Location><ETag>&quot;ee-2&quot;</ETag></CompleteMultipartUploadResult>";
    let mut t = FakeTransport::new(vec![
        Reply::ok(200, &[], b"\n   <Error><Code>InternalError</Code><Message>Please try again.</Message></Error>"),
        Reply::ok(200, &[], done),
    ]);
    let info = complete(test_call!(env, &mut t), UPLOAD_ID, parts.clone()).unwrap();
    assert_eq!(info, ObjectInfo { size: 10 << 20, etag: Some("\"ee-2\"".into()), verified: None, retries: 1 });
    let mut requests = t.requests;
    requests.remove(0);
    let sent = &requests[0];
    assert_eq!(sent.method, Method::Post);
    assert!(sent.path_and_query.ends_with("?uploadId=2~Up%2Fload%2BId%3D"), "{}", sent.path_and_query);
    assert_eq!(
        std::str::from_utf8(body(sent)).unwrap(),
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"aa\"</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>\"bb\"</ETag></Part></CompleteMultipartUpload>"
    );
    assert_eq!(requests.len(), 1, "no request after the completion");

    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"<Error><Code>AccessDenied</Code><Message>no</Message><RequestId>R2</RequestId></Error>")]);
    let e = complete(test_call!(env, &mut t), UPLOAD_ID, parts.clone()).unwrap_err();
    assert_eq!((e.kind, e.store_code.as_deref(), e.http_status, t.requests.len()), (ErrorKind::AccessDenied, Some("AccessDenied"), Some(200), 1));

    let mut t = FakeTransport::new(vec![Reply::ok(400, &[], b"<Error><Code>InvalidPart</Code><Message>One or more of the specified parts could not be found.</Message></Error>")]);
    let e = complete(test_call!(env, &mut t), UPLOAD_ID, parts).unwrap_err();
    assert_eq!((e.kind, e.store_code.as_deref()), (ErrorKind::Integrity, Some("InvalidPart")), "{e}");
    requests
}

/// Aborting sends `DELETE ?uploadId=`; an upload the store no longer knows counts as
/// aborted, any other refusal does not. Returns the request.
pub fn aborting_a_gone_upload_is_done(env: &dyn Env, abort: impl Fn(&mut TestCall<'_>, &str) -> Result<()>) -> Request {
    let mut t = FakeTransport::new(vec![Reply::ok(503, &[], b"<Error><Code>ServiceUnavailable</Code></Error>"), Reply::ok(204, &[], b"")]);
    abort(test_call!(env, &mut t), UPLOAD_ID).unwrap();
    let req = t.requests.pop().unwrap();
    assert_eq!((req.method, req.body.is_none()), (Method::Delete, true));
    assert!(req.path_and_query.ends_with("?uploadId=2~Up%2Fload%2BId%3D"), "{}", req.path_and_query);

    let gone = b"<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>";
    let mut t = FakeTransport::new(vec![Reply::ok(404, &[], gone)]);
    abort(test_call!(env, &mut t), UPLOAD_ID).unwrap();
    let mut t = FakeTransport::new(vec![Reply::ok(403, &[], b"<Error><Code>AccessDenied</Code></Error>")]);
    assert_eq!(abort(test_call!(env, &mut t), UPLOAD_ID).unwrap_err().kind, ErrorKind::AccessDenied);
    let mut t = FakeTransport::new(vec![Reply::ok(404, &[], b"<Error><Code>NoSuchBucket</Code></Error>")]);
    assert_eq!(abort(test_call!(env, &mut t), UPLOAD_ID).unwrap_err().kind, ErrorKind::NotFound);
    req
}
