//! Compression bombs built without compressing a gibibyte: deflate output for a run of
//! zeros reaches a steady state, so one sync-flushed chunk is compressed once and repeated.

use flate2::{Compress, Compression, FlushCompress, Status};

const CHUNK: usize = 1 << 20;

/// Raw deflate of `prefix` followed by `zero_chunks` MiB of zeros.
///
/// Each MiB is compressed with a sync flush, which ends it on a byte boundary with the
/// window full of zeros; from then on every further MiB compresses to the same bytes, which
/// are checked to be identical before they are repeated.
pub fn deflate_zeros(prefix: &[u8], zero_chunks: usize) -> Vec<u8> {
    assert!(zero_chunks >= 3, "the steady state needs a few chunks");
    let mut c = Compress::new(Compression::default(), false);
    let zeros = vec![0u8; CHUNK];
    let mut first_input = prefix.to_vec();
    first_input.extend_from_slice(&zeros);
    let mut out = compress(&mut c, &first_input, FlushCompress::Sync);
    let second = compress(&mut c, &zeros, FlushCompress::Sync);
    let third = compress(&mut c, &zeros, FlushCompress::Sync);
    assert_eq!(second, third, "deflate of zeros did not reach a steady state");
    out.extend_from_slice(&second);
    for _ in 2..zero_chunks {
        out.extend_from_slice(&third);
    }
    // The compressor's state is that of two chunks in, which is the same steady state.
    out.extend_from_slice(&compress(&mut c, &[], FlushCompress::Finish));
    out
}

fn compress(c: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 512 + 1024);
    let mut consumed = 0;
    loop {
        let before_in = c.total_in();
        let status = c.compress_vec(&input[consumed..], &mut out, flush).unwrap();
        consumed += (c.total_in() - before_in) as usize;
        let done = match status {
            Status::StreamEnd => true,
            // More output space may be all it needs.
            Status::Ok | Status::BufError => consumed == input.len() && out.len() < out.capacity(),
        };
        if done {
            return out;
        }
        out.reserve(out.capacity().max(4096));
    }
}

/// CRC-32 of `prefix` followed by `zero_bytes` zeros, and the total length.
pub fn crc_zeros(prefix: &[u8], zero_bytes: u64) -> (u32, u64) {
    let mut crc = flate2::Crc::new();
    crc.update(prefix);
    let zeros = vec![0u8; CHUNK];
    let mut left = zero_bytes;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        crc.update(&zeros[..n]);
        left -= n as u64;
    }
    (crc.sum(), prefix.len() as u64 + zero_bytes)
}

/// A gzip member holding `prefix` + `zero_chunks` MiB of zeros + `suffix`, made like
/// [`deflate_zeros`]. `suffix` must be zeros too (a tar end marker is).
pub fn gzip_zeros(prefix: &[u8], zero_chunks: usize, suffix_zeros: usize) -> Vec<u8> {
    assert!(suffix_zeros < CHUNK);
    let mut c = Compress::new(Compression::default(), false);
    let zeros = vec![0u8; CHUNK];
    let mut first_input = prefix.to_vec();
    first_input.extend_from_slice(&zeros);
    let mut body = compress(&mut c, &first_input, FlushCompress::Sync);
    let second = compress(&mut c, &zeros, FlushCompress::Sync);
    let third = compress(&mut c, &zeros, FlushCompress::Sync);
    assert_eq!(second, third, "deflate of zeros did not reach a steady state");
    body.extend_from_slice(&second);
    for _ in 2..zero_chunks {
        body.extend_from_slice(&third);
    }
    body.extend_from_slice(&compress(&mut c, &zeros[..suffix_zeros], FlushCompress::Finish));
    let (crc, len) = crc_zeros(prefix, (zero_chunks * CHUNK + suffix_zeros) as u64);
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn replicated_streams_inflate_to_exactly_the_zeros() {
        let packed = deflate_zeros(b"head", 5);
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(&packed[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 4 + 5 * CHUNK);
        assert_eq!(&out[..4], b"head");
        assert!(out[4..].iter().all(|&b| b == 0));

        let gz = gzip_zeros(b"tarheader", 4, 1024);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 9 + 4 * CHUNK + 1024);
        assert!(gz.len() < 8 * 1024, "{} bytes", gz.len());
    }
}
