//! A blocking HTTP/1.1 client over `std::net::TcpStream` implementing the kit's
//! [`Transport`], so the plugin's own download engine runs natively against the loopback
//! server. One connection per request (`Connection: close`), like the wasm transport.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};

use scheme_plugin_kit::http::{Body, Headers, Method, Request, ResponseHead, Scheme, Timeouts, Transport, TransportError, TransportErrorKind};

/// Socket read buffer; the engine asks for 1 MiB per read, as the guest does.
const SOCKET_BUFFER: usize = 1 << 20;

#[derive(Debug, Default)]
pub struct TcpTransport;

pub struct TcpBody {
    reader: Option<BufReader<TcpStream>>,
    framing: Framing,
}

enum Framing {
    Length(u64),
    Chunked { left_in_chunk: u64, done: bool },
    UntilClose,
}

fn err(kind: TransportErrorKind, what: impl std::fmt::Display) -> TransportError {
    TransportError::new(kind, what.to_string())
}

fn io_err(e: std::io::Error) -> TransportError {
    let kind = match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => TransportErrorKind::Timeout,
        _ => TransportErrorKind::Broken,
    };
    err(kind, e)
}

impl Transport for TcpTransport {
    type Body = TcpBody;

    fn send(&mut self, req: &Request, timeouts: &Timeouts) -> Result<(ResponseHead, TcpBody), TransportError> {
        if req.scheme == Scheme::Https {
            return Err(err(TransportErrorKind::Tls, "the native benchmark transport speaks plain http only"));
        }
        let authority = if req.authority.contains(':') { req.authority.clone() } else { format!("{}:80", req.authority) };
        let addr = authority
            .to_socket_addrs()
            .map_err(|e| err(TransportErrorKind::Dns, e))?
            .next()
            .ok_or_else(|| err(TransportErrorKind::Dns, format!("{authority} resolves to nothing")))?;
        let stream = TcpStream::connect_timeout(&addr, timeouts.connect).map_err(|e| err(TransportErrorKind::Connect, e))?;
        stream.set_read_timeout(Some(timeouts.first_byte)).map_err(io_err)?;
        stream.set_nodelay(true).map_err(io_err)?;
        let mut head = format!("{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", req.method.as_str(), req.path_and_query, req.authority);
        for (k, v) in &req.headers {
            if !k.eq_ignore_ascii_case("host") {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        head.push_str("\r\n");
        (&stream).write_all(head.as_bytes()).map_err(io_err)?;

        let mut reader = BufReader::with_capacity(SOCKET_BUFFER, stream);
        let mut line = String::new();
        reader.read_line(&mut line).map_err(io_err)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| err(TransportErrorKind::Protocol, format!("bad status line {line:?}")))?;
        let mut headers = Headers::new();
        loop {
            line.clear();
            reader.read_line(&mut line).map_err(io_err)?;
            let l = line.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').ok_or_else(|| err(TransportErrorKind::Protocol, format!("bad header line {l:?}")))?;
            headers.push(k.trim(), v.trim().as_bytes().to_vec());
        }
        reader.get_ref().set_read_timeout(Some(timeouts.between_bytes)).map_err(io_err)?;
        let chunked = headers.get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let framing = if req.method == Method::Head || status == 204 || status == 304 {
            Framing::Length(0)
        } else if chunked {
            Framing::Chunked { left_in_chunk: 0, done: false }
        } else {
            match headers.content_length() {
                Some(n) => Framing::Length(n),
                None => Framing::UntilClose,
            }
        };
        Ok((ResponseHead { status, headers }, TcpBody { reader: Some(reader), framing }))
    }
}

impl Body for TcpBody {
    fn read_chunk(&mut self, max: usize) -> Result<Option<Vec<u8>>, TransportError> {
        let Some(reader) = self.reader.as_mut() else { return Ok(None) };
        let want = match &mut self.framing {
            Framing::Length(0) => return Ok(None),
            Framing::Length(left) => (*left).min(max as u64) as usize,
            Framing::UntilClose => max,
            Framing::Chunked { done: true, .. } => return Ok(None),
            Framing::Chunked { left_in_chunk, done } => {
                if *left_in_chunk == 0 {
                    let mut line = String::new();
                    reader.read_line(&mut line).map_err(io_err)?;
                    if line.trim().is_empty() {
                        // The CRLF that ends the previous chunk.
                        line.clear();
                        reader.read_line(&mut line).map_err(io_err)?;
                    }
                    let size = line.trim().split(';').next().unwrap_or("");
                    let size = u64::from_str_radix(size, 16).map_err(|_| err(TransportErrorKind::Protocol, format!("bad chunk size {line:?}")))?;
                    if size == 0 {
                        *done = true;
                        return Ok(None);
                    }
                    *left_in_chunk = size;
                }
                (*left_in_chunk).min(max as u64) as usize
            }
        };
        // Hand over what the socket buffer holds, without zeroing a full-size buffer first.
        let available = reader.fill_buf().map_err(io_err)?;
        let n = available.len().min(want);
        let buf = available[..n].to_vec();
        reader.consume(n);
        if n == 0 {
            return match self.framing {
                Framing::UntilClose => {
                    self.reader = None;
                    Ok(None)
                }
                _ => Err(err(TransportErrorKind::Broken, "connection closed before the end of the body")),
            };
        }
        match &mut self.framing {
            Framing::Length(left) => *left -= n as u64,
            Framing::Chunked { left_in_chunk, .. } => *left_in_chunk -= n as u64,
            Framing::UntilClose => {}
        }
        Ok(Some(buf))
    }
}
