//! A deliberately hostile plugin attacks its sandbox; each attack must be stopped with a
//! clear error, leave nothing behind, and the host must keep working afterwards.

use crate::env;
use scheme_host_tests::{listing, wasm, Env};

fn hostile_env() -> Env {
    let mut e = env();
    e.install(wasm::HOSTILE, "hostile.wasm");
    e.install(wasm::FIXTURE, "fixture.wasm");
    e.write_config("[limits]\nmemory-mib = 64\ntimeout-secs = 3\n");
    e
}

/// Runs one attack; returns its error after checking that nothing escaped, nothing was
/// left beside DEST, and the host still serves a well-behaved plugin.
fn attack(e: &Env, uri: &str) -> serde_json::Value {
    let dest = e.out("pkg");
    let r = e.run(&["download-and-unpack", uri, dest.to_str().unwrap(), "--json"]);
    let err = r.err();
    let msg = err["message"].as_str().unwrap().to_string();
    assert!(!msg.contains("ESCAPED"), "sandbox breached: {msg}");
    assert_eq!(listing(&e.path("out")), Vec::<String>::new(), "left behind after {uri}");
    let ok = e.out("after");
    e.run(&["download-and-unpack", "fixture://after.zip", ok.to_str().unwrap(), "--json"]).ok();
    std::fs::remove_dir_all(ok).unwrap();
    err
}

#[test]
fn cannot_read_outside_its_staging_directory() {
    let e = hostile_env();
    let err = attack(&e, "hostile://read-outside.zip");
    assert!(err["message"].as_str().unwrap().starts_with("stopped:"), "{err:#}");
}

#[test]
fn cannot_write_outside_its_staging_directory() {
    let e = hostile_env();
    let err = attack(&e, "hostile://write-outside.zip");
    assert!(err["message"].as_str().unwrap().starts_with("stopped:"), "{err:#}");
    assert!(!e.path("escaped.txt").exists() && !std::path::Path::new("/tmp/escaped.txt").exists());
}

#[test]
fn sees_only_declared_environment_variables() {
    let mut e = hostile_env();
    e.set("SCHEME_HOST_TEST_SECRET", "do-not-leak").set("HOSTILE_DECLARED", "visible");
    let err = attack(&e, "hostile://env/SCHEME_HOST_TEST_SECRET.zip");
    let msg = err["message"].as_str().unwrap();
    assert_eq!(msg, r#"stopped: environment holds only ["HOSTILE_DECLARED"]"#);
}

#[test]
fn cannot_connect_to_a_host_it_was_not_allowed() {
    let e = hostile_env();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    let err = attack(&e, &format!("hostile://connect/{authority}.zip"));
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains(&format!("denied connections to {authority}")), "{msg}");
    assert!(listener.accept().is_err(), "the plugin reached the listener");
}

#[test]
fn memory_is_capped() {
    let e = hostile_env();
    let err = attack(&e, "hostile://alloc.zip");
    assert_eq!(err["kind"], "sandbox");
    assert!(err["message"].as_str().unwrap().contains("memory limit of 64 MiB"), "{err:#}");
}

#[test]
fn a_spinning_plugin_is_interrupted_at_the_deadline() {
    let e = hostile_env();
    let err = attack(&e, "hostile://spin.zip");
    assert_eq!(err["kind"], "sandbox");
    assert!(err["message"].as_str().unwrap().contains("3s deadline"), "{err:#}");
}

#[test]
fn a_plugin_blocked_in_a_host_call_is_cut_off_at_the_deadline() {
    let e = hostile_env();
    let err = attack(&e, "hostile://sleep.zip");
    assert_eq!(err["kind"], "sandbox");
    assert!(err["message"].as_str().unwrap().contains("3s deadline"), "{err:#}");
}

#[test]
fn symlinks_leaving_the_package_are_never_published() {
    let e = hostile_env();
    let err = attack(&e, "hostile://symlink-out.zip");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("symlink"), "{msg}");
}

#[test]
fn executable_paths_from_the_plugin_are_checked() {
    let e = hostile_env();
    let err = attack(&e, "hostile://bad-executable.zip");
    assert_eq!(err["kind"], "sandbox");
    assert!(err["message"].as_str().unwrap().contains("invalid executable path"), "{err:#}");
}
