//! Zip extraction while the archive downloads: the central directory is fetched first (the
//! object's tail), checked completely, and then the entries are inflated and written as
//! their bytes stream past, in one pass, with no copy of the archive on disk or in memory.
//!
//! The same rules as [`super::extract_zip`] apply: the same end-record and central-directory
//! reading ([`super::eocd`], [`super::directory`]) and the same zip crate parse with the same
//! checks ([`super::unzip::check_central`]). What `extract_zip` checks up front from the
//! local headers ([`super::layout`]) happens here as each one arrives, before its entry is
//! written:
//! - entries are visited in header order; each local header must repeat its central entry;
//!   an entry whose header, data or data descriptor runs into the next entry's header, the
//!   next part's share or the central directory is `unsafe-archive`, and so is a data
//!   descriptor that disagrees with the central entry or a local-header signature in the
//!   bytes between entries;
//! - symlink targets are read from the stream, checked against the complete tree, and the
//!   links created last, as always.
//!
//! Integrity without a whole-object checksum: every byte written is covered by its entry's
//! CRC-32 and declared size; each local header must repeat the central directory's entry
//! (so a damaged header cannot go unnoticed); and the bytes of the tail that the body
//! download covers again must be identical. Only stored and deflated entries stream;
//! [`prepare`] answers [`Prepared::NotStreamable`] for anything else, and the caller uses the
//! file-based extractor.

use std::cell::Cell;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::rc::Rc;

use flate2::{Decompress, FlushDecompress, Status};
use zip::{CompressionMethod, ZipArchive};

use super::directory::{self, CentralEntry};
use super::layout::{self, After, Next, LOCAL_FIXED, LOCAL_SIG};
use super::sigscan::SigScan;
use super::output::{FileSpec, OpenFile, Output};
use super::tree::Tree;
use super::unzip::{check_central, too_many_entries, What};
use super::{eocd, links, ExtractStats};
use crate::http::Sink;
use crate::text::{escape, escape_bytes};
use crate::{Error, Limits, Result};

/// Inflated bytes are gathered into writes of up to this size.
const OUT_BUFFER: usize = 1 << 20;

/// The end of the object, as fetched with a suffix range.
pub struct Tail<'t> {
    pub bytes: &'t [u8],
    /// Object offset of `bytes[0]`.
    pub start: u64,
    /// The object's size.
    pub total: u64,
}

/// What [`prepare`] found.
pub enum Prepared {
    /// Ready to stream the object's bytes `0..body_end()` into a [`ZipStream`].
    Plan(Plan),
    /// The central directory reaches below the tail: fetch from this offset and try again.
    NeedFrom(u64),
    /// Use the file-based extractor (the reason is for the logs).
    NotStreamable(String),
}

struct Entry {
    path: String,
    what: What,
    deflated: bool,
    central: CentralEntry,
}

/// The checked central directory, entries in the order their data appears.
pub struct Plan {
    entries: Vec<Entry>,
    tree: Tree,
    directory_start: u64,
    tail: Vec<u8>,
    tail_start: u64,
    /// Object offset the body download starts at (0 unless a part was kept).
    body_start: u64,
    /// No entry's data may run past this offset: the central directory, or the next part's
    /// first local header.
    stop: u64,
    /// The next part's first entry, for messages about running into it.
    after: Option<CentralEntry>,
}

/// Per-entry cost, in compressed-byte equivalents, when shares are balanced: a small file
/// costs a create, a write and a close however few bytes it holds.
const ENTRY_WEIGHT: u64 = 4096;

impl Plan {
    /// Where the body download starts.
    pub fn body_start(&self) -> u64 {
        self.body_start
    }

    /// Where the entries' data ends: the body download can stop here.
    pub fn body_end(&self) -> u64 {
        self.stop
    }

    /// Where the bytes this plan already holds (the tail it was prepared from) begin.
    pub fn held_from(&self) -> u64 {
        self.tail_start
    }

    /// Number of entries this plan extracts.
    pub fn entries(&self) -> usize {
        self.entries.len()
    }

