//! The OBS plugin end to end: our OBS-compatible server, the real host binary, the plugin
//! built to wasm.

use crate::env;
use scheme_host_tests::obs::{ObsFixture, AK, SK, TOKEN};
use scheme_host_tests::{archives, listing, tree, wasm, Env};

fn obs_env(fx: &ObsFixture) -> Env {
    let mut e = env();
    e.install(wasm::OBS, "obs.wasm");
    fx.configure(&mut e);
    e
}

fn unpack(e: &Env, uri: &str, dest: &str) -> scheme_host_tests::Run {
    e.run(&["download-and-unpack", uri, e.out(dest).to_str().unwrap(), "--json"])
}

#[test]
fn unpacks_a_package_with_a_hard_key() {
    let fx = ObsFixture::start();
    let zip = archives::sample_package("job");
    let key = "pkgs/2024 run/job+v1 100%~(final)!.zip";
    fx.put("ray-jobs", key, zip.clone());
    let e = obs_env(&fx);
    let uri = format!("obs://ray-jobs/{key}");
    let v = unpack(&e, &uri, "pkg").ok();
    assert_eq!(v["bytes_downloaded"], zip.len() as u64);
    assert_eq!(v["files"], 4);
    assert_eq!(v["verified"], "md5-etag");
    let dest = e.out("pkg");
    assert_eq!(tree(&dest), ["bin/", "bin/run.sh", "data/", "data/blob.bin", "helper.py", "main.py"]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dest.join("bin/run.sh")).unwrap().permissions().mode();
    assert_eq!(mode & 0o7000, 0, "setuid stripped");
    assert_ne!(mode & 0o100, 0, "executable kept");
    assert_eq!(listing(&e.path("out")), ["pkg"]);
    let parsed = e.run(&["parse-uri", &uri, "--json"]).ok();
    let name = parsed["package_name"].as_str().unwrap();
    assert!(name.starts_with("obs_") && name.ends_with(".zip") && name.len() == 4 + 40 + 4, "{name}");
}

#[test]
fn missing_object_reports_the_obs_code_and_request_id() {
    let fx = ObsFixture::start();
    let e = obs_env(&fx);
    let err = unpack(&e, "obs://ray-jobs/nope.zip", "pkg").err();
    assert_eq!(err["kind"], "not-found");
    assert_eq!(err["store_code"], "NoSuchKey");
    assert!(!err["request_id"].as_str().unwrap_or("").is_empty(), "{err:#}");
    assert_eq!(err["http_status"], 404);
    assert!(listing(&e.path("out")).is_empty());
}

#[test]
fn a_wrong_secret_is_refused_by_the_server() {
    let fx = ObsFixture::start();
    fx.put("ray-jobs", "p.zip", archives::sample_package("p"));
    let mut e = obs_env(&fx);
    e.set("OBS_SECRET_ACCESS_KEY", "wrongSecretKeyValue00000000000000000000");
    let r = unpack(&e, "obs://ray-jobs/p.zip", "pkg");
    let err = r.err();
    assert_eq!(err["kind"], "bad-credentials");
    assert_eq!(err["store_code"], "SignatureDoesNotMatch");
    assert!(!r.stdout.contains("wrongSecretKeyValue") && !r.stderr.contains("wrongSecretKeyValue"));
}

#[test]
fn downloads_a_wheel_as_one_file() {
    let fx = ObsFixture::start();
    let body = archives::zip(&[("mymod/__init__.py", b"X = 1\n", 0o644)]);
    fx.put("ray-jobs", "wheels/mymod-1.0-py3-none-any.whl", body.clone());
    let e = obs_env(&fx);
    let file = e.out("mymod-1.0-py3-none-any.whl");
    let v = e.run(&["download", "obs://ray-jobs/wheels/mymod-1.0-py3-none-any.whl", file.to_str().unwrap(), "--json"]).ok();
    assert_eq!(v["bytes_downloaded"], body.len() as u64);
    assert_eq!(std::fs::read(&file).unwrap(), body);
    let err = unpack(&e, "obs://ray-jobs/wheels/mymod-1.0-py3-none-any.whl", "w").err();
    assert_eq!(err["kind"], "unsupported");
}

