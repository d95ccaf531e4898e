//! A zip package, unpacked while it downloads.
//!
//! 1. One GET for the last [`TAIL_BYTES`] of the object (`Range: bytes=-N`). An object that
//!    small arrives whole: it is verified against its ETag/CRC-64 like any download and
//!    unpacked from memory. So is a store that ignores the range (then the whole object is
//!    spilled to the scratch file past [`TAIL_BYTES`] and unpacked from there).
//! 2. The central directory in the tail is parsed and checked completely (more of the end
//!    is fetched if it does not fit, up to [`MAX_DIRECTORY_BYTES`]).
//! 3. One GET for bytes `0..start of the tail`, `If-Match` the tail's ETag, whose bytes
//!    are inflated and written as they arrive ([`zipstream::ZipStream`]), then the entries'
//!    bytes the tail already holds; cut connections resume as in every download.
//!
//! Integrity: a whole object is checked against the store's checksum. A streamed one is
//! checked entry by entry (CRC-32 and size of every byte written, names in local and
//! central headers equal, `If-Match` on every request, or without an ETag the central
//! directory fetched again and compared with the tail), and
//! reported as `zip-crc32`: hashing the whole object with MD5 as well would cost one core
//! about a second per 500 MB in wasm, more than inflating it.
//!
//! Whatever the streamed path cannot take (a method other than stored or deflate, an end
//! that does not parse, an object that changed between the requests) falls back to the
//! plain path: the whole object into the scratch file, then [`extract_zip`].

use std::cell::RefCell;
use std::fs::{self, File};
use std::path::Path;
use std::time::Instant;

use crate::archive::zipstream::{self, Prepared, Tail, ZipStream};
use crate::archive::{extract_zip, ExtractStats};
use crate::http::{download, ByteRange, DownloadOutcome, Sink, Spilled, SpillSink, Transport};
use crate::retry::Sleeper;
use crate::{Error, Limits, Phase, Result};

use super::call::{Call, DownloadStats, Fetch, Remote, UnpackStats};
use super::object::download_to_file;

/// The first request asks for this much of the object's end; smaller objects arrive whole.
pub const TAIL_BYTES: u64 = 4 << 20;
/// A central directory larger than this is not held in memory: the plain path takes over.
pub const MAX_DIRECTORY_BYTES: u64 = 128 << 20;
/// What a streamed extraction reports as verified.
pub const STREAM_VERIFIED: &str = "zip-crc32";
/// Parts other than 0 ask for this much of the end first, in their only request before their
/// share: enough for the central directory of a few thousand entries, little to waste when
/// the package turns out not to be split.
pub const OTHER_PARTS_TAIL_BYTES: u64 = 256 << 10;
/// With parts, the first request asks for only this much, and whatever does not arrive
/// whole is split: on a 1.5 MB package of 1,000 files two parts took 64–95 ms against
/// 89–122 ms for one instance (2 CPUs, loopback).
pub const SPLIT_ABOVE_BYTES: u64 = 1 << 20;

/// What part 0 asks for first; an object no larger arrives whole and is never split.
fn leader_tail(count: u32) -> u64 {
    if count > 1 { SPLIT_ABOVE_BYTES } else { TAIL_BYTES }
}

/// One of `count` instances unpacking one package (WIT `part`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub index: u32,
    pub count: u32,
}

impl Part {
    pub const WHOLE: Part = Part { index: 0, count: 1 };
}

/// WIT `part-stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartOutcome {
    pub split: bool,
    pub object_version: Option<String>,
    pub stats: UnpackStats,
}

/// Sums what several requests of one call downloaded.
#[derive(Default)]
struct Totals {
    bytes: u64,
    retries: u32,
    reads: u64,
}

impl Totals {
    fn add(&mut self, o: &DownloadOutcome) {
        self.bytes += o.bytes;
        self.retries += o.retries;
        self.reads += o.reads;
    }
}

pub fn download_and_unpack_zip<R: Remote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, target: &Path, scratch: &Path) -> Result<UnpackStats> {
    download_and_unpack_zip_part(call, remote, target, scratch, Part::WHOLE).map(|o| o.stats)
}

