//! Trees on disk for the integration tests, and snapshots of them, written without the
//! crate's own walker so a test compares against an independent reading.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{Cursor, Read};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

#[derive(Clone, PartialEq, Eq)]
pub enum Node {
    File { data: Vec<u8>, exec: bool },
    Link(String),
    Dir,
}

/// Contents shown by length and digest, so a failing comparison stays readable.
impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::File { data, exec } => {
                let crc = crc32fast::hash(data);
                write!(
                    f,
                    "File({} bytes, crc {crc:08x}{})",
                    data.len(),
                    if *exec { ", exec" } else { "" }
                )
            }
            Node::Link(t) => write!(f, "Link({t:?})"),
            Node::Dir => f.write_str("Dir"),
        }
    }
}

/// The one directory an extractor that keeps the top level created in `dest`, checked to be
/// named `top`: what Ray's (and the host's) strip rule unpacks.
pub fn stripped(dest: &Path, top: &str) -> PathBuf {
    let children: Vec<_> = fs::read_dir(dest)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        children,
        [std::ffi::OsString::from(top)],
        "one top-level directory"
    );
    dest.join(top)
}

pub fn file(data: &[u8]) -> Node {
    Node::File {
        data: data.to_vec(),
        exec: false,
    }
}

pub fn exec(data: &[u8]) -> Node {
    Node::File {
        data: data.to_vec(),
        exec: true,
    }
}

/// Creates `root` holding `nodes` (paths relative to it; parents made as needed).
pub fn build(root: &Path, nodes: &[(&str, Node)]) {
    fs::create_dir_all(root).unwrap();
    for (path, node) in nodes {
        let p = root.join(path);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        match node {
            Node::File { data, exec } => {
                fs::write(&p, data).unwrap();
                let mode = if *exec { 0o755 } else { 0o644 };
                fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            }
            Node::Link(target) => symlink(target, &p).unwrap(),
            Node::Dir => fs::create_dir_all(&p).unwrap(),
        }
    }
}

/// Every file, link and *empty* directory below `root` (non-empty directories are implied
/// by their contents, as in a package).
pub fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    fn visit(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
        let mut children: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        children.sort();
        let rel = |p: &Path| p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
        if children.is_empty() && dir != root {
            out.insert(rel(dir), Node::Dir);
        }
        for p in children {
            let m = fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                let t = fs::read_link(&p).unwrap();
                out.insert(rel(&p), Node::Link(t.to_str().unwrap().to_string()));
            } else if m.is_dir() {
                visit(root, &p, out);
            } else if m.is_file() {
                let exec = m.permissions().mode() & 0o100 != 0;
                out.insert(
                    rel(&p),
                    Node::File {
                        data: fs::read(&p).unwrap(),
                        exec,
                    },
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    visit(root, root, &mut out);
    out
}

pub fn expect(nodes: &[(&str, Node)]) -> BTreeMap<String, Node> {
    nodes
        .iter()
        .map(|(p, n)| (p.to_string(), n.clone()))
        .collect()
}

/// The zip read with the `zip` crate: every entry by name, with the top directory
/// removed, and the top directory's name. Panics unless there is exactly one.
pub fn read_zip(bytes: &[u8]) -> (String, BTreeMap<String, Node>) {
    let mut z = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut tops = std::collections::BTreeSet::new();
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        let (top, rest) = name
            .split_once('/')
            .expect("every entry is below the top directory");
        tops.insert(top.to_string());
        let mode = f.unix_mode().expect("a Unix mode on every entry");
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        if rest.is_empty() {
            assert_eq!(mode, 0o040755, "the top directory entry");
            continue;
        }
        let node = match mode & 0o170000 {
            0o040000 => {
                assert!(rest.ends_with('/'));
                Node::Dir
            }
            0o120000 => {
                assert_eq!(mode, 0o120777);
                Node::Link(String::from_utf8(data).unwrap())
            }
            0o100000 => {
                assert!(mode == 0o100644 || mode == 0o100755, "{name}: {mode:o}");
                Node::File {
                    data,
                    exec: mode & 0o100 != 0,
                }
            }
            other => panic!("{name}: unexpected file type {other:o}"),
        };
        out.insert(rest.trim_end_matches('/').to_string(), node);
    }
    assert_eq!(tops.len(), 1, "one top-level directory: {tops:?}");
    (tops.into_iter().next().unwrap(), out)
}

/// `n` bytes that deflate compresses about 3:1, varying with `seed`.
pub fn text(n: usize, seed: u64) -> Vec<u8> {
    let words: [&[u8]; 8] = [
        b"def ", b"return ", b"self.", b"value", b" = ", b"(x)\n", b"    ", b"import ",
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(words[(x % 8) as usize]);
        if x.is_multiple_of(5) {
            out.extend_from_slice(format!("{}", x % 1000).as_bytes());
        }
    }
    out.truncate(n);
    out
}

/// `n` bytes deflate cannot compress.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
