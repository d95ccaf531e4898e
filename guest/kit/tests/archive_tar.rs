//! tar.gz and tar.xz: valid trees, the same path/link/limit rules as zip, stream integrity.

mod archive_support;

use archive_support::*;
use scheme_plugin_kit::archive::{ExtractStats, TarCompression};
use scheme_plugin_kit::{ErrorKind, Limits};
use tar::EntryType;

const BOTH: [TarCompression; 2] = [TarCompression::Gzip, TarCompression::Xz];

fn package() -> Vec<u8> {
    let t = TarBuilder::new()
        .dir("./")
        .dir("./pkg/")
        .file("./pkg/main.py", b"print('hi')\n")
        .exec("./pkg/bin/run.sh", b"#!/bin/sh\n")
        .file("pkg/lib/libx.so.1", b"ELF")
        .symlink("pkg/lib/libx.so", "libx.so.1")
        .file("__MACOSX/pkg/._main.py", b"junk");
    t.finish()
}

#[test]
fn a_normal_package_extracts_exactly() {
    for c in BOTH {
        let sb = Sandbox::new();
        let stats = sb
            .untar(&compress(&package(), c), c, &Limits::default())
            .unwrap();
        assert_eq!(
            sb.tree(),
            expect_tree(&[
                ("pkg", Node::Dir),
                ("pkg/main.py", file(b"print('hi')\n")),
                ("pkg/bin", Node::Dir),
                ("pkg/bin/run.sh", file(b"#!/bin/sh\n")),
                ("pkg/lib", Node::Dir),
                ("pkg/lib/libx.so.1", file(b"ELF")),
                ("pkg/lib/libx.so", Node::Link("libx.so.1".into())),
            ]),
            "{c:?}"
        );
        assert_eq!(
            stats,
            ExtractStats {
                entries: 5,
                files: 3,
                directories: 3,
                symlinks: 1,
                bytes_written: 12 + 10 + 3,
                executables: vec!["pkg/bin/run.sh".into()],
            }
        );
        sb.assert_nothing_outside();
    }
}

#[test]
fn long_names_via_gnu_and_pax_headers() {
    let long_dir = "d".repeat(120);
    let long = format!("{long_dir}/{}.py", "n".repeat(150));
    let mut gnu = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o644);
    gnu.append_data(&mut h, &long, &b"gnu!"[..]).unwrap();
    let mut pax = tar::Builder::new(Vec::new());
    pax.append_pax_extensions([("path", long.as_bytes())])
        .unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_path("short-name-replaced-by-pax").unwrap();
    h.set_size(4);
    h.set_mode(0o644);
    h.set_cksum();
    pax.append(&h, &b"pax!"[..]).unwrap();
    for (bytes, content) in [
        (gnu.into_inner().unwrap(), b"gnu!"),
        (pax.into_inner().unwrap(), b"pax!"),
    ] {
        let sb = Sandbox::new();
        sb.untar(&gzip(&bytes), TarCompression::Gzip, &Limits::default())
            .unwrap();
        assert_eq!(
            sb.tree(),
            expect_tree(&[
                (long_dir.as_str(), Node::Dir),
                (long.as_str(), file(content))
            ])
        );
    }
}

#[test]
fn an_empty_tar_gives_an_empty_tree() {
    for c in BOTH {
        let sb = Sandbox::new();
        assert_eq!(
            sb.untar(
                &compress(&TarBuilder::new().finish(), c),
                c,
                &Limits::default()
            )
            .unwrap(),
            ExtractStats::default()
        );
        assert!(sb.tree().is_empty());
    }
}

