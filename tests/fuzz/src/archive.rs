//! Fuzz check: archive validation and extraction on arbitrary bytes. Shared with the stable
//! replay in guest/kit/tests.
//!
//! The first byte picks the format: 0 zip, 1 tar (the rest is gzip-compressed here, so the
//! fuzzer shapes tar headers rather than deflate bits), 2 raw .tar.gz bytes, 3 raw .tar.xz.

use std::io::{Cursor, Write};
use std::path::Path;

use scheme_plugin_kit::archive::{extract_tar, extract_zip, TarCompression};
use scheme_plugin_kit::{ErrorKind, Limits};

use super::links::stays_inside;
use super::printable::assert_printable;

pub fn limits() -> Limits {
    Limits {
        max_download_bytes: 1 << 20,
        max_unpacked_bytes: 4 << 20,
        max_entries: 256,
        max_compression_ratio: 1000,
        max_path_bytes: 1024,
        max_path_depth: 32,
    }
}

pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let limits = limits();
    let mut progress = |_: u64, _: u64| {};
    let result = match mode % 4 {
        0 => extract_zip(Cursor::new(rest), &target, &limits, &mut progress),
        1 => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(rest).unwrap();
            let gz = gz.finish().unwrap();
            extract_tar(Cursor::new(gz), TarCompression::Gzip, &target, &limits, &mut progress)
        }
        2 => extract_tar(Cursor::new(rest), TarCompression::Gzip, &target, &limits, &mut progress),
        _ => extract_tar(Cursor::new(rest), TarCompression::Xz, &target, &limits, &mut progress),
    };
    let outside: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(outside, ["target"], "something was written beside the target");
    let found = Found::walk(&target);
    match result {
        Ok(stats) => {
            assert_eq!(stats.files, found.files, "files counted {stats:?} vs found {found:?}");
            assert_eq!(stats.symlinks, found.symlinks, "{stats:?} vs {found:?}");
            assert_eq!(stats.directories, found.directories, "{stats:?} vs {found:?}");
            assert_eq!(stats.bytes_written, found.bytes, "{stats:?} vs {found:?}");
            assert!(stats.bytes_written <= limits.max_unpacked_bytes);
            assert!(stats.entries <= limits.max_entries, "{stats:?}");
            for exe in &stats.executables {
                assert!(target.join(exe).is_file(), "executable {exe:?} is not a file that was written");
            }
        }
        Err(e) => {
            // Every failure is about the archive; an I/O failure here would mean we asked the
            // filesystem for something impossible, which validation should have refused.
            assert_ne!(e.kind, ErrorKind::Internal, "{e}");
            assert_printable(&e.message);
            assert!(found.bytes <= limits.max_unpacked_bytes);
        }
    }
}

#[derive(Debug, Default)]
struct Found {
    files: u64,
    directories: u64,
    symlinks: u64,
    bytes: u64,
}

impl Found {
    fn walk(root: &Path) -> Found {
        let mut f = Found::default();
        f.visit(root, 0);
        f
    }

    fn visit(&mut self, dir: &Path, depth: usize) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_symlink() {
                self.symlinks += 1;
                let target = std::fs::read_link(e.path()).unwrap();
                assert!(stays_inside(&target, depth), "{} -> {} leaves the tree", e.path().display(), target.display());
            } else if t.is_dir() {
                self.directories += 1;
                self.visit(&e.path(), depth + 1);
            } else {
                assert!(t.is_file(), "{} is neither file, directory nor symlink", e.path().display());
                self.files += 1;
                self.bytes += e.metadata().unwrap().len();
            }
        }
    }
}

