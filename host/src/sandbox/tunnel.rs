//! HTTP CONNECT through a proxy: ask for a tunnel to `host:port`, read the proxy's answer.

use http::HeaderValue;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A proxy answer head larger than this is not an answer to CONNECT.
const MAX_HEAD: usize = 16 << 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelError {
    /// The proxy answered with a non-2xx status.
    Refused { status: u16, reason: String },
    /// The proxy's bytes were not an HTTP response, or it closed first.
    Protocol(String),
    Io(String),
}

/// Sends `CONNECT authority` and waits for a 2xx. `authority` is `host:port` with IPv6 in
/// brackets; it is also the Host header, as RFC 9110 asks.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, authority: &str, auth: Option<&HeaderValue>) -> Result<(), TunnelError> {
    let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n").into_bytes();
    if let Some(a) = auth {
        head.extend_from_slice(b"Proxy-Authorization: ");
        head.extend_from_slice(a.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    stream.write_all(&head).await.map_err(|e| TunnelError::Io(e.to_string()))?;
    stream.flush().await.map_err(|e| TunnelError::Io(e.to_string()))?;

    // Read byte by byte: whatever follows the head belongs to the tunnel (the TLS
    // handshake), so nothing past the blank line may be consumed here.
    let mut buf = Vec::with_capacity(512);
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if buf.len() >= MAX_HEAD {
            return Err(TunnelError::Protocol(format!("the proxy's answer head exceeds {MAX_HEAD} bytes")));
        }
        match stream.read(&mut byte).await {
            Ok(0) => return Err(TunnelError::Protocol("the proxy closed the connection before answering CONNECT".into())),
            Ok(_) => buf.push(byte[0]),
            Err(e) => return Err(TunnelError::Io(e.to_string())),
        }
    }
    let (status, reason) = parse_status_line(&buf)?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(TunnelError::Refused { status, reason })
    }
}

fn parse_status_line(head: &[u8]) -> Result<(u16, String), TunnelError> {
    let line_end = head.windows(2).position(|w| w == b"\r\n").unwrap_or(head.len());
    let line = std::str::from_utf8(&head[..line_end]).map_err(|_| TunnelError::Protocol("the proxy's status line is not text".into()))?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let status = parts.next().and_then(|s| (s.len() == 3).then(|| s.parse::<u16>().ok()).flatten());
    match status {
        Some(status) if version.starts_with("HTTP/1.") => {
            Ok((status, scheme_contract::text::escape(parts.next().unwrap_or("").chars().take(200).collect::<String>().trim())))
        }
        _ => Err(TunnelError::Protocol(format!("the proxy did not answer with HTTP: {:?}", scheme_contract::text::escape(&line.chars().take(80).collect::<String>())))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn exchange(answer: &'static [u8], auth: Option<&HeaderValue>) -> (Result<(), TunnelError>, String, Vec<u8>) {
        let (mut client, mut proxy) = tokio::io::duplex(64 << 10);
        let server = tokio::spawn(async move {
            let mut got = vec![0u8; 4096];
            let n = proxy.read(&mut got).await.unwrap();
            proxy.write_all(answer).await.unwrap();
            proxy.shutdown().await.unwrap();
            String::from_utf8(got[..n].to_vec()).unwrap()
        });
        let r = connect(&mut client, "b.obs.test:443", auth).await;
        let sent = server.await.unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        (r, sent, rest)
    }

    #[tokio::test]
    async fn tunnel_established_leaves_the_tunnel_bytes_unread() {
        let mut auth = HeaderValue::from_static("Basic dTpw");
        auth.set_sensitive(true);
        let (r, sent, rest) = exchange(b"HTTP/1.1 200 Connection established\r\nVia: test\r\n\r\n\x16\x03\x01", Some(&auth)).await;
        assert_eq!(r, Ok(()));
        assert_eq!(sent, "CONNECT b.obs.test:443 HTTP/1.1\r\nHost: b.obs.test:443\r\nProxy-Authorization: Basic dTpw\r\n\r\n");
        assert_eq!(rest, b"\x16\x03\x01");
    }

    #[tokio::test]
    async fn refusals_and_garbage_are_told_apart() {
        let (r, sent, _) = exchange(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n", None).await;
        assert_eq!(r, Err(TunnelError::Refused { status: 407, reason: "Proxy Authentication Required".into() }));
        assert!(!sent.contains("Proxy-Authorization"));
        let (r, _, _) = exchange(b"SSH-2.0-OpenSSH\r\n\r\n", None).await;
        assert!(matches!(r, Err(TunnelError::Protocol(_))), "{r:?}");
        let (r, _, _) = exchange(b"HTTP/1.1 200 OK\r\n", None).await;
        assert!(matches!(r, Err(TunnelError::Protocol(m)) if m.contains("closed")));
    }
}