#[test]
fn unsafe_names_and_types_are_refused() {
    let cases: Vec<(Vec<u8>, ErrorKind)> = vec![
        (
            TarBuilder::new().file("../evil.txt", b"x").finish(),
            ErrorKind::UnsafeArchive,
        ),
        (
            TarBuilder::new().file("/tmp/abs_evil.txt", b"x").finish(),
            ErrorKind::UnsafeArchive,
        ),
        (
            TarBuilder::new().file("a\\..\\..\\evil", b"x").finish(),
            ErrorKind::UnsafeArchive,
        ),
        (
            TarBuilder::new().file("C:/evil", b"x").finish(),
            ErrorKind::UnsafeArchive,
        ),
        (
            TarBuilder::new().dir("../evil_dir/").finish(),
            ErrorKind::UnsafeArchive,
        ),
        (
            TarBuilder::new().file(".", b"x").finish(),
            ErrorKind::UnsafeArchive,
        ),
        (
            TarBuilder::new()
                .raw(b"bad\xffname", EntryType::Regular, b"", 0o644, b"x")
                .finish(),
            ErrorKind::UnsafeArchive,
        ),
        (
            TarBuilder::new()
                .file("t", b"x")
                .raw(b"hard", EntryType::Link, b"t", 0o644, b"")
                .finish(),
            ErrorKind::UnsafeArchive,
        ),
        (
            TarBuilder::new()
                .raw(b"tty", EntryType::Char, b"", 0o644, b"")
                .finish(),
            ErrorKind::UnsafeArchive,
        ),
        (
            TarBuilder::new()
                .raw(b"disk", EntryType::Block, b"", 0o644, b"")
                .finish(),
            ErrorKind::UnsafeArchive,
        ),
        (
            TarBuilder::new()
                .raw(b"pipe", EntryType::Fifo, b"", 0o644, b"")
                .finish(),
            ErrorKind::UnsafeArchive,
        ),
        (
            TarBuilder::new()
                .raw(b"vol", EntryType::new(b'V'), b"", 0o644, b"")
                .finish(),
            ErrorKind::Unsupported,
        ),
        (
            TarBuilder::new()
                .file("a.txt", b"1")
                .file("a.txt", b"2")
                .finish(),
            ErrorKind::UnsafeArchive,
        ),
        (
            TarBuilder::new()
                .file("caf\u{e9}", b"1")
                .file("cafe\u{301}", b"2")
                .finish(),
            ErrorKind::UnsafeArchive,
        ),
        (
            TarBuilder::new().file("a", b"1").file("a/b", b"2").finish(),
            ErrorKind::UnsafeArchive,
        ),
        (
            TarBuilder::new().file(&"x".repeat(99), b"").finish(),
            ErrorKind::LimitExceeded,
        ),
    ];
    let limits = Limits {
        max_path_bytes: 98,
        ..Limits::default()
    };
    for (tar, kind) in cases {
        let e = tar_fails(&gzip(&tar), TarCompression::Gzip, &limits, kind);
        assert!(!e.message.is_empty());
    }
}

#[test]
fn escaping_symlinks_are_refused_and_never_written_through() {
    let cases = [
        TarBuilder::new()
            .symlink("up", "../..")
            .file("up/evil.txt", b"x")
            .finish(),
        TarBuilder::new()
            .symlink("abs", "/etc")
            .file("abs/evil.txt", b"x")
            .finish(),
        TarBuilder::new().symlink("abs", "/etc/passwd").finish(),
        TarBuilder::new().symlink("a/l", "../../x").finish(),
        TarBuilder::new()
            .symlink("a/l1", "../b")
            .dir("b")
            .symlink("c/l2", "../a/l1/../../x")
            .finish(),
        TarBuilder::new()
            .file("pkg/x", b"x")
            .symlink("pkg/l", "../pkg/x")
            .finish(),
    ];
    for tar in cases {
        let sb = Sandbox::new();
        let e = sb
            .untar(&gzip(&tar), TarCompression::Gzip, &Limits::default())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsafeArchive, "{}", e.message);
        sb.assert_nothing_outside();
        assert!(
            sb.tree().values().all(|n| !matches!(n, Node::Link(_))),
            "no symlink is left behind: {:?}",
            sb.tree()
        );
    }
}

#[test]
fn limits_apply_to_tar_streams() {
    let zeros = vec![0u8; 2 << 20];
    let bomb = TarBuilder::new().file("zeros", &zeros).finish();
    for c in BOTH {
        let packed = compress(&bomb, c);
        tar_fails(
            &packed,
            c,
            &Limits {
                max_compression_ratio: 50,
                ..Limits::default()
            },
            ErrorKind::LimitExceeded,
        );
        tar_fails(
            &packed,
            c,
            &Limits {
                max_unpacked_bytes: 1 << 20,
                ..Limits::default()
            },
            ErrorKind::LimitExceeded,
        );
        let sb = Sandbox::new();
        // Without those limits the same stream is fine.
        sb.untar(
            &packed,
            c,
            &Limits {
                max_compression_ratio: 1 << 20,
                ..Limits::default()
            },
        )
        .unwrap();
        assert_eq!(
            sb.tree(),
            expect_tree(&[("zeros", Node::File(zeros.clone()))])
        );
    }
    let many = {
        let mut t = TarBuilder::new();
        for i in 0..11 {
            t = t.file(&format!("f{i}"), b"");
        }
        t.finish()
    };
    tar_fails(
        &gzip(&many),
        TarCompression::Gzip,
        &Limits {
            max_entries: 10,
            ..Limits::default()
        },
        ErrorKind::LimitExceeded,
    );
    // A GNU long name beyond the path limit is refused before it is buffered whole.
    let mut long = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    long.append_data(&mut h, "n".repeat(10_000), &b""[..])
        .unwrap();
    tar_fails(
        &gzip(&long.into_inner().unwrap()),
        TarCompression::Gzip,
        &Limits::default(),
        ErrorKind::LimitExceeded,
    );
}

