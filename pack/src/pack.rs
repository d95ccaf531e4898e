//! Writing a planned package: chunks compressed on every thread, written in order.

use std::io::Write;

use crate::buffers::Buffers;
use crate::deflate::{self, Whole};
use crate::digest::{self, CHUNK, ContentDigest, Sha};
use crate::error::{Error, Result, shown};
use crate::links::{self, Roots};
use crate::plan::{EntryKind, Plan};
use crate::pool;
use crate::read;
use crate::walk::FileMeta;
use crate::zipwriter::{METHOD_DEFLATED, METHOD_STORED, Streamed, ZipWriter};

const MODE_FILE: u32 = 0o100644;
const MODE_EXEC: u32 = 0o100755;
const MODE_DIR: u32 = 0o040755;
const MODE_LINK: u32 = 0o120777;

/// What [`Plan::pack_to`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackSummary {
    /// `_ray_pkg_<hash>.zip`, as [`Plan::name`].
    pub name: String,
    pub files: u64,
    pub symlinks: u64,
    pub empty_dirs: u64,
    /// Total size of the files packed.
    pub bytes_in: u64,
    /// Size of the zip written.
    pub bytes_out: u64,
    /// SHA-256 of the zip written, lowercase hex.
    pub sha256: String,
}

enum Job {
    Dir(usize),
    Link(usize),
    Chunk {
        entry: usize,
        index: u64,
        meta: FileMeta,
    },
}

enum Done {
    Dir,
    /// The link's target, checked again.
    Link {
        target: String,
    },
    /// A file of at most one chunk, ready to write.
    Whole {
        meta: FileMeta,
        method: u16,
        crc: u32,
        data: Vec<u8>,
        digest: Option<Sha>,
    },
    /// One chunk of a larger file.
    Piece {
        meta: FileMeta,
        data: Vec<u8>,
        crc: crc32fast::Hasher,
        len: u64,
        digest: Sha,
    },
}

/// The entry being streamed, between its first and last chunk.
struct Open {
    entry: Streamed,
    crc: crc32fast::Hasher,
    compressed: u64,
    size: u64,
    digest: ContentDigest,
}

impl Plan {
    /// Packs the planned entries into `out` as a zip, streaming: at most a few chunks per
    /// thread are held in memory, whatever the size of the tree. Fails with
    /// [`Error::Changed`] if a file or link no longer matches the plan, so a package that is
    /// complete always matches [`Plan::name`]; after any error, what was written is
    /// incomplete and must be discarded (an upload aborted).
    pub fn pack_to<W: Write>(&self, out: W) -> Result<PackSummary> {
        let jobs = self.pack_jobs();
        let roots = Roots {
            given: std::path::absolute(&self.root)
                .map_err(crate::error::io_error("resolving", &self.root))?,
            canonical: std::fs::canonicalize(&self.root)
                .map_err(crate::error::io_error("resolving", &self.root))?,
        };
        let top = self.zip_prefix();
        let mut zip = ZipWriter::new(out);
        zip.whole(&format!("{}/", self.top_dir()), MODE_DIR, METHOD_STORED, 0, 0, &[])
            .map_err(Error::Write)?;
        if self.inner.is_some() {
            zip.whole(&format!("{top}/"), MODE_DIR, METHOD_STORED, 0, 0, &[])
                .map_err(Error::Write)?;
        }
        let mut open: Option<Open> = None;
        let mut summary = PackSummary {
            name: self.name(),
            files: 0,
            symlinks: 0,
            empty_dirs: 0,
            bytes_in: 0,
            bytes_out: 0,
            sha256: String::new(),
        };
        let window = 2 * self.threads + 2;
        // Each result holds one buffer, each running job two.
        let buffers = Buffers::new(window + 2 * self.threads);
        pool::ordered(
            jobs.len(),
            self.threads,
            window,
            |j| self.run(&jobs[j], &roots, &buffers),
            |j, done| {
                let e = match &jobs[j] {
                    Job::Dir(e) | Job::Link(e) | Job::Chunk { entry: e, .. } => *e,
                };
                let name = format!("{top}/{}", self.entries[e].path);
                let mode = |m: &FileMeta| if m.executable { MODE_EXEC } else { MODE_FILE };
                match done {
                    Done::Dir => {
                        zip.whole(&format!("{name}/"), MODE_DIR, METHOD_STORED, 0, 0, &[])
                            .map_err(Error::Write)?;
                        summary.empty_dirs += 1;
                    }
                    Done::Link { target } => {
                        let t = target.as_bytes();
                        zip.whole(
                            &name,
                            MODE_LINK,
                            METHOD_STORED,
                            crc32fast::hash(t),
                            t.len() as u64,
                            t,
                        )
                        .map_err(Error::Write)?;
                        summary.symlinks += 1;
                    }
                    Done::Whole {
                        meta,
                        method,
                        crc,
                        data,
                        digest,
                    } => {
                        let mut content = ContentDigest::default();
                        if let Some(d) = digest {
                            content.add(&d);
                        }
                        self.verify(e, content.finish())?;
                        zip.whole(&name, mode(&meta), method, crc, meta.size, &data)
                            .map_err(Error::Write)?;
                        buffers.give(data);
                        summary.files += 1;
                        summary.bytes_in += meta.size;
                    }
                    Done::Piece {
                        meta,
                        data,
                        crc,
                        len,
                        digest,
                    } => {
                        let o = match open.as_mut() {
                            Some(o) => o,
                            None => open.insert(Open {
                                entry: zip
                                    .begin_streamed(&name, mode(&meta), meta.size)
                                    .map_err(Error::Write)?,
                                crc: crc32fast::Hasher::new(),
                                compressed: 0,
                                size: 0,
                                digest: ContentDigest::default(),
                            }),
                        };
                        zip.data(&data).map_err(Error::Write)?;
                        o.compressed += data.len() as u64;
                        buffers.give(data);
                        o.crc.combine(&crc);
                        o.size += len;
                        o.digest.add(&digest);
                        let complete = o.size == meta.size;
                        if let Some(o) = open.take_if(|_| complete) {
                            self.verify(e, o.digest.finish())?;
                            zip.end_streamed(o.entry, o.crc.finalize(), o.compressed, o.size)
                                .map_err(Error::Write)?;
                            summary.files += 1;
                            summary.bytes_in += meta.size;
                        }
                    }
                }
                Ok(())
            },
        )?;
        let (bytes_out, sha, _) = zip.finish().map_err(Error::Write)?;
        summary.bytes_out = bytes_out;
        summary.sha256 = hex::encode(sha);
        Ok(summary)
    }

