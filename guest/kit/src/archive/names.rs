//! Entry-name rules shared by the zip and tar extractors (pure logic).

use crate::text::escape;
use crate::{Error, Limits, Result};

/// Longest single path component Linux (and most filesystems) accept.
pub(crate) const MAX_COMPONENT_BYTES: usize = 255;

/// A validated entry name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryName {
    /// `/`-joined components without `.` or empty ones; empty for the root itself.
    pub path: String,
    /// The archive marked the name as a directory (`a/`).
    pub trailing_slash: bool,
}

impl EntryName {
    pub fn is_root(&self) -> bool {
        self.path.is_empty()
    }
}

/// The archive's own name for macOS Finder metadata; such entries are skipped, never written.
pub(crate) fn is_macos_metadata(name: &str) -> bool {
    name.split('/').find(|c| !c.is_empty() && *c != ".") == Some("__MACOSX")
}

/// Applies the path rules of the module documentation to one entry name.
pub(crate) fn parse(name: &str, limits: &Limits) -> Result<EntryName> {
    let shown = || escape(name);
    if name.contains('\0') {
        return Err(Error::unsafe_archive(format!(
            "entry name `{}` contains a NUL byte",
            shown()
        )));
    }
    if name.is_empty() {
        return Err(Error::unsafe_archive("an entry has an empty name"));
    }
    if name.contains('\\') {
        return Err(Error::unsafe_archive(format!(
            "entry name `{}` contains a backslash (a Windows path separator)",
            shown()
        )));
    }
    if name.starts_with('/') {
        return Err(Error::unsafe_archive(format!(
            "entry name `{}` is an absolute path",
            shown()
        )));
    }
    if has_drive_letter(name) {
        return Err(Error::unsafe_archive(format!(
            "entry name `{}` starts with a drive letter",
            shown()
        )));
    }
    if name.len() as u64 > u64::from(limits.max_path_bytes) {
        return Err(Error::limit(format!(
            "entry name `{}` is {} bytes long, more than the limit of {}",
            shown(),
            name.len(),
            limits.max_path_bytes
        )));
    }
    let mut path = String::with_capacity(name.len());
    let mut depth: u32 = 0;
    for component in name.split('/') {
        match component {
            "" | "." => continue,
            ".." => {
                return Err(Error::unsafe_archive(format!(
                    "entry name `{}` contains a `..` component",
                    shown()
                )))
            }
            c if c.len() > MAX_COMPONENT_BYTES => {
                return Err(Error::unsafe_archive(format!(
                    "entry name `{}` has a component longer than {MAX_COMPONENT_BYTES} bytes",
                    shown()
                )))
            }
            c => {
                depth += 1;
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(c);
            }
        }
    }
    if depth > limits.max_path_depth {
        return Err(Error::limit(format!(
            "entry name `{}` is {depth} levels deep, more than the limit of {}",
            shown(),
            limits.max_path_depth
        )));
    }
    Ok(EntryName {
        path,
        trailing_slash: name.ends_with('/'),
    })
}

/// `C:` or `C:x` as the first component: a Windows drive (relative or absolute).
pub(crate) fn has_drive_letter(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn ok(name: &str) -> EntryName {
        parse(name, &Limits::default()).unwrap()
    }

    fn kind(name: &str, limits: &Limits) -> ErrorKind {
        parse(name, limits).unwrap_err().kind
    }

    #[test]
    fn normalises_harmless_forms() {
        assert_eq!(
            ok("a/b.py"),
            EntryName {
                path: "a/b.py".into(),
                trailing_slash: false
            }
        );
        assert_eq!(
            ok("./a//b/"),
            EntryName {
                path: "a/b".into(),
                trailing_slash: true
            }
        );
        assert!(ok("./").is_root());
        assert!(ok(".").is_root());
        assert_eq!(ok("x/a:b").path, "x/a:b");
        assert_eq!(ok("ab:c").path, "ab:c");
        assert_eq!(ok("dir.../x..y").path, "dir.../x..y");
    }

    #[test]
    fn rejects_escapes_and_ambiguous_names() {
        let l = Limits::default();
        for bad in [
            "../x",
            "a/../../x",
            "a/../b",
            "..",
            "/etc/passwd",
            "//server/share/x",
            "a\\b",
            "..\\..\\x",
            "\\\\server\\share",
            "C:/x",
            "c:x",
            "Z:",
            "a\0b",
            "",
        ] {
            assert_eq!(kind(bad, &l), ErrorKind::UnsafeArchive, "{bad:?}");
        }
        let long = "x".repeat(256);
        assert_eq!(kind(&format!("a/{long}"), &l), ErrorKind::UnsafeArchive);
        assert_eq!(ok(&"y".repeat(255)).path.len(), 255);
    }

    #[test]
    fn enforces_length_and_depth_limits() {
        let l = Limits {
            max_path_bytes: 10,
            max_path_depth: 3,
            ..Limits::default()
        };
        assert_eq!(kind("abcdefghijk", &l), ErrorKind::LimitExceeded);
        assert_eq!(parse("abcdefghij", &l).unwrap().path, "abcdefghij");
        assert_eq!(kind("a/b/c/d", &l), ErrorKind::LimitExceeded);
        assert_eq!(parse("a/b/c/", &l).unwrap().path, "a/b/c");
    }

    #[test]
    fn messages_escape_control_characters() {
        let e = parse("../\x1b[2J", &Limits::default()).unwrap_err();
        assert!(e.message.contains("\\u{1b}[2J"), "{}", e.message);
        assert!(!e.message.contains('\x1b'));
    }

    #[test]
    fn recognises_macos_metadata() {
        assert!(is_macos_metadata("__MACOSX/"));
        assert!(is_macos_metadata("__MACOSX/pkg/._a.py"));
        assert!(is_macos_metadata("./__MACOSX/x"));
        assert!(!is_macos_metadata("pkg/__MACOSX/x"));
        assert!(!is_macos_metadata("__MACOSX_not/x"));
    }
}