#[test]
fn broken_streams_are_integrity_errors() {
    let tar = package();
    for c in BOTH {
        let good = compress(&tar, c);
        // Truncated at several points.
        for cut in [good.len() - 1, good.len() - 8, good.len() / 2, 20] {
            tar_fails(&good[..cut], c, &Limits::default(), ErrorKind::Integrity);
        }
        // A flipped byte in the checksum trailer.
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 6] ^= 0x55;
        tar_fails(&bad, c, &Limits::default(), ErrorKind::Integrity);
    }
    // A corrupt tar header checksum inside a valid gzip stream.
    let mut t = TarBuilder::new().file("a.txt", b"aaa").finish();
    t[148] ^= 0x01;
    tar_fails(
        &gzip(&t),
        TarCompression::Gzip,
        &Limits::default(),
        ErrorKind::Integrity,
    );
    // Truncated tar data inside a valid gzip stream.
    let t = TarBuilder::new().file("a.txt", &vec![1u8; 5000]).finish();
    tar_fails(
        &gzip(&t[..2000]),
        TarCompression::Gzip,
        &Limits::default(),
        ErrorKind::Integrity,
    );
}

#[test]
fn objects_that_are_not_tarballs_say_so() {
    let html = b"<html><body>404 Not Found</body></html>";
    for c in BOTH {
        let e = tar_fails(html, c, &Limits::default(), ErrorKind::Integrity);
        assert!(e.message.contains("<html><body>404"), "{}", e.message);
        tar_fails(b"", c, &Limits::default(), ErrorKind::Integrity);
    }
    // A gzip stream that is not a tar.
    tar_fails(
        &gzip(b"just some text, not a tar archive at all"),
        TarCompression::Gzip,
        &Limits::default(),
        ErrorKind::Integrity,
    );
    // Wrong compression for the stream.
    tar_fails(
        &xz(&package()),
        TarCompression::Gzip,
        &Limits::default(),
        ErrorKind::Integrity,
    );
}

#[test]
fn concatenated_gzip_members_are_one_stream() {
    let tar = package();
    let (a, b) = tar.split_at(1024);
    let mut bytes = gzip(a);
    bytes.extend_from_slice(&gzip(b));
    let sb = Sandbox::new();
    sb.untar(&bytes, TarCompression::Gzip, &Limits::default())
        .unwrap();
    assert_eq!(sb.tree().len(), 7);
}

#[test]
fn an_xz_block_asking_for_a_huge_dictionary_is_refused() {
    let mut bytes = xz(&package());
    // The first block header follows the 12-byte stream header: size, flags, optional
    // sizes, then the LZMA2 filter (id 0x21, one property byte: the dictionary size).
    let start = 12;
    let size = (usize::from(bytes[start]) + 1) * 4;
    let flags = bytes[start + 1];
    let mut at = start + 2;
    let skip_varint = |at: &mut usize, b: &[u8]| {
        while b[*at] & 0x80 != 0 {
            *at += 1;
        }
        *at += 1;
    };
    if flags & 0x40 != 0 {
        skip_varint(&mut at, &bytes);
    }
    if flags & 0x80 != 0 {
        skip_varint(&mut at, &bytes);
    }
    assert_eq!(
        (bytes[at], bytes[at + 1]),
        (0x21, 1),
        "LZMA2 filter with one property byte"
    );
    bytes[at + 2] = 36; // 1 GiB
    let crc = crc32(&bytes[start..start + size - 4]);
    bytes[start + size - 4..start + size].copy_from_slice(&crc.to_le_bytes());
    let e = tar_fails(
        &bytes,
        TarCompression::Xz,
        &Limits::default(),
        ErrorKind::LimitExceeded,
    );
    assert!(e.message.contains("memory"), "{}", e.message);
}
