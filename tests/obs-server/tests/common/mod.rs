//! Test helpers: a raw HTTP/1.1 client (exact bytes on the wire, and it sees how a
//! connection ends), independent V2 and V4 (`sigv4`) signers, and XML field extraction.
#![allow(dead_code)]

pub mod sigv4;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use obs_server::{Credential, ObsServer, ServerConfig, ServerHandle};
use serde_json::Value;

pub const AK: &str = "AKINTEGRATION0000001";
pub const SK: &str = "SKintegrationSecretKey000000000000000001";

/// How the server ended the response stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Orderly close (FIN).
    Eof,
    /// Connection reset (RST).
    Reset,
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Everything after the header block until the connection ended.
    pub body: Vec<u8>,
    pub end: End,
    pub elapsed: Duration,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn content_length(&self) -> Option<usize> {
        self.header("content-length").and_then(|v| v.parse().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Text of the first `<name>` element of an XML body.
    pub fn xml(&self, name: &str) -> Option<String> {
        xml_field(&self.text(), name)
    }
}

pub fn xml_field(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// Sends `request` verbatim and reads until the server closes the connection. Requests
/// should carry `Connection: close`.
pub async fn send_raw(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connect to test server");
    stream.write_all(request).await.expect("send request");
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    let end = loop {
        match stream.read(&mut chunk).await {
            Ok(0) => break End::Eof,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break End::Reset,
            Err(e) => panic!("read failed: {e}"),
        }
    };
    let elapsed = started.elapsed();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no complete response head in {:?} (end {end:?})",
                String::from_utf8_lossy(&buf)
            )
        });
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    RawResponse {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
        end,
        elapsed,
    }
}

/// A request under construction.
pub struct Req {
    pub method: String,
    /// Path and query exactly as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn new(method: &str, target: &str) -> Self {
        Req {
            method: method.into(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds `Date` (now) and an `OBS` or `AWS` signature over `/<bucket>/<raw key>`.
    pub fn signed(self, scheme: &str, ak: &str, sk: &str, resource: &str) -> Self {
        let date = httpdate::fmt_http_date(SystemTime::now());
        self.signed_at(scheme, ak, sk, resource, &date)
    }

    pub fn signed_at(self, scheme: &str, ak: &str, sk: &str, resource: &str, date: &str) -> Self {
        let prefix = if scheme == "OBS" { "x-obs-" } else { "x-amz-" };
        let find = |name: &str| {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let mut prefixed: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(n, _)| n.to_ascii_lowercase().starts_with(prefix))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        prefixed.sort();
        let mut sts = format!(
            "{}\n{}\n{}\n{}\n",
            self.method,
            find("content-md5"),
            find("content-type"),
            date
        );
        for (n, v) in &prefixed {
            sts.push_str(&format!("{n}:{v}\n"));
        }
        sts.push_str(resource);
        let sig = hmac_b64(sk, &sts);
        self.header("Date", date)
            .header("Authorization", &format!("{scheme} {ak}:{sig}"))
    }

    pub fn to_bytes(&self, host: &str) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n",
            self.method, self.target
        );
        for (n, v) in &self.headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        if !self.body.is_empty() || self.method == "PUT" {
            out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    pub async fn send(&self, server: &ServerHandle) -> RawResponse {
        let host = server.local_addr().to_string();
        send_raw(server.local_addr(), &self.to_bytes(&host)).await
    }

    pub async fn send_host(&self, server: &ServerHandle, host: &str) -> RawResponse {
        send_raw(server.local_addr(), &self.to_bytes(host)).await
    }
}

pub fn hmac_b64(sk: &str, sts: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(sk.as_bytes()).expect("any key length");
    mac.update(sts.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A server with one credential, a private bucket `priv-b`, a public bucket `pub-b` and the
/// virtual-host domain `obs.test`.
pub async fn start_default() -> ServerHandle {
    ObsServer::start(
        ServerConfig::default()
            .with_domain("obs.test")
            .with_credential(Credential::new(AK, SK))
            .with_bucket("priv-b")
            .with_public_bucket("pub-b"),
    )
    .await
    .expect("server starts")
}

/// Deterministic, non-repeating-looking test data.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9E37_79B9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// One admin API call; every admin answer is JSON, said so in its content type.
pub async fn admin(
    server: &ServerHandle,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = Req::new(method, &format!("/__admin{path}"));
    if let Some(body) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let resp = req.send(server).await;
    assert_eq!(
        resp.header("content-type"),
        Some("application/json"),
        "{path}: {}",
        resp.text()
    );
    (
        resp.status,
        serde_json::from_slice(&resp.body).expect("admin answers JSON"),
    )
}
