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
    assert_eq!(fixture["contract_version"], "0.1.3");
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
    assert!(msg.contains("scheme-host:storage-scheme@0.2.0") && msg.contains("0.1.3"), "{msg}");
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

/// `wasm` followed by a custom section that brings it to exactly `size` bytes: the same
/// valid component, different bytes. None when no section fits exactly.
fn padded_to(wasm: &[u8], size: usize, fill: u8) -> Option<Vec<u8>> {
    fn leb(mut v: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"padding";
    let room = size.checked_sub(wasm.len())?;
    // Section id, then the content's length, then the content: the name and the filler.
    let content = (0..room).find(|&c| 1 + leb(c).len() + c == room)?;
    let filler = content.checked_sub(leb(name.len()).len() + name.len())?;
    let mut out = wasm.to_vec();
    out.push(0);
    out.extend(leb(content));
    out.extend(leb(name.len()));
    out.extend(name);
    out.extend(std::iter::repeat_n(fill, filler));
    assert_eq!(out.len(), size);
    Some(out)
}

/// Two different plugins, as files of exactly the same size.
fn same_size(a: &str, b: &str) -> (Vec<u8>, Vec<u8>) {
    let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    let mut size = a.len().max(b.len()) + 32;
    loop {
        if let (Some(pa), Some(pb)) = (padded_to(&a, size, b'a'), padded_to(&b, size, b'b')) {
            return (pa, pb);
        }
        size += 1;
    }
}

/// Overwrites `path` in place (same inode, no truncation) and puts its mtime back, so only
/// its ctime tells that it changed.
fn rewrite_in_place_keeping_mtime(path: &std::path::Path, offset: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    use std::os::unix::fs::MetadataExt;
    let before = std::fs::metadata(path).unwrap();
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
    f.set_modified(before.modified().unwrap()).unwrap();
    drop(f);
    let after = std::fs::metadata(path).unwrap();
    assert_eq!((after.dev(), after.ino(), after.size()), (before.dev(), before.ino(), before.size()));
    assert_eq!(after.modified().unwrap(), before.modified().unwrap());
    assert_ne!((after.ctime(), after.ctime_nsec()), (before.ctime(), before.ctime_nsec()), "the rewrite must move ctime");
}

/// The cache entry files (`.json`) that record `path` as a plugin they were built from.
fn entries_naming(e: &scheme_host_tests::Env, path: &std::path::Path) -> usize {
    let path = std::fs::canonicalize(path).unwrap();
    let needle = serde_json::to_string(path.to_str().unwrap()).unwrap();
    listing(&e.cache()).iter().filter(|n| n.ends_with(".json")).filter(|n| std::fs::read_to_string(e.cache().join(n)).unwrap().contains(&needle)).count()
}

#[test]
fn a_plugin_rewritten_in_place_with_its_size_and_mtime_kept_is_seen_as_a_new_plugin() {
    let e = env();
    let (fixture, hostile) = same_size(wasm::FIXTURE, wasm::HOSTILE);
    let plugin = e.plugins().join("plugin.wasm");
    std::fs::write(&plugin, &fixture).unwrap();
    // The host records a plugin's stamp only once its ctime is a second old (timestamps
    // are coarse); wait, so that the rewrite below is up against a recorded stamp.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let v = e.run(&["schemes", "--json"]).ok();
    assert_eq!(v["plugins"][0]["name"], "fixture", "{v:#}");
    assert_eq!(v["plugins"][0]["cache"], "miss");
    assert_eq!(entries_naming(&e, &plugin), 1, "the plugin's stamp was recorded");
    let v = e.run(&["schemes", "--json"]).ok();
    assert_eq!(v["plugins"][0]["name"], "fixture");
    assert_eq!(v["plugins"][0]["cache"], "hit");

    // Another plugin, same inode, same size, same mtime: only ctime moved.
    rewrite_in_place_keeping_mtime(&plugin, 0, &hostile);
    let v = e.run(&["schemes", "--json"]).ok();
    let plugins = v["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), 1, "{v:#}");
    assert_eq!(plugins[0]["name"], "hostile", "a stale stamp served the old plugin: {v:#}");
    assert_eq!(plugins[0]["cache"], "miss");
    let err = e.run(&["download-and-unpack", "fixture://x.zip", e.out("x").to_str().unwrap(), "--json"]).err();
    assert!(err["message"].as_str().unwrap().contains("no plugin"), "{err:#}");
    assert_eq!(listing(&e.cache()).iter().filter(|n| n.ends_with(".cwasm")).count(), 2);
}

#[test]
fn an_artifact_altered_in_place_with_its_size_and_mtime_kept_is_rebuilt() {
    let e = env();
    e.install(wasm::FIXTURE, "fixture.wasm");
    let v = e.run(&["download-and-unpack", "fixture://a.zip", e.out("a").to_str().unwrap(), "--json"]).ok();
    assert_eq!(v["plugin"]["cache"], "miss");
    // Warm: the artifact is taken on its stamp.
    let v = e.run(&["download-and-unpack", "fixture://b.zip", e.out("b").to_str().unwrap(), "--json"]).ok();
    assert_eq!(v["plugin"]["cache"], "hit");
    let artifact = e.cache().join(listing(&e.cache()).into_iter().find(|n| n.ends_with(".cwasm")).unwrap());
    let mid = std::fs::metadata(&artifact).unwrap().len() / 2;
    // Flip one byte in the middle of the native code.
    let original = std::fs::read(&artifact).unwrap()[mid as usize];
    rewrite_in_place_keeping_mtime(&artifact, mid, &[original ^ 0x55]);
    let v = e.run(&["download-and-unpack", "fixture://c.zip", e.out("c").to_str().unwrap(), "--json"]).ok();
    assert_eq!(v["plugin"]["cache"], "rebuilt", "an altered artifact was used: {v:#}");
    assert!(v["plugin"]["compile_ms"].is_u64());
    let v = e.run(&["download-and-unpack", "fixture://d.zip", e.out("d").to_str().unwrap(), "--json"]).ok();
    assert_eq!(v["plugin"]["cache"], "hit");
    assert_eq!(listing(&e.cache()).len(), 2, "one artifact and its manifest");
}

#[test]
fn cache_entries_without_stamps_are_hashed_then_stamped() {
    let e = env();
    e.install(wasm::FIXTURE, "fixture.wasm");
    e.run(&["download-and-unpack", "fixture://a.zip", e.out("a").to_str().unwrap(), "--json"]).ok();
    // An entry as a host without stamps wrote it.
    let meta_name = listing(&e.cache()).into_iter().find(|n| n.ends_with(".json")).unwrap();
    let meta_path = e.cache().join(&meta_name);
    let mut meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    let fields = meta.as_object_mut().unwrap();
    assert!(fields.remove("artifact_stamp").is_some(), "{meta_name} records the artifact's stamp");
    fields.remove("sources");
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
    // Old enough that the host may record what it verifies.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let v = e.run(&["download-and-unpack", "fixture://b.zip", e.out("b").to_str().unwrap(), "--json"]).ok();
    assert_eq!(v["plugin"]["cache"], "hit", "{v:#}");
    assert!(v["plugin"]["compile_ms"].is_null());
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    assert!(meta["artifact_stamp"].is_object(), "the verified artifact was stamped: {meta:#}");
    assert_eq!(entries_naming(&e, &e.plugins().join("fixture.wasm")), 1);
    let v = e.run(&["download-and-unpack", "fixture://c.zip", e.out("c").to_str().unwrap(), "--json"]).ok();
    assert_eq!(v["plugin"]["cache"], "hit");
}

#[test]
fn a_plugin_built_against_contract_0_1_0_still_runs() {
    let e = env();
    e.install(wasm::LEGACY, "fixture.wasm");
    let v = e.run(&["schemes", "--json"]).ok();
    assert_eq!(v["plugins"][0]["contract_version"], "0.1.0", "{v:#}");
    let dest = e.out("pkg");
    // It has no `parts` export: however many parts are asked for, one instance does it all.
    let v = e.run(&["download-and-unpack", "fixture://demo.zip", dest.to_str().unwrap(), "--json", "--parts", "4"]).ok();
    assert_eq!((v["parts"].as_u64(), v["split"].as_bool(), v["files"].as_u64()), (Some(1), Some(false), Some(3)), "{v:#}");
    assert_eq!(tree(&dest), ["README.txt", "bin/", "bin/run.sh", "sub/", "sub/data.txt"]);

    // Nor the `upload` export (0.1.3): asked to upload, the host says so before any I/O.
    let file = e.path("job.zip");
    std::fs::write(&file, b"PK").unwrap();
    let err = e.run(&["upload", file.to_str().unwrap(), "fixture://up.zip", "--json"]).err();
    assert_eq!(err["kind"], "unsupported", "{err:#}");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("contract 0.1.0") && msg.contains("cannot upload") && msg.contains("0.1.3"), "{msg}");
}
