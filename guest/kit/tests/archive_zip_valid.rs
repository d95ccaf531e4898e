//! Zip archives that must extract, and exactly to the expected tree.

mod archive_support;

use std::io::{Cursor, Write};

use archive_support::*;
use scheme_plugin_kit::archive::ExtractStats;
use scheme_plugin_kit::Limits;

#[test]
fn a_normal_package_extracts_exactly() {
    let bytes = zip_of(&[
        ("pkg/", b"", 0o755),
        ("pkg/main.py", b"print('hi')\n", 0o644),
        ("pkg/run.sh", b"#!/bin/sh\n", 0o755),
        ("pkg/deep/er/mod.py", b"x = 1\n", 0o644),
        ("pkg/empty/", b"", 0o755),
        ("pkg/zero.txt", b"", 0o644),
    ]);
    let sb = Sandbox::new();
    let stats = sb.unzip(&bytes, &Limits::default()).unwrap();
    assert_eq!(
        sb.tree(),
        expect_tree(&[
            ("pkg", Node::Dir),
            ("pkg/main.py", file(b"print('hi')\n")),
            ("pkg/run.sh", file(b"#!/bin/sh\n")),
            ("pkg/deep", Node::Dir),
            ("pkg/deep/er", Node::Dir),
            ("pkg/deep/er/mod.py", file(b"x = 1\n")),
            ("pkg/empty", Node::Dir),
            ("pkg/zero.txt", file(b"")),
        ])
    );
    assert_eq!(
        stats,
        ExtractStats {
            entries: 6,
            files: 4,
            directories: 4,
            symlinks: 0,
            bytes_written: 12 + 10 + 6,
            executables: vec!["pkg/run.sh".into()],
        }
    );
    sb.assert_nothing_outside();
}

#[test]
fn an_empty_archive_gives_an_empty_tree() {
    let bytes = zip_of(&[]);
    let sb = Sandbox::new();
    let stats = sb.unzip(&bytes, &Limits::default()).unwrap();
    assert_eq!(stats, ExtractStats::default());
    assert!(sb.tree().is_empty());
}

#[test]
fn every_supported_method_round_trips() {
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 97) as u8).collect();
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, method) in [
        ("stored", CompressionMethod::STORE),
        ("deflated", CompressionMethod::DEFLATE),
        ("bzip2", CompressionMethod::BZIP2),
    ] {
        w.start_file(
            name,
            SimpleFileOptions::default().compression_method(method),
        )
        .unwrap();
        w.write_all(&content).unwrap();
    }
    let bytes = w.finish().unwrap().into_inner();
    let sb = Sandbox::new();
    sb.unzip(&bytes, &Limits::default()).unwrap();
    // The zip crate cannot write LZMA: a hand-made entry.
    let sb2 = Sandbox::new();
    sb2.unzip(
        &zip(&[lzma_entry("lzma", &content)]),
        &Limits::default(),
    )
    .unwrap();
    let mut tree = sb.tree();
    tree.extend(sb2.tree());
    assert_eq!(tree.len(), 4);
    for node in tree.values() {
        assert_eq!(node, &Node::File(content.clone()));
    }
}

#[test]
fn zip64_entries_and_data_descriptors_are_accepted() {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("big64", opts().large_file(true)).unwrap();
    w.write_all(b"zip64 sized").unwrap();
    let zip64 = w.finish().unwrap().into_inner();
    let sb = Sandbox::new();
    sb.unzip(&zip64, &Limits::default()).unwrap();
    assert_eq!(sb.tree(), expect_tree(&[("big64", file(b"zip64 sized"))]));

    // A streaming writer cannot seek back, so it writes data descriptors (flag bit 3).
    let mut w = zip::ZipWriter::new_stream(Vec::new());
    w.start_file("streamed.txt", opts()).unwrap();
    w.write_all(b"streamed content").unwrap();
    let streamed = w.finish().unwrap().into_inner();
    assert_ne!(
        u16::from_le_bytes([streamed[6], streamed[7]]) & 8,
        0,
        "fixture uses a data descriptor"
    );
    let sb = Sandbox::new();
    sb.unzip(&streamed, &Limits::default()).unwrap();
    assert_eq!(
        sb.tree(),
        expect_tree(&[("streamed.txt", file(b"streamed content"))])
    );

    // Hand-made ZIP64 fields with honest sizes.
    let mut e = Entry::stored("raw64", b"honest");
    e.zip64 = true;
    let sb = Sandbox::new();
    sb.unzip(&zip(&[e]), &Limits::default()).unwrap();
    assert_eq!(sb.tree(), expect_tree(&[("raw64", file(b"honest"))]));
}

#[test]
fn prepended_data_is_accepted() {
    let inner = zip(&[Entry::stored("a.txt", b"A")]);
    let mut bytes = b"#!/usr/bin/env python3\n# a self-running package stub\n".to_vec();
    bytes.extend_from_slice(&inner);
    let sb = Sandbox::new();
    sb.unzip(&bytes, &Limits::default()).unwrap();
    assert_eq!(sb.tree(), expect_tree(&[("a.txt", file(b"A"))]));
}

