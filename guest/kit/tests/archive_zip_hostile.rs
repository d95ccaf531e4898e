//! Hostile and broken zip archives: each must end in the exact error kind, with nothing
//! written outside the target.

mod archive_support;

use archive_support::*;
use scheme_plugin_kit::{ErrorKind, Limits};

fn one(name: &str) -> Vec<u8> {
    zip(&[Entry::stored(name, b"payload")])
}

#[test]
fn unsafe_names_are_refused() {
    for name in [
        "../evil.txt",
        "pkg/../../evil.txt",
        "pkg/../x.txt",
        "/tmp/abs_evil.txt",
        "//server/share/evil.txt",
        "..\\evil.txt",
        "pkg\\..\\..\\evil.txt",
        "\\\\server\\share\\evil.txt",
        "C:/evil.txt",
        "C:evil.txt",
        "../evil_dir/",
        "",
        ".",
        "./",
        "a\0b",
    ] {
        let e = zip_fails(&one(name), &Limits::default(), ErrorKind::UnsafeArchive);
        assert!(!e.message.is_empty(), "{name:?}");
    }
    let long = format!("pkg/{}.py", "x".repeat(256));
    zip_fails(&one(&long), &Limits::default(), ErrorKind::UnsafeArchive);
}

#[test]
fn names_beyond_the_limits_are_refused() {
    let limits = Limits {
        max_path_bytes: 64,
        max_path_depth: 4,
        ..Limits::default()
    };
    zip_fails(&one(&"a".repeat(65)), &limits, ErrorKind::LimitExceeded);
    zip_fails(&one("a/b/c/d/e.txt"), &limits, ErrorKind::LimitExceeded);
    let deep = "d/".repeat(100) + "f";
    zip_fails(&one(&deep), &Limits::default(), ErrorKind::LimitExceeded);
    let many: Vec<Entry> = (0..11)
        .map(|i| Entry::stored(&format!("f{i}"), b""))
        .collect();
    zip_fails(
        &zip(&many),
        &Limits {
            max_entries: 10,
            ..Limits::default()
        },
        ErrorKind::LimitExceeded,
    );
    let sb = Sandbox::new();
    sb.unzip(
        &zip(&many[..10]),
        &Limits {
            max_entries: 10,
            ..Limits::default()
        },
    )
    .unwrap();
    // A count in the end record above the limit is refused before the central directory is
    // parsed (and held in memory), whatever the real directory holds.
    let claims_more = zip_with(
        &many[..2],
        &Options {
            count: Some(60_000),
            ..Options::default()
        },
    );
    zip_fails(
        &claims_more,
        &Limits {
            max_entries: 1000,
            ..Limits::default()
        },
        ErrorKind::LimitExceeded,
    );
}

#[test]
fn a_name_marked_utf8_that_is_not_is_refused() {
    let e = Entry {
        flags: 1 << 11,
        ..Entry::stored("x", b"")
    }
    .raw_name(b"bad\xff\xfe.txt");
    let err = zip_fails(&zip(&[e]), &Limits::default(), ErrorKind::UnsafeArchive);
    assert!(err.message.contains("bad\\xff\\xfe.txt"), "{}", err.message);
}

#[test]
fn control_characters_in_names_are_escaped_in_messages() {
    let err = zip_fails(
        &one("../\x1b[31mred\u{202e}txt"),
        &Limits::default(),
        ErrorKind::UnsafeArchive,
    );
    assert!(
        !err.message.contains('\x1b') && !err.message.contains('\u{202e}'),
        "{}",
        err.message
    );
}

#[test]
fn escaping_symlinks_are_refused_and_nothing_is_written_through_them() {
    let cases: Vec<Vec<Entry>> = vec![
        // Relative escape, then a file "inside" the link.
        vec![
            Entry::symlink("pkg/up", "../../.."),
            Entry::stored("pkg/up/evil.txt", b"x"),
        ],
        vec![
            Entry::symlink("pkg/up", "../.."),
            Entry::stored("pkg/other", b"x"),
        ],
        // Absolute target, then a file through it.
        vec![
            Entry::symlink("abs", "/tmp"),
            Entry::stored("abs/evil.txt", b"x"),
        ],
        vec![Entry::symlink("abs", "/etc/passwd")],
        // Through another symlink.
        vec![
            Entry::symlink("a/l1", "../b"),
            Entry::stored("b/x", b"x"),
            Entry::symlink("c/l2", "../a/l1/../../.."),
        ],
        // Under a single top-level directory the host strips, leaving it is an escape.
        vec![
            Entry::stored("pkg/x", b"x"),
            Entry::symlink("pkg/l", "../pkg/x"),
        ],
        vec![Entry::symlink("l", "a\\..\\..\\x")],
        vec![Entry::symlink("l", "")],
    ];
    for entries in cases {
        let sb = Sandbox::new();
        let e = sb
            .unzip(&zip(&entries), &Limits::default())
            .expect_err("must fail");
        assert_eq!(e.kind, ErrorKind::UnsafeArchive, "{}", e.message);
        sb.assert_nothing_outside();
        // Validation precedes writing: nothing at all was created.
        assert!(sb.tree().is_empty(), "{:?}", sb.tree());
    }
}

