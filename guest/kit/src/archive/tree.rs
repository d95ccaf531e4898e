//! The tree an archive describes, keyed by Unicode-NFC-normalised path, for duplicate,
//! file-versus-directory and symlink checks (pure logic).
//!
//! Keys are the NFC form so that two names a user (or a normalising filesystem) would see as
//! one are caught as duplicates; byte-equal names are always key-equal, so every collision
//! the real filesystem could have is caught too. Case is kept: Linux is case-sensitive.

use std::collections::{HashMap, HashSet};

use unicode_normalization::UnicodeNormalization;

use crate::text::escape;
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    /// A parent directory no entry names itself.
    ImpliedDir,
    Entry(Kind),
}

#[derive(Debug)]
struct Node {
    kind: NodeKind,
    /// The path as the archive spelled it (for messages).
    shown: Box<str>,
}

#[derive(Debug, Default)]
pub(crate) struct Tree {
    nodes: HashMap<Box<str>, Node>,
    /// Distinct first components, to tell whether the host will strip a top-level directory.
    top_level: HashSet<Box<str>>,
}

/// The comparison key of a normalised entry path (see [`super::names::parse`]).
pub(crate) fn key(path: &str) -> String {
    if path.is_ascii() {
        path.to_owned()
    } else {
        path.nfc().collect()
    }
}

impl Tree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an entry at `path` (normalised, non-empty). Fails on a duplicate, on a name
    /// used both as a directory and as something else, and on anything below a symlink.
    pub fn insert(&mut self, path: &str, kind: Kind) -> Result<()> {
        debug_assert!(!path.is_empty());
        let key = key(path);
        let shown_prefixes = prefixes(path);
        let key_prefixes = prefixes(&key);
        // NFC never merges across `/` (a starter nothing composes with), so both spellings
        // have the same components.
        debug_assert_eq!(shown_prefixes.len(), key_prefixes.len());
        let top = &key[..key_prefixes.first().copied().unwrap_or(key.len())];
        if !self.top_level.contains(top) {
            self.top_level.insert(top.into());
        }
        for (&k, &s) in key_prefixes.iter().zip(&shown_prefixes) {
            let parent = &key[..k];
            match self.nodes.get(parent) {
                Some(Node {
                    kind: NodeKind::ImpliedDir | NodeKind::Entry(Kind::Dir),
                    ..
                }) => {}
                Some(Node {
                    kind: NodeKind::Entry(other),
                    shown,
                }) => {
                    return Err(Error::unsafe_archive(format!(
                        "entry `{}` lies below `{}`, which the archive also has as a {}",
                        escape(path),
                        escape(shown),
                        kind_word(*other)
                    )));
                }
                None => {
                    self.nodes.insert(
                        parent.into(),
                        Node {
                            kind: NodeKind::ImpliedDir,
                            shown: path[..s].into(),
                        },
                    );
                }
            }
        }
        match self.nodes.get_mut(key.as_str()) {
            None => {
                self.nodes.insert(
                    key.into(),
                    Node {
                        kind: NodeKind::Entry(kind),
                        shown: path.into(),
                    },
                );
                Ok(())
            }
            Some(node) if node.kind == NodeKind::ImpliedDir && kind == Kind::Dir => {
                node.kind = NodeKind::Entry(Kind::Dir);
                Ok(())
            }
            Some(node) if node.kind == NodeKind::ImpliedDir => Err(Error::unsafe_archive(format!(
                "the archive has `{}` both as a {} and as a directory of other entries",
                escape(path),
                kind_word(kind)
            ))),
            Some(node) if *node.shown == *path => Err(Error::unsafe_archive(format!(
                "the archive has more than one entry named `{}`",
                escape(path)
            ))),
            Some(node) => Err(Error::unsafe_archive(format!(
                "entries `{}` and `{}` have the same name after Unicode normalisation (NFC)",
                escape(&node.shown),
                escape(path)
            ))),
        }
    }

    /// What is at `key` (an NFC key, see [`key`]).
    pub fn kind_of_key(&self, key: &str) -> Option<NodeKind> {
        self.nodes.get(key).map(|n| n.kind)
    }

    /// How many leading components the host will strip: 1 when every entry sits under one
    /// top-level directory (the Ray convention), else 0.
    pub fn stripped_depth(&self) -> usize {
        if self.top_level.len() != 1 {
            return 0;
        }
        let Some(top) = self.top_level.iter().next() else {
            return 0;
        };
        match self.kind_of_key(top) {
            Some(NodeKind::ImpliedDir | NodeKind::Entry(Kind::Dir)) => 1,
            _ => 0,
        }
    }
}

