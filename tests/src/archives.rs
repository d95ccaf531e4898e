//! Builds zip archives in memory for tests.

use std::io::Write;
use zip::write::SimpleFileOptions;

/// A zip of `(name, contents, unix mode)` entries; names ending in `/` are directories.
pub fn zip(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data, mode) in entries {
        let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).unix_permissions(*mode);
        if name.ends_with('/') {
            w.add_directory(name.trim_end_matches('/'), opts).unwrap();
        } else {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

/// A package like a user's job: one top-level directory with code, data and a script.
pub fn sample_package(top: &str) -> Vec<u8> {
    let main = b"import helper\nprint(helper.greet())\n".as_slice();
    let helper = b"def greet():\n    return 'hello from obs'\n".as_slice();
    let data: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 251) as u8).collect();
    zip(&[
        (&format!("{top}/"), b"", 0o755),
        (&format!("{top}/main.py"), main, 0o644),
        (&format!("{top}/helper.py"), helper, 0o644),
        (&format!("{top}/bin/run.sh"), b"#!/bin/sh\necho run\n", 0o4755),
        (&format!("{top}/data/blob.bin"), &data, 0o644),
    ])
}

/// A package big enough to be split among plugin instances (over 16 MiB): incompressible
/// data files, many small sources, a script and a symlink, under one top-level directory.
pub fn large_package(top: &str) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflate = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    w.add_directory(top, deflate.unix_permissions(0o755)).unwrap();
    for i in 0..24 {
        let opts = if i % 2 == 0 { deflate } else { stored };
        w.start_file(format!("{top}/data/blob-{i:02}.bin"), opts.unix_permissions(0o644)).unwrap();
        w.write_all(&noise(768 << 10)).unwrap();
    }
    for i in 0..300 {
        w.start_file(format!("{top}/src/mod_{:02}/file_{i:03}.py", i % 17), deflate.unix_permissions(0o644)).unwrap();
        w.write_all(format!("def f_{i}(x):\n    return x * {i}\n").repeat(1 + i % 40).as_bytes()).unwrap();
    }
    w.start_file(format!("{top}/bin/run.sh"), deflate.unix_permissions(0o755)).unwrap();
    w.write_all(b"#!/bin/sh\necho run\n").unwrap();
    w.add_symlink(format!("{top}/latest.bin"), "data/blob-00.bin", deflate).unwrap();
    w.finish().unwrap().into_inner()
}
