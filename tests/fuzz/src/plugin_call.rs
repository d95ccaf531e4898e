//! Fuzz check: one whole call through the host library (`scheme_host::Host`), the real OBS
//! plugin in its sandbox, and a raw TCP server that answers with fuzzer bytes. Shared by the
//! cargo-fuzz target and the stable replay in tests/suite (included there by path).
//!
//! Input: byte 0 picks how responses are framed (bits 0-1) and the package format (bits
//! 2-3); the rest is split at [`SEPARATOR`] into the answers to successive requests.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scheme_host::config::Config;
use scheme_host::{ErrorKind, Host};

use super::links::stays_inside;
use super::printable::assert_printable;

pub const SEPARATOR: &[u8] = b"\n--8<--\n";
const ACCESS_KEY: &str = "AKFUZZHOST0000000001";
const SECRET_KEY: &str = "SKfuzzHostSecretNeverOnTheWire000000001";
const MAX_ANSWERS: usize = 4;

/// What the process environment must hold before [`Harness::new`] (and before any thread
/// starts): the host hands plugins its own environment, and the plugin reads its endpoint
/// and credentials from the obsutil config under `home`.
pub fn required_env(home: &Path) -> Vec<(String, String)> {
    [
        ("HOME", home.to_str().expect("UTF-8 temp path")),
        ("OBS_METADATA_DISABLED", "true"),
        // Retries sleep; one attempt per call keeps the fuzzer fast, and the fault suite
        // covers retries end to end.
        ("OBS_MAX_RETRIES", "0"),
        ("OBS_CONNECT_TIMEOUT_SECS", "2"),
        ("OBS_FIRST_BYTE_TIMEOUT_SECS", "2"),
        ("OBS_BETWEEN_BYTES_TIMEOUT_SECS", "2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub struct Harness {
    host: Host,
    rt: tokio::runtime::Runtime,
    server: RawServer,
    work: PathBuf,
    calls: u64,
}

impl Harness {
    /// `home` must be the directory named in [`required_env`]; `obs_wasm` the built plugin.
    pub fn new(obs_wasm: &Path, home: &Path) -> Harness {
        for (k, v) in required_env(home) {
            assert_eq!(std::env::var(&k).ok().as_deref(), Some(v.as_str()), "set {k} before starting the harness");
        }
        let root = home.parent().expect("home has a parent").to_path_buf();
        let (plugins, cache, work) = (root.join("plugins"), root.join("cache"), root.join("work"));
        for d in [&plugins, &cache, &work] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::copy(obs_wasm, plugins.join("obs.wasm")).expect("copy the OBS plugin");
        let server = RawServer::start();
        std::fs::write(
            home.join(".obsutilconfig"),
            format!("endpoint=http://127.0.0.1:{}\nak={ACCESS_KEY}\nsk={SECRET_KEY}\n", server.port),
        )
        .unwrap();
        let config = Config::parse(&format!(
            "cache-dir = {cache:?}\n\
             [limits]\nmax-download-bytes = 1048576\nmax-unpacked-bytes = 4194304\nmax-entries = 256\n\
             timeout-secs = 20\nconnect-timeout-secs = 2\nfirst-byte-timeout-secs = 2\nbetween-bytes-timeout-secs = 2\n\
             memory-mib = 256\n\
             [plugins.obs]\nextra-allow-hosts = [\"127.0.0.1:{}\"]\n",
            server.port
        ))
        .expect("harness config");
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let host = rt.block_on(async { Host::new(config, Some(&plugins)) }).expect("host");
        Harness { host, rt, server, work, calls: 0 }
    }

    pub fn check(&mut self, data: &[u8]) {
        let Some((&shape, rest)) = data.split_first() else { return };
        let answers: Vec<Vec<u8>> = split(rest).into_iter().take(MAX_ANSWERS).map(|a| frame(shape & 3, a)).collect();
        // Errors quote what the server sent (an entry name, the first bytes of a page that is
        // not an archive); a credential the server itself sends back is its own to leak.
        let echoed: Vec<&str> = [SECRET_KEY, ACCESS_KEY].into_iter().filter(|c| answers.iter().any(|a| contains(a, c.as_bytes()))).collect();
        let (ext, whole_file) = match (shape >> 2) & 3 {
            0 => (".zip", false),
            1 => (".tar.gz", false),
            2 => (".tar.xz", false),
            _ => (".whl", true),
        };
        self.server.script(answers);
        self.calls += 1;
        let parent = self.work.join(self.calls.to_string());
        std::fs::create_dir(&parent).unwrap();
        let dest = parent.join(if whole_file { "pkg.whl" } else { "pkg" });
        let uri = format!("obs://ray-jobs/pkg{ext}");
        let result = self.rt.block_on(async {
            if whole_file {
                self.host.download(&uri, &dest, false, Box::new(())).await.map(|_| ())
            } else {
                self.host.download_and_unpack(&uri, &dest, false, Box::new(())).await.map(|_| ())
            }
        });
        for request in self.server.take_requests() {
            assert!(!contains(&request, SECRET_KEY.as_bytes()), "the secret key went on the wire");
        }
        let left = names(&parent);
        match result {
            Ok(()) => {
                assert_eq!(left, [dest.file_name().unwrap().to_string_lossy()], "only the destination is left");
                if !whole_file {
                    audit_tree(&dest, &dest, 0);
                }
            }
            Err(e) => {
                assert!(left.is_empty(), "after an error nothing is left, found {left:?}: {e}");
                // A sandbox error here means the plugin trapped (a panic) or hung.
                assert_ne!(e.kind, ErrorKind::Sandbox, "{e}");
                for text in [Some(&e.message), e.store_code.as_ref(), e.request_id.as_ref()].into_iter().flatten() {
                    assert_printable(text);
                    for c in [SECRET_KEY, ACCESS_KEY].into_iter().filter(|c| !echoed.contains(c)) {
                        assert!(!text.contains(c), "a credential reached the error: {text}");
                    }
                }
            }
        }
        std::fs::remove_dir_all(&parent).unwrap();
    }
}

/// Answers are split at [`SEPARATOR`]; an input without one is a single answer.
fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(i) = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        out.push(&rest[..i]);
        rest = &rest[i + SEPARATOR.len()..];
    }
    out.push(rest);
    out
}

