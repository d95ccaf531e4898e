//! A forwarding HTTP proxy for tests: CONNECT tunnels (https) and absolute-form requests
//! (http), optional Basic credentials, its own name table (the host's resolve overrides
//! do not reach a proxy), and a log of what it carried, so a test can prove a request
//! really went through it.

use base64::Engine;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Largest request head the proxy reads.
const MAX_HEAD: usize = 64 << 10;

/// One request the proxy received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRecord {
    /// `CONNECT`, `GET`, ...
    pub method: String,
    /// As sent: `host:port` for CONNECT, the absolute URL otherwise.
    pub target: String,
    /// Whether the request carried a `Proxy-Authorization` header.
    pub had_credentials: bool,
    /// The proxy's answer: 200 for an opened tunnel or a forwarded request, 407, 502, ...
    pub status: u16,
}

#[derive(Debug, Clone, Default)]
pub struct ProxyOptions {
    /// Names the proxy resolves itself: `"obs.test"` covers it and every name below it.
    pub names: BTreeMap<String, IpAddr>,
    /// `(user, password)` the proxy requires.
    pub credentials: Option<(String, String)>,
}

impl ProxyOptions {
    pub fn resolving(mut self, domain: &str, ip: IpAddr) -> Self {
        self.names.insert(domain.to_ascii_lowercase(), ip);
        self
    }

    pub fn requiring(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }
}

pub struct ForwardProxy {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<ProxyRecord>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl ForwardProxy {
    pub fn start(options: ProxyOptions) -> ForwardProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))).expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let expected = options.credentials.as_ref().map(|(u, p)| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))));
        let shared = Arc::new((options, expected, Arc::clone(&log)));
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, Arc::clone(&shared)));
            }
        });
        ForwardProxy { addr, log, runtime: Some(runtime) }
    }

    /// `http://127.0.0.1:PORT`, for `HTTPS_PROXY` / `HTTP_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL with credentials in it, percent-encoded as a URL needs them.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        let enc = |s: &str| s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect::<String>();
        format!("http://{}:{}@{}", enc(user), enc(password), self.addr)
    }

    pub fn records(&self) -> Vec<ProxyRecord> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

type Shared = (ProxyOptions, Option<String>, Arc<Mutex<Vec<ProxyRecord>>>);

async fn serve(mut client: TcpStream, shared: Arc<Shared>) {
    let (options, expected_auth, log) = &*shared;
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) if buf.len() + n <= MAX_HEAD => buf.extend_from_slice(&chunk[..n]),
            Ok(_) => return,
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let rest = buf[head_end..].to_vec();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").splitn(3, ' ');
    let (method, target, version) = (request_line.next().unwrap_or("").to_string(), request_line.next().unwrap_or("").to_string(), request_line.next().unwrap_or("HTTP/1.1").to_string());
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
        .collect();
    let auth = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("proxy-authorization")).map(|(_, v)| v.clone());
    let record = |status: u16| {
        log.lock().unwrap().push(ProxyRecord { method: method.clone(), target: target.clone(), had_credentials: auth.is_some(), status });
    };
    if let Some(expected) = expected_auth {
        if auth.as_deref() != Some(expected.as_str()) {
            record(407);
            let _ = client.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
            return;
        }
    }
    let (authority, forward_head) = if method == "CONNECT" {
        (target.clone(), None)
    } else if let Some(after) = target.strip_prefix("http://") {
        let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
        let path = if path.is_empty() { "/" } else { path };
        let mut h = format!("{method} {path} {version}\r\n");
        for (k, v) in &headers {
            if !k.eq_ignore_ascii_case("proxy-authorization") && !k.eq_ignore_ascii_case("proxy-connection") {
                h.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        h.push_str("\r\n");
        (authority.to_string(), Some(h))
    } else {
        record(400);
        let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
        return;
    };
    let upstream = match resolve(options, &authority) {
        Some(a) => TcpStream::connect(a).await.ok(),
        None => None,
    };
    let Some(mut upstream) = upstream else {
        record(502);
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
        return;
    };
    record(200);
    let ok = match forward_head {
        None => client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await,
        Some(h) => upstream.write_all(h.as_bytes()).await,
    };
    if ok.is_err() || upstream.write_all(&rest).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// `host:port` through the proxy's own name table; IP literals as they are.
fn resolve(options: &ProxyOptions, authority: &str) -> Option<SocketAddr> {
    let (host, port) = authority.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    options
        .names
        .iter()
        .find(|(domain, _)| host == **domain || host.ends_with(&format!(".{domain}")))
        .map(|(_, ip)| SocketAddr::new(*ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn roundtrip(proxy: &ForwardProxy, request: &str) -> String {
        let mut s = std::net::TcpStream::connect(proxy.addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn forwards_absolute_form_and_checks_credentials() {
        let origin = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = origin.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut c, _) = origin.accept().unwrap();
            let mut got = vec![0u8; 1024];
            let n = c.read(&mut got).unwrap();
            c.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").unwrap();
            String::from_utf8_lossy(&got[..n]).into_owned()
        });
        let proxy = ForwardProxy::start(ProxyOptions::default().resolving("obs.test", Ipv4Addr::LOCALHOST.into()).requiring("u", "p@ss"));
        assert!(proxy.url_with("u", "p@ss").contains("u:p%40ss@"));
        let denied = roundtrip(&proxy, &format!("GET http://b.obs.test:{port}/k HTTP/1.1\r\nHost: b.obs.test\r\n\r\n"));
        assert!(denied.starts_with("HTTP/1.1 407"), "{denied}");
        let auth = base64::engine::general_purpose::STANDARD.encode("u:p@ss");
        let answer = roundtrip(&proxy, &format!("GET http://b.obs.test:{port}/k HTTP/1.1\r\nHost: b.obs.test\r\nProxy-Authorization: Basic {auth}\r\n\r\n"));
        assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
        let seen = server.join().unwrap();
        assert!(seen.starts_with("GET /k HTTP/1.1\r\n") && !seen.to_ascii_lowercase().contains("proxy-authorization"), "{seen}");
        let records = proxy.records();
        assert_eq!(records.iter().map(|r| r.status).collect::<Vec<_>>(), [407, 200]);
        assert_eq!(records[1].target, format!("http://b.obs.test:{port}/k"));
    }
}