/// The share of `part` (see WIT `parts`). A package is split only when it streams (a
/// ranged answer, an ETag, a central directory that parses) and is larger than
/// [`SPLIT_ABOVE_BYTES`]; every part decides that from the object alone, so they agree.
/// Split parts never fall back to the plain path: one part cannot redo the whole tree
/// while others write theirs, so a changed object is an error the host reports.
pub fn download_and_unpack_zip_part<R: Remote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, target: &Path, scratch: &Path, part: Part) -> Result<PartOutcome> {
    let started = Instant::now();
    let (env, limits) = (call.env, call.limits);
    let (transport, sleeper) = (&mut *call.transport, &mut *call.sleeper);
    let leader = part.index == 0;
    let whole = |stats: UnpackStats, version: Option<String>| PartOutcome { split: false, object_version: version, stats };
    let downloading = |e: Error| e.context(format!("downloading {}", remote.display()));
    let unpacking = |e: Error| e.context(format!("unpacking {}", remote.display()));
    let Fetch { opts: base, mut store, credential_source } = remote.prepare(env, transport, limits)?;
    let progress = RefCell::new(&mut *call.progress);
    let on_download = |done: u64, total: Option<u64>| (progress.borrow_mut())(Phase::Download, done, total, 0);
    let object = scratch.join("object");
    let mut totals = Totals::default();

    let whole_up_to = leader_tail(part.count);
    let mut opts = base.clone();
    // Every request counts when a whole cluster starts at once against a store that
    // throttles: the other parts learn the object's size, version and central directory
    // from one request, capped so a store that ignores the range cannot make an idle part
    // download the whole object.
    let (first, sink) = if leader {
        opts.range = Some(ByteRange::Suffix(whole_up_to));
        let mut sink = SpillSink::create(whole_up_to as usize, &object).map_err(|e| Error::io("creating the download file", e))?;
        let first = download(transport, &mut *store, sleeper, &opts, &mut sink, &mut |done, total| on_download(done, total));
        (first, TailSink::Spill(sink))
    } else {
        opts.range = Some(ByteRange::Suffix(OTHER_PARTS_TAIL_BYTES));
        let mut capped = Capped { held: Vec::new(), cap: OTHER_PARTS_TAIL_BYTES as usize, overflowed: false };
        let first = download(transport, &mut *store, sleeper, &opts, &mut capped, &mut |_, _| {});
        if first.is_err() && capped.overflowed {
            // A store that ignores ranges: part 0 unpacks the package whole.
            return Ok(whole(empty_stats(credential_source, &totals), None));
        }
        (first, TailSink::Held(capped))
    };
    let tail = match first {
        Ok(o) => o,
        Err(e) if !leader && e.http_status == Some(416) => {
            return Ok(whole(empty_stats(credential_source, &totals), None));
        }
        // An empty object has no last bytes to give; the plain path reports what it is.
        Err(e) if e.http_status == Some(416) => {
            drop(sink);
            return plain(&mut Call { env, transport, sleeper, limits, progress: progress.into_inner() }, remote, target, scratch, totals).map(|s| whole(s, None));
        }
        Err(e) => return Err(downloading(e)),
    };
    totals.add(&tail);
    let version = tail.etag.clone();
    let splits = part.count > 1 && version.is_some() && tail.range_start.is_some() && tail.object_size > whole_up_to;
    if !leader && !splits {
        return Ok(whole(empty_stats(credential_source, &totals), version));
    }

    if tail.range_start.is_none() {
        // The whole object: verified by the engine like any download.
        let mut stats = DownloadStats {
            bytes_downloaded: totals.bytes,
            object_size: tail.object_size,
            retries: totals.retries,
            verified: tail.verified.map(str::to_string),
            download_ms: started.elapsed().as_millis() as u64,
            reads: totals.reads,
            credential_source,
        };
        let unpack_started = Instant::now();
        let mut on_unpack = |entries: u64, bytes: u64| (progress.borrow_mut())(Phase::Unpack, bytes, None, entries);
        let extracted = match sink.into_inner() {
            Spilled::Memory(bytes) => {
                let _ = fs::remove_file(&object);
                extract_in_memory(bytes, target, limits, &mut on_unpack)
            }
            Spilled::File(path) => {
                let file = File::open(&path).map_err(|e| Error::io("opening the downloaded object", e))?;
                let r = extract_zip(file, target, limits, &mut on_unpack);
                let _ = fs::remove_file(&path);
                r
            }
        }
        .map_err(unpacking)?;
        stats.download_ms = unpack_started.duration_since(started).as_millis() as u64;
        return Ok(whole(unpack_stats(stats, extracted, unpack_started), version));
    }

    let Spilled::Memory(mut tail_bytes) = sink.into_inner() else {
        return Err(Error::internal("a ranged answer longer than the range was asked for"));
    };
    let _ = fs::remove_file(&object);
    let mut tail_start = tail.range_start.unwrap_or(0);
    let total = tail.object_size;
    let plan = loop {
        let view = Tail { bytes: &tail_bytes, start: tail_start, total };
        match zipstream::prepare(&view, limits).map_err(unpacking)? {
            Prepared::Plan(p) => break p,
            Prepared::NeedFrom(at) if at < tail_start && total - at <= MAX_DIRECTORY_BYTES => {
                let mut more_opts = base.clone();
                more_opts.range = Some(ByteRange::Span { start: at, end: tail_start });
                more_opts.if_match = tail.etag.clone();
                let mut more = Vec::new();
                let o = download(transport, &mut *store, sleeper, &more_opts, &mut more, &mut |_, _| {}).map_err(downloading)?;
                totals.add(&o);
                more.extend_from_slice(&tail_bytes);
                tail_bytes = more;
                tail_start = at;
            }
            Prepared::NeedFrom(_) | Prepared::NotStreamable(_) if !leader => {
                return Ok(whole(empty_stats(credential_source, &totals), version));
            }
            Prepared::NeedFrom(_) | Prepared::NotStreamable(_) => {
                return plain(&mut Call { env, transport, sleeper, limits, progress: progress.into_inner() }, remote, target, scratch, totals).map(|s| whole(s, version));
            }
        }
    };
    drop(tail_bytes);
    let mut plan = plan;
    if splits {
        plan.keep_part(part.index, part.count);
    }

    // With an ETag every request is `If-Match` it, so what the tail holds is not fetched
    // again: the body stops where the tail begins and the stream takes the rest from it.
    // Without one nothing ties two requests to one object: fetch the central directory
    // again with the body, where the stream compares it with the tail.
    let body_start = plan.body_start();
    let (body_end, held_end) = match tail.etag {
        Some(_) => (plan.body_end().min(plan.held_from()).max(body_start), plan.body_end()),
        None => (total, 0),
    };
    let mut on_unpack = |entries: u64, bytes: u64| (progress.borrow_mut())(Phase::Unpack, bytes, None, entries);
    let mut stream = ZipStream::new(plan, target, limits, &mut on_unpack).map_err(unpacking)?;
    if body_end > body_start {
        let mut body_opts = base.clone();
        body_opts.range = Some(ByteRange::Span { start: body_start, end: body_end });
        body_opts.if_match = tail.etag.clone();
        // Progress counts every byte of the call, so the body continues where the tail ended.
        let before = totals.bytes;
        let body = download(transport, &mut *store, sleeper, &body_opts, &mut stream, &mut |done, total| {
            on_download(before + done, total.map(|t| before + t))
        });
        match body {
            Ok(o) => totals.add(&o),
            Err(e) => {
                if let Some(archive_error) = stream.take_error() {
                    return Err(unpacking(archive_error));
                }
                if splits && (stream.restarted() || e.http_status == Some(412)) {
                    return Err(Error::integrity(format!(
                        "{} changed while its parts were being downloaded (ETag no longer {}); try again",
                        remote.display(),
                        version.as_deref().unwrap_or("?")
                    )));
                }
                if stream.restarted() || e.http_status == Some(412) {
                    // The object changed under us: start over from a clean tree, the plain way.
                    drop(stream);
                    clear_dir(target)?;
                    return plain(&mut Call { env, transport, sleeper, limits, progress: progress.into_inner() }, remote, target, scratch, totals).map(|s| whole(s, None));
                }
                return Err(downloading(e));
            }
        }
    }
    if held_end > body_end {
        stream.write_held(held_end).map_err(unpacking)?;
    }
    let download_ms = started.elapsed().as_millis() as u64;
    let unpack_started = Instant::now();
    let extracted = stream.finish_extract().map_err(unpacking)?;
    let stats = DownloadStats {
        bytes_downloaded: totals.bytes,
        object_size: total,
        retries: totals.retries,
        verified: Some(STREAM_VERIFIED.to_string()),
        download_ms,
        reads: totals.reads,
        credential_source,
    };
    Ok(PartOutcome { split: splits, object_version: version, stats: unpack_stats(stats, extracted, unpack_started) })
}