#[test]
fn a_long_symlink_target_is_refused() {
    let target = "a/".repeat(3000);
    zip_fails(
        &zip(&[Entry::symlink("l", &target)]),
        &Limits::default(),
        ErrorKind::LimitExceeded,
    );
}

#[test]
fn duplicates_and_conflicts_are_refused() {
    let cases: Vec<Vec<Entry>> = vec![
        vec![
            Entry::stored("a.txt", b"1"),
            Entry::stored("a.txt", b"2"),
        ],
        vec![Entry::stored("d/", b""), Entry::stored("d/", b"")],
        // Equal after normalising `.` and empty components.
        vec![
            Entry::stored("a/b.txt", b"1"),
            Entry::stored("a//./b.txt", b"2"),
        ],
        // Equal after Unicode NFC: precomposed and decomposed é.
        vec![
            Entry::stored("caf\u{e9}.py", b"1"),
            Entry::stored("cafe\u{301}.py", b"2"),
        ],
        // A file and a directory with one name, both orders.
        vec![
            Entry::stored("a", b"file"),
            Entry::stored("a/b", b"x"),
        ],
        vec![
            Entry::stored("a/b", b"x"),
            Entry::stored("a", b"file"),
        ],
        vec![Entry::stored("a/", b""), Entry::stored("a", b"file")],
        // A symlink and a file below it.
        vec![
            Entry::symlink("l", "d"),
            Entry::stored("l/x", b"x"),
            Entry::stored("d/y", b"y"),
        ],
    ];
    for entries in cases {
        let sb = Sandbox::new();
        let e = sb
            .unzip(&zip(&entries), &Limits::default())
            .expect_err("must fail");
        assert_eq!(e.kind, ErrorKind::UnsafeArchive, "{}", e.message);
        assert!(sb.tree().is_empty());
        sb.assert_nothing_outside();
    }
}

#[test]
fn special_file_types_are_refused() {
    for mode in [0o010644, 0o020644, 0o060644, 0o140644] {
        zip_fails(
            &zip(&[Entry::stored("dev", b"").mode(mode)]),
            &Limits::default(),
            ErrorKind::UnsafeArchive,
        );
    }
}

#[test]
fn overlapping_entries_are_refused() {
    // Two central entries sharing one local record.
    let a = Entry::deflated("a.txt", &vec![0u8; 10_000]);
    let b = Entry {
        write_local: false,
        offset: Some(0),
        ..a.clone().raw_name(b"b.txt")
    };
    let e = zip_fails(
        &zip(&[a, b]),
        &Limits::default(),
        ErrorKind::UnsafeArchive,
    );
    assert!(e.message.contains("overlap"), "{}", e.message);

    // Fifield-style: the second entry's local header sits inside the first entry's data.
    let inner = Entry::deflated("inner.txt", &vec![0u8; 10_000]);
    let inner_record = inner.local_record();
    let mut outer = Entry::stored("outer.bin", &inner_record);
    outer.data = inner_record.clone();
    let data_start = 30 + outer.name.len() as u64;
    let hidden = Entry {
        write_local: false,
        offset: Some(data_start),
        ..inner
    };
    zip_fails(
        &zip(&[outer, hidden]),
        &Limits::default(),
        ErrorKind::UnsafeArchive,
    );

    // An entry whose data runs into the central directory.
    let mut long = Entry::stored("long.txt", b"abc");
    long.compressed = 500;
    long.uncompressed = 500;
    let sb = Sandbox::new();
    let e = sb.unzip(&zip(&[long]), &Limits::default()).unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::UnsafeArchive | ErrorKind::Integrity),
        "{e}"
    );
    assert!(sb.tree().is_empty());
}

