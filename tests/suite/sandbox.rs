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

/// Runs an attack that never returns to the host and checks the host's watchdog ended it
/// (plugin code has no deadline checks compiled in); `attack` checks nothing was left.
fn ended_by_the_watchdog(uri: &str) {
    let e = hostile_env();
    let err = attack(&e, uri);
    assert_eq!(err["kind"], "sandbox");
    assert!(err["message"].as_str().unwrap().contains("3s deadline during download-and-unpack; it was still running its own code"), "{err:#}");
}

#[test]
fn a_spinning_plugin_is_interrupted_at_the_deadline() {
    ended_by_the_watchdog("hostile://spin.zip");
}

#[test]
fn a_plugin_spinning_after_writing_is_stopped_at_the_deadline_and_its_staging_removed() {
    ended_by_the_watchdog("hostile://write-spin.zip");
}

#[test]
fn a_plugin_stuck_during_an_upload_is_ended_and_the_upload_it_leaves_open_named() {
    let e = hostile_env();
    let file = e.path("big.bin");
    std::fs::write(&file, vec![7u8; 3 << 20]).unwrap();
    let err = e.run(&["upload", file.to_str().unwrap(), "hostile://spin-part/big.bin", "--json"]).err();
    assert_eq!(err["kind"], "sandbox");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("3s deadline during upload; it was still running its own code"), "{msg}");
    assert!(msg.contains("the multipart upload hostile-upload of hostile://spin-part/big.bin was left open"), "{msg}");
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
    // The host's own audit, not the plugin giving up: it walks the tree whenever the
    // call asked for a link.
    assert!(msg.contains("plugin produced a symlink that leaves the package"), "{msg}");
}

#[test]
fn executable_paths_from_the_plugin_are_checked() {
    let e = hostile_env();
    let err = attack(&e, "hostile://bad-executable.zip");
    assert_eq!(err["kind"], "sandbox");
    assert!(err["message"].as_str().unwrap().contains("invalid executable path"), "{err:#}");
}

/// The hostile plugin under small write limits it is told about and ignores.
fn limited_env() -> Env {
    let mut e = env();
    e.install(wasm::HOSTILE, "hostile.wasm");
    e.install(wasm::FIXTURE, "fixture.wasm");
    e.write_config(
        "[limits]\nmemory-mib = 64\ntimeout-secs = 30\nmax-unpacked-bytes = 1048576\nmax-download-bytes = 1048576\nmax-entries = 100\nmax-path-depth = 10\n",
    );
    e
}

fn limit_exceeded(e: &Env, uri: &str, limit: &str) -> String {
    let err = attack(e, uri);
    let msg = err["message"].as_str().unwrap().to_string();
    assert_eq!(err["kind"], "limit-exceeded", "{uri}: {err:#}");
    assert!(msg.contains(limit) && msg.contains("nothing was published"), "{uri}: {msg}");
    msg
}

fn published(e: &Env, uri: &str) -> std::path::PathBuf {
    let dest = e.out("within");
    e.run(&["download-and-unpack", uri, dest.to_str().unwrap(), "--json"]).ok();
    dest
}

#[test]
fn bytes_past_the_limit_stop_the_plugin_and_nothing_is_published() {
    let e = limited_env();
    let msg = limit_exceeded(&e, "hostile://write-big/64.zip", "max-unpacked-bytes");
    assert!(msg.contains("big.bin") && msg.contains("limit 1048576"), "{msg}");
    // A tree of exactly the size the limit names is fine.
    let dest = published(&e, "hostile://write-big/1.zip");
    assert_eq!(std::fs::metadata(dest.join("big.bin")).unwrap().len(), 1 << 20);
}

#[test]
fn a_sparse_file_counts_at_its_size() {
    let e = limited_env();
    limit_exceeded(&e, "hostile://sparse.zip", "max-unpacked-bytes");
    limit_exceeded(&e, "hostile://seek-write.zip", "max-unpacked-bytes");
}

#[test]
fn entries_past_the_limit_stop_the_plugin() {
    let e = limited_env();
    let msg = limit_exceeded(&e, "hostile://many-files/20000.zip", "max-entries");
    assert!(msg.contains("entry 101 of 100"), "{msg}");
    let dest = published(&e, "hostile://many-files/100.zip");
    assert_eq!(std::fs::read_dir(dest).unwrap().count(), 100);
}

#[test]
fn depth_past_the_limit_stops_the_plugin() {
    let e = limited_env();
    limit_exceeded(&e, "hostile://deep/11.zip", "max-path-depth");
    published(&e, "hostile://deep/10.zip");
}

#[test]
fn the_scratch_area_is_metered_too() {
    let e = limited_env();
    let msg = limit_exceeded(&e, "hostile://write-scratch/2.zip", "max-download-bytes");
    assert!(msg.contains("scratch"), "{msg}");
}

