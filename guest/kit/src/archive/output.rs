//! Writes the validated tree under `target`, counting and limiting what it writes.
//!
//! Files are created with `create_new`, so nothing that already exists (a symlink above all)
//! is ever opened for writing. Directories are remembered once created, so no path is
//! created or checked twice. Data moves in chunks of [`CHUNK`]: a small file costs one open,
//! one write and one close, which matters in a wasm guest where each is a host call.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::Path;

use super::fsout::{OutFile, Root};
use super::ExtractStats;
use crate::text::escape;
use crate::{Error, Limits, Result};

/// Read and write unit for file data.
pub(crate) const CHUNK: usize = 1 << 20;

/// Entries up to this size are never flagged for their compression ratio: a small file of
/// zeros or repeated lines legitimately compresses far beyond any sane ratio.
pub(crate) const RATIO_FLOOR: u64 = 1 << 20;

const REPORT_BYTES: u64 = 4 << 20;
const REPORT_ENTRIES: u64 = 256;

/// One regular file to write.
pub(crate) struct FileSpec<'s> {
    /// Normalised `/`-separated path relative to the target.
    pub path: &'s str,
    /// Size the archive declares; writing more or fewer bytes is an integrity error.
    pub declared: Option<u64>,
    /// Compressed size, when the format has one per entry (zip), for the ratio limit.
    pub compressed: Option<u64>,
    pub executable: bool,
}

/// A regular file being written with [`Output::write_file`].
pub(crate) struct OpenFile {
    file: OutFile,
    path: String,
    declared: Option<u64>,
    compressed: Option<u64>,
    executable: bool,
    written: u64,
}

pub(crate) struct Output<'a> {
    root: Root,
    limits: &'a Limits,
    progress: &'a mut dyn FnMut(u64, u64),
    created: HashSet<String>,
    links: Vec<(String, String)>,
    stats: ExtractStats,
    buf: Vec<u8>,
    reported_bytes: u64,
    reported_entries: u64,
}

impl<'a> Output<'a> {
    pub fn new(target: &Path, limits: &'a Limits, progress: &'a mut dyn FnMut(u64, u64)) -> Result<Self> {
        let root = Root::new(target).map_err(|e| Error::io("opening the target directory", e))?;
        Ok(Output {
            root,
            limits,
            progress,
            created: HashSet::new(),
            links: Vec::new(),
            stats: ExtractStats::default(),
            buf: Vec::new(),
            reported_bytes: 0,
            reported_entries: 0,
        })
    }

    /// A directory entry.
    pub fn dir(&mut self, path: &str) -> Result<()> {
        self.ensure_dir(path)?;
        self.stats.entries += 1;
        self.report(false);
        Ok(())
    }

    /// A regular file whose content `reader` yields. `read_error` turns a read failure into
    /// the format's error (corrupt data, CRC mismatch, ...).
    pub fn file<R: Read + ?Sized>(
        &mut self,
        spec: &FileSpec<'_>,
        reader: &mut R,
        read_error: &mut dyn FnMut(io::Error) -> Error,
    ) -> Result<()> {
        let mut open = self.begin_file(spec)?;
        let mut buf = std::mem::take(&mut self.buf);
        if buf.len() < CHUNK {
            buf.resize(CHUNK, 0);
        }
        let result = (|| loop {
            let n = fill(reader, &mut buf).map_err(&mut *read_error)?;
            if n == 0 {
                return Ok(());
            }
            self.write_file(&mut open, &buf[..n])?;
        })();
        self.buf = buf;
        result?;
        self.end_file(open)
    }

