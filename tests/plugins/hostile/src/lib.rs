//! A plugin that tries to break out of its sandbox. The URI names the attack:
//! `hostile://<attack>/<arg>.zip`. An attack that *succeeds* returns an `internal` error
//! starting with `ESCAPED:` so a test can never mistake a breach for a pass; an attack
//! the sandbox stops returns the error the sandbox produced, or is cut off by the host.
//!
//! `hostile://send/<authority>/<METHOD>/<path>.zip` sends one request with that method
//! from whichever call gets the URI: a download (which may only read), `stat` (the same),
//! or an upload (which may write only to the URI's bucket, here `send`).

scheme_plugin_kit::plugin_bindings!("../../../wit", "storage-scheme-upload");

use exports::scheme_host::storage_scheme::parts::Guest as PartsGuest;
use exports::scheme_host::storage_scheme::plugin::Guest;
use exports::scheme_host::storage_scheme::upload::Guest as UploadGuest;
use scheme_host::storage_scheme::types::*;

struct Hostile;

fn err(kind: ErrorKind, message: String) -> SchemeError {
    SchemeError { kind, message, store_code: None, request_id: None, http_status: None }
}

fn escaped(what: String) -> SchemeError {
    err(ErrorKind::Internal, format!("ESCAPED: {what}"))
}

fn stopped(what: String) -> SchemeError {
    err(ErrorKind::AccessDenied, format!("stopped: {what}"))
}

fn attack(uri: &str) -> (String, String) {
    let rest = uri.strip_prefix("hostile://").unwrap_or(uri);
    let rest = rest.strip_suffix(".zip").unwrap_or(rest);
    match rest.split_once('/') {
        Some((a, arg)) => (a.to_string(), arg.to_string()),
        None => (rest.to_string(), String::new()),
    }
}

/// Runs plugin code without a host call until the host stops it; returning is a breach
/// (the loop's exit cannot be proven unreachable, so the compiler keeps the loop).
fn spin() -> SchemeError {
    let mut x: u64 = 1;
    loop {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        if x == 42 {
            return escaped("spun out".into());
        }
    }
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> SchemeError {
    move |e| stopped(format!("{what} failed: {e}"))
}

/// `<authority>/<METHOD>/<path>`: sends the request; the status when it reached the
/// server, or why it did not.
fn send(arg: &str, body: &[u8]) -> Result<u16, String> {
    use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
    let mut it = arg.splitn(3, '/');
    let (authority, method, path) = (it.next().unwrap_or(""), it.next().unwrap_or("GET"), it.next().unwrap_or(""));
    let req = OutgoingRequest::new(Fields::new());
    let _ = req.set_method(&match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "PUT" => Method::Put,
        "POST" => Method::Post,
        "DELETE" => Method::Delete,
        other => Method::Other(other.to_string()),
    });
    let _ = req.set_scheme(Some(&Scheme::Http));
    let _ = req.set_authority(Some(authority));
    let _ = req.set_path_with_query(Some(&format!("/{path}")));
    let out = req.body().map_err(|_| "no request body".to_string())?;
    let fut = wasip2::http::outgoing_handler::handle(req, None).map_err(|e| format!("{method} refused at once: {e:?}"))?;
    if let Ok(stream) = out.write() {
        for chunk in body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
        drop(stream);
    }
    let _ = OutgoingBody::finish(out, None);
    fut.subscribe().block();
    match fut.get() {
        Some(Ok(Ok(resp))) => Ok(resp.status()),
        Some(Ok(Err(e))) => Err(format!("{method} to {authority} failed: {e:?}")),
        other => Err(format!("{method} to {authority}: {other:?}")),
    }
}

fn is_read(arg: &str) -> bool {
    matches!(arg.split('/').nth(1), Some("GET" | "HEAD"))
}

/// What a write the sandbox should have stopped reports.
fn sent_write(call: &str, arg: &str, status: u16) -> SchemeError {
    escaped(format!("{call} sent {arg} and the server answered {status}"))
}

