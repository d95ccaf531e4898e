//! Finding a 4-byte signature in bytes that arrive in pieces or lie in a seekable range:
//! local headers between entries, central headers where a reader searches for the
//! directory. A leaf: the end-record, directory and layout checks all use it.

use std::io::{self, Read, Seek, SeekFrom};

/// Gap bytes are read in pieces of this size.
const GAP_CHUNK: usize = 64 * 1024;

/// Looks for a 4-byte signature in bytes fed in pieces (local headers in the bytes between
/// entries; central headers where a reader searches for the directory).
pub(crate) struct SigScan {
    sig: [u8; 4],
    /// The previous piece's last bytes, for a signature split across pieces.
    carry: Vec<u8>,
    /// Object offset of the next byte fed.
    pos: u64,
}

impl SigScan {
    pub fn new(sig: [u8; 4], at: u64) -> Self {
        SigScan { sig, carry: Vec::with_capacity(8), pos: at }
    }

    /// The object offset of the first signature that `bytes` complete, if any.
    pub fn feed(&mut self, bytes: &[u8]) -> Option<u64> {
        let keep = self.sig.len() - 1;
        let base = self.pos - self.carry.len() as u64;
        let mut joined = self.carry.clone();
        joined.extend_from_slice(&bytes[..bytes.len().min(keep)]);
        let found = find(&joined, &self.sig).map(|i| base + i as u64).or_else(|| find(bytes, &self.sig).map(|i| self.pos + i as u64));
        self.carry.extend_from_slice(&bytes[bytes.len().saturating_sub(keep)..]);
        let excess = self.carry.len().saturating_sub(keep);
        self.carry.drain(..excess);
        self.pos += bytes.len() as u64;
        found
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The offset of the first `sig` in `from..to` (whole), if any.
pub(crate) fn find_in<R: Read + Seek>(r: &mut R, sig: [u8; 4], from: u64, to: u64) -> io::Result<Option<u64>> {
    if from >= to {
        return Ok(None);
    }
    r.seek(SeekFrom::Start(from))?;
    let mut scan = SigScan::new(sig, from);
    let mut buf = vec![0u8; GAP_CHUNK.min((to - from) as usize)];
    let mut left = to - from;
    while left > 0 {
        let n = (left.min(buf.len() as u64)) as usize;
        r.read_exact(&mut buf[..n])?;
        if let Some(at) = scan.feed(&buf[..n]).filter(|&at| at + 4 <= to) {
            return Ok(Some(at));
        }
        left -= n as u64;
    }
    Ok(None)
}
