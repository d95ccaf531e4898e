//! The whole-call fuzz target on stable: the saved corpus and regression inputs
//! (tests/fuzz/corpus/plugin_call, tests/fuzz/regressions/plugin_call) and a bounded property
//! test, each through `scheme_host::Host`, the real OBS plugin and a raw TCP server. The
//! check is the fuzz target's own file, included by path.
//!
//! The host hands plugins its own environment, so the harness needs variables set before
//! any thread starts; each test therefore re-runs itself in a child process that has them.

#[path = "../fuzz/src/printable.rs"]
mod printable;

#[path = "../fuzz/src/links.rs"]
mod links;

#[path = "../fuzz/src/saved.rs"]
mod saved;

#[path = "../fuzz/src/plugin_call.rs"]
mod plugin_call;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;

use plugin_call::{required_env, Harness, SEPARATOR};
use scheme_host_tests::proptest::prelude::*;
use scheme_host_tests::proptest::test_runner::{Config, TestRunner};
use scheme_host_tests::wasm;

/// Set in the child: the harness HOME.
const WORKER: &str = "SCHEME_HOST_FUZZ_REPLAY_HOME";

/// Runs `body` with a harness, in a child process of this test binary that has the
/// environment the harness needs.
fn in_worker(test: &str, body: impl FnOnce(&mut Harness)) {
    if let Some(home) = std::env::var_os(WORKER) {
        let mut h = Harness::new(Path::new(wasm::OBS), Path::new(&home));
        body(&mut h);
        return;
    }
    let dir = tempfile::Builder::new().prefix("scheme-host-fuzz-replay").tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(required_env(&home))
        .env(WORKER, &home)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{test} failed in its worker:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the worker did not run {test}:\n{stdout}");
}

fn saved() -> Vec<(PathBuf, Vec<u8>)> {
    saved::saved(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz"), "plugin_call")
}

#[test]
fn plugin_call_corpus_replays() {
    in_worker("fuzz_replay::plugin_call_corpus_replays", |h| {
        let inputs = saved();
        assert!(!inputs.is_empty(), "no saved plugin_call inputs");
        for (path, data) in inputs {
            eprintln!("replaying {}", path.display());
            h.check(&data);
        }
    });
}

/// One answer: arbitrary bytes, or a response line, headers and a body of any shape.
fn answer() -> impl Strategy<Value = Vec<u8>> {
    let status = prop::sample::select(vec![200u16, 206, 301, 302, 307, 400, 403, 404, 412, 416, 429, 500, 502, 503]);
    let header = prop::sample::select(vec![
        "Content-Length: 0",
        "Content-Length: 99999",
        "Content-Length: -1",
        "ETag: \"00000000000000000000000000000000\"",
        "Content-Range: bytes 0-1/2",
        "Location: /ray-jobs/pkg.zip",
        "Location: http://127.0.0.2:1/x.zip",
        "Retry-After: 0",
        "Transfer-Encoding: chunked",
        "x-obs-checksum-crc64ecma: 1",
        "x-obs-request-id: r\u{1b}[2J",
    ]);
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        Just(b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><RequestId>r1</RequestId></Error>".to_vec()),
        Just(b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec()),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..128),
        (status, prop::collection::vec(header, 0..4), body).prop_map(|(status, headers, body)| {
            let mut a = format!("HTTP/1.1 {status} X\r\n").into_bytes();
            for h in headers {
                a.extend_from_slice(h.as_bytes());
                a.extend_from_slice(b"\r\n");
            }
            a.extend_from_slice(b"\r\n");
            a.extend_from_slice(&body);
            a
        }),
    ]
}

#[test]
fn plugin_call_properties() {
    in_worker("fuzz_replay::plugin_call_properties", |h| {
        let h = RefCell::new(h);
        let config = Config { cases: 48, failure_persistence: None, ..Config::default() };
        let strategy = (any::<u8>(), prop::collection::vec(answer(), 1..4));
        TestRunner::new(config)
            .run(&strategy, |(shape, answers)| {
                // Raw framing (mode 0): the answers are the whole responses.
                let mut input = vec![shape & !3];
                input.extend_from_slice(&answers.join(SEPARATOR));
                h.borrow_mut().check(&input);
                Ok(())
            })
            .unwrap();
    });
}