/// Holds a part's tail and refuses more than asked for, so a store that ignores a range
/// cannot make an idle part download the whole object.
struct Capped {
    held: Vec<u8>,
    cap: usize,
    overflowed: bool,
}

impl Sink for Capped {
    fn write_chunk(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.overflowed |= self.held.len() + data.len() > self.cap;
        if self.overflowed {
            return Err(std::io::Error::other("more than the tail asked for"));
        }
        self.held.extend_from_slice(data);
        Ok(())
    }
    fn restart(&mut self) -> std::io::Result<()> {
        self.held.clear();
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where the first request's bytes went: part 0 may receive a whole object (spilled to the
/// scratch file past its cap), the other parts only ever a capped tail.
enum TailSink {
    Spill(SpillSink),
    Held(Capped),
}

impl TailSink {
    fn into_inner(self) -> Spilled {
        match self {
            TailSink::Spill(s) => s.into_inner(),
            TailSink::Held(c) => Spilled::Memory(c.held),
        }
    }
}

/// What a part that had nothing to unpack reports: only the bytes it fetched to decide.
fn empty_stats(credential_source: Option<&'static str>, totals: &Totals) -> UnpackStats {
    UnpackStats {
        download: DownloadStats {
            bytes_downloaded: totals.bytes,
            object_size: 0,
            retries: totals.retries,
            verified: None,
            download_ms: 0,
            reads: totals.reads,
            credential_source,
        },
        files: 0,
        directories: 0,
        bytes_written: 0,
        executables: Vec::new(),
        unpack_ms: 0,
    }
}

/// A whole object held in memory goes through the streamed extractor too (one inflater
/// reused for every entry, no per-entry reader set-up); what it cannot take goes to
/// [`extract_zip`].
fn extract_in_memory(bytes: Vec<u8>, target: &Path, limits: &Limits, on_unpack: &mut dyn FnMut(u64, u64)) -> Result<ExtractStats> {
    let view = Tail { bytes: &bytes, start: 0, total: bytes.len() as u64 };
    let plan = match zipstream::prepare(&view, limits)? {
        Prepared::Plan(p) => p,
        Prepared::NeedFrom(_) | Prepared::NotStreamable(_) => return extract_zip(std::io::Cursor::new(bytes), target, limits, on_unpack),
    };
    let body_end = plan.body_end();
    drop(bytes);
    let mut stream = ZipStream::new(plan, target, limits, on_unpack)?;
    stream.write_held(body_end)?;
    stream.finish_extract()
}

fn unpack_stats(download: DownloadStats, s: ExtractStats, unpack_started: Instant) -> UnpackStats {
    UnpackStats {
        download,
        files: s.files,
        directories: s.directories,
        bytes_written: s.bytes_written,
        executables: s.executables,
        unpack_ms: unpack_started.elapsed().as_millis() as u64,
    }
}

/// Empties `dir` (the host's staging tree) so a second attempt starts from nothing.
fn clear_dir(dir: &Path) -> Result<()> {
    fs::remove_dir_all(dir).map_err(|e| Error::io("clearing the partly unpacked tree", e))?;
    fs::create_dir(dir).map_err(|e| Error::io("recreating the target directory", e))
}

/// The whole object into the scratch file, then the file-based extractor.
fn plain<R: Remote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, target: &Path, scratch: &Path, before: Totals) -> Result<UnpackStats> {
    let object = scratch.join("object");
    let mut dl = download_to_file(call, remote, &object)?;
    dl.bytes_downloaded += before.bytes;
    dl.retries += before.retries;
    dl.reads += before.reads;
    let started = Instant::now();
    let file = File::open(&object).map_err(|e| Error::io("opening the downloaded object", e))?;
    let progress = &mut call.progress;
    let mut on_unpack = |entries: u64, bytes: u64| progress(Phase::Unpack, bytes, None, entries);
    let stats = extract_zip(file, target, call.limits, &mut on_unpack).map_err(|e| e.context(format!("unpacking {}", remote.display())))?;
    // Free the space before the host publishes the tree.
    let _ = fs::remove_file(&object);
    Ok(unpack_stats(dl, stats, started))
}
