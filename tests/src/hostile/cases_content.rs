//! Catalogue cases about content: bombs, lying sizes, integrity, nested archives.

use super::bombs::{crc_zeros, deflate_zeros, gzip_zeros};
use super::raw_tar::{gzip, xz, Tar, REGULAR};
use super::raw_zip::{crc32, deflate, zip, zip_with, Entry, Options, DEFLATED};
use super::{accepts, fails, Accepted, Case, Family};

const UNSAFE: &str = "unsafe-archive";
const LIMIT: &str = "limit-exceeded";
const INTEGRITY: &str = "integrity";
const GIB: u64 = 1 << 30;

fn z(name: &'static str, family: Family, about: &'static str, entries: &[Entry], expect: super::Expect) -> Case {
    Case { name, family, ext: ".zip", bytes: zip(entries), expect, about }
}

fn raw(name: &'static str, family: Family, ext: &'static str, about: &'static str, bytes: Vec<u8>, expect: super::Expect) -> Case {
    Case { name, family, ext, bytes, expect, about }
}

/// Incompressible-looking but deterministic bytes.
pub(crate) fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn good_zip() -> Vec<u8> {
    zip(&[
        Entry::deflated("pkg/main.py", &b"print('main')\n".repeat(200)),
        Entry::deflated("pkg/data.bin", &noise(40_000, 1)),
        Entry::stored("pkg/README", b"readme\n"),
    ])
}

/// Fifield's "better zip bomb": each file's compressed data quotes (as a stored deflate block)
/// the local header of the next file, and all of them end in one shared kernel.
fn fifield_chain(files: usize) -> Vec<u8> {
    let kernel_raw = vec![b'a'; 1 << 20];
    let kernel = deflate(&kernel_raw);
    // From the last file back to the first: (local header without data, data, content).
    let mut content = kernel_raw;
    let mut data = kernel;
    let mut entries: Vec<Entry> = Vec::new();
    for i in (0..files).rev() {
        let e = Entry {
            method: DEFLATED,
            crc: crc32(&content),
            uncompressed: content.len() as u64,
            compressed: data.len() as u64,
            ..Entry::stored(&format!("{i:02}"), b"")
        };
        entries.push(Entry { data: data.clone(), ..e.clone() });
        if i > 0 {
            let header = e.local_record();
            let mut quoted = vec![0x00];
            quoted.extend_from_slice(&(header.len() as u16).to_le_bytes());
            quoted.extend_from_slice(&(!(header.len() as u16)).to_le_bytes());
            quoted.extend_from_slice(&header);
            let mut new_content = header.clone();
            new_content.extend_from_slice(&content);
            quoted.extend_from_slice(&data);
            content = new_content;
            data = quoted;
        }
    }
    entries.reverse();
    // Only the first file is written; every other local header lies inside its data.
    let mut offset = 0u64;
    for (i, e) in entries.iter_mut().enumerate() {
        if i > 0 {
            e.write_local = false;
            e.offset = Some(offset);
        }
        let header_len = 30 + e.name.len() as u64;
        offset += header_len + 5;
    }
    zip(&entries)
}

fn bomb_many_entries() -> Vec<u8> {
    let mib = vec![0u8; 1 << 20];
    let packed = deflate(&mib);
    let crc = crc32(&mib);
    let entries: Vec<Entry> = (0..1024)
        .map(|i| Entry { method: DEFLATED, crc, uncompressed: mib.len() as u64, compressed: packed.len() as u64, data: packed.clone(), ..Entry::stored(&format!("z/{i:04}.bin"), b"") })
        .collect();
    zip(&entries)
}

fn bomb_one_entry() -> Vec<u8> {
    let packed = deflate_zeros(b"", 1024);
    let (crc, len) = crc_zeros(b"", GIB);
    zip(&[Entry { method: DEFLATED, crc, uncompressed: len, compressed: packed.len() as u64, data: packed, ..Entry::stored("zeros.bin", b"") }])
}

fn tar_header(name: &str, size: u64) -> Vec<u8> {
    Tar::new().raw(name.as_bytes(), REGULAR, b"", 0o644, size, b"").unfinished()
}

