//! What every store plugin's operations promise whatever the store, checked the same way
//! for each plugin: it hands in its environment, what its store answers, and closures over
//! its own operations on a URI of its scheme (a plugin's operations may do more than the
//! kit's, as S3's retry in the bucket's region). Each check panics on a broken promise.

use std::fs;
use std::path::Path;

use super::dirs;
use crate::env::Env;
use crate::http::testing::{FakeSleeper, FakeTransport, Reply};
use crate::ops::{Call, DownloadStats, UnpackStats};
use crate::{test_call, ErrorKind, Result};

/// A call as the checks make it: scripted answers, recorded sleeps.
pub type TestCall<'a> = Call<'a, FakeTransport, FakeSleeper>;

/// A wheel is installed as a file: `unpack` (into target and scratch) refuses one before
/// any request, and `download` (into a file) fetches it whole. Returns the download's stats
/// for the plugin's own checks.
pub fn a_wheel_downloads_but_never_unpacks(
    env: &dyn Env,
    unpack: impl FnOnce(&mut TestCall<'_>, &Path, &Path) -> Result<UnpackStats>,
    download: impl FnOnce(&mut TestCall<'_>, &Path) -> Result<DownloadStats>,
) -> DownloadStats {
    let d = dirs();
    let mut t = FakeTransport::new(vec![]);
    let e = unpack(test_call!(env, &mut t), &d.target, &d.scratch).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(t.requests.is_empty());

    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"wheel bytes")]);
    let file = d.scratch.join("a.whl");
    let st = download(test_call!(env, &mut t), &file).unwrap();
    assert_eq!(fs::read(&file).unwrap(), b"wheel bytes");
    assert_eq!((st.bytes_downloaded, st.object_size, st.retries), (11, 11, 0));
    st
}

/// With no credentials in `env`, requests go unsigned: the store's `refusal` becomes an
/// access error that says the request was anonymous and why (`why`, e.g. the variable that
/// turned the metadata service off, is in the message), and a public object downloads with
/// no credential source.
pub fn anonymous_refusals_say_why(env: &dyn Env, refusal: Reply, why: &str, download: impl Fn(&mut TestCall<'_>, &Path) -> Result<DownloadStats>) {
    let d = dirs();
    let file = d.scratch.join("o");
    let mut t = FakeTransport::new(vec![refusal]);
    let err = download(test_call!(env, &mut t), &file).unwrap_err();
    assert_eq!(err.kind, ErrorKind::AccessDenied);
    assert!(err.message.contains("anonymous") && err.message.contains(why), "{}", err.message);
    assert!(t.requests[0].header("authorization").is_none());

    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"public")]);
    let st = download(test_call!(env, &mut t), &file).unwrap();
    assert_eq!(st.credential_source, None);
}

