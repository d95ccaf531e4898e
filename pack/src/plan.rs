//! What a package will hold and what it will be called, before anything is compressed.

use std::path::{Path, PathBuf};

use scheme_contract::Limits;

use crate::digest::{self, ContentDigest, Listed, Sha};
use crate::error::{Error, Result, shown_str};
use crate::pool;
use crate::read;
use crate::rules::Rules;
use crate::walk::{self, FileMeta, Found};

/// Builds a [`Plan`] (and packs it) for one directory.
#[derive(Debug, Clone)]
pub struct Packer {
    dir: PathBuf,
    rules: Rules,
    threads: usize,
    limits: Limits,
    parent_dir: bool,
}

impl Packer {
    /// Ray 2.60's rules with none of its environment variables set, on every core. Use
    /// [`Packer::rules`] with [`Rules::from_env`] to follow the environment as Ray does.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Packer {
            dir: dir.into(),
            rules: Rules::default(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            limits: Limits::default(),
            parent_dir: false,
        }
    }

    /// Keeps the directory's own name as a directory inside the package (Ray's
    /// `include_parent_dir`, which it uses for `py_modules`): once the top directory is
    /// stripped, `<name>/...` remains, so `import <name>` works. The package name covers it,
    /// so the same tree packed both ways gets two names.
    pub fn include_parent_dir(mut self, yes: bool) -> Self {
        self.parent_dir = yes;
        self
    }

    /// The limits of the nodes that will unpack the package (default: the contract's
    /// defaults, which nodes use unless their operator changes them). Planning fails with
    /// [`Error::OverLimit`] when the package would exceed the entry count, the unpacked size,
    /// an entry name's length or its depth. The compressed size is only known once packed
    /// ([`crate::PackSummary::bytes_out`] against `max_download_bytes`).
    pub fn unpack_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Adds `runtime_env["excludes"]` patterns (gitwildmatch, relative to the directory).
    pub fn exclude<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rules
            .excludes
            .extend(patterns.into_iter().map(Into::into));
        self
    }

    /// Replaces all the rules.
    pub fn rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }

    /// How many threads hash and compress (at least one); the calling thread writes.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// Walks the directory and hashes every file (in parallel): the entry list and the
    /// package name, with no compression. Reads every file once.
    pub fn plan(&self) -> Result<Plan> {
        let inner = if self.parent_dir { Some(parent_dir_name(&self.dir)?) } else { None };
        let plan = Plan::build(&self.dir, &self.rules, self.threads, inner)?;
        plan.check_limits(&self.limits)?;
        Ok(plan)
    }

    /// [`Packer::plan`] then [`Plan::pack_to`]: every file is read twice (hashing first, as
    /// the name is the top directory inside the zip).
    pub fn pack_to<W: std::io::Write>(&self, out: W) -> Result<crate::PackSummary> {
        self.plan()?.pack_to(out)
    }
}

/// [`Packer::new`] with extra `excludes`, planned.
pub fn plan<I, S>(dir: impl Into<PathBuf>, excludes: I) -> Result<Plan>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Packer::new(dir).exclude(excludes).plan()
}

/// One thing the package unpacks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the directory, `/`-separated, no trailing slash.
    pub path: String,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File { size: u64, executable: bool },
    Symlink { target: String },
    EmptyDir,
}

/// The planned contents and name of a package. Packing it checks that every file still has
/// the content that was hashed, so the bytes always match the name.
#[derive(Debug, Clone)]
pub struct Plan {
    pub(crate) root: PathBuf,
    pub(crate) entries: Vec<Entry>,
    /// Per entry: the listed status and content digest of files.
    pub(crate) files: Vec<Option<(FileMeta, Sha)>>,
    pub(crate) stem: String,
    /// The directory's own name, kept inside the top directory ([`Packer::include_parent_dir`]).
    pub(crate) inner: Option<String>,
    pub(crate) threads: usize,
    skipped: Vec<String>,
}

/// Hash jobs in flight at most; each result is only a digest.
const HASH_WINDOW: usize = 256;

