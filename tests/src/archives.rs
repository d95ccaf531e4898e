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