fn run(uri: &str, target: &str, scratch: &str) -> Result<UnpackStats, SchemeError> {
    let (what, arg) = attack(uri);
    match what.as_str() {
        "send" => match send(&arg, b"overwritten by a download") {
            Ok(status) if is_read(&arg) => Err(stopped(format!("a read reached the server: {status}"))),
            Ok(status) => Err(sent_write("a download", &arg, status)),
            Err(e) => Err(stopped(e)),
        },
        "read-outside" => {
            for path in ["/etc/passwd", "/staging/../../../../etc/passwd", "/proc/self/environ", "../etc/passwd"] {
                if let Ok(text) = std::fs::read(path) {
                    return Err(escaped(format!("read {path} ({} bytes)", text.len())));
                }
            }
            Err(stopped("no file outside the staging directory is readable".into()))
        }
        "write-outside" => {
            for path in ["/staging/../escaped.txt", "/tmp/escaped.txt", "/escaped.txt"] {
                if std::fs::write(path, b"escaped").is_ok() {
                    return Err(escaped(format!("wrote {path}")));
                }
            }
            Err(stopped("no file outside the staging directory is writable".into()))
        }
        "env" => {
            let names: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
            if names.iter().any(|n| n == &arg) || std::env::var(&arg).is_ok() {
                return Err(escaped(format!("read undeclared environment variable {arg}")));
            }
            Err(stopped(format!("environment holds only {names:?}")))
        }
        "connect" => {
            let (authority, path) = (arg.as_str(), "/");
            let fields = wasip2::http::types::Fields::new();
            let req = wasip2::http::types::OutgoingRequest::new(fields);
            let _ = req.set_scheme(Some(&wasip2::http::types::Scheme::Http));
            let _ = req.set_authority(Some(authority));
            let _ = req.set_path_with_query(Some(path));
            match wasip2::http::outgoing_handler::handle(req, None) {
                Err(e) => Err(err(ErrorKind::Network, format!("request to {authority} refused: {e:?}"))),
                Ok(fut) => {
                    fut.subscribe().block();
                    match fut.get() {
                        Some(Ok(Ok(resp))) => Err(escaped(format!("reached {authority}: status {}", resp.status()))),
                        Some(Ok(Err(e))) => Err(err(ErrorKind::Network, format!("request to {authority} failed: {e:?}"))),
                        other => Err(err(ErrorKind::Network, format!("request to {authority}: {other:?}"))),
                    }
                }
            }
        }
        "alloc" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                let mut chunk = vec![0u8; 16 << 20];
                chunk[0] = hoard.len() as u8;
                hoard.push(chunk);
                if hoard.len() > 1 << 16 {
                    return Err(escaped(format!("allocated {} MiB", hoard.len() * 16)));
                }
            }
        }
        "spin" => Err(spin()),
        "write-spin" => {
            // Leaves a file in staging, then never returns to the host: only the host's
            // watchdog can end this call, and it must remove staging itself.
            if let Err(e) = std::fs::write(format!("{target}/half-written.bin"), vec![7u8; 1 << 20]) {
                return Err(err(ErrorKind::Internal, format!("cannot write into staging: {e}")));
            }
            Err(spin())
        }
        "sleep" => {
            // Blocks inside a host call, where epoch interruption cannot reach.
            wasip2::clocks::monotonic_clock::subscribe_duration(3_600_000_000_000).block();
            Err(escaped("slept an hour".into()))
        }
        "symlink-out" => {
            // std's symlink API is unstable on WASI; use the preopen descriptor directly.
            let rel = target.strip_prefix("/staging/").unwrap_or(&target);
            let dirs = wasip2::filesystem::preopens::get_directories();
            let Some((dir, _)) = dirs.iter().find(|(_, p)| p == "/staging") else {
                return Err(err(ErrorKind::Internal, "no /staging preopen".into()));
            };
            match dir.symlink_at("../../../../../../etc", &format!("{rel}/evil")) {
                Ok(()) => Ok(stats()),
                Err(e) => Err(stopped(format!("symlink refused: {e:?}"))),
            }
        }
        "bad-executable" => Ok(UnpackStats { executables: vec!["../../outside".into()], ..stats() }),
        "config" => match scheme_host::storage_scheme::host::read_config_file(&arg) {
            Some(bytes) => Err(escaped(format!("read config file {arg} ({} bytes)", bytes.len()))),
            None => Err(stopped(format!("config file {arg} was not handed over"))),
        },
        // The write attacks ignore the limits they are given: the host must stop them. Each
        // reports success when it finishes, so a run within the limits is published like
        // any other, and one past them must never be.
        "write-big" => {
            use std::io::Write;
            let mib: usize = arg.parse().unwrap_or(64);
            let mut f = std::fs::File::create(format!("{target}/big.bin")).map_err(io("create"))?;
            let chunk = vec![0x5au8; 1 << 20];
            for _ in 0..mib {
                f.write_all(&chunk).map_err(io("write"))?;
            }
            Ok(UnpackStats { files: 1, bytes_written: (mib as u64) << 20, ..stats() })
        }
        "write-scratch" => {
            use std::io::Write;
            let mib: usize = arg.parse().unwrap_or(64);
            let mut f = std::fs::File::create(format!("{scratch}/hoard.bin")).map_err(io("create"))?;
            let chunk = vec![0xa5u8; 1 << 20];
            for _ in 0..mib {
                f.write_all(&chunk).map_err(io("write"))?;
            }
            Ok(stats())
        }
        "sparse" => {
            let f = std::fs::File::create(format!("{target}/sparse.bin")).map_err(io("create"))?;
            f.set_len(1 << 40).map_err(io("set-size"))?;
            Ok(UnpackStats { files: 1, ..stats() })
        }
        "seek-write" => {
            use std::io::{Seek, SeekFrom, Write};
            let mut f = std::fs::File::create(format!("{target}/hole.bin")).map_err(io("create"))?;
            f.seek(SeekFrom::Start(1 << 40)).map_err(io("seek"))?;
            f.write_all(b"x").map_err(io("write"))?;
            Ok(UnpackStats { files: 1, ..stats() })
        }
        "many-files" => {
            let n: usize = arg.parse().unwrap_or(20_000);
            for i in 0..n {
                std::fs::write(format!("{target}/f{i}"), b"").map_err(io("create"))?;
            }
            Ok(UnpackStats { files: n as u64, ..stats() })
        }
        "deep" => {
            let n: usize = arg.parse().unwrap_or(100);
            let mut dir = target.to_string();
            for _ in 0..n {
                dir.push_str("/d");
                std::fs::create_dir(&dir).map_err(io("mkdir"))?;
            }
            Ok(UnpackStats { directories: n as u64, ..stats() })
        }
        "big-error" => {
            let mb: usize = arg.parse().unwrap_or(20);
            // Starts with a terminal escape, so the cut text must still be escaped.
            Err(err(ErrorKind::Internal, format!("\u{1b}[2J{}", "E".repeat(mb << 20))))
        }
        "log-flood" => {
            let n: usize = arg.parse().unwrap_or(100_000);
            let line = "L".repeat(2300);
            for i in 0..n {
                scheme_host::storage_scheme::host::log(LogLevel::Warn, &format!("{i} {line}"));
            }
            Err(stopped(format!("logged {n} lines")))
        }
        "progress-flood" => {
            let n: u64 = arg.parse().unwrap_or(2_000_000);
            for i in 0..n {
                scheme_host::storage_scheme::host::progress(Phase::Unpack, i, None, i);
            }
            Err(stopped(format!("reported progress {n} times")))
        }
        other => Err(err(ErrorKind::InvalidUri, format!("unknown attack {other}"))),
    }
}

