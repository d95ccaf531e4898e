//! The hostile archive catalogue: every hazard family a safe unpacker must handle, built by
//! code (no binary fixtures), each with the outcome the suite asserts when the real
//! `scheme-host` binary downloads and unpacks it from the OBS test server.
//!
//! An outcome is either a typed error (kind plus a fragment of the message) or a documented
//! acceptance with the exact tree that must result (after Ray's top-level stripping).

mod bombs;
mod cases_content;
mod cases_format;
mod cases_names;
pub mod raw_tar;
pub mod raw_zip;

pub use bombs::{crc_zeros, deflate_zeros, gzip_zeros};

/// The hazard families of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Paths,
    Links,
    Structure,
    Bombs,
    LyingSizes,
    Integrity,
    Format,
    NotAZip,
    Nested,
    TarVariants,
}

impl Family {
    pub const ALL: [Family; 10] = [
        Family::Paths,
        Family::Links,
        Family::Structure,
        Family::Bombs,
        Family::LyingSizes,
        Family::Integrity,
        Family::Format,
        Family::NotAZip,
        Family::Nested,
        Family::TarVariants,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Family::Paths => "paths",
            Family::Links => "links",
            Family::Structure => "structure",
            Family::Bombs => "bombs",
            Family::LyingSizes => "lying sizes",
            Family::Integrity => "integrity",
            Family::Format => "format",
            Family::NotAZip => "not an archive",
            Family::Nested => "nested archives",
            Family::TarVariants => "tar variants",
        }
    }
}

/// What must happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Fails with this error kind (as in `--json`'s `kind`) and a message containing `mentions`.
    Error { kind: &'static str, mentions: &'static str },
    Accept(Accepted),
}

/// A deliberate acceptance: DEST holds exactly `tree` (format of [`crate::tree`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    pub tree: Vec<String>,
    /// Files that must be executable; every other file must not be.
    pub executables: Vec<String>,
    /// `(link, target)` for every symlink in `tree`.
    pub links: Vec<(String, String)>,
    /// Files whose content is checked byte for byte.
    pub contents: Vec<(String, Vec<u8>)>,
}

impl Accepted {
    pub fn tree(paths: &[&str]) -> Accepted {
        Accepted { tree: paths.iter().map(|s| s.to_string()).collect(), ..Accepted::default() }
    }
    pub fn executables(mut self, paths: &[&str]) -> Accepted {
        self.executables = paths.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn link(mut self, link: &str, target: &str) -> Accepted {
        self.links.push((link.into(), target.into()));
        self
    }
    pub fn content(mut self, path: &str, data: &[u8]) -> Accepted {
        self.contents.push((path.into(), data.to_vec()));
        self
    }
}

pub struct Case {
    /// Unique, usable as a file name.
    pub name: &'static str,
    pub family: Family,
    /// `.zip`, `.tar.gz` or `.tar.xz`: decides how the plugin unpacks it.
    pub ext: &'static str,
    pub bytes: Vec<u8>,
    pub expect: Expect,
    /// What the case is, for the table.
    pub about: &'static str,
}

impl Case {
    pub fn outcome(&self) -> String {
        match &self.expect {
            Expect::Error { kind, .. } => kind.to_string(),
            Expect::Accept(_) => "accepted".into(),
        }
    }
}

pub(crate) fn fails(kind: &'static str, mentions: &'static str) -> Expect {
    Expect::Error { kind, mentions }
}

pub(crate) fn accepts(a: Accepted) -> Expect {
    Expect::Accept(a)
}

/// Every case, in family order.
pub fn catalogue() -> Vec<Case> {
    let mut v = cases_names::cases();
    v.extend(cases_content::cases());
    v.extend(cases_format::cases());
    v.sort_by_key(|c| c.family);
    v
}
