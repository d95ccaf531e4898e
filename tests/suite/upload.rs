//! The publish side: `scheme-host upload` and `pack-and-upload` through the OBS and S3
//! plugins against the test server (which checks every signature), then read back with
//! `download-and-unpack` as a node would.

use crate::env;
use obs_server::{Fault, FaultRule};
use scheme_host_tests::obs::{ObsFixture, AK, SK};
use scheme_host_tests::{tree, wasm, Env};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const BUCKET: &str = "ray-jobs";

fn obs_env(fx: &ObsFixture) -> Env {
    let mut e = env();
    e.install(wasm::OBS, "obs.wasm");
    fx.configure(&mut e);
    e
}

fn s3_env(fx: &ObsFixture) -> Env {
    let mut e = env();
    e.install(wasm::S3, "s3.wasm");
    e.set("AWS_ENDPOINT_URL_S3", fx.endpoint())
        .set("AWS_ACCESS_KEY_ID", AK)
        .set("AWS_SECRET_ACCESS_KEY", SK)
        .set("AWS_REGION", "eu-west-1")
        .set("AWS_EC2_METADATA_DISABLED", "true");
    e
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// A job directory: ignored files, an exec script, a nested package.
fn job_tree(dir: &Path) {
    write(&dir.join(".gitignore"), b"*.log\nbuild/\n");
    write(&dir.join("debug.log"), b"ignored\n");
    write(&dir.join("build/out.bin"), b"ignored too\n");
    write(&dir.join("main.py"), b"import pkg.sub.mod\n");
    write(&dir.join("run.sh"), b"#!/bin/sh\necho run\n");
    std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    write(&dir.join("pkg/__init__.py"), b"");
    write(&dir.join("pkg/sub/__init__.py"), b"");
    write(&dir.join("pkg/sub/mod.py"), b"VALUE = 42\n");
    write(&dir.join("__pycache__/main.cpython-311.pyc"), b"skipped by Ray's defaults\n");
}

/// What Ray's packing keeps of [`job_tree`].
const JOB_TREE: [&str; 8] = [".gitignore", "main.py", "pkg/", "pkg/__init__.py", "pkg/sub/", "pkg/sub/__init__.py", "pkg/sub/mod.py", "run.sh"];

fn puts(fx: &ObsFixture) -> usize {
    fx.server.requests().iter().filter(|r| r.method == "PUT" || r.method == "POST").count()
}

fn pack_and_upload(e: &Env, dir: &Path, prefix: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["pack-and-upload", dir.to_str().unwrap(), prefix, "--json"];
    args.extend_from_slice(extra);
    e.run(&args).ok()
}

fn round_trip(e: &Env, fx: &ObsFixture, scheme: &str) {
    let dir = e.path("proj");
    job_tree(&dir);
    let prefix = format!("{scheme}://{BUCKET}/pkgs/");
    let first = pack_and_upload(e, &dir, &prefix, &[]);
    let uri = first["uri"].as_str().unwrap().to_string();
    let name = uri.strip_prefix(&format!("{scheme}://{BUCKET}/pkgs/")).unwrap();
    assert!(name.starts_with("_ray_pkg_") && name.ends_with(".zip") && name.len() == 9 + 32 + 4, "{uri}");
    assert_eq!((first["uploaded"].as_bool(), first["files"].as_u64(), first["parts"].as_u64()), (Some(true), Some(6), Some(1)), "{first:#}");
    assert_eq!(first["bytes"].as_u64().unwrap() as usize, fx.server.object(BUCKET, &format!("pkgs/{name}")).unwrap().len());

    let dest = e.out("node");
    e.run(&["download-and-unpack", &uri, dest.to_str().unwrap(), "--json"]).ok();
    assert_eq!(tree(&dest), JOB_TREE);
    assert_eq!(std::fs::read(dest.join("pkg/sub/mod.py")).unwrap(), b"VALUE = 42\n");
    let mode = |p: &str| std::fs::metadata(dest.join(p)).unwrap().permissions().mode() & 0o111;
    assert_ne!(mode("run.sh"), 0, "the exec bit survives");
    assert_eq!(mode("main.py"), 0);

    // Unchanged tree, same name: a HEAD, and nothing sent.
    let writes = puts(fx);
    let again = pack_and_upload(e, &dir, &prefix, &[]);
    assert_eq!((again["uri"].as_str(), again["uploaded"].as_bool(), again["parts"].as_u64()), (Some(uri.as_str()), Some(false), Some(0)), "{again:#}");
    assert_eq!(puts(fx), writes, "the second pack-and-upload sent something");

    // A changed tree is another package.
    write(&dir.join("main.py"), b"import pkg.sub.mod  # v2\n");
    let changed = pack_and_upload(e, &dir, &prefix, &[]);
    assert_ne!(changed["uri"].as_str(), Some(uri.as_str()));
    assert_eq!(changed["uploaded"], true);
}

#[test]
fn a_job_directory_round_trips_through_obs() {
    let fx = ObsFixture::start();
    let e = obs_env(&fx);
    round_trip(&e, &fx, "obs");
}

#[test]
fn a_job_directory_round_trips_through_s3() {
    let fx = ObsFixture::start();
    let e = s3_env(&fx);
    round_trip(&e, &fx, "s3");
}

#[test]
fn a_single_inner_directory_is_not_stripped_twice_and_excludes_apply() {
    let fx = ObsFixture::start();
    let e = obs_env(&fx);
    let dir = e.path("only");
    write(&dir.join("inner/app.py"), b"print('inner')\n");
    write(&dir.join("inner/data/big.ckpt"), b"checkpoint\n");
    let v = pack_and_upload(&e, &dir, "obs://ray-jobs/pkgs", &["--exclude", "*.ckpt"]);
    let dest = e.out("node");
    e.run(&["download-and-unpack", v["uri"].as_str().unwrap(), dest.to_str().unwrap(), "--json"]).ok();
    // `data/` holds only an excluded file: Ray writes a directory entry only for a directory
    // that is empty on disk, so `data/` is not in the package.
    assert_eq!(tree(&dest), ["inner/", "inner/app.py"]);
}

#[test]
fn include_parent_dir_keeps_the_module_name() {
    let fx = ObsFixture::start();
    let e = obs_env(&fx);
    let dir = e.path("mymod");
    write(&dir.join("__init__.py"), b"NAME = 'mymod'\n");
    let plain = pack_and_upload(&e, &dir, "obs://ray-jobs/mods", &[]);
    let kept = pack_and_upload(&e, &dir, "obs://ray-jobs/mods", &["--include-parent-dir"]);
    assert_ne!(plain["uri"], kept["uri"]);
    let dest = e.out("node");
    e.run(&["download-and-unpack", kept["uri"].as_str().unwrap(), dest.to_str().unwrap(), "--json"]).ok();
    assert_eq!(tree(&dest), ["mymod/", "mymod/__init__.py"]);
}

#[test]
fn a_symlink_leaving_the_directory_is_refused_before_any_request() {
    let fx = ObsFixture::start();
    let e = obs_env(&fx);
    let dir = e.path("proj");
    write(&dir.join("main.py"), b"");
    std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd")).unwrap();
    let err = e.run(&["pack-and-upload", dir.to_str().unwrap(), "obs://ray-jobs/pkgs", "--json"]).err();
    assert_eq!(err["kind"], "unsafe-archive", "{err:#}");
    assert!(err["message"].as_str().unwrap().contains("passwd"), "{err:#}");
    assert!(fx.server.requests().is_empty(), "nothing is sent for a tree that cannot be packed");
}

/// Bytes that do not compress and differ per position, made fast.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

#[test]
fn a_300_mb_file_goes_up_in_concurrent_parts_and_a_part_failing_twice_is_retried() {
    let fx = ObsFixture::start();
    let e = obs_env(&fx);
    let data = noise(300 << 20);
    let file = e.path("model.whl");
    std::fs::write(&file, &data).unwrap();
    let key = "wheels/model-1.0-py3-none-any.whl";
    fx.server.set_fault(FaultRule::new(BUCKET, key, Fault::InternalError).methods(&["PUT"]).times(2)).unwrap();
    let v = e.run(&["upload", file.to_str().unwrap(), &format!("obs://{BUCKET}/{key}"), "--json"]).ok();
    assert_eq!(v["bytes"].as_u64(), Some(300 << 20));
    assert!(v["parts"].as_u64().unwrap() >= 10, "{v:#}");
    assert!(v["instances"].as_u64().unwrap() >= 2, "parts go up concurrently: {v:#}");
    assert!(v["retries"].as_u64().unwrap() >= 2, "{v:#}");
    let stored = fx.server.object(BUCKET, key).unwrap();
    assert!(stored.len() == data.len() && stored[..] == data[..], "the stored object differs from the file");
    assert!(fx.server.uploads().is_empty());
    // Every part once, plus the two attempts that failed.
    let part_puts = fx.server.requests().iter().filter(|r| r.method == "PUT" && r.query.as_deref().is_some_and(|q| q.contains("partNumber"))).count();
    assert!(part_puts >= v["parts"].as_u64().unwrap() as usize + 2);
}

#[test]
fn a_failure_that_cannot_be_retried_aborts_the_upload_and_leaves_nothing() {
    for (scheme, mk) in [("obs", obs_env as fn(&ObsFixture) -> Env), ("s3", s3_env)] {
        let fx = ObsFixture::start();
        let e = mk(&fx);
        let file = e.path("pkg.zip");
        std::fs::write(&file, noise(40 << 20)).unwrap();
        let key = "pkgs/denied.zip";
        fx.server
            .set_fault(FaultRule::new(BUCKET, key, Fault::Error { status: 403, code: "AccessDenied".into(), message: None, retry_after_secs: None }).methods(&["PUT"]).times(1))
            .unwrap();
        let err = e.run(&["upload", file.to_str().unwrap(), &format!("{scheme}://{BUCKET}/{key}"), "--json"]).err();
        assert_eq!((err["kind"].as_str(), err["store_code"].as_str()), (Some("access-denied"), Some("AccessDenied")), "{scheme}: {err:#}");
        assert!(fx.server.object(BUCKET, key).is_none(), "{scheme}: an object was left");
        assert!(fx.server.uploads().is_empty(), "{scheme}: an open multipart upload was left: {:?}", fx.server.uploads());
        assert!(fx.server.requests().iter().any(|r| r.method == "DELETE"), "{scheme}: the upload was not aborted");
    }
}

#[test]
fn a_wrong_secret_is_a_signature_error_that_names_no_secret() {
    let fx = ObsFixture::start();
    let mut e = obs_env(&fx);
    e.set("OBS_SECRET_ACCESS_KEY", "SKwrongWrongWrongWrongWrongWrong00000001");
    let file = e.path("pkg.whl");
    std::fs::write(&file, b"wheel").unwrap();
    let r = e.run(&["upload", file.to_str().unwrap(), "obs://ray-jobs/w/pkg.whl", "--json"]);
    let err = r.err();
    assert_eq!(err["store_code"], "SignatureDoesNotMatch", "{err:#}");
    for text in [&r.stdout, &r.stderr] {
        assert!(!text.contains("SKwrong") && !text.contains(SK), "a secret was printed");
    }
}

#[test]
fn a_small_file_is_one_put_and_reads_back() {
    for (scheme, mk) in [("obs", obs_env as fn(&ObsFixture) -> Env), ("s3", s3_env)] {
        let fx = ObsFixture::start();
        let e = mk(&fx);
        let file = e.path("dist/mylib-0.1-py3-none-any.whl");
        write(&file, b"PK wheel contents");
        let uri = format!("{scheme}://{BUCKET}/wheels/mylib-0.1-py3-none-any.whl");
        let v = e.run(&["upload", file.to_str().unwrap(), &uri, "--json"]).ok();
        assert_eq!((v["parts"].as_u64(), v["uploaded"].as_bool(), v["verified"].as_str()), (Some(1), Some(true), Some("md5")), "{scheme}: {v:#}");
        let back = e.out("back.whl");
        e.run(&["download", &uri, back.to_str().unwrap(), "--json"]).ok();
        assert_eq!(std::fs::read(back).unwrap(), b"PK wheel contents");
    }
}
