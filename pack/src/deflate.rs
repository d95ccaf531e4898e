//! Compressing one chunk of a file (pure logic).
//!
//! A file of one chunk becomes a whole zip entry: deflated, or stored when deflate does not
//! make it smaller. A larger file is cut into chunks that are compressed independently and
//! in parallel, then concatenated into one deflate stream, as pigz does: every chunk but the
//! last ends with a sync flush (byte-aligned, not final), the last with the final block, and
//! each chunk after the first is primed with the 32 KiB before it, so the ratio stays close
//! to compressing the file in one go. The output depends only on the bytes, the level and
//! the chunk size, never on the number of threads.
//!
//! Ratio guard: the unpacker refuses an entry (and an archive) that expands more than
//! `max_compression_ratio` times (1000 by default, [`scheme_contract::Limits`]); deflate can
//! reach about 1030 on runs of one byte. A chunk that would expand more than that gets empty
//! stored blocks (5 bytes each, valid anywhere a block may start) in front of its deflate
//! data until it does not: 1 MiB of zeros costs 1,049 bytes instead of 1,017, and no package
//! this packer writes trips the limit. Storing such data instead would cost the full size.

use std::cell::RefCell;

use flate2::{Compress, Compression, FlushCompress, Status};

/// The fixed level: the bytes of a package must not depend on a setting. 3, not zlib's
/// default 6: on a tree of 202 MB of source (bench corpus S, whole files, zlib-rs) level 6
/// took 3.20 s for 47.8 MB, level 3 2.17 s for 49.8 MB (+4 %), level 2 1.69 s for 52.2 MB
/// (+9 %), level 1 0.86 s for 69.0 MB (+44 %). Packing is most of an upload's CPU; a few
/// percent more bytes cost less. (Ray's own packages are stored, not deflated.)
pub(crate) const LEVEL: u32 = 3;
/// Deflate's window: how much of the previous chunk primes the next one.
pub(crate) const DICTIONARY: usize = 32 * 1024;
/// The most bytes one stored deflate block holds.
const STORED_BLOCK: usize = 0xFFFF;
/// How much of a chunk is test-compressed before the whole is deflated.
const SAMPLE: usize = 64 * 1024;
/// A sample that deflates (at the fastest level) to at least this share of its size, in
/// percent, marks its chunk as incompressible: it is stored without trying harder.
/// Deflating incompressible data (model weights, archives, media) took most of the packing
/// time of such trees and saved a percent or two of the bytes.
const INCOMPRESSIBLE_PERCENT: usize = 97;

pub(crate) fn ratio_cap() -> u64 {
    scheme_contract::Limits::default().max_compression_ratio
}

/// A whole entry's data. `Stored` hands back the unused output buffer.
#[derive(Debug)]
pub(crate) enum Whole {
    Deflated(Vec<u8>),
    Stored(Vec<u8>),
}

/// Compresses a file that fits in one chunk into `out` (emptied first): `Stored` when
/// deflate does not shrink it.
pub(crate) fn whole(data: &[u8], out: Vec<u8>) -> Whole {
    if data.is_empty() || incompressible(data) {
        return Whole::Stored(out);
    }
    let out = pad_to_ratio(deflate(&[], data, true, out), data.len());
    if out.len() >= data.len() {
        Whole::Stored(out)
    } else {
        Whole::Deflated(out)
    }
}

/// One chunk of a multi-chunk entry, as a piece of the entry's deflate stream, in `out`
/// (emptied first). `dictionary` is the data just before the chunk (empty for the first).
pub(crate) fn piece(dictionary: &[u8], data: &[u8], last: bool, out: Vec<u8>) -> Vec<u8> {
    if incompressible(data) {
        return stored_blocks(data, last, out);
    }
    let out = pad_to_ratio(deflate(dictionary, data, last, out), data.len());
    if out.len() > stored_len(data.len()) {
        stored_blocks(data, last, out)
    } else {
        out
    }
}

/// The two compressors a thread uses.
#[derive(Clone, Copy)]
enum Purpose {
    /// [`incompressible`]'s test at the fastest level.
    Sample = 0,
    /// The package's own deflate, at [`LEVEL`].
    Package = 1,
}

thread_local! {
    /// Each thread's compressors, by [`Purpose`], reset for every chunk: a new one allocates
    /// and clears about 300 KB of state, per file on a tree of small files.
    static COMPRESSORS: RefCell<[Option<Compress>; 2]> = const { RefCell::new([None, None]) };
}

/// Runs `f` with this thread's compressor for `purpose`, as new: a reset stream compresses
/// exactly as a new one.
fn with_compressor<T>(purpose: Purpose, f: impl FnOnce(&mut Compress) -> T) -> T {
    COMPRESSORS.with_borrow_mut(|slots| {
        let c = match &mut slots[purpose as usize] {
            Some(c) => {
                c.reset();
                c
            }
            slot => slot.insert(Compress::new(
                match purpose {
                    Purpose::Sample => Compression::fast(),
                    Purpose::Package => Compression::new(LEVEL),
                },
                false,
            )),
        };
        f(c)
    })
}

