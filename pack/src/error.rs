//! The packer's typed errors. Every path and pattern in a message is escaped
//! ([`scheme_contract::text::escape`]), since file names are arbitrary bytes.

use std::fmt;
use std::io;
use std::path::Path;

use scheme_contract::text::{escape, escape_bytes};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{path}` is not a directory")]
    NotADirectory { path: String },

    #[error("{op} `{path}`: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },

    /// Ray 2.60 fails on such a name too (`UnicodeEncodeError` while zipping), and the
    /// unpacker refuses non-UTF-8 names marked UTF-8.
    #[error("`{path}` has a name that is not UTF-8; exclude it or rename it")]
    NonUtf8Name { path: String },

    #[error("`{path}` cannot be unpacked: {reason}")]
    UnpackableName { path: String, reason: &'static str },

    #[error(
        "`{first}` and `{second}` are the same name after Unicode NFC normalisation; the \
         unpacker refuses packages holding both, so rename one of them"
    )]
    NfcCollision { first: String, second: String },

    #[error("ignore file `{path}` is not UTF-8 text (Ray 2.60 fails to read it too)")]
    IgnoreFileNotUtf8 { path: String },

    #[error("pattern `{pattern}` in {origin}: {reason}")]
    Pattern {
        pattern: String,
        origin: String,
        reason: String,
    },

    /// A deliberate difference from Ray 2.60, which packs nothing in this case.
    #[error(
        "the directory itself matches pattern `{pattern}` in {origin}, so Ray 2.60 would pack \
         nothing; remove or narrow that pattern"
    )]
    RootExcluded { pattern: String, origin: String },

    /// The unpacker would refuse the package under the limits the plan was checked against
    /// ([`crate::Packer::unpack_limits`]).
    #[error("the package would be refused when unpacked: {0}")]
    OverLimit(String),

    #[error("symlink `{path}` -> `{target}` {reason}")]
    Symlink {
        path: String,
        target: String,
        reason: SymlinkRefusal,
    },

    #[error("`{path}` changed while it was being packed ({what}); pack again once it is stable")]
    Changed { path: String, what: &'static str },

    #[error("writing the package: {0}")]
    Write(#[source] io::Error),

    #[error("a packing worker failed unexpectedly: {0}")]
    Worker(String),
}

/// Why a symlink is not packed. Links are kept as links only when the unpacker will recreate
/// them: the target stays inside the directory and never walks through another link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymlinkRefusal {
    /// The target leaves the directory (an absolute path elsewhere, or too many `..`).
    Escapes,
    /// A component before the last is itself a symlink; the unpacker refuses such targets.
    ThroughLink {
        via: String,
    },
    NotUtf8,
    Empty,
    Backslash,
    /// Longer than the unpacker accepts (Linux `PATH_MAX` - 1) once made relative.
    TooLong {
        bytes: usize,
    },
}

impl fmt::Display for SymlinkRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Escapes => f.write_str(
                "points outside the directory; exclude the link, or copy what it points to into \
                 the directory",
            ),
            Self::ThroughLink { via } => write!(
                f,
                "goes through another symlink, `{via}`; point it at the real path instead"
            ),
            Self::NotUtf8 => f.write_str("has a target that is not UTF-8"),
            Self::Empty => f.write_str("has an empty target"),
            Self::Backslash => f.write_str("has a backslash in its target"),
            Self::TooLong { bytes } => {
                write!(f, "has a target of {bytes} bytes, too long to unpack")
            }
        }
    }
}

/// A path for a message: escaped, never lossy about which bytes it holds.
pub(crate) fn shown(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    escape_bytes(path.as_os_str().as_bytes())
}

pub(crate) fn shown_str(s: &str) -> String {
    escape(s)
}

pub(crate) fn io_error<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        op,
        path: shown(path),
        source,
    }
}
