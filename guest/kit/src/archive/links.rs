//! Symlink target checks (pure logic).
//!
//! A target is resolved lexically, component by component, from the link's directory against
//! the archive's own tree. Because no entry may lie below a symlink entry (see
//! [`super::tree`]) and a target may not walk through another symlink entry, lexical
//! resolution equals what the kernel does: every `..`-free path inside the tree then stays
//! inside it.

use super::names::{has_drive_letter, MAX_COMPONENT_BYTES};
use super::tree::{key, Kind, NodeKind, Tree};
use crate::text::escape;
use crate::{Error, Limits, Result};

/// Longest symlink target accepted whatever the limits say (Linux `PATH_MAX` - 1).
const MAX_TARGET_BYTES: usize = 4095;

/// The cap on a symlink target's length for these limits.
pub(crate) fn max_target_bytes(limits: &Limits) -> usize {
    (limits.max_path_bytes as usize).min(MAX_TARGET_BYTES)
}

/// Checks the target of the symlink entry at `link` (a normalised path already in `tree`).
pub(crate) fn check(tree: &Tree, link: &str, target: &str, limits: &Limits) -> Result<()> {
    let refuse = |why: &str| {
        Error::unsafe_archive(format!(
            "symlink `{}` -> `{}` {why}",
            escape(link),
            escape(target)
        ))
    };
    if target.len() > max_target_bytes(limits) {
        return Err(Error::limit(format!(
            "symlink `{}` has a target of {} bytes, more than the limit of {}",
            escape(link),
            target.len(),
            max_target_bytes(limits)
        )));
    }
    if target.is_empty() {
        return Err(refuse("has an empty target"));
    }
    if target.contains('\0') {
        return Err(refuse("has a NUL byte in its target"));
    }
    if target.contains('\\') {
        return Err(refuse("has a backslash in its target"));
    }
    if target.starts_with('/') {
        return Err(refuse("points to an absolute path"));
    }
    if has_drive_letter(target) {
        return Err(refuse("points to a Windows drive"));
    }
    let link_key = key(link);
    // The directory holding the link, as key components.
    let mut at: Vec<&str> = link_key.split('/').collect();
    at.pop();
    let floor = tree.stripped_depth();
    let target_key = key(target);
    let components: Vec<&str> = target_key
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let mut descended = false;
    for (i, component) in components.iter().enumerate() {
        if *component == ".." {
            // The host audits every published link without knowing which components are
            // links, so it accepts `..` only before the first name; refusing the rest here
            // keeps such archives an archive error instead of a sandbox error.
            if descended {
                return Err(refuse("has a `..` after a name (only leading `..` components are allowed)"));
            }
            if at.len() <= floor {
                return Err(refuse(if floor == 0 {
                    "points outside the archive's tree"
                } else {
                    "points outside the archive's top-level directory, which the host strips"
                }));
            }
            at.pop();
            continue;
        }
        if component.len() > MAX_COMPONENT_BYTES {
            return Err(refuse(&format!(
                "has a target component longer than {MAX_COMPONENT_BYTES} bytes"
            )));
        }
        at.push(component);
        descended = true;
        let is_last = i + 1 == components.len();
        if !is_last && tree.kind_of_key(&at.join("/")) == Some(NodeKind::Entry(Kind::Symlink)) {
            return Err(refuse(&format!(
                "walks through another symlink entry, `{}`",
                escape(&at.join("/"))
            )));
        }
    }
    // Ending at the (effective) root is allowed: a loop, not an escape.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn tree(entries: &[(&str, Kind)]) -> Tree {
        let mut t = Tree::new();
        for (p, k) in entries {
            t.insert(p, *k).unwrap();
        }
        t
    }

    fn verdict(t: &Tree, link: &str, target: &str) -> Result<(), ErrorKind> {
        check(t, link, target, &Limits::default()).map_err(|e| e.kind)
    }

    #[test]
    fn links_inside_are_accepted() {
        let t = tree(&[
            ("a/lib/libx.so.1", Kind::File),
            ("a/lib/libx.so", Kind::Symlink),
            ("b/run", Kind::Symlink),
            ("b/chain", Kind::Symlink),
        ]);
        assert_eq!(verdict(&t, "a/lib/libx.so", "libx.so.1"), Ok(()));
        assert_eq!(verdict(&t, "a/lib/libx.so", "./libx.so.1"), Ok(()));
        assert_eq!(verdict(&t, "b/run", "../a/lib/libx.so.1"), Ok(()));
        assert_eq!(verdict(&t, "b/run", "../a/lib/"), Ok(()));
        // Ends at another link: a chain, each link checked on its own.
        assert_eq!(verdict(&t, "b/chain", "run"), Ok(()));
        // Dangling but inside.
        assert_eq!(verdict(&t, "b/run", "../a/missing"), Ok(()));
    }

    #[test]
    fn escaping_links_are_rejected() {
        let t = tree(&[
            ("a/l", Kind::Symlink),
            ("b", Kind::Dir),
            ("c/d", Kind::Symlink),
        ]);
        for target in [
            "/etc/passwd",
            "../../etc",
            "../..",
            "x/../../..",
            "C:/x",
            "..\\x",
            "a\0b",
            "",
        ] {
            assert_eq!(
                verdict(&t, "a/l", target),
                Err(ErrorKind::UnsafeArchive),
                "{target:?}"
            );
        }
        // Through another link: the kernel would follow `c/d` before applying `..`.
        assert_eq!(
            verdict(&t, "a/l", "../c/d/x"),
            Err(ErrorKind::UnsafeArchive)
        );
        // `..` after a name, even one that resolves inside.
        assert_eq!(verdict(&t, "a/l", "../b/../a"), Err(ErrorKind::UnsafeArchive));
        assert_eq!(
            verdict(&t, "a/l", "../c/d/.."),
            Err(ErrorKind::UnsafeArchive)
        );
        // The root itself is inside.
        assert_eq!(verdict(&t, "a/l", "../"), Ok(()));
    }

    #[test]
    fn a_stripped_top_level_directory_is_the_boundary() {
        let t = tree(&[
            ("pkg/x", Kind::File),
            ("pkg/sub/l", Kind::Symlink),
            ("pkg/l2", Kind::Symlink),
        ]);
        assert_eq!(t.stripped_depth(), 1);
        assert_eq!(verdict(&t, "pkg/sub/l", "../x"), Ok(()));
        assert_eq!(
            verdict(&t, "pkg/sub/l", "../../pkg/x"),
            Err(ErrorKind::UnsafeArchive)
        );
        assert_eq!(verdict(&t, "pkg/l2", ".."), Err(ErrorKind::UnsafeArchive));
        assert_eq!(verdict(&t, "pkg/sub/l", ".."), Ok(()));
    }

    #[test]
    fn target_length_is_capped() {
        let t = tree(&[("l", Kind::Symlink)]);
        let long = "a/".repeat(2100);
        assert_eq!(verdict(&t, "l", &long), Err(ErrorKind::LimitExceeded));
        let limits = Limits {
            max_path_bytes: 8,
            ..Limits::default()
        };
        assert_eq!(
            check(&t, "l", "123456789", &limits).unwrap_err().kind,
            ErrorKind::LimitExceeded
        );
    }
}
