//! A bare HTTP/1.1 listener that records the method and path of every request that reaches
//! it and answers 403: proof of which requests a sandbox let out, independent of any store.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

pub struct Recorder {
    pub authority: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    pub fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let authority = listener.local_addr().unwrap().to_string();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let log = log.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let (mut length, mut chunked) = (0u64, false);
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                length = v.trim().parse().unwrap_or(0);
                            } else if k.eq_ignore_ascii_case("transfer-encoding") && v.trim().eq_ignore_ascii_case("chunked") {
                                chunked = true;
                            }
                        }
                    }
                    // The whole body is read before answering: closing on unread bytes resets
                    // the connection, and the client could see the reset instead of the 403.
                    if chunked {
                        drain_chunked(&mut reader);
                    } else {
                        let _ = std::io::copy(&mut reader.by_ref().take(length), &mut std::io::sink());
                    }
                    let mut parts = line.split_whitespace();
                    log.lock().unwrap().push(format!("{} {}", parts.next().unwrap_or(""), parts.next().unwrap_or("")));
                    let _ = conn.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                });
            }
        });
        Recorder { authority, seen }
    }

    /// `METHOD path` of every request received, in order.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads a chunked body through its last chunk and trailer.
fn drain_chunked(reader: &mut impl BufRead) {
    loop {
        let mut size = String::new();
        if reader.read_line(&mut size).unwrap_or(0) == 0 {
            return;
        }
        let Ok(n) = u64::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16) else { return };
        if n == 0 {
            // Trailer lines up to the empty one.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    return;
                }
            }
        }
        if std::io::copy(&mut reader.by_ref().take(n + 2), &mut std::io::sink()).unwrap_or(0) < n + 2 {
            return;
        }
    }
}