#[test]
fn names_cp437_utf8_case_and_macos_junk() {
    let entries = [
        // No UTF-8 flag and not valid UTF-8: CP437, 0x82 is 'é'.
        Entry::stored("x", b"cp437").raw_name(b"caf\x82.txt"),
        // UTF-8 flag and valid UTF-8.
        Entry {
            flags: 1 << 11,
            ..Entry::stored("ünï.txt", b"utf8")
        },
        // Case-only differences are distinct names on Linux.
        Entry::stored("Readme.md", b"upper"),
        Entry::stored("readme.md", b"lower"),
        Entry::stored("__MACOSX/._Readme.md", b"finder junk"),
        Entry::stored("__MACOSX/", b""),
    ];
    let sb = Sandbox::new();
    let stats = sb.unzip(&zip(&entries), &Limits::default()).unwrap();
    assert_eq!(
        sb.tree(),
        expect_tree(&[
            ("café.txt", file(b"cp437")),
            ("ünï.txt", file(b"utf8")),
            ("Readme.md", file(b"upper")),
            ("readme.md", file(b"lower")),
        ])
    );
    assert_eq!(stats.entries, 4);
}

#[test]
fn symlinks_inside_are_created_after_files() {
    let entries = [
        Entry::stored("pkg/lib/libx.so.1.2", b"ELF"),
        Entry::symlink("pkg/lib/libx.so", "libx.so.1.2"),
        Entry::symlink("pkg/bin/tool", "../lib/libx.so"),
        Entry::symlink("pkg/dangling", "not/there"),
    ];
    let sb = Sandbox::new();
    let stats = sb.unzip(&zip(&entries), &Limits::default()).unwrap();
    assert_eq!(
        sb.tree(),
        expect_tree(&[
            ("pkg", Node::Dir),
            ("pkg/lib", Node::Dir),
            ("pkg/lib/libx.so.1.2", file(b"ELF")),
            ("pkg/lib/libx.so", Node::Link("libx.so.1.2".into())),
            ("pkg/bin", Node::Dir),
            ("pkg/bin/tool", Node::Link("../lib/libx.so".into())),
            ("pkg/dangling", Node::Link("not/there".into())),
        ])
    );
    assert_eq!((stats.symlinks, stats.files, stats.entries), (3, 1, 4));
    assert_eq!(
        std::fs::read(sb.target.join("pkg/bin/tool")).unwrap(),
        b"ELF"
    );
}

#[test]
fn modes_only_feed_the_executables_list() {
    let entries = [
        Entry::stored("setuid", b"s").mode(0o104755),
        Entry::stored("sticky", b"t").mode(0o101644),
        Entry::stored("none", b"0").mode(0o100000),
        Entry::stored("group_x", b"g").mode(0o100610),
        Entry {
            made_by: 20,
            external_attr: 0x20,
            ..Entry::stored("dos", b"d")
        },
        Entry {
            external_attr: 0,
            ..Entry::stored("noattr", b"n")
        },
    ];
    let sb = Sandbox::new();
    let stats = sb.unzip(&zip(&entries), &Limits::default()).unwrap();
    assert_eq!(
        stats.executables,
        vec!["setuid".to_string(), "group_x".to_string()]
    );
    assert_eq!(stats.files, 6);
    // Mode 000 must not stop the file from being written (no permission is ever applied).
    assert_eq!(std::fs::read(sb.target.join("none")).unwrap(), b"0");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sb.target.join("setuid"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7000, 0, "no setuid/setgid/sticky bit is applied");
    }
}

#[test]
fn invalid_timestamps_never_fail() {
    let entries = [
        Entry {
            time: 0xFFFF,
            date: 0xFFFF,
            ..Entry::stored("max", b"1")
        },
        Entry {
            time: 0,
            date: 0,
            ..Entry::stored("zero", b"2")
        },
        Entry {
            date: (13 << 5) | 31 | (10 << 9),
            ..Entry::stored("month13", b"3")
        },
    ];
    let sb = Sandbox::new();
    sb.unzip(&zip(&entries), &Limits::default()).unwrap();
    assert_eq!(sb.tree().len(), 3);
}

#[test]
fn nested_archives_stay_plain_files() {
    let inner = zip_of(&[("../../escape.txt", b"never unpacked", 0o644)]);
    let outer = zip_of(&[("pkg/inner.zip", &inner, 0o644)]);
    let sb = Sandbox::new();
    sb.unzip(&outer, &Limits::default()).unwrap();
    assert_eq!(
        sb.tree(),
        expect_tree(&[("pkg", Node::Dir), ("pkg/inner.zip", Node::File(inner))])
    );
    sb.assert_nothing_outside();
}

#[test]
fn dot_components_are_normalised_and_explicit_dirs_merge_with_implied_ones() {
    let entries = [
        Entry::stored("./a//b.txt", b"b"),
        Entry::stored("a/", b"").mode(0o040755),
        Entry::stored("a/c/./d.txt", b"d"),
    ];
    let sb = Sandbox::new();
    let stats = sb.unzip(&zip(&entries), &Limits::default()).unwrap();
    assert_eq!(
        sb.tree(),
        expect_tree(&[
            ("a", Node::Dir),
            ("a/b.txt", file(b"b")),
            ("a/c", Node::Dir),
            ("a/c/d.txt", file(b"d")),
        ])
    );
    assert_eq!((stats.directories, stats.entries), (2, 3));
}

#[test]
fn progress_is_reported_in_batches() {
    let names: Vec<String> = (0..1000).map(|i| format!("f{i}.txt")).collect();
    let entries: Vec<(&str, &[u8], u32)> = names
        .iter()
        .map(|n| (n.as_str(), &b"x"[..], 0o644))
        .collect();
    let bytes = zip_of(&entries);
    let sb = Sandbox::new();
    let mut calls = Vec::new();
    scheme_plugin_kit::archive::extract_zip(
        Cursor::new(bytes),
        &sb.target,
        &Limits::default(),
        &mut |e, b| calls.push((e, b)),
    )
    .unwrap();
    assert!(
        calls.len() >= 3 && calls.len() <= 10,
        "{} progress calls",
        calls.len()
    );
    assert_eq!(calls.last(), Some(&(1000, 1000)));
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
}