fn stats() -> UnpackStats {
    UnpackStats {
        download: DownloadStats { bytes_downloaded: 0, object_size: 0, retries: 0, verified: None, download_ms: 0 },
        files: 0,
        directories: 0,
        bytes_written: 0,
        executables: vec![],
        unpack_ms: 0,
    }
}

impl Guest for Hostile {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            schemes: vec!["hostile".into()],
            env_vars: vec!["HOSTILE_DECLARED".into()],
            // Requests that need the operator's approval: a root-only secret, a world-readable
            // file outside any home, the Ray dashboard's port, the metadata service and a
            // private address. Without `scheme-host trust hostile` it gets none of them.
            config_files: vec![
                ConfigFile { id: "shadow".into(), default_path: "/etc/shadow".into(), path_env: None },
                ConfigFile { id: "passwd".into(), default_path: "/etc/passwd".into(), path_env: None },
            ],
            network_hosts: vec!["allowed.invalid".into(), "127.0.0.1:8265".into(), "169.254.169.254:80".into(), "10.0.0.1:80".into()],
        }
    }

    fn parse_uri(uri: String) -> Result<PackageRef, SchemeError> {
        Ok(PackageRef {
            scheme: "hostile".into(),
            package_name: "hostile_pkg.zip".into(),
            extension: ".zip".into(),
            format: PackageFormat::Zip,
            display: uri.clone(),
            uri,
        })
    }

    fn download_and_unpack(uri: String, target: String, scratch: String, _limits: Limits) -> Result<UnpackStats, SchemeError> {
        run(&uri, &target, &scratch)
    }

    fn download(uri: String, _file: String, _limits: Limits) -> Result<DownloadStats, SchemeError> {
        run(&uri, "/staging/scratch", "/staging/scratch").map(|s| s.download)
    }
}

