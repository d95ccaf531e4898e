//! Which symlinks are packed as links, and with which target.
//!
//! Ray 2.60 follows symlinks while packing (`Path.is_file()`/`is_dir()` follow them): a link
//! to a file becomes a copy, a link to a directory a copy of the tree, a link to anything
//! outside the directory drags that in, and a dangling one disappears. This packer keeps
//! links as links (Unix mode `0o120777`, the target as the entry's data, as Info-ZIP
//! does), because the unpacker recreates them, and refuses a link the unpacker would refuse:
//! one whose target leaves the directory, or walks through another link (the unpacker
//! checks targets lexically against the package, which is only sound without links on the
//! way). A target that is absolute but inside the directory, or that has `..` after a
//! name, is rewritten into the form the unpacker accepts: leading `..` then names.

use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::error::SymlinkRefusal;

/// The longest target the unpacker accepts (Linux `PATH_MAX` - 1).
const MAX_TARGET_BYTES: usize = 4095;

/// Where the directory being packed lives, in both spellings an absolute link may use.
pub(crate) struct Roots {
    /// The directory as given, made absolute without resolving links.
    pub given: PathBuf,
    /// The directory with every link resolved.
    pub canonical: PathBuf,
}

/// The target to store for the link at `link` (relative to the root, `/`-separated) that
/// points to `target`.
pub(crate) fn stored_target(
    roots: &Roots,
    link: &str,
    target: &Path,
) -> Result<String, SymlinkRefusal> {
    let t = target.to_str().ok_or(SymlinkRefusal::NotUtf8)?;
    if t.is_empty() {
        return Err(SymlinkRefusal::Empty);
    }
    if t.contains('\\') {
        return Err(SymlinkRefusal::Backslash);
    }
    let link_dir: Vec<&str> = {
        let mut c: Vec<&str> = link.split('/').collect();
        c.pop();
        c
    };
    let (start, steps, absolute): (Vec<&str>, Vec<&str>, bool) = if t.starts_with('/') {
        let steps = inside_root(roots, t).ok_or(SymlinkRefusal::Escapes)?;
        (Vec::new(), steps, true)
    } else {
        (link_dir.clone(), t.split('/').collect(), false)
    };
    let names: Vec<&str> = steps
        .into_iter()
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let mut at = start;
    let mut descended = false;
    let mut canonical_form = !absolute;
    for (i, c) in names.iter().enumerate() {
        if *c == ".." {
            if at.pop().is_none() {
                return Err(SymlinkRefusal::Escapes);
            }
            if descended {
                canonical_form = false;
            }
            continue;
        }
        at.push(c);
        descended = true;
        if i + 1 < names.len() && is_link(&roots.given.join(at.join("/"))) {
            return Err(SymlinkRefusal::ThroughLink { via: at.join("/") });
        }
    }
    let stored = if canonical_form {
        t.to_string()
    } else {
        relative(&link_dir, &at)
    };
    if stored.len() > MAX_TARGET_BYTES {
        return Err(SymlinkRefusal::TooLong {
            bytes: stored.len(),
        });
    }
    Ok(stored)
}

/// The components of absolute `t` below the root, when `t` starts with either spelling of
/// the root. A `..` before the root is reached is not resolved (the kernel would resolve it
/// through whatever links lie above the root), so such a target counts as outside.
fn inside_root<'t>(roots: &Roots, t: &'t str) -> Option<Vec<&'t str>> {
    [&roots.given, &roots.canonical]
        .into_iter()
        .find_map(|root| {
            let mut want = root
                .components()
                .filter(|c| matches!(c, Component::Normal(_)));
            let mut rest = t.split('/').filter(|c| !c.is_empty() && *c != ".");
            loop {
                let Some(Component::Normal(expected)) = want.next() else {
                    return Some(rest.collect());
                };
                if rest.next()? != expected.to_str()? {
                    return None;
                }
            }
        })
}

fn is_link(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// The path from directory `from` to `to` (both root-relative component lists).
fn relative(from: &[&str], to: &[&str]) -> String {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, Roots) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("w");
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::create_dir_all(root.join("real")).unwrap();
        symlink("real", root.join("via")).unwrap();
        let roots = Roots {
            given: root.clone(),
            canonical: fs::canonicalize(&root).unwrap(),
        };
        (dir, roots)
    }

    fn stored(roots: &Roots, link: &str, target: &str) -> Result<String, SymlinkRefusal> {
        stored_target(roots, link, Path::new(target))
    }

    #[test]
    fn links_inside_are_kept_verbatim() {
        let (_d, r) = setup();
        for (link, target) in [
            ("a/l", "b"),
            ("a/l", "./b/"),
            ("a/b/l", "../../real/x"),
            ("l", "."),
            ("a/l", "missing/dangling"),
            // The last component may itself be a link (a chain).
            ("a/l", "../via"),
        ] {
            assert_eq!(
                stored(&r, link, target),
                Ok(target.to_string()),
                "{link} -> {target}"
            );
        }
    }

    #[test]
    fn other_forms_inside_are_rewritten() {
        let (_d, r) = setup();
        let abs = format!("{}/real/x", r.given.display());
        assert_eq!(stored(&r, "a/b/l", &abs), Ok("../../real/x".into()));
        let abs = format!("{}/a", r.canonical.display());
        assert_eq!(stored(&r, "a/l", &abs), Ok(".".into()));
        assert_eq!(stored(&r, "a/l", "b/../../real"), Ok("../real".into()));
    }

    #[test]
    fn links_out_or_through_links_are_refused() {
        let (_d, r) = setup();
        assert_eq!(stored(&r, "l", ".."), Err(SymlinkRefusal::Escapes));
        assert_eq!(stored(&r, "a/l", "../../x"), Err(SymlinkRefusal::Escapes));
        assert_eq!(
            stored(&r, "a/l", "/etc/passwd"),
            Err(SymlinkRefusal::Escapes)
        );
        let sneaky = format!("{}/../w/x", r.given.display());
        assert_eq!(stored(&r, "a/l", &sneaky), Err(SymlinkRefusal::Escapes));
        assert_eq!(
            stored(&r, "a/l", "../via/x"),
            Err(SymlinkRefusal::ThroughLink { via: "via".into() })
        );
        assert_eq!(stored(&r, "a/l", ""), Err(SymlinkRefusal::Empty));
        assert_eq!(stored(&r, "a/l", "b\\c"), Err(SymlinkRefusal::Backslash));
        use std::os::unix::ffi::OsStrExt;
        let bad = Path::new(std::ffi::OsStr::from_bytes(b"\xff"));
        assert_eq!(stored_target(&r, "a/l", bad), Err(SymlinkRefusal::NotUtf8));
    }
}
