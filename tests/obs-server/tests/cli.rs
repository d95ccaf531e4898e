//! The `obs-server` binary: start-up line, preloads, flags, and exit on stdin EOF.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{AK, SK, send_raw};

struct Running {
    child: Child,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_obs-server"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn obs-server");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .expect("read start-up line");
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
    let port = v["port"].as_u64().unwrap() as u16;
    assert_eq!(
        v["endpoint"].as_str(),
        Some(format!("http://127.0.0.1:{port}").as_str())
    );
    assert_eq!(
        v["admin"].as_str(),
        Some(format!("http://127.0.0.1:{port}/__admin").as_str())
    );
    Running { child, port }
}

async fn get(port: u16, target: &str, extra: &str) -> common::RawResponse {
    let req = format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{extra}\r\n"
    );
    send_raw(([127, 0, 0, 1], port).into(), req.as_bytes()).await
}

#[tokio::test]
async fn preloads_flags_and_signed_access() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pkg.zip");
    let data = common::pattern(70_000);
    std::fs::File::create(&file)
        .unwrap()
        .write_all(&data)
        .unwrap();
    let put = format!("ray-jobs/dir/a=b.zip={}", file.display());
    let cred = format!("{AK}:{SK}");
    let server = spawn(&[
        "--cred",
        &cred,
        "--bucket",
        "ray-jobs",
        "--public-bucket",
        "pub-b",
        "--put",
        &put,
        "--crc64",
        "--domain",
        "obs.test",
    ]);

    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let sig = common::hmac_b64(SK, &format!("GET\n\n\n{date}\n/ray-jobs/dir/a%3Db.zip"));
    let resp = get(
        server.port,
        "/ray-jobs/dir/a%3Db.zip",
        &format!("Date: {date}\r\nAuthorization: OBS {AK}:{sig}\r\n"),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.body, data);
    assert_eq!(
        resp.header("x-obs-checksum-crc64ecma"),
        Some(obs_server::crc64_xz(&data).to_string().as_str())
    );
    assert_eq!(
        get(server.port, "/ray-jobs/dir/a%3Db.zip", "").await.status,
        403,
        "private bucket"
    );
    assert_eq!(
        get(server.port, "/pub-b/none", "").await.status,
        404,
        "public bucket exists"
    );
}

#[tokio::test]
async fn exits_when_stdin_closes() {
    let mut server = spawn(&[]);
    drop(server.child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server still running after stdin closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn ignore_stdin_keeps_serving() {
    let mut server = spawn(&["--ignore-stdin", "--public-bucket", "pub-b"]);
    drop(server.child.stdin.take());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server.child.try_wait().unwrap().is_none(), "server exited");
    assert_eq!(get(server.port, "/pub-b/none", "").await.status, 404);
}

#[test]
fn bad_arguments_fail_without_echoing_secrets() {
    let out = Command::new(env!("CARGO_BIN_EXE_obs-server"))
        .args(["--cred", "ONLYSECRETVALUE"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--cred"), "{stderr}");
    assert!(!stderr.contains("ONLYSECRETVALUE"), "{stderr}");
    let missing = Command::new(env!("CARGO_BIN_EXE_obs-server"))
        .args(["--put", "b-1/k=/nonexistent/file.zip"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/file.zip"));
}