/// Whether the start of `data` barely compresses (see [`INCOMPRESSIBLE_PERCENT`]). Decided
/// from the bytes alone, so the package stays a function of its content. Chunks shorter
/// than a sample are always deflated: they cost little either way.
fn incompressible(data: &[u8]) -> bool {
    if data.len() < SAMPLE {
        return false;
    }
    let sample = &data[..SAMPLE];
    SAMPLE_OUT.with_borrow_mut(|out| {
        out.clear();
        out.reserve(SAMPLE + SAMPLE / 8);
        with_compressor(Purpose::Sample, |c| match c.compress_vec(sample, out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => out.len() * 100 >= sample.len() * INCOMPRESSIBLE_PERCENT,
            // The buffer holds any expansion of the sample; anything else means "try deflate".
            _ => false,
        })
    })
}

thread_local! {
    static SAMPLE_OUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// One empty, non-final stored block: byte-aligned header, LEN 0, NLEN 0xFFFF.
const EMPTY_STORED_BLOCK: [u8; 5] = [0, 0, 0, 0xFF, 0xFF];

/// `deflated` (which starts on a byte boundary, as every chunk does) with as many empty
/// stored blocks in front as it takes for `raw` bytes to expand at most [`ratio_cap`] times.
fn pad_to_ratio(deflated: Vec<u8>, raw: usize) -> Vec<u8> {
    let least = (raw as u64).div_ceil(ratio_cap()) as usize;
    if deflated.len() >= least {
        return deflated;
    }
    let blocks = (least - deflated.len()).div_ceil(EMPTY_STORED_BLOCK.len());
    let mut out = Vec::with_capacity(blocks * EMPTY_STORED_BLOCK.len() + deflated.len());
    for _ in 0..blocks {
        out.extend_from_slice(&EMPTY_STORED_BLOCK);
    }
    out.extend_from_slice(&deflated);
    out
}

fn deflate(dictionary: &[u8], data: &[u8], last: bool, out: Vec<u8>) -> Vec<u8> {
    with_compressor(Purpose::Package, |c| deflate_with(c, dictionary, data, last, out))
}

fn deflate_with(c: &mut Compress, dictionary: &[u8], data: &[u8], last: bool, mut out: Vec<u8>) -> Vec<u8> {
    if !dictionary.is_empty() {
        let start = dictionary.len().saturating_sub(DICTIONARY);
        // Only fails on a stream already started; this one is new.
        let _ = c.set_dictionary(&dictionary[start..]);
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    out.clear();
    out.reserve(data.len() / 2 + 64);
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        let consumed = c.total_in() as usize;
        let status = c.compress_vec(&data[consumed..], &mut out, flush);
        let done_input = c.total_in() as usize == data.len();
        let room_left = out.capacity() > out.len();
        match status {
            Ok(Status::StreamEnd) => break,
            // A sync flush is complete once all input is in and the output was not filled.
            Ok(_) if !last && done_input && room_left => break,
            Ok(_) => {}
            // Deflate only reports errors for misuse (a finished stream); not reached.
            Err(_) => return stored_blocks(data, last, out),
        }
    }
    out
}

fn stored_len(n: usize) -> usize {
    n + 5 * n.div_ceil(STORED_BLOCK).max(1)
}

/// `data` as stored deflate blocks (header byte, LEN, NLEN, bytes), the last one final
/// when `last`. Each chunk starts on a byte boundary, so the blocks can follow anything.
fn stored_blocks(data: &[u8], last: bool, mut out: Vec<u8>) -> Vec<u8> {
    out.clear();
    out.reserve(stored_len(data.len()));
    let mut blocks = data.chunks(STORED_BLOCK).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[u8::from(last), 0, 0, 0xFF, 0xFF]);
    }
    while let Some(block) = blocks.next() {
        let fin = last && blocks.peek().is_none();
        let len = block.len() as u16;
        out.push(u8::from(fin));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    fn inflate(stream: &[u8]) -> Vec<u8> {
        let mut d = Decompress::new(false);
        let mut out = Vec::with_capacity(stream.len() * 4 + 1024);
        loop {
            if out.capacity() == out.len() {
                out.reserve(out.len());
            }
            let before = d.total_in() as usize;
            let st = d
                .decompress_vec(&stream[before..], &mut out, FlushDecompress::Finish)
                .unwrap();
            if st == Status::StreamEnd {
                assert_eq!(
                    d.total_in() as usize,
                    stream.len(),
                    "nothing after the final block"
                );
                return out;
            }
        }
    }

    fn text(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| b"def f(x):\n    return x * 2\n"[i % 27] ^ ((i / 1000) as u8 & 1))
            .collect()
    }

    fn noise(n: usize) -> Vec<u8> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn pieces(data: &[u8], chunk: usize) -> Vec<u8> {
        let n = data.len().div_ceil(chunk);
        let mut stream = Vec::new();
        // One output buffer for every piece, as the packer reuses them: what a piece
        // leaves in it must not leak into the next.
        let mut out = Vec::new();
        for i in 0..n {
            let start = i * chunk;
            let end = (start + chunk).min(data.len());
            out = piece(
                &data[start.saturating_sub(DICTIONARY)..start],
                &data[start..end],
                i + 1 == n,
                out,
            );
            stream.extend_from_slice(&out);
        }
        stream
    }

    #[test]
    fn pieces_concatenate_into_one_stream() {
        for data in [
            text(300_000),
            noise(200_000),
            vec![0u8; 250_000],
            text(100_001),
        ] {
            let stream = pieces(&data, 64 * 1024);
            assert_eq!(inflate(&stream), data);
        }
    }

    #[test]
    fn priming_keeps_the_ratio_of_one_stream() {
        let data = text(2_000_000);
        let primed = pieces(&data, 256 * 1024).len();
        let single = deflate(&[], &data, true, Vec::new()).len();
        assert!(primed <= single + single / 50 + 64, "{primed} vs {single}");
    }

    #[test]
    fn whole_entries_store_what_does_not_shrink() {
        assert!(matches!(whole(b"", Vec::new()), Whole::Stored(_)));
        assert!(matches!(whole(&noise(5000), Vec::new()), Whole::Stored(_)));
        match whole(&text(5000), Vec::new()) {
            Whole::Deflated(d) => assert_eq!(inflate(&d), text(5000)),
            Whole::Stored(_) => panic!("text should deflate"),
        }
    }

    #[test]
    fn nothing_expands_past_the_unpackers_ratio_limit() {
        let zeros = vec![0u8; 1 << 20];
        let cap = ratio_cap() as usize;
        let first = piece(&[], &zeros, false, Vec::new());
        let last = piece(&zeros, &zeros, true, Vec::new());
        for p in [&first, &last] {
            assert!(
                zeros.len() <= p.len() * cap,
                "{} from {}",
                zeros.len(),
                p.len()
            );
            assert!(p.len() < 1100, "padded, not stored: {} bytes", p.len());
        }
        let mut stream = first.clone();
        stream.extend(&last);
        assert_eq!(inflate(&stream), [&zeros[..], &zeros[..]].concat());
        match whole(&zeros, Vec::new()) {
            Whole::Deflated(d) => {
                assert!(zeros.len() <= d.len() * cap && d.len() < 1100);
                assert_eq!(inflate(&d), zeros);
            }
            Whole::Stored(_) => panic!("zeros deflate, padded"),
        }
        // Text is far from the cap and is not padded.
        let t = text(1 << 20);
        assert_eq!(piece(&[], &t, true, Vec::new()), deflate(&[], &t, true, Vec::new()));
    }

    #[test]
    fn a_reused_compressor_writes_what_a_new_one_writes() {
        let t = text(200_000);
        let here: Vec<Vec<u8>> = (0..3).map(|_| deflate(&t[..1000], &t[1000..], false, vec![9; 77])).collect();
        let fresh = {
            let t = t.clone();
            std::thread::spawn(move || deflate(&t[..1000], &t[1000..], false, Vec::new())).join().unwrap()
        };
        assert!(here.iter().all(|h| *h == fresh));
    }

    #[test]
    fn stored_blocks_are_valid_deflate() {
        for n in [1, 0xFFFF, 0x10000, 200_000] {
            let data = noise(n);
            let mut stream = stored_blocks(&data[..n / 2], false, Vec::new());
            stream.extend(stored_blocks(&data[n / 2..], true, Vec::new()));
            assert_eq!(inflate(&stream), data);
        }
    }

    #[test]
    fn incompressible_chunks_are_stored_without_deflating() {
        let random = noise(300_000);
        assert!(incompressible(&random));
        assert!(matches!(whole(&random, Vec::new()), Whole::Stored(_)));
        assert_eq!(piece(&[], &random, true, Vec::new()), stored_blocks(&random, true, Vec::new()));
        let words = text(300_000);
        assert!(!incompressible(&words));
        assert!(piece(&[], &words, true, Vec::new()).len() < words.len() / 2);
        // Short chunks are always tried: deflate decides.
        assert!(!incompressible(&random[..SAMPLE - 1]));
        // Random bytes followed by text: the sample decides, and inflating gives the bytes back.
        let mut mixed = noise(SAMPLE);
        mixed.extend_from_slice(&words);
        assert_eq!(inflate(&piece(&[], &mixed, true, Vec::new())), mixed);
    }

    #[test]
    fn output_is_deterministic() {
        let data = text(700_000);
        assert_eq!(pieces(&data, 100_000), pieces(&data, 100_000));
    }
}