    /// Creates the file `spec` describes (and its missing parents), empty.
    pub fn begin_file(&mut self, spec: &FileSpec<'_>) -> Result<OpenFile> {
        let path = spec.path;
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.ensure_dir(parent)?;
        }
        let file = match self.root.create_file(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(collision(path)),
            Err(e) => return Err(Error::io(format_args!("creating `{}`", escape(path)), e)),
        };
        Ok(OpenFile {
            file,
            path: path.to_owned(),
            declared: spec.declared,
            compressed: spec.compressed,
            executable: spec.executable,
            written: 0,
        })
    }

    /// Appends `data` to a file from [`Output::begin_file`], within the limits.
    pub fn write_file(&mut self, f: &mut OpenFile, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        f.written += data.len() as u64;
        self.check_limits(&f.path, f.declared, f.compressed, f.written, data.len() as u64)?;
        f.file
            .write_all(data)
            .map_err(|e| Error::io(format_args!("writing `{}`", escape(&f.path)), e))?;
        self.stats.bytes_written += data.len() as u64;
        self.report(false);
        Ok(())
    }

    /// Closes a file, checking it holds exactly what the archive declared.
    pub fn end_file(&mut self, f: OpenFile) -> Result<()> {
        let OpenFile { file, path, declared, executable, written, .. } = f;
        drop(file);
        if let Some(declared) = declared.filter(|d| *d != written) {
            return Err(Error::integrity(format!(
                "`{}` holds {written} bytes but the archive declares {declared}",
                escape(&path)
            )));
        }
        self.stats.entries += 1;
        self.stats.files += 1;
        if executable {
            self.stats.executables.push(path);
        }
        self.report(false);
        Ok(())
    }

    /// A checked symlink; links are created by [`Output::finish`], after every file.
    pub fn symlink(&mut self, path: String, target: String) {
        self.links.push((path, target));
    }

    /// Creates the symlinks and returns the totals.
    pub fn finish(mut self) -> Result<ExtractStats> {
        for (path, target) in std::mem::take(&mut self.links) {
            if let Some((parent, _)) = path.rsplit_once('/') {
                self.ensure_dir(parent)?;
            }
            match make_symlink(&target, &self.root.path(&path)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(collision(&path)),
                Err(e) => {
                    return Err(Error::io(
                        format_args!("creating symlink `{}`", escape(&path)),
                        e,
                    ))
                }
            }
            self.stats.entries += 1;
            self.stats.symlinks += 1;
        }
        self.report(true);
        Ok(self.stats)
    }

    fn check_limits(&self, path: &str, declared: Option<u64>, compressed: Option<u64>, written: u64, chunk: u64) -> Result<()> {
        let total = self.stats.bytes_written + chunk;
        if total > self.limits.max_unpacked_bytes {
            return Err(Error::limit(format!(
                "the archive unpacks to more than the limit of {} bytes (reached in `{}`)",
                self.limits.max_unpacked_bytes,
                escape(path)
            )));
        }
        if let Some(declared) = declared.filter(|d| written > *d) {
            return Err(Error::integrity(format!(
                "`{}` holds more than the {declared} bytes the archive declares",
                escape(path)
            )));
        }
        if let Some(compressed) = compressed {
            let ratio = self.limits.max_compression_ratio;
            if written > RATIO_FLOOR && written > compressed.max(1).saturating_mul(ratio) {
                return Err(Error::limit(format!(
                    "`{}` expands more than {ratio} times its compressed size of {compressed} bytes",
                    escape(path)
                )));
            }
        }
        Ok(())
    }

    /// Creates `path` and any missing ancestors, each at most once.
    fn ensure_dir(&mut self, path: &str) -> Result<()> {
        if path.is_empty() || self.created.contains(path) {
            return Ok(());
        }
        let mut missing = vec![path];
        let mut cur = path;
        while let Some((parent, _)) = cur.rsplit_once('/') {
            if self.created.contains(parent) {
                break;
            }
            missing.push(parent);
            cur = parent;
        }
        for dir in missing.into_iter().rev() {
            match self.root.create_dir(dir) {
                Ok(()) => self.stats.directories += 1,
                // Only a case-insensitive or normalising filesystem gets here (the tree has
                // no duplicates); an existing real directory is harmless, anything else not.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if !self.root.is_dir(dir) {
                        return Err(collision(dir));
                    }
                }
                Err(e) => {
                    return Err(Error::io(
                        format_args!("creating directory `{}`", escape(dir)),
                        e,
                    ))
                }
            }
            self.created.insert(dir.to_owned());
        }
        Ok(())
    }

    fn report(&mut self, last: bool) {
        let s = &self.stats;
        if last
            || s.bytes_written - self.reported_bytes >= REPORT_BYTES
            || s.entries - self.reported_entries >= REPORT_ENTRIES
        {
            self.reported_bytes = s.bytes_written;
            self.reported_entries = s.entries;
            (self.progress)(s.entries, s.bytes_written);
        }
    }
}

