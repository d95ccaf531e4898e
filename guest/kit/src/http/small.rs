//! Bounded reads of small bodies (error documents, metadata answers).

use super::transport::{Body, Transport};
use super::types::{Request, ResponseHead, Timeouts, TransportError};

/// Error bodies are read up to this size: enough for any store's XML error document, small
/// enough that a hostile server cannot make us buffer an object by answering 500.
pub const ERROR_BODY_CAP: usize = 64 << 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmallResponse {
    pub head: ResponseHead,
    pub body: Vec<u8>,
    /// The body was longer than the cap and was cut.
    pub truncated: bool,
}

/// Reads at most `cap` bytes of a body; the rest is abandoned with the connection.
pub fn read_capped<B: Body>(body: &mut B, cap: usize) -> Result<(Vec<u8>, bool), TransportError> {
    let mut out = Vec::new();
    while out.len() < cap {
        match body.read_chunk((cap - out.len()).max(1))? {
            Some(chunk) => {
                let room = cap - out.len();
                if chunk.len() > room {
                    out.extend_from_slice(&chunk[..room]);
                    return Ok((out, true));
                }
                out.extend_from_slice(&chunk);
            }
            None => return Ok((out, false)),
        }
    }
    // Exactly at the cap: one more read tells whether anything was left.
    let more = matches!(body.read_chunk(1)?, Some(c) if !c.is_empty());
    Ok((out, more))
}

/// One request whose whole answer fits in `cap` bytes.
pub fn fetch_small<T: Transport>(t: &mut T, req: &Request, timeouts: &Timeouts, cap: usize) -> Result<SmallResponse, TransportError> {
    let (head, mut body) = t.send(req, timeouts)?;
    let (body, truncated) = read_capped(&mut body, cap)?;
    Ok(SmallResponse { head, body, truncated })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testing::{FakeBody, FakeTransport, Reply};
    use crate::http::types::{Method, Scheme};

    #[test]
    fn caps_and_flags_truncation() {
        let mut b = FakeBody::new(vec![vec![1; 10], vec![2; 10]], None);
        assert_eq!(read_capped(&mut b, 15).unwrap(), ([vec![1u8; 10], vec![2u8; 5]].concat(), true));
        let mut b = FakeBody::new(vec![vec![1; 10]], None);
        assert_eq!(read_capped(&mut b, 10).unwrap(), (vec![1u8; 10], false));
        let mut b = FakeBody::new(vec![vec![1; 10], vec![3]], None);
        assert_eq!(read_capped(&mut b, 10).unwrap(), (vec![1u8; 10], true));
    }

    #[test]
    fn fetch_small_returns_head_and_body() {
        let mut t = FakeTransport::new(vec![Reply::ok(200, &[("x-a", "1")], b"hello")]);
        let r = fetch_small(&mut t, &Request::new(Method::Get, Scheme::Http, "h", "/"), &Timeouts::default(), 100).unwrap();
        assert_eq!(r.head.status, 200);
        assert_eq!(r.body, b"hello");
        assert!(!r.truncated);
    }
}
