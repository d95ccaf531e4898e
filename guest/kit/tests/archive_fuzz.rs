//! Arbitrary and mutated inputs never panic and never write outside the target.

mod archive_support;

use archive_support::*;
use proptest::prelude::*;
use scheme_plugin_kit::archive::TarCompression;
use scheme_plugin_kit::Limits;

fn small_limits() -> Limits {
    Limits {
        max_unpacked_bytes: 4 << 20,
        max_entries: 200,
        max_compression_ratio: 1000,
        ..Limits::default()
    }
}

/// A small valid zip with a file, a directory, an executable and a symlink: mutations of it
/// reach far deeper than random bytes.
fn seed_zip() -> Vec<u8> {
    zip(&[
        Entry::deflated("pkg/a.py", b"print('a')\n".repeat(20).as_slice()),
        Entry::stored("pkg/d/", b"").mode(0o040755),
        Entry::stored("pkg/run", b"#!/bin/sh\n").mode(0o100755),
        Entry::symlink("pkg/l", "a.py"),
    ])
}

fn seed_tar() -> Vec<u8> {
    TarBuilder::new()
        .dir("pkg/")
        .file("pkg/a.py", &b"print('a')\n".repeat(20))
        .exec("pkg/run", b"#!/bin/sh\n")
        .symlink("pkg/l", "a.py")
        .finish()
}

fn check_zip(bytes: &[u8]) {
    let sb = Sandbox::new();
    let _ = sb.unzip(bytes, &small_limits());
    sb.assert_nothing_outside();
    for (path, node) in sb.tree() {
        assert!(!path.contains(".."), "{path}");
        if let Node::Link(t) = node {
            assert!(!t.starts_with('/'), "{path} -> {t}");
        }
    }
}

fn check_tar(bytes: &[u8], c: TarCompression) {
    let sb = Sandbox::new();
    let _ = sb.untar(bytes, c, &small_limits());
    sb.assert_nothing_outside();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_harmless(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_zip(&bytes);
        check_tar(&bytes, TarCompression::Gzip);
        check_tar(&bytes, TarCompression::Xz);
    }

    #[test]
    fn random_bytes_behind_a_zip_signature_are_harmless(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut z = b"PK\x03\x04".to_vec();
        z.extend_from_slice(&bytes);
        z.extend_from_slice(b"PK\x05\x06");
        z.extend_from_slice(&bytes[..bytes.len().min(18)]);
        check_zip(&z);
    }

    #[test]
    fn mutated_zips_are_harmless(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut z = seed_zip();
        for (at, value) in edits {
            let i = at.index(z.len());
            z[i] = value;
        }
        check_zip(&z);
    }

    #[test]
    fn mutated_tars_are_harmless(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut t = seed_tar();
        for (at, value) in edits {
            let i = at.index(t.len());
            t[i] = value;
        }
        check_tar(&gzip(&t), TarCompression::Gzip);
    }
}

#[test]
fn the_seeds_themselves_extract() {
    let sb = Sandbox::new();
    sb.unzip(&seed_zip(), &small_limits()).unwrap();
    assert_eq!(sb.tree().len(), 5);
    let sb = Sandbox::new();
    sb.untar(&gzip(&seed_tar()), TarCompression::Gzip, &small_limits())
        .unwrap();
    assert_eq!(sb.tree().len(), 4);
}