fn collision(path: &str) -> Error {
    Error::unsafe_archive(format!(
        "`{}` collides with an existing entry (is the target filesystem case-insensitive or \
         Unicode-normalising?)",
        escape(path)
    ))
}

/// Reads until `buf` is full or the reader is exhausted. Reaching the end (a read returning
/// 0) matters: that is when decoders verify checksums.
fn fill<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(unix)]
fn make_symlink(target: &str, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(target_os = "wasi")]
fn make_symlink(target: &str, link: &Path) -> io::Result<()> {
    use std::ffi::CString;
    let invalid = |_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte");
    let link = link
        .to_str()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path is not UTF-8"))?;
    let (target, link) = (
        CString::new(target).map_err(invalid)?,
        CString::new(link).map_err(invalid)?,
    );
    // SAFETY: both pointers are valid NUL-terminated strings that outlive the call; wasi-libc's
    // `symlink` only reads them.
    if unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(any(unix, target_os = "wasi")))]
fn make_symlink(_target: &str, _link: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "symlinks are not supported on this platform",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::fs;

    fn spec(path: &str, declared: Option<u64>) -> FileSpec<'_> {
        FileSpec {
            path,
            declared,
            compressed: None,
            executable: false,
        }
    }

    fn no_map(e: io::Error) -> Error {
        Error::internal(e.to_string())
    }

    #[test]
    fn writes_files_dirs_and_links_once() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits::default();
        let mut calls = Vec::new();
        let mut progress = |e, b| calls.push((e, b));
        let mut out = Output::new(dir.path(), &limits, &mut progress).unwrap();
        out.file(
            &FileSpec {
                executable: true,
                ..spec("a/b/c.sh", Some(3))
            },
            &mut &b"hi\n"[..],
            &mut no_map,
        )
        .unwrap();
        out.dir("a/b").unwrap();
        out.dir("e").unwrap();
        out.symlink("a/l".into(), "b/c.sh".into());
        let stats = out.finish().unwrap();
        assert_eq!(
            stats,
            ExtractStats {
                entries: 4,
                files: 1,
                directories: 3,
                symlinks: 1,
                bytes_written: 3,
                executables: vec!["a/b/c.sh".into()],
            }
        );
        assert_eq!(fs::read(dir.path().join("a/l")).unwrap(), b"hi\n");
        assert_eq!(calls.last(), Some(&(4, 3)));
    }

    #[test]
    fn size_mismatch_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits {
            max_unpacked_bytes: 5,
            ..Limits::default()
        };
        for (name, declared, data, kind) in [
            ("short", Some(4), &b"abc"[..], ErrorKind::Integrity),
            ("long", Some(2), &b"abc"[..], ErrorKind::Integrity),
            ("big", None, &b"abcdef"[..], ErrorKind::LimitExceeded),
        ] {
            let mut progress = |_, _| {};
            let mut out = Output::new(dir.path(), &limits, &mut progress).unwrap();
            let e = out
                .file(&spec(name, declared), &mut &data[..], &mut no_map)
                .unwrap_err();
            assert_eq!(e.kind, kind, "{name}: {}", e.message);
        }
    }

    #[test]
    fn never_opens_an_existing_path() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x"), b"old").unwrap();
        let limits = Limits::default();
        let mut progress = |_, _| {};
        let mut out = Output::new(dir.path(), &limits, &mut progress).unwrap();
        let e = out
            .file(&spec("x", None), &mut &b"new"[..], &mut no_map)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsafeArchive);
        assert_eq!(fs::read(dir.path().join("x")).unwrap(), b"old");
        let e = out.dir("x").unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsafeArchive);
    }

    #[test]
    fn ratio_is_checked_above_the_floor_only() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits {
            max_compression_ratio: 10,
            ..Limits::default()
        };
        let mut progress = |_, _| {};
        let mut out = Output::new(dir.path(), &limits, &mut progress).unwrap();
        let small = vec![0u8; 1000];
        out.file(
            &FileSpec {
                compressed: Some(1),
                ..spec("small", None)
            },
            &mut &small[..],
            &mut no_map,
        )
        .unwrap();
        let big = vec![0u8; (RATIO_FLOOR + 1) as usize];
        let e = out
            .file(
                &FileSpec {
                    compressed: Some(1000),
                    ..spec("big", None)
                },
                &mut &big[..],
                &mut no_map,
            )
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::LimitExceeded);
    }
}