    fn pack_jobs(&self) -> Vec<Job> {
        let mut jobs = Vec::with_capacity(self.entries.len());
        for (e, entry) in self.entries.iter().enumerate() {
            match (&entry.kind, &self.files[e]) {
                (EntryKind::EmptyDir, _) => jobs.push(Job::Dir(e)),
                (EntryKind::Symlink { .. }, _) => jobs.push(Job::Link(e)),
                (EntryKind::File { .. }, Some((meta, _))) => {
                    for index in 0..digest::chunks(meta.size).max(1) {
                        jobs.push(Job::Chunk {
                            entry: e,
                            index,
                            meta: *meta,
                        });
                    }
                }
                (EntryKind::File { .. }, None) => {}
            }
        }
        jobs
    }

    /// A worker's part: read, hash and compress one chunk, or re-check one link.
    fn run(&self, job: &Job, roots: &Roots, buffers: &Buffers) -> Result<Done> {
        match job {
            Job::Dir(_) => Ok(Done::Dir),
            Job::Link(e) => {
                let entry = &self.entries[*e];
                let path = self.root.join(&entry.path);
                let raw = std::fs::read_link(&path).map_err(|_| Error::Changed {
                    path: shown(&path),
                    what: "it is no longer a symlink",
                })?;
                let now = links::stored_target(roots, &entry.path, &raw).ok();
                match (&entry.kind, now) {
                    (EntryKind::Symlink { target }, Some(now)) if now == *target => {
                        Ok(Done::Link { target: now })
                    }
                    _ => Err(Error::Changed {
                        path: shown(&path),
                        what: "the symlink's target changed",
                    }),
                }
            }
            Job::Chunk { entry, index, meta } => {
                let path = self.root.join(&self.entries[*entry].path);
                let (buf, at) = read::chunk(&path, meta, *index, deflate::DICTIONARY, buffers.take())?;
                let data = &buf[at..];
                let digest = (!data.is_empty()).then(|| digest::chunk_digest(data));
                if meta.size <= CHUNK {
                    let crc = crc32fast::hash(data);
                    let (method, data) = match deflate::whole(data, buffers.take()) {
                        Whole::Deflated(d) => {
                            buffers.give(buf);
                            (METHOD_DEFLATED, d)
                        }
                        Whole::Stored(unused) => {
                            buffers.give(unused);
                            let mut raw = buf;
                            raw.drain(..at);
                            (METHOD_STORED, raw)
                        }
                    };
                    return Ok(Done::Whole {
                        meta: *meta,
                        method,
                        crc,
                        data,
                        digest,
                    });
                }
                let mut crc = crc32fast::Hasher::new();
                crc.update(data);
                let last = (index + 1) * CHUNK >= meta.size;
                let piece = Done::Piece {
                    meta: *meta,
                    data: deflate::piece(&buf[..at], data, last, buffers.take()),
                    crc,
                    len: data.len() as u64,
                    digest: digest.unwrap_or_else(|| digest::chunk_digest(data)),
                };
                buffers.give(buf);
                Ok(piece)
            }
        }
    }

    /// The content just packed must be the content the name was computed from.
    fn verify(&self, e: usize, packed: Sha) -> Result<()> {
        match &self.files[e] {
            Some((_, planned)) if *planned == packed => Ok(()),
            _ => Err(Error::Changed {
                path: shown(&self.root.join(&self.entries[e].path)),
                what: "its content differs from when the package was planned",
            }),
        }
    }
}
