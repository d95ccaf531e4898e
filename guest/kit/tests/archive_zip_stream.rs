//! The streamed zip extractor against the file-based one: same trees for valid archives in
//! any chunking, and the same refusals for the hostile cases it must catch as bytes arrive.

mod archive_support;

use archive_support::*;
use scheme_plugin_kit::archive::zipstream::{prepare, Prepared, Tail};
use scheme_plugin_kit::archive::ExtractStats;
use scheme_plugin_kit::{ErrorKind, Limits};

fn sample() -> Vec<u8> {
    let big: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let text = b"def f(x):\n    return x * 2\n".repeat(2000);
    zip(&[
        Entry::stored("pkg/", b"").mode(0o40755),
        Entry::deflated("pkg/main.py", &text),
        Entry::stored("pkg/data.bin", &big),
        Entry::deflated("pkg/bin/run.sh", b"#!/bin/sh\necho hi\n").mode(0o100755),
        Entry::stored("pkg/empty.txt", b""),
        Entry::symlink("pkg/link.py", "main.py"),
        Entry::stored("__MACOSX/pkg/._main.py", b"resource fork"),
    ])
}

#[test]
fn same_tree_as_the_file_extractor_in_any_chunking() {
    let zip = sample();
    let reference = Sandbox::new();
    let want_stats = reference.unzip(&zip, &Limits::default()).unwrap();
    let want = reference.tree();
    for (tail, chunk) in [(1 << 20, 1 << 20), (1 << 20, 1), (1 << 20, 7), (100, 4096), (30, 65_536)] {
        let sb = Sandbox::new();
        let stats = stream(&sb, &zip, tail, chunk, &Limits::default()).unwrap_or_else(|e| panic!("tail {tail} chunk {chunk}: {e}"));
        assert_eq!(sb.tree(), want, "tail {tail} chunk {chunk}");
        assert_eq!(stats, want_stats, "tail {tail} chunk {chunk}");
        sb.assert_nothing_outside();
    }
}

#[test]
fn entries_sharing_data_are_refused() {
    let a = Entry::deflated("a.txt", &b"zeros".repeat(1000));
    let mut b = a.clone().raw_name(b"b.txt");
    b.write_local = false;
    b.offset = Some(0);
    let zip = zip(&[a, b]);
    let e = stream(&Sandbox::new(), &zip, 1 << 20, 1000, &Limits::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsafeArchive, "{e}");
}

#[test]
fn damaged_data_and_headers_are_integrity_errors() {
    let text = b"hello world\n".repeat(100);
    let mut bad_crc = Entry::deflated("a.txt", &text);
    bad_crc.crc ^= 1;
    let e = stream(&Sandbox::new(), &zip(&[bad_crc]), 1 << 20, 10, &Limits::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    assert!(e.message.contains("CRC"), "{}", e.message);

    let mut short = Entry::stored("b.txt", &text);
    short.uncompressed += 1;
    let e = stream(&Sandbox::new(), &zip(&[short]), 1 << 20, 10, &Limits::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");

    // The local header names another file than the central directory does: not damage
    // alone, since streaming readers would unpack that other name (see
    // archive_zip_differentials.rs).
    let mut zip = zip(&[Entry::stored("c.txt", b"abc")]);
    zip[30] = b'x';
    let e = stream(&Sandbox::new(), &zip, 1 << 20, 3, &Limits::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsafeArchive, "{e}");
}

#[test]
fn limits_hold_while_streaming() {
    let zip = sample();
    let limits = Limits { max_unpacked_bytes: 1000, ..Limits::default() };
    let e = stream(&Sandbox::new(), &zip, 1 << 20, 4096, &limits).unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded, "{e}");
    let limits = Limits { max_entries: 3, ..Limits::default() };
    let e = stream(&Sandbox::new(), &zip, 1 << 20, 4096, &limits).unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded, "{e}");
}

#[test]
fn escaping_symlinks_are_refused() {
    let zip = zip(&[Entry::stored("pkg/a.py", b"x"), Entry::symlink("pkg/l", "../../etc/passwd")]);
    let sb = Sandbox::new();
    let e = stream(&sb, &zip, 1 << 20, 64, &Limits::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsafeArchive, "{e}");
    sb.assert_nothing_outside();
}

#[test]
fn other_methods_are_left_to_the_file_extractor() {
    let mut e = Entry::stored("a.bz2", b"not really bzip2");
    e.method = 12;
    let zip = zip(&[e]);
    let total = zip.len() as u64;
    let view = Tail { bytes: &zip, start: 0, total };
    assert!(matches!(prepare(&view, &Limits::default()).unwrap(), Prepared::NotStreamable(_)));
}

#[test]
fn parts_together_make_the_same_tree() {
    let zip = sample();
    let reference = Sandbox::new();
    let want_stats = reference.unzip(&zip, &Limits::default()).unwrap();
    let want = reference.tree();
    for count in [1, 2, 3, 5, 16] {
        let sb = Sandbox::new();
        let parts = stream_parts(&sb, &zip, count, &Limits::default()).unwrap_or_else(|e| panic!("{count} parts: {e}"));
        assert_eq!(sb.tree(), want, "{count} parts");
        let sum = |f: fn(&ExtractStats) -> u64| parts.iter().map(f).sum::<u64>();
        assert_eq!(sum(|s| s.files), want_stats.files, "{count} parts");
        assert_eq!(sum(|s| s.bytes_written), want_stats.bytes_written, "{count} parts");
        assert_eq!(sum(|s| s.symlinks), want_stats.symlinks, "{count} parts");
        sb.assert_nothing_outside();
    }
}

#[test]
fn parts_balance_compressed_bytes() {
    let blobs: Vec<Vec<u8>> = (0..8u32).map(|i| (0..200_000u32).map(|j| (j.wrapping_mul(2_654_435_761) ^ i) as u8).collect()).collect();
    let entries: Vec<Entry> = blobs.iter().enumerate().map(|(i, b)| Entry::stored(&format!("f{i}.bin"), b)).collect();
    let zip = zip(&entries);
    let total = zip.len() as u64;
    let mut sizes = Vec::new();
    for index in 0..2 {
        let Prepared::Plan(mut plan) = prepare(&Tail { bytes: &zip, start: 0, total }, &Limits::default()).unwrap() else { panic!() };
        plan.keep_part(index, 2);
        sizes.push((plan.entries(), plan.body_end() - plan.body_start()));
    }
    assert_eq!(sizes[0].0, 4, "{sizes:?}");
    assert_eq!(sizes[1].0, 4, "{sizes:?}");
}

#[test]
fn overlap_across_a_part_boundary_is_refused() {
    // b's data starts inside a's: whichever part gets a must not run into b's share.
    let a = Entry::deflated("a.txt", &b"zeros".repeat(100_000));
    let mut b = a.clone().raw_name(b"b.txt");
    b.write_local = false;
    b.offset = Some(0);
    let c = Entry::stored("c.txt", &[7u8; 50_000]);
    let zip = zip(&[a, b, c]);
    for count in [2, 3] {
        let e = stream_parts(&Sandbox::new(), &zip, count, &Limits::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsafeArchive, "{count} parts: {e}");
    }
}