impl PartsGuest for Hostile {
    fn download_and_unpack_part(uri: String, target: String, scratch: String, _limits: Limits, _part: Part) -> Result<PartStats, SchemeError> {
        run(&uri, &target, &scratch).map(|stats| PartStats { split: false, object_version: None, stats })
    }
}

/// The upload calls run the `send` attack with the part's bytes as the body; a request
/// that reached the server is reported as the object's ETag so a test can see it.
impl UploadGuest for Hostile {
    fn plan_upload(_uri: String, size: u64) -> Result<UploadPlan, SchemeError> {
        let part_size = 1 << 20;
        Ok(UploadPlan { part_size, part_count: size.div_ceil(part_size).max(1) as u32 })
    }

    fn stat(uri: String) -> Result<Option<ObjectInfo>, SchemeError> {
        let (_, arg) = attack(&uri);
        match send(&arg, b"") {
            Ok(status) if is_read(&arg) => Err(stopped(format!("a read reached the server: {status}"))),
            Ok(status) => Err(sent_write("stat", &arg, status)),
            Err(e) => Err(stopped(e)),
        }
    }

    fn put_object(uri: String, bytes: Vec<u8>) -> Result<ObjectInfo, SchemeError> {
        let (_, arg) = attack(&uri);
        match send(&arg, &bytes) {
            Ok(status) => Ok(ObjectInfo { size: bytes.len() as u64, etag: Some(format!("reached {status}")), verified: None, retries: 0 }),
            Err(e) => Err(stopped(e)),
        }
    }

    fn begin_multipart(_uri: String) -> Result<String, SchemeError> {
        Ok("hostile-upload".into())
    }

    fn upload_part(uri: String, _upload_id: String, number: u32, bytes: Vec<u8>) -> Result<UploadedPart, SchemeError> {
        if attack(&uri).0 == "spin-part" {
            // Never returns to the host while its upload is open.
            return Err(spin());
        }
        Self::put_object(uri, bytes).map(|info| UploadedPart { number, size: info.size, etag: info.etag.unwrap_or_default(), retries: 0 })
    }

    fn complete_multipart(_uri: String, _upload_id: String, parts: Vec<UploadedPart>) -> Result<ObjectInfo, SchemeError> {
        let etag = parts.first().map(|p| p.etag.clone());
        Ok(ObjectInfo { size: 0, etag, verified: None, retries: 0 })
    }

    fn abort_multipart(_uri: String, _upload_id: String) -> Result<(), SchemeError> {
        Ok(())
    }
}

export!(Hostile);
