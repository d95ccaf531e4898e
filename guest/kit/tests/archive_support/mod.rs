//! Shared helpers for the archive tests: a sandbox around the target, tree snapshots, and
//! builders for valid and deliberately malformed zip and tar archives.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use scheme_plugin_kit::archive::{extract_tar, extract_zip, ExtractStats, TarCompression};
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

pub const UNIX: u16 = (3 << 8) | 20;

pub fn crc32(data: &[u8]) -> u32 {
    crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(data)
}

pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// One entry of a hand-made zip. Fields are written as given, so they can lie.
#[derive(Debug, Clone)]
pub struct RawEntry {
    pub name: Vec<u8>,
    /// The bytes stored in the archive (already compressed).
    pub data: Vec<u8>,
    pub method: u16,
    pub flags: u16,
    pub crc: u32,
    pub uncompressed: u64,
    pub compressed: u64,
    pub external_attr: u32,
    pub made_by: u16,
    pub time: u16,
    pub date: u16,
    /// Write sizes as 0xFFFFFFFF plus a ZIP64 extra field.
    pub zip64: bool,
    /// Skip the local record; the central entry then points at `cd_offset`.
    pub write_local: bool,
    pub cd_offset: Option<u32>,
}

impl RawEntry {
    pub fn stored(name: &str, data: &[u8]) -> Self {
        RawEntry {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            method: 0,
            flags: 0,
            crc: crc32(data),
            uncompressed: data.len() as u64,
            compressed: data.len() as u64,
            external_attr: 0o100644 << 16,
            made_by: UNIX,
            time: 0,
            date: (1 << 5) | 1 | (40 << 9),
            zip64: false,
            write_local: true,
            cd_offset: None,
        }
    }

    pub fn deflated(name: &str, data: &[u8]) -> Self {
        let packed = deflate(data);
        RawEntry {
            method: 8,
            compressed: packed.len() as u64,
            data: packed,
            ..Self::stored(name, data)
        }
    }

    pub fn raw_name(mut self, name: &[u8]) -> Self {
        self.name = name.to_vec();
        self
    }

    pub fn mode(mut self, mode: u32) -> Self {
        self.external_attr = mode << 16;
        self
    }

    pub fn symlink(name: &str, target: &str) -> Self {
        Self::stored(name, target.as_bytes()).mode(0o120777)
    }

    fn sizes_extra(&self) -> Vec<u8> {
        if !self.zip64 {
            return Vec::new();
        }
        let mut x = Vec::new();
        x.extend_from_slice(&1u16.to_le_bytes());
        x.extend_from_slice(&16u16.to_le_bytes());
        x.extend_from_slice(&self.uncompressed.to_le_bytes());
        x.extend_from_slice(&self.compressed.to_le_bytes());
        x
    }

    fn size32(&self, v: u64) -> u32 {
        if self.zip64 {
            u32::MAX
        } else {
            v as u32
        }
    }

    /// Local header plus data.
    pub fn local_record(&self) -> Vec<u8> {
        let extra = self.sizes_extra();
        let mut b = Vec::new();
        b.extend_from_slice(&0x04034b50u32.to_le_bytes());
        b.extend_from_slice(&(if self.zip64 { 45u16 } else { 20u16 }).to_le_bytes());
        b.extend_from_slice(&self.flags.to_le_bytes());
        b.extend_from_slice(&self.method.to_le_bytes());
        b.extend_from_slice(&self.time.to_le_bytes());
        b.extend_from_slice(&self.date.to_le_bytes());
        b.extend_from_slice(&self.crc.to_le_bytes());
        b.extend_from_slice(&self.size32(self.compressed).to_le_bytes());
        b.extend_from_slice(&self.size32(self.uncompressed).to_le_bytes());
        b.extend_from_slice(&(self.name.len() as u16).to_le_bytes());
        b.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        b.extend_from_slice(&self.name);
        b.extend_from_slice(&extra);
        b.extend_from_slice(&self.data);
        b
    }

    fn central_record(&self, offset: u32) -> Vec<u8> {
        let extra = self.sizes_extra();
        let mut b = Vec::new();
        b.extend_from_slice(&0x02014b50u32.to_le_bytes());
        b.extend_from_slice(&self.made_by.to_le_bytes());
        b.extend_from_slice(&(if self.zip64 { 45u16 } else { 20u16 }).to_le_bytes());
        b.extend_from_slice(&self.flags.to_le_bytes());
        b.extend_from_slice(&self.method.to_le_bytes());
        b.extend_from_slice(&self.time.to_le_bytes());
        b.extend_from_slice(&self.date.to_le_bytes());
        b.extend_from_slice(&self.crc.to_le_bytes());
        b.extend_from_slice(&self.size32(self.compressed).to_le_bytes());
        b.extend_from_slice(&self.size32(self.uncompressed).to_le_bytes());
        b.extend_from_slice(&(self.name.len() as u16).to_le_bytes());
        b.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes()); // comment length
        b.extend_from_slice(&0u16.to_le_bytes()); // disk number start
        b.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        b.extend_from_slice(&self.external_attr.to_le_bytes());
        b.extend_from_slice(&offset.to_le_bytes());
        b.extend_from_slice(&self.name);
        b.extend_from_slice(&extra);
        b
    }
}

/// End-record knobs for malformed archives.
#[derive(Debug, Clone, Default)]
pub struct RawOptions {
    pub prefix: Vec<u8>,
    pub disk: u16,
    pub cd_disk: u16,
    pub count: Option<u16>,
    pub cd_offset_delta: i64,
    pub comment: Vec<u8>,
}

pub fn raw_zip(entries: &[RawEntry]) -> Vec<u8> {
    raw_zip_with(entries, &RawOptions::default())
}

pub fn raw_zip_with(entries: &[RawEntry], o: &RawOptions) -> Vec<u8> {
    let mut out = o.prefix.clone();
    let mut offsets = Vec::new();
    for e in entries {
        offsets.push((out.len() - o.prefix.len()) as u32);
        if e.write_local {
            out.extend_from_slice(&e.local_record());
        }
    }
    let cd_start = out.len() - o.prefix.len();
    for (e, off) in entries.iter().zip(&offsets) {
        out.extend_from_slice(&e.central_record(e.cd_offset.unwrap_or(*off)));
    }
    let cd_size = out.len() - o.prefix.len() - cd_start;
    let count = o.count.unwrap_or(entries.len() as u16);
    out.extend_from_slice(&0x06054b50u32.to_le_bytes());
    out.extend_from_slice(&o.disk.to_le_bytes());
    out.extend_from_slice(&o.cd_disk.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(cd_size as u32).to_le_bytes());
    out.extend_from_slice(&((cd_start as i64 + o.cd_offset_delta) as u32).to_le_bytes());
    out.extend_from_slice(&(o.comment.len() as u16).to_le_bytes());
    out.extend_from_slice(&o.comment);
    out
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

pub fn lzma_entry(name: &str, data: &[u8]) -> RawEntry {
    let packed = zip_lzma(data, 1 << 20);
    RawEntry {
        method: 14,
        compressed: packed.len() as u64,
        data: packed,
        ..RawEntry::stored(name, data)
    }
}