impl Plan {
    fn build(root: &Path, rules: &Rules, threads: usize, inner: Option<String>) -> Result<Plan> {
        let walked = walk::walk(root, rules)?;
        let mut entries = Vec::with_capacity(walked.entries.len());
        let mut metas = Vec::with_capacity(walked.entries.len());
        for (path, found) in walked.entries {
            let (kind, meta) = match found {
                Found::File(m) => (
                    EntryKind::File {
                        size: m.size,
                        executable: m.executable,
                    },
                    Some(m),
                ),
                Found::Symlink { target } => (EntryKind::Symlink { target }, None),
                Found::EmptyDir => (EntryKind::EmptyDir, None),
            };
            entries.push(Entry { path, kind });
            metas.push(meta);
        }

        // One job per chunk of every file; an empty file still gets one (it is read, to
        // notice it growing). Results come in job order, so each file's chunk digests
        // arrive in order.
        let jobs = chunk_jobs(&metas);
        let mut digests: Vec<Option<Sha>> = vec![None; metas.len()];
        let mut current = ContentDigest::default();
        pool::ordered(
            jobs.len(),
            threads,
            HASH_WINDOW,
            |j| {
                let (e, c, meta) = &jobs[j];
                let (buf, _) = read::chunk(&root.join(&entries[*e].path), meta, *c, 0, Vec::new())?;
                Ok(digest::chunk_digest(&buf))
            },
            |j, chunk_digest| {
                let (e, c, meta) = &jobs[j];
                let chunks = digest::chunks(meta.size);
                if chunks > 0 {
                    current.add(&chunk_digest);
                }
                if c + 1 >= chunks {
                    digests[*e] = Some(std::mem::take(&mut current).finish());
                }
                Ok(())
            },
        )?;

        let files: Vec<Option<(FileMeta, Sha)>> =
            metas.iter().zip(&digests).map(|(m, d)| m.zip(*d)).collect();
        // With the parent directory kept, every entry is listed under it (and the directory
        // itself once), so the name says which layout the package has.
        let listed_paths: Vec<String> = entries.iter().map(|e| match &inner {
            Some(d) => format!("{d}/{}", e.path),
            None => e.path.clone(),
        }).collect();
        let parent_entry = inner.as_deref().map(|d| (d, digest::Listed::EmptyDir));
        let listing = digest::listing(parent_entry.into_iter().chain(entries.iter().zip(&files).zip(&listed_paths).map(|((e, f), path)| {
            let listed = match (&e.kind, f) {
                (EntryKind::File { size, executable }, Some((_, content))) => Listed::File {
                    size: *size,
                    executable: *executable,
                    content,
                },
                (EntryKind::Symlink { target }, _) => Listed::Symlink { target },
                _ => Listed::EmptyDir,
            };
            (path.as_str(), listed)
        })));
        Ok(Plan {
            root: root.to_path_buf(),
            entries,
            files,
            stem: digest::stem(&listing),
            inner,
            threads,
            skipped: walked.skipped,
        })
    }

    /// `_ray_pkg_<hash>.zip`: the object name to upload under.
    pub fn name(&self) -> String {
        format!("{}.zip", self.stem)
    }

    /// The one directory at the top of the zip (the name without `.zip`); Ray strips it
    /// when it unpacks a remote package, leaving exactly the planned entries.
    pub fn top_dir(&self) -> &str {
        &self.stem
    }

    /// Where the entries sit in the zip: the top directory, and below it the directory's
    /// own name when it is kept.
    pub(crate) fn zip_prefix(&self) -> String {
        match &self.inner {
            Some(d) => format!("{}/{d}", self.stem),
            None => self.stem.clone(),
        }
    }

    /// The directory's own name when the package keeps it ([`Packer::include_parent_dir`]).
    pub fn parent_dir(&self) -> Option<&str> {
        self.inner.as_deref()
    }

    /// What the package unpacks to, sorted by path bytes.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Fifos, sockets and devices that were left out (Ray leaves them out too).
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    pub fn files(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::File { .. }))
            .count()
    }

    /// Total size of the files.
    pub fn bytes_in(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| match e.kind {
                EntryKind::File { size, .. } => size,
                _ => 0,
            })
            .sum()
    }

    pub fn directory(&self) -> &Path {
        &self.root
    }

    /// What the unpacker checks before writing anything, with the names as the zip holds
    /// them (below the top directory) and every zip entry counted (the top directory too).
    fn check_limits(&self, limits: &Limits) -> Result<()> {
        let entries = self.entries.len() as u64 + 1 + u64::from(self.inner.is_some());
        if entries > limits.max_entries {
            return Err(Error::OverLimit(format!(
                "{entries} entries, more than the limit of {}",
                limits.max_entries
            )));
        }
        if self.bytes_in() > limits.max_unpacked_bytes {
            return Err(Error::OverLimit(format!(
                "{} bytes unpacked, more than the limit of {}",
                self.bytes_in(),
                limits.max_unpacked_bytes
            )));
        }
        for e in &self.entries {
            let dir_slash = usize::from(matches!(e.kind, EntryKind::EmptyDir));
            let name_len = self.zip_prefix().len() + 1 + e.path.len() + dir_slash;
            if name_len as u64 > u64::from(limits.max_path_bytes) {
                return Err(Error::OverLimit(format!(
                    "`{}` makes an entry name of {name_len} bytes, more than the limit of {}",
                    shown_str(&e.path),
                    limits.max_path_bytes
                )));
            }
            let depth = 1 + usize::from(self.inner.is_some()) + e.path.split('/').count();
            if depth as u64 > u64::from(limits.max_path_depth) {
                return Err(Error::OverLimit(format!(
                    "`{}` is {depth} levels deep in the zip, more than the limit of {}",
                    shown_str(&e.path),
                    limits.max_path_depth
                )));
            }
        }
        Ok(())
    }
}

/// The last component of `dir` (after resolving `.` and `..`), which must be a UTF-8 name.
fn parent_dir_name(dir: &Path) -> Result<String> {
    let absolute = std::path::absolute(dir).map_err(crate::error::io_error("resolving", dir))?;
    let resolved = std::fs::canonicalize(&absolute).map_err(crate::error::io_error("resolving", dir))?;
    let name = resolved.file_name().ok_or_else(|| Error::NonUtf8Name { path: shown_str(&dir.display().to_string()) })?;
    name.to_str().map(str::to_string).ok_or_else(|| Error::NonUtf8Name { path: shown_str(&dir.display().to_string()) })
}

/// `(entry index, chunk index, listed status)` for every chunk of every file, in entry order.
pub(crate) fn chunk_jobs(metas: &[Option<FileMeta>]) -> Vec<(usize, u64, FileMeta)> {
    let mut jobs = Vec::new();
    for (e, m) in metas.iter().enumerate() {
        if let Some(m) = m {
            for c in 0..digest::chunks(m.size).max(1) {
                jobs.push((e, c, *m));
            }
        }
    }
    jobs
}