/// 0: the bytes are the whole answer; 1: they are the body of a plain 200; 2: they are the
/// header lines of a 200 whose body is a small valid zip; 3: they are the body of a 206.
fn frame(mode: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match mode {
        0 => out.extend_from_slice(bytes),
        1 | 3 => {
            let status = if mode == 1 { "200 OK" } else { "206 Partial Content" };
            out.extend_from_slice(format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n", bytes.len()).as_bytes());
            out.extend_from_slice(bytes);
        }
        _ => {
            let body = small_zip();
            out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
            out.extend_from_slice(bytes);
            out.extend_from_slice(format!("\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend_from_slice(&body);
        }
    }
    out
}

/// A stored zip holding `a.txt` = `hi\n`, for answers whose headers are fuzzed.
fn small_zip() -> Vec<u8> {
    let (name, data) = (b"a.txt", b"hi\n");
    let mut crc = flate2::Crc::new();
    crc.update(data);
    let fixed = |out: &mut Vec<u8>| {
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]); // version, flags, stored, time, date
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
    };
    let mut z = b"PK\x03\x04".to_vec();
    fixed(&mut z);
    z.extend_from_slice(name);
    z.extend_from_slice(data);
    let cd = z.len();
    z.extend_from_slice(b"PK\x01\x02\x14\x03");
    fixed(&mut z);
    z.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // comment length, disk, internal attributes
    z.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
    z.extend_from_slice(&0u32.to_le_bytes());
    z.extend_from_slice(name);
    let cd_len = z.len() - cd;
    z.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00");
    z.extend_from_slice(&(cd_len as u32).to_le_bytes());
    z.extend_from_slice(&(cd as u32).to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Every symlink in a published tree stays inside it (the host's own rule, checked again).
fn audit_tree(root: &Path, dir: &Path, depth: usize) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            let target = std::fs::read_link(e.path()).unwrap();
            assert!(stays_inside(&target, depth), "{} -> {} leaves {}", e.path().display(), target.display(), root.display());
        } else if t.is_dir() {
            audit_tree(root, &e.path(), depth + 1);
        }
    }
}

/// One connection at a time: read the request head, send the next scripted answer, close.
struct RawServer {
    port: u16,
    script: Arc<Mutex<VecDeque<Vec<u8>>>>,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl RawServer {
    fn start() -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let script: Arc<Mutex<VecDeque<Vec<u8>>>> = Arc::default();
        let requests: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let (s, r) = (script.clone(), requests.clone());
        std::thread::Builder::new()
            .name("raw-http".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    serve(stream, &s, &r);
                }
            })
            .unwrap();
        RawServer { port, script, requests }
    }

    fn script(&self, answers: Vec<Vec<u8>>) {
        *self.script.lock().unwrap() = answers.into();
    }

    fn take_requests(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

fn serve(mut stream: TcpStream, script: &Mutex<VecDeque<Vec<u8>>>, requests: &Mutex<Vec<Vec<u8>>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !contains(&head, b"\r\n\r\n") && head.len() < 64 << 10 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    requests.lock().unwrap().push(head);
    let answer = script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec());
    let _ = stream.write_all(&answer);
    let _ = stream.shutdown(Shutdown::Write);
}