    /// Keeps only the share of part `index` of `count`: a run of consecutive entries (in
    /// data order) of about `1/count` of the archive's weight, so each part is one ranged
    /// request. The boundaries depend on the central directory alone, so parts computed by
    /// separate instances are disjoint and together cover every entry. The share may be empty.
    ///
    /// Overlap between shares is still caught: a part's entries must end before the next
    /// share's first local header, which is where its body range stops.
    pub fn keep_part(&mut self, index: u32, count: u32) {
        let count = count.max(1) as usize;
        let index = (index as usize).min(count - 1);
        let bounds = share_bounds(&self.entries, count);
        let (first, end) = (bounds[index], bounds[index + 1]);
        self.stop = self.entries.get(end).map_or(self.directory_start, |e| e.central.header_start).min(self.directory_start);
        self.body_start = if index == 0 { 0 } else { self.entries.get(first).map_or(self.stop, |e| e.central.header_start) };
        self.body_start = self.body_start.min(self.stop);
        self.after = self.entries.get(end).map(|e| e.central.clone());
        self.entries.truncate(end);
        self.entries.drain(..first);
    }
}

/// `count + 1` entry indices: share `k` is `bounds[k]..bounds[k + 1]`.
fn share_bounds(entries: &[Entry], count: usize) -> Vec<usize> {
    let weight = |e: &Entry| e.central.compressed.saturating_add(ENTRY_WEIGHT);
    let total: u128 = entries.iter().map(|e| weight(e) as u128).sum();
    let mut bounds = Vec::with_capacity(count + 1);
    bounds.push(0);
    let mut acc: u128 = 0;
    let mut i = 0;
    for k in 1..count {
        let goal = total * k as u128 / count as u128;
        while i < entries.len() && acc + weight(&entries[i]) as u128 / 2 < goal {
            acc += weight(&entries[i]) as u128;
            i += 1;
        }
        bounds.push(i);
    }
    bounds.push(entries.len());
    bounds
}

/// Reads the tail as if it were the object, noting the lowest offset asked for below it
/// (shared, because a failed parse consumes the reader).
struct TailReader<'t> {
    tail: &'t Tail<'t>,
    pos: u64,
    missed: Rc<Cell<Option<u64>>>,
}

