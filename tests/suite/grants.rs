//! Requested versus granted: a plugin's manifest only asks; what reaches another system's
//! secrets or internal services needs `scheme-host trust`, bound to the plugin file.
//! Nothing here connects to a link-local or private address: those are checked by the
//! policy's refusal (made before any connection) and by the listing only.

use crate::env;
use scheme_host_tests::{wasm, Env};

fn hostile_env() -> Env {
    let mut e = env();
    e.install(wasm::HOSTILE, "hostile.wasm");
    e.write_config("[limits]\ntimeout-secs = 10\n");
    e
}

/// The hostile attack's error message (no `ESCAPED:` check: after an approval, reading
/// what was approved is the expected outcome).
fn try_attack(e: &Env, uri: &str) -> String {
    let dest = e.out("pkg");
    let r = e.run(&["download-and-unpack", uri, dest.to_str().unwrap(), "--json"]);
    r.err()["message"].as_str().unwrap().to_string()
}

fn hostile_listing(e: &Env) -> serde_json::Value {
    let v = e.run(&["schemes", "--json"]).ok();
    v["plugins"].as_array().unwrap().iter().find(|p| p["name"] == "hostile").cloned().unwrap_or_else(|| panic!("{v:#}"))
}

/// The same plugin as a different file: a custom section appended to the component.
fn another_file_of(wasm: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(wasm).unwrap();
    let payload = [b"\x05extra".as_slice(), &[b'x'; 16]].concat();
    bytes.push(0x00);
    bytes.push(payload.len() as u8);
    bytes.extend(payload);
    bytes
}

const ASKS: [&str; 5] = ["127.0.0.1:8265", "169.254.169.254:80", "10.0.0.1:80", "/etc/shadow", "/etc/passwd"];

#[test]
fn nothing_that_needs_approval_is_granted_by_default() {
    let e = hostile_env();
    let p = hostile_listing(&e);
    assert_eq!(p["approval"], "missing", "{p:#}");
    assert_eq!(p["granted"]["network_hosts"], serde_json::json!(["allowed.invalid"]), "{p:#}");
    assert_eq!(p["granted"]["config_files"], serde_json::json!([]), "{p:#}");
    let granted = p["granted"].to_string();
    let withheld = p["withheld"].to_string();
    for ask in ASKS {
        assert!(p["requested"].to_string().contains(ask), "{ask} not listed as requested: {p:#}");
        assert!(!granted.contains(ask), "{ask} granted without approval: {p:#}");
        assert!(withheld.contains(ask), "{ask} not listed as withheld: {p:#}");
    }
    for id in ["shadow", "passwd"] {
        assert_eq!(try_attack(&e, &format!("hostile://config/{id}.zip")), format!("stopped: config file {id} was not handed over"));
    }
    // Refused by policy before any connection is made.
    for authority in ["127.0.0.1:8265", "169.254.169.254:80", "10.0.0.1:80"] {
        let msg = try_attack(&e, &format!("hostile://connect/{authority}.zip"));
        assert!(msg.contains(&format!("denied connections to {authority}")) && msg.contains("scheme-host trust hostile"), "{msg}");
    }
}