#[test]
fn credentials_sources_and_precedence() {
    let fx = ObsFixture::start();
    fx.put("ray-jobs", "c.zip", archives::sample_package("c"));
    let base = || {
        let mut e = env();
        e.install(wasm::OBS, "obs.wasm");
        e.set("OBS_ENDPOINT", fx.endpoint()).set("OBS_METADATA_DISABLED", "true");
        e
    };
    let ok = |e: &Env, tag: &str| {
        unpack(e, "obs://ray-jobs/c.zip", tag).ok();
    };
    let denied = |e: &Env, tag: &str| unpack(e, "obs://ray-jobs/c.zip", tag).err();

    // 1. OBS_* environment variables.
    let mut e = base();
    e.set("OBS_ACCESS_KEY_ID", AK).set("OBS_SECRET_ACCESS_KEY", SK);
    ok(&e, "env");
    // 2. Huawei Cloud SDK variables.
    let mut e = base();
    e.set("HUAWEICLOUD_SDK_AK", AK).set("HUAWEICLOUD_SDK_SK", SK);
    ok(&e, "sdk");
    // First match wins: wrong OBS_* shadow correct HUAWEICLOUD_SDK_*.
    e.set("OBS_ACCESS_KEY_ID", AK).set("OBS_SECRET_ACCESS_KEY", "wrong0000000000000000000000000000000000");
    assert_eq!(denied(&e, "shadow")["store_code"], "SignatureDoesNotMatch");
    // 3. obsutil's config in HOME, with placeholders and comments.
    let e = base();
    std::fs::write(e.home().join(".obsutilconfig"), format!("# obsutil\nendpoint=http://your-endpoint\nak={AK}\nsk={SK}\ntoken=\n")).unwrap();
    ok(&e, "obsutil");
    // ... at a path named by OBS_CONFIG_FILE.
    let mut e = base();
    let cfg = e.path("elsewhere.conf");
    std::fs::write(&cfg, format!("ak={AK}\nsk={SK}\n")).unwrap();
    e.set("OBS_CONFIG_FILE", cfg.to_str().unwrap());
    ok(&e, "obsutil-path");
    // Values obsutil encrypted are reported, never used.
    let e = base();
    std::fs::write(e.home().join(".obsutilconfig"), "ak=KwBhAGUAYgAxADIAMwA0ADUANgA3ADgAOQAwAA==\nsk=KwBhAGUAYgAxADIAMwA0ADUANgA3ADgAOQAwAAKwBhAGUAYgAx==\n").unwrap();
    let err = denied(&e, "encrypted");
    assert_eq!(err["kind"], "bad-credentials", "{err:#}");
    // 4. ~/.huaweicloud/credentials.
    let e = base();
    std::fs::create_dir_all(e.home().join(".huaweicloud")).unwrap();
    std::fs::write(e.home().join(".huaweicloud/credentials"), format!("[basic]\nak = {AK}\nsk = {SK}\n")).unwrap();
    ok(&e, "hwc");
    // 5. Nothing at all: anonymous, refused by a private bucket with a clear message.
    let e = base();
    let err = denied(&e, "anon");
    assert_eq!(err["kind"], "access-denied", "{err:#}");
    assert!(err["message"].as_str().unwrap().contains("credentials"), "{err:#}");
    // ... and accepted by a public one.
    fx.put("public-jobs", "c.zip", archives::sample_package("c"));
    unpack(&e, "obs://public-jobs/c.zip", "public").ok();
}