#[test]
fn bombs_hit_the_limits() {
    // One entry expanding beyond the ratio limit (only above the 1 MiB floor).
    let zeros = vec![0u8; 4 << 20];
    let limits = Limits {
        max_compression_ratio: 100,
        ..Limits::default()
    };
    zip_fails(
        &zip(&[Entry::deflated("zeros", &zeros)]),
        &limits,
        ErrorKind::LimitExceeded,
    );
    let small = vec![0u8; 512 << 10];
    let sb = Sandbox::new();
    sb.unzip(
        &zip(&[Entry::deflated("small_zeros", &small)]),
        &limits,
    )
    .unwrap();

    // The same bomb, lying about its size so the declared ratio looks harmless: caught while
    // streaming, as an integrity error (more bytes than declared) or by the ratio.
    let mut liar = Entry::deflated("liar", &zeros);
    liar.uncompressed = 1000;
    let sb = Sandbox::new();
    let e = sb.unzip(&zip(&[liar]), &limits).unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::Integrity | ErrorKind::LimitExceeded),
        "{e}"
    );
    let written = std::fs::metadata(sb.target.join("liar"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(
        written <= 1000,
        "wrote {written} bytes past the declared size"
    );

    // The total.
    let limits = Limits {
        max_unpacked_bytes: 1 << 20,
        ..Limits::default()
    };
    let entries: Vec<Entry> = (0..3)
        .map(|i| Entry::deflated(&format!("part{i}"), &vec![7u8; 400 << 10]))
        .collect();
    zip_fails(&zip(&entries), &limits, ErrorKind::LimitExceeded);
}

#[test]
fn an_lzma_entry_asking_for_a_huge_dictionary_is_refused() {
    let mut e = lzma_entry("lzma", b"hello");
    e.data = zip_lzma(b"hello", u32::MAX - 16);
    e.compressed = e.data.len() as u64;
    e.uncompressed = 1 << 30;
    let limits = Limits {
        max_compression_ratio: u64::MAX,
        ..Limits::default()
    };
    let err = zip_fails(&zip(&[e]), &limits, ErrorKind::LimitExceeded);
    assert!(err.message.contains("dictionary"), "{}", err.message);
}

#[test]
fn lying_sizes_and_bad_checksums_are_integrity_errors() {
    let data = b"the quick brown fox jumps over the lazy dog".repeat(50);

    let mut smaller = Entry::deflated("smaller", &data);
    smaller.uncompressed = 10;
    zip_fails(
        &zip(&[smaller]),
        &Limits::default(),
        ErrorKind::Integrity,
    );

    let mut larger = Entry::deflated("larger", &data);
    larger.uncompressed = data.len() as u64 + 100;
    zip_fails(
        &zip(&[larger]),
        &Limits::default(),
        ErrorKind::Integrity,
    );

    let mut stored_larger = Entry::stored("stored_larger", &data);
    stored_larger.uncompressed += 1;
    zip_fails(
        &zip(&[stored_larger]),
        &Limits::default(),
        ErrorKind::Integrity,
    );

    for uncompressed in [3, data.len() as u64 * 2] {
        let mut lying64 = Entry::deflated("lying64", &data);
        lying64.zip64 = true;
        lying64.uncompressed = uncompressed;
        zip_fails(
            &zip(&[lying64]),
            &Limits::default(),
            ErrorKind::Integrity,
        );
    }

    let mut bad_crc = Entry::deflated("bad_crc", &data);
    bad_crc.crc ^= 1;
    let e = zip_fails(
        &zip(&[bad_crc]),
        &Limits::default(),
        ErrorKind::Integrity,
    );
    assert!(e.message.contains("CRC"), "{}", e.message);

    let mut bad_link_crc = Entry::symlink("l", "target");
    bad_link_crc.crc ^= 1;
    zip_fails(
        &zip(&[Entry::stored("target", b""), bad_link_crc]),
        &Limits::default(),
        ErrorKind::Integrity,
    );

    let mut corrupt = Entry::deflated("corrupt", &data);
    let n = corrupt.data.len();
    corrupt.data[n / 2..].iter_mut().for_each(|b| *b = 0xff);
    zip_fails(
        &zip(&[corrupt]),
        &Limits::default(),
        ErrorKind::Integrity,
    );

    let mut truncated_stream = Entry::deflated("truncated", &data);
    truncated_stream
        .data
        .truncate(truncated_stream.data.len() / 2);
    truncated_stream.compressed = truncated_stream.data.len() as u64;
    zip_fails(
        &zip(&[truncated_stream]),
        &Limits::default(),
        ErrorKind::Integrity,
    );
}

#[test]
fn broken_structure_is_an_integrity_error() {
    let good = zip(&[
        Entry::deflated("a.txt", b"aaaa"),
        Entry::stored("b.txt", b"bbbb"),
    ]);

    // Truncated anywhere: at the end record, in the central directory, in the data.
    for cut in [good.len() - 5, good.len() - 30, 40, 10] {
        zip_fails(&good[..cut], &Limits::default(), ErrorKind::Integrity);
    }

    let entries = [
        Entry::deflated("a.txt", b"aaaa"),
        Entry::stored("b.txt", b"bbbb"),
    ];
    for o in [
        Options {
            cd_offset_delta: 7,
            ..Options::default()
        },
        Options {
            cd_offset_delta: -7,
            ..Options::default()
        },
    ] {
        let sb = Sandbox::new();
        let e = sb
            .unzip(&zip_with(&entries, &o), &Limits::default())
            .expect_err("must fail");
        assert_eq!(e.kind, ErrorKind::Integrity, "{o:?}: {}", e.message);
        assert!(sb.tree().is_empty());
    }
    // A count that disagrees with the directory is read one way by readers that trust the
    // count (the zip crate) and another by readers that walk the directory (CPython).
    for (count, holds) in [(3, "holds 2"), (1, "holds more than 1")] {
        let o = Options {
            count: Some(count),
            ..Options::default()
        };
        let e = zip_fails(&zip_with(&entries, &o), &Limits::default(), ErrorKind::UnsafeArchive);
        assert!(e.message.contains(&format!("declares {count} entries")) && e.message.contains(holds), "{}", e.message);
    }

    // A local header pointed at that is not one.
    let bad_offset = Entry {
        offset: Some(3),
        ..Entry::stored("x", b"xx")
    };
    zip_fails(
        &zip(&[bad_offset]),
        &Limits::default(),
        ErrorKind::Integrity,
    );
}

#[test]
fn a_fake_end_record_in_the_comment_is_refused() {
    // A second end record hidden in the archive comment, claiming a central directory at
    // offset 0 that the zip crate would go and look for (finding the real one, read as if
    // the archive started elsewhere), while CPython finds no directory where the record
    // says it ends.
    let mut fake = Vec::new();
    fake.extend_from_slice(&0x06054b50u32.to_le_bytes());
    fake.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    fake.extend_from_slice(&46u32.to_le_bytes());
    fake.extend_from_slice(&0u32.to_le_bytes());
    fake.extend_from_slice(&0u16.to_le_bytes());
    let bytes = zip_with(
        &[Entry::stored("real.txt", b"real")],
        &Options {
            comment: fake,
            ..Options::default()
        },
    );
    let e = zip_fails(&bytes, &Limits::default(), ErrorKind::UnsafeArchive);
    assert!(e.message.contains("two end-of-central-directory records"), "{}", e.message);
}

#[test]
fn unsupported_features_are_named() {
    let mut encrypted = Entry::stored("secret.txt", b"xxxxxxxxxxxxxxxx");
    encrypted.flags |= 1;
    let e = zip_fails(
        &zip(&[encrypted]),
        &Limits::default(),
        ErrorKind::Unsupported,
    );
    assert!(e.message.contains("encrypted"), "{}", e.message);

    let method99 = Entry {
        method: 99,
        ..Entry::stored("aes.txt", b"data")
    };
    let e = zip_fails(
        &zip(&[method99]),
        &Limits::default(),
        ErrorKind::Unsupported,
    );
    assert!(e.message.contains("99"), "{}", e.message);

    for (method, name) in [
        (95u16, "Xz"),
        (93, "Zstd"),
        (1, "Shrink"),
        (6, "Implode"),
        (12345, ""),
    ] {
        let entry = Entry {
            method,
            ..Entry::stored("m.txt", b"data")
        };
        let e = zip_fails(
            &zip(&[entry]),
            &Limits::default(),
            ErrorKind::Unsupported,
        );
        assert!(
            e.message.contains(&method.to_string()) && e.message.contains(name),
            "{}",
            e.message
        );
    }

    let multi = zip_with(
        &[Entry::stored("part.txt", b"p")],
        &Options {
            disk: 1,
            cd_disk: 0,
            ..Options::default()
        },
    );
    zip_fails(&multi, &Limits::default(), ErrorKind::Unsupported);
}

#[test]
fn objects_that_are_not_zips_say_so() {
    let xml = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>0000</RequestId></Error>";
    let e = zip_fails(xml, &Limits::default(), ErrorKind::Integrity);
    assert!(e.message.contains("not a zip archive"), "{}", e.message);
    assert!(
        e.message.contains("<?xml version=\\\"1.0\\\"")
            || e.message.contains("<?xml version=\"1.0\""),
        "{}",
        e.message
    );
    assert!(
        !e.message.contains("RequestId"),
        "at most about 60 bytes are shown: {}",
        e.message
    );

    let html = b"<!DOCTYPE html>\r\n<html><head><title>502 Bad Gateway</title></head></html>";
    let e = zip_fails(html, &Limits::default(), ErrorKind::Integrity);
    assert!(
        e.message.contains("<!DOCTYPE html>\\u{d}\\u{a}"),
        "{}",
        e.message
    );

    let e = zip_fails(b"", &Limits::default(), ErrorKind::Integrity);
    assert!(e.message.contains("empty"), "{}", e.message);

    let e = zip_fails(
        &[0x1b, b'[', b'2', b'J', 0xff, 0x00],
        &Limits::default(),
        ErrorKind::Integrity,
    );
    assert!(!e.message.contains('\x1b'), "{}", e.message);
}