impl Read for TailReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.tail.start {
            let at = self.missed.get().map_or(self.pos, |m| m.min(self.pos));
            self.missed.set(Some(at));
            return Err(io::Error::other("outside the fetched tail"));
        }
        let at = (self.pos - self.tail.start) as usize;
        let n = out.len().min(self.tail.bytes.len().saturating_sub(at));
        out[..n].copy_from_slice(&self.tail.bytes[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for TailReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let end = self.tail.total;
        let at = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => end.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = at.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

/// Parses and checks the central directory held in `tail`.
pub fn prepare(tail: &Tail<'_>, limits: &Limits) -> Result<Prepared> {
    let missed = Rc::new(Cell::new(None));
    let mut reader = TailReader { tail, pos: tail.start, missed: missed.clone() };
    let ends = eocd::read_ends(&mut reader);
    if let Some(at) = missed.get() {
        return Ok(Prepared::NeedFrom(at));
    }
    let ends = ends.map_err(|e| Error::io("reading the archive's end records", e))?;
    if ends.max_declared > limits.max_entries {
        return Err(too_many_entries(ends.max_declared, limits));
    }
    let end = ends.primary()?.cloned();
    let central = match &end {
        Some(end) => {
            let central = directory::read(&mut reader, end);
            if let Some(at) = missed.get() {
                return Ok(Prepared::NeedFrom(at));
            }
            let central = central?;
            ends.check_prepended(end, directory::archive_start(&central, end))?;
            central
        }
        None => Vec::new(),
    };
    reader.pos = tail.start;
    let parsed = ZipArchive::new(reader);
    // The crate may swallow a read error and report something else: the miss decides.
    if let Some(at) = missed.get() {
        return Ok(Prepared::NeedFrom(at));
    }
    let archive = match parsed {
        Ok(a) => a,
        Err(e) => return Ok(Prepared::NotStreamable(format!("the end of the object does not parse as a zip: {e}"))),
    };
    let central = check_central(&archive, central, end.as_ref(), limits)?;
    let mut entries = Vec::with_capacity(central.plan.len());
    for p in central.plan {
        let deflated = match p.method {
            CompressionMethod::Deflated => true,
            CompressionMethod::Stored => false,
            // Never decoded: any method is fine for bytes that are only skipped.
            _ if matches!(p.what, What::Skip | What::Dir) => false,
            other => return Ok(Prepared::NotStreamable(format!("entry `{}` uses {other}, which is not streamed", escape(&p.path)))),
        };
        entries.push(Entry { path: p.path, what: p.what, deflated, central: p.central });
    }
    entries.sort_by_key(|e| e.central.header_start);
    if let Some(w) = entries.windows(2).find(|w| w[0].central.header_start == w[1].central.header_start) {
        return Err(Error::unsafe_archive(format!(
            "entries `{}` and `{}` overlap: they share one local header (a zip bomb shares compressed data this way)",
            shown(&w[0]),
            shown(&w[1])
        )));
    }
    Ok(Prepared::Plan(Plan {
        entries,
        tree: central.tree,
        directory_start: archive.central_directory_start(),
        tail: tail.bytes.to_vec(),
        tail_start: tail.start,
        body_start: 0,
        stop: archive.central_directory_start(),
        after: None,
    }))
}

enum State {
    /// Before the header of `entries[next]` (or past the last entry).
    Seek,
    /// Collecting a local header: the fixed part, then name and extra fields.
    Header { need: usize },
    /// `left` compressed bytes of the current entry still to come.
    Data { left: u64 },
    /// Collecting the current entry's data descriptor: its first 4 bytes, then the rest.
    Descriptor { need: usize, wide: bool },
}

/// Where the current entry's inflated bytes go.
enum Dest {
    File(OpenFile),
    Link(Vec<u8>),
    Discard,
}

/// A [`Sink`] that extracts the archive described by a [`Plan`] from the object's bytes
/// `0..plan.body_end()` as they arrive.
pub struct ZipStream<'a> {
    plan: Plan,
    limits: &'a Limits,
    out: Output<'a>,
    next: usize,
    pos: u64,
    state: State,
    header: Vec<u8>,
    inflater: Decompress,
    crc: Crc32,
    produced: u64,
    obuf: Vec<u8>,
    filled: usize,
    dest: Dest,
    /// What the current entry's local header announced after its data.
    after: After,
    /// Scans the bytes after the previous entry for unlisted local headers.
    gap: Option<SigScan>,
    error: Option<Error>,
    restarted: bool,
}

impl<'a> ZipStream<'a> {
    pub fn new(plan: Plan, target: &Path, limits: &'a Limits, progress: &'a mut dyn FnMut(u64, u64)) -> Result<Self> {
        Ok(ZipStream {
            pos: plan.body_start,
            plan,
            limits,
            out: Output::new(target, limits, progress)?,
            next: 0,
            state: State::Seek,
            header: Vec::with_capacity(LOCAL_FIXED + 256),
            inflater: Decompress::new(false),
            crc: Crc32(0),
            produced: 0,
            obuf: vec![0; OUT_BUFFER],
            filled: 0,
            dest: Dest::Discard,
            after: After::Nothing,
            gap: None,
            error: None,
            restarted: false,
        })
    }

    /// The archive error that stopped the stream, if one did (the download engine only sees
    /// that the sink failed).
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// Feeds the stream from the tail it was planned from, from where the body stopped up
    /// to `end`: bytes of the same object version (`If-Match`) need not come again.
    /// Nothing to compare them with either: they are the tail.
    pub fn write_held(&mut self, end: u64) -> Result<()> {
        let tail = std::mem::take(&mut self.plan.tail);
        let start = self.plan.tail_start;
        let range = (self.pos.max(start) - start) as usize..(end.max(start) - start) as usize;
        let result = match tail.get(range) {
            Some(held) if self.pos >= start => self.push(held),
            _ => Err(Error::internal(format!("the stream is at {} and holds {start}..{end}: not contiguous", self.pos))),
        };
        self.plan.tail = tail;
        result
    }

    /// Whether the download had to start over, which a stream cannot (the object changed).
    pub fn restarted(&self) -> bool {
        self.restarted
    }

    /// Checks every entry was extracted, creates the symlinks, returns the totals.
    pub fn finish_extract(self) -> Result<ExtractStats> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.next < self.plan.entries.len() || !matches!(self.state, State::Seek) {
            let e = &self.plan.entries[self.next.min(self.plan.entries.len() - 1)];
            return Err(Error::integrity(format!("the download ended before the data of entry `{}`", shown(e))));
        }
        self.out.finish()
    }

    fn push(&mut self, mut data: &[u8]) -> Result<()> {
        self.check_tail(data)?;
        while !data.is_empty() {
            match self.state {
                State::Seek => {
                    let Some(e) = self.plan.entries.get(self.next) else {
                        // After the last entry: the gap up to `stop` is scanned; what follows
                        // (the central directory, fetched again without an ETag) is no entry's.
                        let gap = (self.plan.stop.saturating_sub(self.pos).min(data.len() as u64)) as usize;
                        self.skip(&data[..gap])?;
                        self.pos += data.len() as u64;
                        return Ok(());
                    };
                    let (limit, next) = self.limit();
                    layout::ends_before(&e.central, e.central.header_start.checked_add(LOCAL_FIXED as u64), limit, next)?;
                    // The body starts at or before the first entry, and every entry ends at or
                    // before the next one's header (checked as it ends).
                    let gap = (e.central.header_start.saturating_sub(self.pos).min(data.len() as u64)) as usize;
                    if gap > 0 {
                        self.skip(&data[..gap])?;
                        data = &data[gap..];
                        self.pos += gap as u64;
                        continue;
                    }
                    self.gap = None;
                    self.header.clear();
                    self.state = State::Header { need: LOCAL_FIXED };
                }
                State::Header { need } => {
                    let n = (need - self.header.len()).min(data.len());
                    self.header.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    self.pos += n as u64;
                    if self.header.len() == need {
                        self.header_part_done(need)?;
                    }
                }
                State::Data { left } => {
                    let n = (left.min(data.len() as u64)) as usize;
                    self.entry_data(&data[..n])?;
                    data = &data[n..];
                    self.pos += n as u64;
                    let left = left - n as u64;
                    self.state = State::Data { left };
                    if left == 0 {
                        self.end_entry()?;
                    }
                }
                State::Descriptor { need, wide } => {
                    let n = (need - self.header.len()).min(data.len());
                    self.header.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    self.pos += n as u64;
                    if self.header.len() == need {
                        self.descriptor_part_done(need, wide)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Bytes between entries (or before the first): scanned once an entry precedes them.
    fn skip(&mut self, bytes: &[u8]) -> Result<()> {
        if let (Some(scan), false) = (&mut self.gap, bytes.is_empty())
            && let Some(at) = scan.feed(bytes)
        {
            return Err(layout::unlisted(at, &self.plan.entries[self.next - 1].central));
        }
        Ok(())
    }

    /// Where the current entry must end, and what begins there.
    fn limit(&self) -> (u64, Next<'_>) {
        let next = self.plan.entries.get(self.next + 1).map(|n| &n.central).or(self.plan.after.as_ref());
        match next {
            Some(n) if n.header_start <= self.plan.stop => (n.header_start, Next::Entry(n)),
            _ => (self.plan.stop, Next::Directory),
        }
    }

    /// Bytes the tail already holds must come again unchanged.
    fn check_tail(&self, data: &[u8]) -> Result<()> {
        let (start, end) = (self.pos, self.pos + data.len() as u64);
        let tail_end = self.plan.tail_start + self.plan.tail.len() as u64;
        let (from, to) = (start.max(self.plan.tail_start), end.min(tail_end));
        if from < to {
            let mine = &data[(from - start) as usize..(to - start) as usize];
            let theirs = &self.plan.tail[(from - self.plan.tail_start) as usize..(to - self.plan.tail_start) as usize];
            if mine != theirs {
                return Err(Error::integrity(format!(
                    "bytes {from}..{to} of the object differ between two requests: the object changed or was damaged in transit"
                )));
            }
        }
        Ok(())
    }

    fn header_part_done(&mut self, need: usize) -> Result<()> {
        let e = &self.plan.entries[self.next];
        let (limit, next) = self.limit();
        if need == LOCAL_FIXED {
            let full = layout::local_len(&self.header).ok_or_else(|| layout::no_local_header(&e.central))?;
            layout::ends_before(&e.central, Some(e.central.header_start + full as u64), limit, next)?;
            if full > need {
                self.state = State::Header { need: full };
                return Ok(());
            }
        }
        let after = layout::check_local(&e.central, &self.header)?;
        layout::ends_before(&e.central, self.pos.checked_add(e.central.compressed), limit, next)?;
        let compressed = e.central.compressed;
        self.after = after;
        self.begin_entry()?;
        self.state = State::Data { left: compressed };
        if compressed == 0 {
            self.end_entry()?;
        }
        Ok(())
    }

    fn descriptor_part_done(&mut self, need: usize, wide: bool) -> Result<()> {
        let e = &self.plan.entries[self.next];
        let full = layout::descriptor_len(&self.header[..4], wide);
        if full > need {
            if self.pos - need as u64 + full as u64 > self.limit().0 {
                return Err(layout::no_descriptor(&e.central));
            }
            self.state = State::Descriptor { need: full, wide };
            return Ok(());
        }
        layout::check_descriptor(&e.central, &self.header, wide)?;
        self.entry_done();
        Ok(())
    }

    fn begin_entry(&mut self) -> Result<()> {
        let e = &self.plan.entries[self.next];
        self.crc = Crc32(0);
        self.produced = 0;
        self.filled = 0;
        if e.deflated {
            self.inflater.reset(false);
        }
        self.dest = match &e.what {
            What::File { executable } => {
                let spec = FileSpec { path: &e.path, declared: Some(e.central.size), compressed: Some(e.central.compressed), executable: *executable };
                Dest::File(self.out.begin_file(&spec)?)
            }
            What::Symlink { .. } => Dest::Link(Vec::new()),
            What::Dir => {
                self.out.dir(&e.path)?;
                Dest::Discard
            }
            What::Skip => Dest::Discard,
        };
        Ok(())
    }

    fn entry_data(&mut self, mut input: &[u8]) -> Result<()> {
        if matches!(self.dest, Dest::Discard) {
            return Ok(());
        }
        if !self.plan.entries[self.next].deflated {
            return self.emit_direct(input);
        }
        loop {
            let (in_before, out_before) = (self.inflater.total_in(), self.inflater.total_out());
            let status = self
                .inflater
                .decompress(input, &mut self.obuf[self.filled..], FlushDecompress::None)
                .map_err(|err| self.corrupt(&err.to_string()))?;
            let consumed = (self.inflater.total_in() - in_before) as usize;
            let made = (self.inflater.total_out() - out_before) as usize;
            input = &input[consumed..];
            self.filled += made;
            if self.filled == self.obuf.len() {
                self.flush()?;
            }
            if status == Status::StreamEnd || (input.is_empty() && self.filled < self.obuf.len()) || (consumed == 0 && made == 0) {
                return Ok(());
            }
        }
    }

    /// Stored data goes straight out (no copy); tiny pieces are gathered first.
    fn emit_direct(&mut self, input: &[u8]) -> Result<()> {
        if self.filled + input.len() <= self.obuf.len() {
            self.obuf[self.filled..self.filled + input.len()].copy_from_slice(input);
            self.filled += input.len();
            return Ok(());
        }
        self.flush()?;
        self.consume(input)
    }

    fn flush(&mut self) -> Result<()> {
        if self.filled == 0 {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.obuf);
        let r = self.consume(&buf[..self.filled]);
        self.obuf = buf;
        self.filled = 0;
        r
    }

    /// Inflated bytes of the current entry: counted, checksummed, written.
    fn consume(&mut self, bytes: &[u8]) -> Result<()> {
        self.crc.update(bytes);
        self.produced += bytes.len() as u64;
        match &mut self.dest {
            Dest::File(f) => self.out.write_file(f, bytes),
            Dest::Link(v) => {
                let cap = links::max_target_bytes(self.limits);
                if v.len() + bytes.len() > cap {
                    let e = &self.plan.entries[self.next];
                    return Err(Error::limit(format!("symlink `{}` has a target longer than the limit of {cap} bytes", escape(&e.path))));
                }
                v.extend_from_slice(bytes);
                Ok(())
            }
            Dest::Discard => Ok(()),
        }
    }

    fn end_entry(&mut self) -> Result<()> {
        self.flush()?;
        let dest = std::mem::replace(&mut self.dest, Dest::Discard);
        let e = &self.plan.entries[self.next];
        if !matches!(dest, Dest::Discard) {
            if self.produced != e.central.size {
                return Err(Error::integrity(format!(
                    "`{}` holds {} bytes but the archive declares {}",
                    escape(&e.path),
                    self.produced,
                    e.central.size
                )));
            }
            if self.crc.0 != e.central.crc32 {
                return Err(Error::integrity(format!("CRC-32 mismatch in entry `{}`", escape(&e.path))));
            }
        }
        match dest {
            Dest::File(f) => self.out.end_file(f)?,
            Dest::Link(bytes) => {
                let target = String::from_utf8(bytes).map_err(|err| {
                    Error::unsafe_archive(format!(
                        "symlink `{}` has a target that is not UTF-8: `{}`",
                        escape(&e.path),
                        escape_bytes(err.as_bytes())
                    ))
                })?;
                links::check(&self.plan.tree, &e.path, &target, self.limits)?;
                let path = e.path.clone();
                self.out.symlink(path, target);
            }
            Dest::Discard => {}
        }
        match self.after {
            After::Descriptor { wide } => {
                // Caught here, not when more bytes arrive: the body may end with this entry.
                if self.pos + 4 > self.limit().0 {
                    return Err(layout::no_descriptor(&self.plan.entries[self.next].central));
                }
                self.header.clear();
                self.state = State::Descriptor { need: 4, wide };
            }
            After::Nothing => self.entry_done(),
        }
        Ok(())
    }

    /// The current entry is complete up to `pos`: scan what follows it up to the next one.
    fn entry_done(&mut self) {
        self.next += 1;
        self.state = State::Seek;
        self.gap = Some(SigScan::new(LOCAL_SIG, self.pos));
    }

    fn corrupt(&self, why: &str) -> Error {
        let e = &self.plan.entries[self.next];
        Error::integrity(format!("entry `{}` is corrupt: {}", escape(&e.path), escape(why)))
    }
}

/// Running CRC-32 (the zip polynomial), natively in the host when the plugin installed it
/// ([`super::checksum`]).
struct Crc32(u32);

impl Crc32 {
    fn update(&mut self, data: &[u8]) {
        self.0 = super::checksum::crc32(self.0, data);
    }
}

fn shown(e: &Entry) -> String {
    if e.path.is_empty() {
        escape_bytes(&e.central.name_raw)
    } else {
        escape(&e.path)
    }
}

impl Sink for ZipStream<'_> {
    fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if self.error.is_some() {
            return Err(io::Error::other("the archive is invalid"));
        }
        self.push(data).map_err(|e| {
            let shown = io::Error::other(e.message.clone());
            self.error = Some(e);
            shown
        })
    }

    fn restart(&mut self) -> io::Result<()> {
        self.restarted = true;
        Err(io::Error::other("the object changed during the download and a streamed extraction cannot start over"))
    }

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}