#[test]
fn temporary_credentials_send_a_signed_token() {
    let fx = ObsFixture::with_config(
        obs_server::ServerConfig::default()
            .with_credential(obs_server::Credential::new(AK, SK).with_token(TOKEN))
            .with_bucket("ray-jobs"),
    );
    fx.put("ray-jobs", "t.zip", archives::sample_package("t"));
    let mut e = obs_env(&fx);
    let err = unpack(&e, "obs://ray-jobs/t.zip", "no-token").err();
    assert_eq!(err["kind"], "bad-credentials", "a temporary AK without its token is refused: {err:#}");
    e.set("OBS_SECURITY_TOKEN", TOKEN);
    unpack(&e, "obs://ray-jobs/t.zip", "token").ok();
    let last = fx.server.requests().into_iter().last().unwrap();
    assert!(last.has_security_token);
}

#[test]
fn unpacks_tar_gz_like_ray() {
    let fx = ObsFixture::start();
    let mut tgz = Vec::new();
    {
        let enc = flate2::write::GzEncoder::new(&mut tgz, flate2::Compression::default());
        let mut t = tar::Builder::new(enc);
        for (name, body) in [("proj/a.py", "A = 1\n"), ("proj/sub/b.py", "B = 2\n")] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            t.append_data(&mut h, name, body.as_bytes()).unwrap();
        }
        t.into_inner().unwrap().finish().unwrap();
    }
    fx.put("ray-jobs", "proj.tar.gz", tgz);
    let e = obs_env(&fx);
    unpack(&e, "obs://ray-jobs/proj.tar.gz", "tgz").ok();
    assert_eq!(tree(&e.out("tgz")), ["a.py", "sub/", "sub/b.py"]);
}

#[test]
fn transient_faults_are_retried_and_a_cut_body_is_resumed() {
    use obs_server::{Fault, FaultRule};
    let fx = ObsFixture::start();
    let zip = archives::sample_package("r");
    fx.put("ray-jobs", "r.zip", zip.clone());
    fx.server.set_fault(FaultRule::new("ray-jobs", "r.zip", Fault::SlowDown { retry_after_secs: Some(1) }).times(1)).unwrap();
    fx.server.set_fault(FaultRule::new("ray-jobs", "r.zip", Fault::Reset { after_bytes: 600 }).times(1)).unwrap();
    let e = obs_env(&fx);
    let v = unpack(&e, "obs://ray-jobs/r.zip", "pkg").ok();
    // The SlowDown is counted as throttling, the cut body as a retry.
    assert_eq!(v["throttled"], 1, "{v:#}");
    assert!(v["retries"].as_u64().unwrap() >= 1, "{v:#}");
    let ranged: Vec<_> = fx.server.requests().into_iter().filter(|r| r.range.is_some()).collect();
    assert!(!ranged.is_empty(), "the cut body was resumed with a Range request");
    assert_eq!(tree(&e.out("pkg")).len(), 6);
}

/// Every file's path, kind, mode bits we keep, and contents.
fn snapshot(root: &std::path::Path) -> Vec<(String, u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    tree(root)
        .into_iter()
        .map(|rel| {
            let p = root.join(rel.trim_end_matches(['/', '@']));
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let body = if meta.is_file() { std::fs::read(&p).unwrap() } else if meta.is_symlink() { std::fs::read_link(&p).unwrap().into_os_string().into_encoded_bytes() } else { Vec::new() };
            (rel, meta.permissions().mode() & 0o111, body)
        })
        .collect()
}