#[test]
fn trust_grants_what_the_plugin_asks_for() {
    let e = hostile_env();
    let t = e.run(&["trust", "hostile", "--json"]).ok();
    let approved = t["approved"].to_string();
    for ask in ASKS {
        assert!(approved.contains(ask), "{ask} not approved: {t:#}");
    }
    let config = std::fs::read_to_string(e.path("config.toml")).unwrap();
    assert!(config.contains("[limits]") && config.contains("[approvals.hostile]"), "the operator's config is kept: {config}");
    let p = hostile_listing(&e);
    assert_eq!(p["approval"], "approved", "{p:#}");
    assert_eq!(p["withheld"], serde_json::json!([]), "{p:#}");
    let granted = p["granted"].to_string();
    for ask in ASKS {
        assert!(granted.contains(ask), "{ask} not granted after trust: {p:#}");
    }
    let passwd = std::fs::read("/etc/passwd").unwrap().len().min(1 << 20);
    assert_eq!(try_attack(&e, "hostile://config/passwd.zip"), format!("ESCAPED: read config file passwd ({passwd} bytes)"));
    // Granted now; whether the host may read it is the operating system's business.
    let shadow = try_attack(&e, "hostile://config/shadow.zip");
    match std::fs::read("/etc/shadow") {
        Ok(b) => assert_eq!(shadow, format!("ESCAPED: read config file shadow ({} bytes)", b.len().min(1 << 20))),
        Err(_) => assert_eq!(shadow, "stopped: config file shadow was not handed over"),
    }
    // Loopback only: reaching it (or being refused by whatever is not listening there) is
    // not a policy denial any more.
    let msg = try_attack(&e, "hostile://connect/127.0.0.1:8265.zip");
    assert!(!msg.contains("denied connections"), "{msg}");
}

#[test]
fn a_replaced_plugin_that_asks_for_more_is_refused_until_trusted_again() {
    let e = hostile_env();
    e.run(&["trust", "hostile", "--json"]).ok();
    let plugin = e.plugins().join("hostile.wasm");
    std::fs::write(&plugin, another_file_of(wasm::HOSTILE)).unwrap();
    let r = e.run(&["download-and-unpack", "hostile://config/passwd.zip", e.out("pkg").to_str().unwrap(), "--json"]);
    let err = r.err();
    let msg = err["message"].as_str().unwrap();
    assert_eq!(err["kind"], "plugin", "{err:#}");
    assert!(msg.contains("is not the file that was approved") && msg.contains("scheme-host trust hostile") && msg.contains("/etc/shadow"), "{msg}");
    let v = e.run(&["schemes", "--json"]).ok();
    assert!(v["broken"].to_string().contains("not the file that was approved"), "{v:#}");
    e.run(&["trust", "hostile", "--json"]).ok();
    assert!(try_attack(&e, "hostile://config/passwd.zip").starts_with("ESCAPED: read config file passwd"));
}

/// The layout `cargo xtask dist` makes: `bin/scheme-host`, `plugins/obs.wasm` and the
/// shipped approvals in `share/scheme-host/approvals.toml`.
fn shipped_layout() -> (tempfile::TempDir, Env) {
    let dist = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dist.path().join("bin")).unwrap();
    std::fs::create_dir_all(dist.path().join("share/scheme-host")).unwrap();
    let bin = dist.path().join("bin/scheme-host");
    std::fs::copy(crate::BIN, &bin).unwrap();
    let e = Env::new(&bin);
    e.install(wasm::OBS, "obs.wasm");
    let shipped = dist.path().join("share/scheme-host/approvals.toml");
    e.run(&["--config", shipped.to_str().unwrap(), "trust", "obs", "--json"]).ok();
    (dist, e)
}

#[test]
fn the_shipped_obs_plugin_needs_no_operator_step_and_a_replacement_does() {
    let (_dist, e) = shipped_layout();
    assert!(!e.home().join(".config/scheme-host").exists() && !e.path("config.toml").exists());
    let v = e.run(&["schemes", "--json"]).ok();
    let obs = &v["plugins"][0];
    assert_eq!(obs["approval"], "approved", "{v:#}");
    assert!(obs["granted"]["network_hosts"].to_string().contains("169.254.169.254"), "ECS metadata is granted: {v:#}");
    let r = e.run(&["parse-uri", "obs://bucket/pkg.zip", "--json"]);
    assert!(!r.stderr.contains("withheld"), "{}", r.stderr);
    r.ok();
    std::fs::write(e.plugins().join("obs.wasm"), another_file_of(wasm::OBS)).unwrap();
    let err = e.run(&["parse-uri", "obs://bucket/pkg.zip", "--json"]).err();
    assert!(err["message"].as_str().unwrap().contains("scheme-host trust obs"), "{err:#}");
}
