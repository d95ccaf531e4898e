//! Discovery by scheme, the precompile cache, hot replacement and contract versioning.

use crate::env;
use scheme_host_tests::{listing, tree, wasm};

#[test]
fn discovers_plugins_by_declared_scheme() {
    let e = env();
    e.install(wasm::FIXTURE, "whatever-name.wasm");
    e.install(wasm::HOSTILE, "hostile.wasm");
    let v = e.run(&["schemes", "--json"]).ok();
    let plugins = v["plugins"].as_array().unwrap();
    let schemes: Vec<&str> = plugins.iter().map(|p| p["schemes"][0].as_str().unwrap()).collect();
    // Plugins are listed in file-name order; the name of the file does not matter.
    assert_eq!(schemes, ["hostile", "fixture"]);
    let fixture = plugins.iter().find(|p| p["name"] == "fixture").unwrap();
    assert_eq!(fixture["contract_version"], "0.1.0");
    assert!(fixture["path"].as_str().unwrap().ends_with("whatever-name.wasm"));
}

#[test]
fn unpacks_a_second_scheme_with_ray_semantics() {
    let e = env();
    e.install(wasm::FIXTURE, "fixture.wasm");
    let dest = e.out("pkg");
    let v = e.run(&["download-and-unpack", "fixture://demo.zip", dest.to_str().unwrap(), "--json"]).ok();
    assert_eq!(v["reused"], false);
    assert_eq!(v["files"], 3);
    assert_eq!(v["plugin"]["name"], "fixture");
    // One top-level directory (`demo/`) stripped, as Ray does.
    assert_eq!(tree(&dest), ["README.txt", "bin/", "bin/run.sh", "sub/", "sub/data.txt"]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dest.join("bin/run.sh")).unwrap().permissions().mode();
    assert_ne!(mode & 0o111, 0, "executable bit applied by the host");
    assert_eq!(std::fs::metadata(dest.join("README.txt")).unwrap().permissions().mode() & 0o111, 0);
    // Nothing beside DEST: no lock, no staging.
    assert_eq!(listing(&e.path("out")), ["pkg"]);
    // A second call reuses the complete directory, like Ray.
    let v = e.run(&["download-and-unpack", "fixture://demo.zip", dest.to_str().unwrap(), "--json"]).ok();
    assert_eq!(v["reused"], true);
    let v = e.run(&["parse-uri", "fixture://demo.zip", "--json"]).ok();
    assert_eq!(v["package_name"].as_str().unwrap().len(), "fixture_".len() + 40 + ".zip".len());
    assert_eq!(v["format"], "zip");
}

#[test]
fn second_call_uses_the_precompile_cache_and_never_compiles() {
    let e = env();
    e.install(wasm::FIXTURE, "fixture.wasm");
    let first = e.run(&["download-and-unpack", "fixture://a.zip", e.out("a").to_str().unwrap(), "--json"]).ok();
    assert_eq!(first["plugin"]["cache"], "miss");
    assert!(first["plugin"]["compile_ms"].is_u64());
    let artifacts: Vec<_> = listing(&e.cache()).into_iter().filter(|n| n.ends_with(".cwasm")).collect();
    assert_eq!(artifacts.len(), 1);
    let artifact = e.cache().join(&artifacts[0]);
    let mtime = std::fs::metadata(&artifact).unwrap().modified().unwrap();
    let second = e.run(&["download-and-unpack", "fixture://b.zip", e.out("b").to_str().unwrap(), "--json"]).ok();
    assert_eq!(second["plugin"]["cache"], "hit");
    assert!(second["plugin"]["compile_ms"].is_null(), "a warm call compiled: {second:#}");
    assert_eq!(std::fs::metadata(&artifact).unwrap().modified().unwrap(), mtime);
    assert_eq!(listing(&e.cache()).len(), 2, "one artifact and its manifest");
}