#[test]
fn a_large_zip_is_split_among_instances_into_the_same_tree() {
    let fx = ObsFixture::start();
    let zip = archives::large_package("big");
    assert!(zip.len() > 16 << 20, "the package must be large enough to split: {}", zip.len());
    fx.put("ray-jobs", "big.zip", zip.clone());
    let e = obs_env(&fx);
    let uri = "obs://ray-jobs/big.zip";
    let run = |dest: &str, parts: &str| e.run(&["download-and-unpack", uri, e.out(dest).to_str().unwrap(), "--json", "--parts", parts]).ok();
    let one = run("one", "1");
    assert_eq!((one["parts"].as_u64(), one["split"].as_bool()), (Some(1), Some(false)), "{one:#}");
    // The tail (the last 4 MiB) first, then the body up to where the tail begins: no byte twice.
    assert_eq!(one["bytes_downloaded"].as_u64(), Some(zip.len() as u64), "{one:#}");
    let want = snapshot(&e.out("one"));
    assert!(want.iter().any(|(p, _, _)| p == "latest.bin@") && want.iter().any(|(p, x, _)| p == "bin/run.sh" && *x != 0));
    for n in [2u64, 3] {
        let dest = format!("parts-{n}");
        let v = run(&dest, &n.to_string());
        assert_eq!((v["parts"].as_u64(), v["split"].as_bool()), (Some(n), Some(true)), "{v:#}");
        assert_eq!(v["verified"], "zip-crc32");
        for field in ["files", "directories", "bytes_written", "entries"] {
            assert_eq!(v[field], one[field], "{field} with {n} parts");
        }
        let downloaded = v["bytes_downloaded"].as_u64().unwrap();
        assert!(downloaded < zip.len() as u64 + (6 << 20), "{n} parts fetched {downloaded} bytes of a {}-byte object", zip.len());
        assert!(snapshot(&e.out(&dest)) == want, "{n} parts made a different tree");
    }
    assert_eq!(listing(&e.path("out")), ["one", "parts-2", "parts-3"], "no staging left behind");
}

#[test]
fn a_small_package_is_not_split() {
    let fx = ObsFixture::start();
    let small = archives::sample_package("small");
    let small_len = small.len() as u64;
    fx.put("ray-jobs", "small.zip", small);
    let e = obs_env(&fx);
    let v = e.run(&["download-and-unpack", "obs://ray-jobs/small.zip", e.out("s").to_str().unwrap(), "--json", "--parts", "4"]).ok();
    assert_eq!((v["parts"].as_u64(), v["split"].as_bool()), (Some(4), Some(false)), "{v:#}");
    assert_eq!(v["verified"], "md5-etag");
    assert_eq!(v["files"], 4);
    // The idle parts fetch only the end of the object (one request each, at most 256 KiB: had
    // it been split, their central directory), to see the package is too small to split.
    let tail = small_len.min(256 << 10);
    assert_eq!(v["bytes_downloaded"].as_u64().unwrap(), small_len + 3 * tail, "{v:#}");
    assert_eq!(tree(&e.out("s")), ["bin/", "bin/run.sh", "data/", "data/blob.bin", "helper.py", "main.py"]);
}

#[test]
fn parts_resume_cut_connections_and_a_refusal_publishes_nothing() {
    use obs_server::{Fault, FaultRule};
    let fx = ObsFixture::start();
    fx.put("ray-jobs", "big.zip", archives::large_package("big"));
    let e = obs_env(&fx);
    let uri = "obs://ray-jobs/big.zip";
    let run = |dest: &str| e.run(&["download-and-unpack", uri, e.out(dest).to_str().unwrap(), "--json", "--parts", "2"]);
    let want = {
        run("clean").ok();
        snapshot(&e.out("clean"))
    };

    // Cut connections, whichever part's requests they hit, are resumed within that part.
    fx.server.set_fault(FaultRule::new("ray-jobs", "big.zip", Fault::Reset { after_bytes: 512 << 10 }).times(5)).unwrap();
    let v = run("cut").ok();
    assert_eq!(v["split"], true, "{v:#}");
    assert!(v["retries"].as_u64().unwrap() >= 1, "{v:#}");
    assert!(snapshot(&e.out("cut")) == want, "a resumed part made a different tree");

    // A refusal of any one request fails the whole call: the other part is stopped and
    // nothing, not even staging, is left beside DEST.
    fx.server.set_fault(
        FaultRule::new("ray-jobs", "big.zip", Fault::Error { status: 403, code: "AccessDenied".into(), message: None, retry_after_secs: None }).times(1),
    )
    .unwrap();
    let err = run("refused").err();
    assert_eq!(err["kind"], "access-denied", "{err:#}");
    assert_eq!(err["store_code"], "AccessDenied");
    assert_eq!(listing(&e.path("out")), ["clean", "cut"], "nothing published or left behind");
}