#[test]
fn a_huge_error_message_is_cut_and_stays_escaped() {
    let e = hostile_env();
    let dest = e.out("pkg");
    let r = e.run(&["download-and-unpack", "hostile://big-error/20.zip", dest.to_str().unwrap(), "--json"]);
    assert!(r.stdout.len() < 1 << 20, "--json printed {} bytes", r.stdout.len());
    assert!(r.stderr.len() < 1 << 20, "stderr got {} bytes", r.stderr.len());
    let msg = r.err()["message"].as_str().unwrap().to_string();
    assert!(msg.starts_with("\\u{1b}[2JEEEE"), "{}", &msg[..40]);
    assert!(msg.ends_with("more bytes cut]"), "{}", &msg[msg.len() - 60..]);
    // Without --json too.
    let r = e.run(&["download-and-unpack", "hostile://big-error/20.zip", dest.to_str().unwrap()]);
    assert!(r.stdout.len() + r.stderr.len() < 1 << 20, "printed {} bytes", r.stdout.len() + r.stderr.len());
}

#[test]
fn a_log_flood_is_cut_with_one_line_that_says_so() {
    let mut e = hostile_env();
    // 100,000 host calls take about a second in a debug build, several on a loaded
    // machine; this test is about the cut, not the deadline.
    e.write_config("[limits]\nmemory-mib = 64\ntimeout-secs = 60\n");
    let dest = e.out("pkg");
    let r = e.run(&["download-and-unpack", "hostile://log-flood/100000.zip", dest.to_str().unwrap(), "--json"]);
    assert!(r.stderr.len() < 1 << 20, "stderr got {} bytes", r.stderr.len());
    let cut: Vec<&str> = r.stderr.lines().filter(|l| l.contains("log lines") && l.contains("dropped")).collect();
    assert_eq!(cut.len(), 1, "{}", &r.stderr[r.stderr.len().saturating_sub(2000)..]);
    assert!(cut[0].contains("max-log-lines = 1000"), "{}", cut[0]);
    assert_eq!(r.err()["message"], "stopped: logged 100000 lines");
}

#[test]
fn a_progress_flood_is_bounded() {
    let mut e = hostile_env();
    e.write_config("[limits]\ntimeout-secs = 60\n[output]\nmax-progress-reports = 1000\n");
    let dest = e.out("pkg");
    let r = e.run(&["download-and-unpack", "hostile://progress-flood/200000.zip", dest.to_str().unwrap(), "--json"]);
    assert!(r.stderr.contains("199000 progress reports dropped past max-progress-reports = 1000"), "{}", r.stderr);
    assert_eq!(r.err()["message"], "stopped: reported progress 200000 times");
}

/// The hostile plugin with the recorder's address granted by the operator, so only the
/// method rules stand between it and the recorder.
fn hostile_env_reaching(recorder: &scheme_host_tests::recorder::Recorder) -> Env {
    let mut e = hostile_env();
    e.write_config(&format!(
        "[limits]\nmemory-mib = 64\ntimeout-secs = 3\n[plugins.hostile]\nextra-allow-hosts = [\"{}\"]\n",
        recorder.authority
    ));
    e
}

#[test]
fn a_download_call_can_only_read() {
    let recorder = scheme_host_tests::recorder::Recorder::start();
    let e = hostile_env_reaching(&recorder);
    let a = &recorder.authority;
    // A read reaches the store: the grant is in place, only the method is judged.
    let err = attack(&e, &format!("hostile://send/{a}/GET/send/pkg.zip"));
    assert_eq!(err["message"], "stopped: a read reached the server: 403");
    assert_eq!(recorder.seen(), ["GET /send/pkg"]);
    for method in ["PUT", "POST", "DELETE"] {
        let err = attack(&e, &format!("hostile://send/{a}/{method}/send/pkg.zip"));
        let msg = err["message"].as_str().unwrap();
        assert!(msg.starts_with("stopped:"), "{msg}");
        assert!(msg.contains(&format!("refused requests of plugin hostile: {method} is not allowed in a read-only call")), "{msg}");
    }
    assert_eq!(recorder.seen(), ["GET /send/pkg"], "a write left a download call");
}

#[test]
fn an_upload_call_writes_only_to_its_own_bucket() {
    let recorder = scheme_host_tests::recorder::Recorder::start();
    let e = hostile_env_reaching(&recorder);
    let a = &recorder.authority;
    let file = e.path("pkg.whl");
    std::fs::write(&file, b"wheel bytes").unwrap();
    let f = file.to_str().unwrap();

    // The URI's bucket is `send`: a PUT there goes out.
    let ok = e.run(&["upload", f, &format!("hostile://send/{a}/PUT/send/pkg.whl"), "--json"]).ok();
    assert_eq!(ok["etag"], "reached 403", "{ok:#}");
    // Another bucket, or a method no call may send: refused before it leaves the host.
    for (method, path) in [("PUT", "other/pkg.whl"), ("DELETE", "other/pkg.whl"), ("DELETE", "sendx/pkg.whl"), ("PATCH", "send/pkg.whl")] {
        let err = e.run(&["upload", f, &format!("hostile://send/{a}/{method}/{path}"), "--json"]).err();
        let msg = err["message"].as_str().unwrap();
        assert!(msg.starts_with("stopped:") && msg.contains("refused requests of plugin hostile"), "{method} {path}: {msg}");
    }
    // `stat` is a read even inside an upload command.
    let dir = e.path("job");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("main.py"), b"print(1)\n").unwrap();
    let err = e.run(&["pack-and-upload", dir.to_str().unwrap(), &format!("hostile://send/{a}/DELETE/send"), "--json"]).err();
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("DELETE is not allowed in a read-only call"), "{msg}");
    assert_eq!(recorder.seen(), ["PUT /send/pkg.whl"]);
}
