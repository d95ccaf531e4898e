//! The `s3://` plugin against the test server's S3 side (Signature V4 checked from the raw
//! request), through an already-built host: a new scheme is a new `.wasm` in the plugin
//! directory, with no rebuild and no restart.

use crate::env;
use scheme_host_tests::obs::{ObsFixture, AK, SK, TOKEN};
use scheme_host_tests::{archives, listing, tree, wasm, Env};

const BUCKET: &str = "ray-jobs";

/// The AWS variables that point the plugin at `fx` (path-style: the endpoint is an IP).
fn aws(e: &mut Env, fx: &ObsFixture) {
    e.set("AWS_ENDPOINT_URL_S3", fx.endpoint())
        .set("AWS_ACCESS_KEY_ID", AK)
        .set("AWS_SECRET_ACCESS_KEY", SK)
        .set("AWS_REGION", "eu-west-1")
        // Deterministic: never consult an instance metadata service from a test.
        .set("AWS_EC2_METADATA_DISABLED", "true");
}

fn names(listing: &serde_json::Value) -> Vec<String> {
    let mut n: Vec<String> = listing["plugins"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect();
    n.sort();
    n
}

#[test]
fn dropping_s3_wasm_into_the_plugin_directory_adds_the_scheme() {
    let fx = ObsFixture::start();
    let zip = archives::sample_package("job");
    fx.put(BUCKET, "jobs/app v1.zip", zip.clone());
    let mut e = env();
    e.install(wasm::OBS, "obs.wasm");
    aws(&mut e, &fx);
    assert_eq!(names(&e.run(&["schemes", "--json"]).ok()), ["obs"]);
    let before = e.run(&["download-and-unpack", "s3://ray-jobs/jobs/app v1.zip", e.out("before").to_str().unwrap(), "--json"]).err();
    assert_eq!(before["kind"], "plugin", "{before:#}");

    // The same host binary, the same cache directory: only the plugin directory changes.
    e.install(wasm::S3, "s3.wasm");
    let listed = e.run(&["schemes", "--json"]).ok();
    assert_eq!(names(&listed), ["obs", "s3"]);
    let s3 = listed["plugins"].as_array().unwrap().iter().find(|p| p["name"] == "s3").unwrap();
    assert_eq!(s3["schemes"], serde_json::json!(["s3"]));
    assert_eq!(s3["contract_version"], "0.1.3");

    let v = e.run(&["download-and-unpack", "s3://ray-jobs/jobs/app v1.zip", e.out("pkg").to_str().unwrap(), "--json"]).ok();
    assert_eq!(v["bytes_downloaded"], zip.len() as u64);
    assert_eq!(tree(&e.out("pkg")), ["bin/", "bin/run.sh", "data/", "data/blob.bin", "helper.py", "main.py"]);
    use std::os::unix::fs::PermissionsExt;
    assert_ne!(std::fs::metadata(e.out("pkg/bin/run.sh")).unwrap().permissions().mode() & 0o100, 0, "executable kept");
    // Every request the plugin sent was S3 Signature V4, checked by the server.
    let requests = fx.server.requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.protocol == obs_server::Protocol::S3), "{requests:#?}");
}

#[test]
fn package_names_are_rays_own() {
    let e = {
        let e = env();
        e.install(wasm::S3, "s3.wasm");
        e
    };
    let zip = e.run(&["parse-uri", "s3://bkt/dir/app.zip", "--json"]).ok();
    // sha1("s3://bkt/dir/app.zip"), as Ray 2.60's parse_uri names it.
    let sha = {
        use std::process::Command;
        let out = Command::new("python3").args(["-c", "import hashlib;print(hashlib.sha1(b's3://bkt/dir/app.zip').hexdigest())"]).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(zip["package_name"], format!("s3_{sha}.zip"));
    let whl = e.run(&["parse-uri", "s3://bkt/wheels/pkg-1.0-py3-none-any.whl", "--json"]).ok();
    assert_eq!(whl["package_name"], "pkg-1.0-py3-none-any.whl", "Ray keeps a wheel's file name: pip needs it");
}

#[test]
fn store_errors_carry_the_s3_code_and_request_id() {
    let fx = ObsFixture::start();
    fx.put(BUCKET, "p.zip", archives::sample_package("p"));
    let mut e = env();
    e.install(wasm::S3, "s3.wasm");
    aws(&mut e, &fx);
    let missing = e.run(&["download-and-unpack", "s3://ray-jobs/nope.zip", e.out("a").to_str().unwrap(), "--json"]).err();
    assert_eq!(missing["kind"], "not-found", "{missing:#}");
    assert_eq!(missing["store_code"], "NoSuchKey");
    assert!(!missing["request_id"].as_str().unwrap_or("").is_empty(), "{missing:#}");

    e.set("AWS_SECRET_ACCESS_KEY", "wrongSecretKeyValue00000000000000000000");
    let wrong = e.run(&["download-and-unpack", "s3://ray-jobs/p.zip", e.out("b").to_str().unwrap(), "--json"]);
    let err = wrong.err();
    assert_eq!(err["store_code"], "SignatureDoesNotMatch", "{err:#}");
    assert_eq!(err["http_status"], 403);
    assert!(!wrong.stdout.contains(SK) && !wrong.stderr.contains(SK) && !wrong.stdout.contains("wrongSecretKeyValue"));
    assert!(listing(&e.path("out")).is_empty(), "nothing left behind");
}

#[test]
fn session_tokens_and_parts_work_through_the_s3_side() {
    const TEMP_AK: &str = "AKSUITETEMPORARY0001";
    const TEMP_SK: &str = "SKsuiteTemporarySecretNeverPrint000001";
    let fx = ObsFixture::with_config(
        obs_server::ServerConfig::default()
            .with_credential(obs_server::Credential::new(TEMP_AK, TEMP_SK).with_token(TOKEN))
            .with_bucket(BUCKET),
    );
    // Large enough to be split among two instances.
    let blob: Vec<u8> = (0..6_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let entries: Vec<_> = (0..40)
        .map(|i| scheme_host_tests::hostile::raw_zip::Entry::stored(&format!("job/part{i:02}.bin"), &blob[i * 150_000..(i + 1) * 150_000]))
        .collect();
    fx.put(BUCKET, "big.zip", scheme_host_tests::hostile::raw_zip::zip(&entries));
    let mut e = env();
    e.install(wasm::S3, "s3.wasm");
    aws(&mut e, &fx);
    e.set("AWS_ACCESS_KEY_ID", TEMP_AK).set("AWS_SECRET_ACCESS_KEY", TEMP_SK);
    // Temporary keys without their token are refused by the server...
    let err = e.run(&["download-and-unpack", "s3://ray-jobs/big.zip", e.out("big").to_str().unwrap(), "--json"]).err();
    assert_eq!(err["http_status"], 403, "{err:#}");
    assert!(listing(&e.path("out")).is_empty());
    // ...and accepted with it, by both parts.
    e.set("AWS_SESSION_TOKEN", TOKEN);
    let run = e.run(&["download-and-unpack", "s3://ray-jobs/big.zip", e.out("big").to_str().unwrap(), "--parts", "2", "--json"]);
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN));
    let v = run.ok();
    assert_eq!(v["files"], 40);
    assert_eq!(v["parts"], 2);
    assert_eq!(v["split"], true);
    assert_eq!(std::fs::read(e.out("big/part07.bin")).unwrap(), &blob[7 * 150_000..8 * 150_000]);
}
