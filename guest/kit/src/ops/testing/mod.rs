//! What plugins' native tests of whole operations share: a staging directory pair, small
//! packages, a [`Call`](crate::ops::Call) whose means do nothing observable, and in
//! [`promises`](crate::ops::testing::promises) and
//! [`upload_promises`](crate::ops::testing::upload_promises) the checks every store plugin
//! runs against its own operations.

pub mod promises;
pub mod upload_promises;

use std::fs;
use std::io::Write;
use std::path::PathBuf;

/// A call's `target` and `scratch` directories under one temporary root, removed on drop.
pub struct Dirs {
    _root: tempfile::TempDir,
    pub target: PathBuf,
    pub scratch: PathBuf,
}

pub fn dirs() -> Dirs {
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join("target");
    let scratch = root.path().join("scratch");
    fs::create_dir(&target).unwrap();
    fs::create_dir(&scratch).unwrap();
    Dirs { _root: root, target, scratch }
}

/// A deflated zip of `pkg/`, `pkg/main.py` (0644, `print('hello')`) and `pkg/run.sh` (0755,
/// so one executable is reported).
pub fn zip_bytes() -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.add_directory("pkg/", o).unwrap();
    w.start_file("pkg/main.py", o.unix_permissions(0o644)).unwrap();
    w.write_all(b"print('hello')\n").unwrap();
    w.start_file("pkg/run.sh", o.unix_permissions(0o755)).unwrap();
    w.write_all(b"#!/bin/sh\necho hi\n").unwrap();
    w.finish().unwrap().into_inner()
}

/// A stored zip of one entry named `name`, for names a hostile store chose.
pub fn zip_of_one(name: &str, data: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap().into_inner()
}

/// A `.tar.gz` holding `pkg/a.py` (`x = 1`).
pub fn tgz_bytes() -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    let data = b"x = 1\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "pkg/a.py", &data[..]).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

/// `&mut Call` over `env` and `transport`, with a recording
/// [`FakeSleeper`](crate::http::testing::FakeSleeper), the default limits, and progress
/// dropped or sent to a third argument. A macro, not a function: a `Call` only borrows its
/// means, and here they are temporaries that must live to the end of the statement using
/// the call.
#[macro_export]
macro_rules! test_call {
    ($env:expr, $transport:expr) => {
        $crate::test_call!($env, $transport, &mut |_, _, _, _| {})
    };
    ($env:expr, $transport:expr, $progress:expr) => {
        &mut $crate::ops::Call {
            env: $env,
            transport: $transport,
            sleeper: &mut $crate::http::testing::FakeSleeper::default(),
            limits: &$crate::Limits::default(),
            progress: $progress,
        }
    };
}
