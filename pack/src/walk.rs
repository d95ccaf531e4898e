//! The directory walk of Ray 2.60's `_dir_travel`, deciding what a working_dir package holds.
//!
//! For each path, starting with the directory itself: first the `.gitignore` and `.rayignore`
//! of that path (when it is a directory) join the active ignore sources, then the path is
//! skipped if any active source excludes it (each source matches paths relative to its own
//! directory; the directory itself is `.`), and the sources a directory added are dropped
//! when the walk leaves it. Packed are regular files and physically empty directories; a
//! directory whose children are all excluded disappears. Ray skips what is neither a file
//! nor a directory (fifos, sockets, devices, dangling links); so does this walk, except that
//! symlinks are kept as links (see [`crate::links`]).

use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, Result, io_error, shown};
use crate::ignore_files::{self, GITIGNORE, RAYIGNORE};
use crate::links::{self, Roots};
use crate::names;
use crate::pattern::Spec;
use crate::rules::Rules;

/// What a regular file looked like when it was listed; any difference later means it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileMeta {
    pub size: u64,
    pub executable: bool,
    pub dev: u64,
    pub ino: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl FileMeta {
    pub fn of(m: &Metadata) -> Self {
        FileMeta {
            size: m.len(),
            // git's rule: the owner's execute bit decides 0755 versus 0644.
            executable: m.mode() & 0o100 != 0,
            dev: m.dev(),
            ino: m.ino(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Found {
    File(FileMeta),
    Symlink { target: String },
    EmptyDir,
}

#[derive(Debug)]
pub(crate) struct Walked {
    /// Root-relative `/`-separated paths, sorted by their bytes.
    pub entries: Vec<(String, Found)>,
    /// Fifos, sockets and devices left out, as Ray leaves them out.
    pub skipped: Vec<String>,
}

struct Source {
    /// The length of [`matchable`] of the root-relative directory the source's patterns are
    /// relative to (`None`: the root).
    base: Option<usize>,
    spec: Spec,
    origin: String,
}

struct Frame {
    rel: Vec<u8>,
    children: Vec<OsString>,
    next: usize,
    /// How many sources this directory added.
    added: usize,
}

pub(crate) fn walk(root: &Path, rules: &Rules) -> Result<Walked> {
    let meta = fs::metadata(root).map_err(io_error("reading", root))?;
    if !meta.is_dir() {
        return Err(Error::NotADirectory { path: shown(root) });
    }
    let roots = Roots {
        given: std::path::absolute(root).map_err(io_error("resolving", root))?,
        canonical: fs::canonicalize(root).map_err(io_error("resolving", root))?,
    };
    let excludes = Spec::new(rules.combined_excludes()).map_err(|e| Error::Pattern {
        pattern: crate::error::shown_str(&e.pattern),
        origin: "the excludes".to_string(),
        reason: e.reason,
    })?;
    let mut sources = vec![Source {
        base: None,
        spec: excludes,
        origin: "the excludes".to_string(),
    }];
    let added = add_ignore_files(&mut sources, root, None, rules)?;
    for s in &sources {
        if let Some(pattern) = s.spec.excluding_pattern(".") {
            return Err(Error::RootExcluded {
                pattern: crate::error::shown_str(pattern),
                origin: s.origin.clone(),
            });
        }
    }

    let mut walked = Walked {
        entries: Vec::new(),
        skipped: Vec::new(),
    };
    let children = list(root)?;
    if children.is_empty() {
        return Ok(walked);
    }
    let mut stack = vec![Frame {
        rel: Vec::new(),
        children,
        next: 0,
        added,
    }];
    while let Some(frame) = stack.last_mut() {
        let Some(name) = frame.children.get(frame.next) else {
            let added = frame.added;
            stack.pop();
            sources.truncate(sources.len() - added);
            continue;
        };
        frame.next += 1;
        let mut rel = frame.rel.clone();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(name.as_bytes());
        let abs = root.join(std::ffi::OsStr::from_bytes(&rel));
        let meta = match fs::symlink_metadata(&abs) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Changed {
                    path: shown(&abs),
                    what: "removed while the directory was read",
                });
            }
            Err(e) => return Err(io_error("reading", &abs)(e)),
        };
        let kind = meta.file_type();
        let text = matchable(&rel);
        let added = if kind.is_dir() {
            add_ignore_files(&mut sources, &abs, Some(text.len()), rules)?
        } else {
            0
        };
        let excluded = sources
            .iter()
            .any(|s| s.spec.excludes(relative_to(&text, s.base)));
        if excluded {
            sources.truncate(sources.len() - added);
            continue;
        }
        if kind.is_dir() {
            let children = list(&abs)?;
            if children.is_empty() {
                sources.truncate(sources.len() - added);
                walked
                    .entries
                    .push((entry_path(&abs, rel)?, Found::EmptyDir));
            } else {
                stack.push(Frame {
                    rel,
                    children,
                    next: 0,
                    added,
                });
            }
        } else if kind.is_file() {
            walked
                .entries
                .push((entry_path(&abs, rel)?, Found::File(FileMeta::of(&meta))));
        } else if kind.is_symlink() {
            let path = entry_path(&abs, rel)?;
            let raw = fs::read_link(&abs).map_err(io_error("reading symlink", &abs))?;
            let target =
                links::stored_target(&roots, &path, &raw).map_err(|reason| Error::Symlink {
                    path: shown(&abs),
                    target: shown(&raw),
                    reason,
                })?;
            walked.entries.push((path, Found::Symlink { target }));
        } else {
            walked.skipped.push(text);
        }
    }
    walked
        .entries
        .sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    names::check_nfc(walked.entries.iter().map(|(p, _)| p.as_str()))?;
    Ok(walked)
}

/// Adds the ignore files of directory `abs` (root-relative `rel`); returns how many.
fn add_ignore_files(
    sources: &mut Vec<Source>,
    abs: &Path,
    base: Option<usize>,
    rules: &Rules,
) -> Result<usize> {
    let mut added = 0;
    let names: &[&str] = if rules.include_gitignore {
        &[GITIGNORE, RAYIGNORE]
    } else {
        &[RAYIGNORE]
    };
    for name in names {
        if let Some((spec, origin)) = ignore_files::load(abs, name)? {
            sources.push(Source { base, spec, origin });
            added += 1;
        }
    }
    Ok(added)
}

/// A directory's children, sorted by their bytes so every walk is the same.
fn list(dir: &Path) -> Result<Vec<OsString>> {
    let mut names = Vec::new();
    for child in fs::read_dir(dir).map_err(io_error("listing", dir))? {
        names.push(child.map_err(io_error("listing", dir))?.file_name());
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// A packed entry's name: UTF-8 (as Ray needs), and one the unpacker accepts.
fn entry_path(abs: &Path, rel: Vec<u8>) -> Result<String> {
    let path = String::from_utf8(rel).map_err(|_| Error::NonUtf8Name { path: shown(abs) })?;
    names::check(&path)?;
    Ok(path)
}

/// The text pathspec matches: Python decodes a non-UTF-8 name with `surrogateescape`, one
/// code point per undecodable byte; U+FFFD per byte keeps the same length in characters.
fn matchable(rel: &[u8]) -> String {
    let mut out = String::with_capacity(rel.len());
    for chunk in rel.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push('\u{fffd}');
        }
    }
    out
}

/// `path` relative to a source's directory, `.` for the directory itself. A source is only
/// active below its directory, and [`matchable`] maps `dir/rest` to `matchable(dir)/…` (a
/// `/` never sits inside an undecodable sequence), so the directory is a prefix.
fn relative_to(path: &str, base: Option<usize>) -> &str {
    match base {
        None => path,
        Some(len) if path.len() == len => ".",
        Some(len) => &path[len + 1..],
    }
}