/// Byte offsets of every `/` in `path`: the ends of its proper prefixes.
fn prefixes(path: &str) -> Vec<usize> {
    path.match_indices('/').map(|(i, _)| i).collect()
}

fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::File => "file",
        Kind::Dir => "directory",
        Kind::Symlink => "symlink",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn build(entries: &[(&str, Kind)]) -> Result<Tree> {
        let mut t = Tree::new();
        for (p, k) in entries {
            t.insert(p, *k)?;
        }
        Ok(t)
    }

    fn err(entries: &[(&str, Kind)]) -> Error {
        build(entries).unwrap_err()
    }

    #[test]
    fn accepts_a_normal_tree() {
        let t = build(&[
            ("pkg", Kind::Dir),
            ("pkg/a.py", Kind::File),
            ("pkg/sub/b.py", Kind::File),
            ("pkg/sub", Kind::Dir),
            ("pkg/A.py", Kind::File),
        ])
        .unwrap();
        assert_eq!(t.kind_of_key("pkg/sub"), Some(NodeKind::Entry(Kind::Dir)));
        assert_eq!(t.stripped_depth(), 1);
    }

    #[test]
    fn rejects_duplicates_including_nfc() {
        let e = err(&[("a/x", Kind::File), ("a/x", Kind::File)]);
        assert_eq!(e.kind, ErrorKind::UnsafeArchive);
        assert!(e.message.contains("more than one"), "{}", e.message);
        let e = err(&[("caf\u{e9}", Kind::File), ("cafe\u{301}", Kind::File)]);
        assert_eq!(e.kind, ErrorKind::UnsafeArchive);
        assert!(e.message.contains("NFC"), "{}", e.message);
        assert_eq!(
            err(&[("d", Kind::Dir), ("d", Kind::Dir)]).kind,
            ErrorKind::UnsafeArchive
        );
        assert_eq!(
            err(&[("d", Kind::Dir), ("d", Kind::File)]).kind,
            ErrorKind::UnsafeArchive
        );
    }

    #[test]
    fn rejects_file_directory_conflicts_in_both_orders() {
        assert_eq!(
            err(&[("a", Kind::File), ("a/b", Kind::File)]).kind,
            ErrorKind::UnsafeArchive
        );
        assert_eq!(
            err(&[("a/b", Kind::File), ("a", Kind::File)]).kind,
            ErrorKind::UnsafeArchive
        );
        assert_eq!(
            err(&[("l", Kind::Symlink), ("l/x", Kind::File)]).kind,
            ErrorKind::UnsafeArchive
        );
        assert_eq!(
            err(&[("l/x", Kind::File), ("l", Kind::Symlink)]).kind,
            ErrorKind::UnsafeArchive
        );
        // The conflict holds across normalisation forms too.
        assert_eq!(
            err(&[("caf\u{e9}", Kind::File), ("cafe\u{301}/x", Kind::File)]).kind,
            ErrorKind::UnsafeArchive
        );
    }

    #[test]
    fn strip_depth_follows_the_top_level() {
        assert_eq!(
            build(&[("a/x", Kind::File), ("b/y", Kind::File)])
                .unwrap()
                .stripped_depth(),
            0
        );
        assert_eq!(build(&[("top", Kind::File)]).unwrap().stripped_depth(), 0);
        assert_eq!(build(&[("top/x", Kind::File)]).unwrap().stripped_depth(), 1);
        assert_eq!(build(&[("l", Kind::Symlink)]).unwrap().stripped_depth(), 0);
        assert_eq!(Tree::new().stripped_depth(), 0);
    }
}
