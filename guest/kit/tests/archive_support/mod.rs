//! Shared helpers for the archive tests: a sandbox around the target, tree snapshots, and
//! builders for valid and deliberately malformed zip and tar archives.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use scheme_plugin_kit::archive::zipstream::{prepare, Prepared, Tail, ZipStream};
use scheme_plugin_kit::archive::{extract_tar, extract_zip, ExtractStats, TarCompression};
use scheme_plugin_kit::http::Sink;
use scheme_plugin_kit::{Error, ErrorKind, Limits};

/// A temporary directory holding only `target/`; anything else appearing in it was written
/// outside the target.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub target: PathBuf,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::create_dir(&target).unwrap();
        Sandbox { dir, target }
    }

    /// Asserts that nothing but `target/` exists next to the target.
    pub fn assert_nothing_outside(&self) {
        let names: Vec<_> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            vec!["target".to_string()],
            "something was written outside the target"
        );
    }

    pub fn tree(&self) -> BTreeMap<String, Node> {
        snapshot(&self.target)
    }

    pub fn unzip(&self, bytes: &[u8], limits: &Limits) -> Result<ExtractStats, Error> {
        let mut calls = 0u64;
        let r = extract_zip(Cursor::new(bytes), &self.target, limits, &mut |_, _| {
            calls += 1
        });
        if r.is_ok() {
            assert!(calls >= 1, "progress is reported at least once");
        }
        r
    }

    pub fn untar(
        &self,
        bytes: &[u8],
        c: TarCompression,
        limits: &Limits,
    ) -> Result<ExtractStats, Error> {
        extract_tar(Cursor::new(bytes), c, &self.target, limits, &mut |_, _| {})
    }
}

/// Extracts a zip expected to fail; checks the kind and that nothing escaped.
pub fn zip_fails(bytes: &[u8], limits: &Limits, kind: ErrorKind) -> Error {
    let sb = Sandbox::new();
    let e = sb.unzip(bytes, limits).expect_err("extraction should fail");
    assert_eq!(e.kind, kind, "wrong kind; message: {}", e.message);
    sb.assert_nothing_outside();
    e
}

pub fn tar_fails(bytes: &[u8], c: TarCompression, limits: &Limits, kind: ErrorKind) -> Error {
    let sb = Sandbox::new();
    let e = sb
        .untar(bytes, c, limits)
        .expect_err("extraction should fail");
    assert_eq!(e.kind, kind, "wrong kind; message: {}", e.message);
    sb.assert_nothing_outside();
    e
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File(Vec<u8>),
    Dir,
    Link(String),
}

pub fn file(data: &[u8]) -> Node {
    Node::File(data.to_vec())
}

/// Every path under `root` (not following links), `/`-separated.
pub fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    walk(root, "", &mut out);
    out
}

fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Node>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        let meta = fs::symlink_metadata(e.path()).unwrap();
        if meta.file_type().is_symlink() {
            let t = fs::read_link(e.path()).unwrap();
            out.insert(name, Node::Link(t.to_string_lossy().into_owned()));
        } else if meta.is_dir() {
            out.insert(name.clone(), Node::Dir);
            walk(&e.path(), &format!("{name}/"), out);
        } else {
            out.insert(name, Node::File(fs::read(e.path()).unwrap()));
        }
    }
}

pub fn expect_tree(pairs: &[(&str, Node)]) -> BTreeMap<String, Node> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

// ---------------------------------------------------------------- zip via ZipWriter

pub use zip::write::SimpleFileOptions;
pub use zip::CompressionMethod;

pub fn opts() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::DEFLATE)
}