pub(super) fn cases() -> Vec<Case> {
    use Family::*;
    let text = b"def f():\n    return 42\n".repeat(4000);
    let packed_text = deflate(&text);
    let mut truncated_zip = good_zip();
    truncated_zip.truncate(truncated_zip.len() / 2);
    let mut corrupt = Entry::deflated("a.py", &text);
    for b in corrupt.data.iter_mut().skip(40).take(60) {
        *b ^= 0x5a;
    }
    let tgz = gzip(&Tar::new().file("pkg/a.py", &text).file("pkg/b.py", b"b").finish());
    let mut tgz_truncated = tgz.clone();
    tgz_truncated.truncate(tgz.len() - 40);
    let mut tgz_bad_crc = tgz.clone();
    let at = tgz.len() - 8;
    tgz_bad_crc[at] ^= 0xff;
    let mut bad_checksum = Tar::new().file("a.py", b"a").finish();
    bad_checksum[148] = b'7';
    let txz = xz(&Tar::new().file("a.py", &text).finish());
    let inner_zip = zip(&[Entry::stored("../evil.py", b"pwned"), Entry::stored("/etc/cron.d/x", b"pwned")]);
    let inner_bomb = gzip_zeros(&tar_header("zeros.bin", 64 << 20), 64, 1024);
    vec![
        // ---------------------------------------------------------------- bombs
        raw("fifield-overlap", Bombs, ".zip", "Fifield's better zip bomb: 8 files, each quoting the next's local header, one shared 1 MiB kernel", fifield_chain(8), fails(UNSAFE, "overlap")),
        z(
            "full-overlap",
            Bombs,
            "three central entries pointing at one local header",
            &[
                Entry::deflated("a.bin", &text),
                Entry { write_local: false, offset: Some(0), ..Entry::deflated("b.bin", &text) },
                Entry { write_local: false, offset: Some(0), ..Entry::deflated("c.bin", &text) },
            ],
            fails(UNSAFE, "overlap"),
        ),
        raw("ratio-bomb-1gib-one-entry", Bombs, ".zip", "1 GiB of zeros in one entry, from ~1 MB", bomb_one_entry(), fails(LIMIT, "ratio above the limit")),
        raw("ratio-bomb-1gib-many-entries", Bombs, ".zip", "1024 entries of 1 MiB zeros (each under the per-entry floor), ~1 MB in all", bomb_many_entries(), fails(LIMIT, "ratio above the limit")),
        raw(
            "ratio-bomb-1gib-tar-gz",
            Bombs,
            ".tar.gz",
            "a tar holding 1 GiB of zeros, gzip ~1 MB",
            gzip_zeros(&tar_header("zeros.bin", GIB), 1024, 1024),
            fails(LIMIT, "expands more than"),
        ),
        raw(
            "ratio-bomb-tar-xz",
            Bombs,
            ".tar.xz",
            "a tar holding 32 MiB of zeros, xz ~5 KB",
            xz(&Tar::new().raw(b"zeros.bin", REGULAR, b"", 0o644, 32 << 20, &vec![0u8; 32 << 20]).finish()),
            fails(LIMIT, "expands more than"),
        ),
        // ---------------------------------------------------------------- lying sizes
        z(
            "declared-smaller",
            LyingSizes,
            "entry declares 100 bytes, inflates to 92 KB",
            &[Entry { uncompressed: 100, ..Entry::deflated("a.py", &text) }],
            fails(INTEGRITY, "a.py"),
        ),
        z(
            "declared-larger",
            LyingSizes,
            "entry declares 1,000,000 bytes, inflates to 92 KB",
            &[Entry { uncompressed: 1_000_000, ..Entry::deflated("a.py", &text) }],
            fails(INTEGRITY, "declares 1000000"),
        ),
        z(
            "zip64-declared-smaller",
            LyingSizes,
            "ZIP64 extra field declares 10 bytes for 92 KB",
            &[Entry { zip64: true, uncompressed: 10, ..Entry::deflated("a.py", &text) }],
            fails(INTEGRITY, "a.py"),
        ),
        z(
            "zip64-declared-huge",
            LyingSizes,
            "ZIP64 extra field declares 1 TiB",
            &[Entry { zip64: true, uncompressed: 1 << 40, ..Entry::deflated("a.py", &text) }],
            fails(LIMIT, "declares more than the limit"),
        ),
        z(
            "compressed-size-larger",
            LyingSizes,
            "compressed size claims 10 MB in a 1 KB archive",
            &[Entry { compressed: 10_000_000, ..Entry::deflated("a.py", b"print(1)\n") }, Entry::stored("b.py", b"b")],
            fails(UNSAFE, "overlap"),
        ),
        z(
            "compressed-size-smaller",
            LyingSizes,
            "compressed size claims half the deflate stream",
            &[Entry { compressed: packed_text.len() as u64 / 2, ..Entry::deflated("a.py", &text) }],
            fails(INTEGRITY, "a.py"),
        ),
        // ---------------------------------------------------------------- integrity
        z("crc-mismatch-stored", Integrity, "stored entry with a wrong CRC-32", &[Entry { crc: 0xdead_beef, ..Entry::stored("a.py", b"print(1)\n") }], fails(INTEGRITY, "CRC-32 mismatch")),
        z("crc-mismatch-deflated", Integrity, "deflated entry with a wrong CRC-32", &[Entry { crc: 1, ..Entry::deflated("a.py", &text) }], fails(INTEGRITY, "CRC-32 mismatch")),
        z("corrupt-deflate", Integrity, "60 flipped bytes inside the deflate stream", &[corrupt], fails(INTEGRITY, "a.py")),
        z(
            "truncated-deflate",
            Integrity,
            "deflate stream cut in half, sizes consistent with the cut",
            &[Entry { data: packed_text[..packed_text.len() / 2].to_vec(), compressed: packed_text.len() as u64 / 2, ..Entry::deflated("a.py", &text) }],
            fails(INTEGRITY, "a.py"),
        ),
        raw("truncated-archive", Integrity, ".zip", "a valid zip cut in half", truncated_zip, fails(INTEGRITY, "corrupt zip archive")),
        raw(
            "central-directory-offset-wrong",
            Integrity,
            ".zip",
            "end record points 7 bytes past the central directory",
            zip_with(&[Entry::stored("a.py", b"a"), Entry::stored("b.py", b"b")], &Options { cd_offset_delta: 7, ..Options::default() }),
            fails(INTEGRITY, "zip"),
        ),
        raw(
            "entry-count-wrong",
            Integrity,
            ".zip",
            "end record claims 5 entries, the directory holds 2 (readers trusting the count and readers walking the directory disagree)",
            zip_with(&[Entry::stored("a.py", b"a"), Entry::stored("b.py", b"b")], &Options { count: Some(5), ..Options::default() }),
            fails(UNSAFE, "declares 5 entries but the central directory holds 2"),
        ),
        z(
            "local-offset-garbage",
            Integrity,
            "a central entry pointing into another entry's data",
            &[Entry::stored("a.py", &text[..2000]), Entry { write_local: false, offset: Some(100), ..Entry::stored("b.py", b"b") }],
            // Pointing into another entry's data is the overlap hazard itself: refused as such.
            fails(UNSAFE, "starts inside the previous entry's data"),
        ),
        raw("tar-gz-truncated", Integrity, ".tar.gz", "tar.gz missing its last 40 bytes", tgz_truncated, fails(INTEGRITY, "corrupt tar.gz archive")),
        raw("tar-gz-crc-wrong", Integrity, ".tar.gz", "gzip trailer CRC flipped", tgz_bad_crc, fails(INTEGRITY, "corrupt tar.gz archive")),
        raw("tar-header-checksum", Integrity, ".tar.gz", "tar header with a wrong checksum", gzip(&bad_checksum), fails(INTEGRITY, "corrupt tar.gz archive")),
        raw("tar-xz-truncated", Integrity, ".tar.xz", "tar.xz cut in half", txz[..txz.len() / 2].to_vec(), fails(INTEGRITY, "corrupt tar.xz archive")),
        // ---------------------------------------------------------------- nested archives
        z(
            "nested-zip",
            Nested,
            "a zip holding a hostile zip: written as a file, never opened",
            &[Entry::stored("main.py", b"m"), Entry::stored("inner.zip", &inner_zip)],
            accepts(Accepted::tree(&["inner.zip", "main.py"]).content("inner.zip", &inner_zip)),
        ),
        z(
            "nested-bomb",
            Nested,
            "a zip holding a 64 MiB tar.gz bomb: written as a file, never opened",
            &[Entry::stored("pkg/bomb.tar.gz", &inner_bomb)],
            accepts(Accepted::tree(&["bomb.tar.gz"]).content("bomb.tar.gz", &inner_bomb)),
        ),
        raw(
            "zip-in-tar-gz",
            Nested,
            ".tar.gz",
            "a tar.gz holding a hostile zip",
            gzip(&Tar::new().file("pkg/inner.zip", &inner_zip).finish()),
            accepts(Accepted::tree(&["inner.zip"]).content("inner.zip", &inner_zip)),
        ),
    ]
}