#[test]
fn corrupt_cache_entries_are_detected_and_rebuilt() {
    let e = env();
    e.install(wasm::FIXTURE, "fixture.wasm");
    e.run(&["schemes", "--json"]).ok();
    let artifact = listing(&e.cache()).into_iter().find(|n| n.ends_with(".cwasm")).unwrap();
    let artifact = e.cache().join(artifact);
    // Flip one byte in the middle of the native code.
    let mut bytes = std::fs::read(&artifact).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&artifact, &bytes).unwrap();
    let v = e.run(&["download-and-unpack", "fixture://c.zip", e.out("c").to_str().unwrap(), "--json"]).ok();
    assert_eq!(v["plugin"]["cache"], "rebuilt");
    let v = e.run(&["download-and-unpack", "fixture://d.zip", e.out("d").to_str().unwrap(), "--json"]).ok();
    assert_eq!(v["plugin"]["cache"], "hit");
    // A manifest that is not JSON is rebuilt too.
    let manifest = listing(&e.cache()).into_iter().find(|n| n.ends_with(".json")).unwrap();
    std::fs::write(e.cache().join(manifest), b"{not json").unwrap();
    let v = e.run(&["download-and-unpack", "fixture://e.zip", e.out("e").to_str().unwrap(), "--json"]).ok();
    assert_eq!(v["plugin"]["cache"], "rebuilt");
}

#[test]
fn replacing_a_plugin_on_disk_takes_effect_on_the_next_call() {
    let e = env();
    e.install(wasm::FIXTURE, "plugin.wasm");
    e.run(&["download-and-unpack", "fixture://x.zip", e.out("x").to_str().unwrap(), "--json"]).ok();
    // Same file name, different plugin: the next call sees the new one without any restart.
    e.install(wasm::HOSTILE, "plugin.wasm");
    let err = e.run(&["download-and-unpack", "fixture://y.zip", e.out("y").to_str().unwrap(), "--json"]).err();
    assert_eq!(err["kind"], "plugin");
    assert!(err["message"].as_str().unwrap().contains("no plugin"), "{err:#}");
    let v = e.run(&["schemes", "--json"]).ok();
    assert_eq!(v["plugins"].as_array().unwrap().len(), 1);
    assert_eq!(v["plugins"][0]["schemes"][0], "hostile");
    // Both builds are cached side by side, keyed by content.
    assert_eq!(listing(&e.cache()).iter().filter(|n| n.ends_with(".cwasm")).count(), 2);
    assert!(!e.out("y").exists());
}

#[test]
fn incompatible_and_invalid_plugins_are_refused_clearly() {
    let e = env();
    e.install(wasm::FIXTURE, "fixture.wasm");
    e.install(wasm::FUTURE, "future.wasm");
    std::fs::write(e.plugins().join("junk.wasm"), b"\0asm\x01\0\0\0garbage").unwrap();
    let v = e.run(&["schemes", "--json"]).ok();
    assert_eq!(v["plugins"].as_array().unwrap().len(), 1, "{v:#}");
    let broken = v["broken"].as_array().unwrap();
    assert_eq!(broken.len(), 2);
    let future = broken.iter().find(|b| b["path"].as_str().unwrap().ends_with("future.wasm")).unwrap();
    let msg = future["error"].as_str().unwrap();
    assert!(msg.contains("scheme-host:storage-scheme@0.2.0") && msg.contains("0.1.0"), "{msg}");
    let junk = broken.iter().find(|b| b["path"].as_str().unwrap().ends_with("junk.wasm")).unwrap();
    assert!(junk["error"].as_str().unwrap().contains("not a valid WebAssembly component"), "{junk:#}");
    // The good plugin keeps working beside the broken ones.
    e.run(&["download-and-unpack", "fixture://ok.zip", e.out("ok").to_str().unwrap(), "--json"]).ok();
    // An unknown scheme names the plugins that could not be loaded.
    let err = e.run(&["download-and-unpack", "future://x.zip", e.out("f").to_str().unwrap(), "--json"]).err();
    assert!(err["message"].as_str().unwrap().contains("0.2.0"), "{err:#}");
    assert_eq!(err["kind"], "plugin");
}

#[test]
fn invalid_uris_and_missing_plugin_dirs_fail_with_typed_errors() {
    let e = env();
    e.install(wasm::FIXTURE, "fixture.wasm");
    let err = e.run(&["download-and-unpack", "not a uri", e.out("z").to_str().unwrap(), "--json"]).err();
    assert_eq!(err["kind"], "invalid-uri");
    let err = e.run(&["download-and-unpack", "fixture://Bad_Name.zip", e.out("z").to_str().unwrap(), "--json"]).err();
    assert_eq!(err["kind"], "invalid-uri");
    let r = e.run(&["download-and-unpack", "fixture://a.zip", e.out("z").to_str().unwrap(), "--json", "--plugin-dir", "/nonexistent/plugins"]);
    assert_eq!(r.err()["kind"], "config");
    assert_eq!(r.status, 2);
    assert!(!e.out("z").exists());
}