/// A zip made by the zip crate's writer from `(name, content, mode)`; names ending in `/`
/// become directories.
pub fn zip_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data, mode) in entries {
        if name.ends_with('/') {
            w.add_directory(*name, opts().unix_permissions(*mode))
                .unwrap();
        } else {
            w.start_file(*name, opts().unix_permissions(*mode)).unwrap();
            w.write_all(data).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

// ---------------------------------------------------------------- raw zip crafting

// Each test binary includes this module and uses a different part of it.
#[allow(unused_imports)]
pub use zipcraft::{crc32, deflate, end_record, zip, zip_with, zip_with_hidden_directory, Entry, Local, Options, FLAG_DESCRIPTOR, FLAG_UTF8, STORED};

// ---------------------------------------------------------------- streamed zip extraction

/// Fetches `tail` bytes of the end (more on demand, as the plugin does), then streams the
/// body in `chunk`-sized pieces.
pub fn stream(sb: &Sandbox, bytes: &[u8], tail: usize, chunk: usize, limits: &Limits) -> Result<ExtractStats, Error> {
    let total = bytes.len() as u64;
    let mut start = total.saturating_sub(tail as u64);
    let plan = loop {
        let view = Tail { bytes: &bytes[start as usize..], start, total };
        match prepare(&view, limits)? {
            Prepared::Plan(p) => break p,
            Prepared::NeedFrom(at) => {
                assert!(at < start, "NeedFrom must ask for more than the tail holds");
                start = at;
            }
            Prepared::NotStreamable(why) => panic!("not streamable: {why}"),
        }
    };
    let body_end = plan.body_end() as usize;
    let mut progress = |_, _| {};
    let mut s = ZipStream::new(plan, &sb.target, limits, &mut progress)?;
    for piece in bytes[..body_end].chunks(chunk.max(1)) {
        if s.write_chunk(piece).is_err() {
            return Err(s.take_error().expect("a failed write leaves its archive error"));
        }
    }
    s.finish().unwrap();
    s.finish_extract()
}

/// Every part of `count` streamed on its own (as separate plugin instances do) into one
/// target; the stats of all parts together.
pub fn stream_parts(sb: &Sandbox, bytes: &[u8], count: u32, limits: &Limits) -> Result<Vec<ExtractStats>, Error> {
    let total = bytes.len() as u64;
    let mut all = Vec::new();
    let mut covered = 0;
    for index in 0..count {
        let view = Tail { bytes, start: 0, total };
        let Prepared::Plan(mut plan) = prepare(&view, limits)? else { panic!("not streamable") };
        plan.keep_part(index, count);
        covered += plan.entries();
        let (start, end) = (plan.body_start() as usize, plan.body_end() as usize);
        assert!(start <= end, "part {index}/{count}: range {start}..{end}");
        let mut progress = |_, _| {};
        let mut s = ZipStream::new(plan, &sb.target, limits, &mut progress)?;
        for piece in bytes[start..end].chunks(4096) {
            if s.write_chunk(piece).is_err() {
                return Err(s.take_error().expect("a failed write leaves its archive error"));
            }
        }
        all.push(s.finish_extract()?);
    }
    let view = Tail { bytes, start: 0, total };
    let Prepared::Plan(whole) = prepare(&view, limits)? else { unreachable!() };
    assert_eq!(covered, whole.entries(), "the parts of {count} must cover every entry exactly once");
    Ok(all)
}

// ---------------------------------------------------------------- tar

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut w =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(0)).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

pub fn compress(tar: &[u8], c: TarCompression) -> Vec<u8> {
    match c {
        TarCompression::Gzip => gzip(tar),
        TarCompression::Xz => xz(tar),
    }
}

/// A tar stream (uncompressed) from raw headers: names, link names and types are written
/// byte for byte, so they can be hostile.
pub struct TarBuilder {
    pub b: tar::Builder<Vec<u8>>,
}

impl TarBuilder {
    pub fn new() -> Self {
        TarBuilder {
            b: tar::Builder::new(Vec::new()),
        }
    }

    pub fn raw(
        mut self,
        name: &[u8],
        kind: tar::EntryType,
        link: &[u8],
        mode: u32,
        data: &[u8],
    ) -> Self {
        let mut h = tar::Header::new_gnu();
        {
            let old = h.as_old_mut();
            old.name = [0; 100];
            old.name[..name.len()].copy_from_slice(name);
            old.linkname = [0; 100];
            old.linkname[..link.len()].copy_from_slice(link);
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn file(self, name: &str, data: &[u8]) -> Self {
        self.raw(name.as_bytes(), tar::EntryType::Regular, b"", 0o644, data)
    }

    pub fn exec(self, name: &str, data: &[u8]) -> Self {
        self.raw(name.as_bytes(), tar::EntryType::Regular, b"", 0o755, data)
    }

    pub fn dir(self, name: &str) -> Self {
        self.raw(name.as_bytes(), tar::EntryType::Directory, b"", 0o755, b"")
    }

    pub fn symlink(self, name: &str, target: &str) -> Self {
        self.raw(
            name.as_bytes(),
            tar::EntryType::Symlink,
            target.as_bytes(),
            0o777,
            b"",
        )
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

/// The data of a zip LZMA entry (method 14): version, properties size, properties, then a
/// raw LZMA stream without end marker. `dict_field` is what the header claims.
pub fn zip_lzma(data: &[u8], dict_field: u32) -> Vec<u8> {
    let options = lzma_rust2::LzmaOptions::with_preset(6);
    let mut w = lzma_rust2::LzmaWriter::new_no_header(Vec::new(), &options, false).unwrap();
    w.write_all(data).unwrap();
    let stream = w.finish().unwrap();
    let mut out = vec![9, 20, 5, 0, options.get_props()];
    out.extend_from_slice(&dict_field.to_le_bytes());
    out.extend_from_slice(&stream);
    out
}

pub fn lzma_entry(name: &str, data: &[u8]) -> Entry {
    let packed = zip_lzma(data, 1 << 20);
    Entry {
        method: 14,
        compressed: packed.len() as u64,
        data: packed,
        ..Entry::stored(name, data)
    }
}
