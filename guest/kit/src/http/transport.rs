//! The seam between the download logic and the network.

use super::types::{Request, ResponseHead, Timeouts, TransportError};

/// Sends one request (with its body, when it has one) and hands back the response head and
/// a body reader.
pub trait Transport {
    type Body: Body;
    fn send(&mut self, req: &Request, timeouts: &Timeouts) -> Result<(ResponseHead, Self::Body), TransportError>;
}

/// A response body, read in chunks.
pub trait Body {
    /// Up to `max` bytes; `Ok(None)` at the end of the body.
    fn read_chunk(&mut self, max: usize) -> Result<Option<Vec<u8>>, TransportError>;
}
