//! A zip's end records: which one locates the central directory, read before the zip crate
//! parses anything, so that an archive two readers would read differently is refused.
//!
//! Readers look for the end-of-central-directory record (EOCD) in the last 22 bytes plus
//! the longest comment, and they do not agree on which record they use or how: CPython takes
//! the record in the last 22 bytes, else the last signature, and assumes the directory ends
//! where the record begins; Info-ZIP takes the last signature; the zip crate tries every
//! signature from the end and, when the directory does not end at the record, looks for it
//! at the recorded offset instead. With one record whose directory ends right before it,
//! they all read the same directory. With two, a reviewer's reader and ours may list
//! different files, so a second one is refused where a reader could take it for the end:
//! - the records that parse are ordered by position; the last, nearest the end, is the one
//!   every reader tries first (the *primary*);
//! - another one at or after where the primary's directory starts (in the directory, the
//!   comment, data after the comment) is refused;
//! - so is one before the primary's first entry: a second archive in the prepended data
//!   (`cat a.zip b.zip`), whose entries streaming readers would unpack;
//! - one inside the entries is data, e.g. a stored zip inside the package, and is ignored
//!   (a local header between entries is refused by [`super::layout`] anyway).
//!
//! # What "parses" means
//!
//! A candidate is a `PK\x05\x06` signature whose first byte lies within [`WINDOW`] bytes of
//! the end. It *parses* when all of these hold:
//! 1. its 22 bytes and the comment its length field declares fit in the object;
//! 2. its directory's entry count, size and offset are taken from the ZIP64 end record
//!    when a ZIP64 locator (`PK\x06\x07`) sits right before the record and a ZIP64 end
//!    record (`PK\x06\x06`, record size 44) right before that, else from the record
//!    itself (sentinels then stand for themselves, and 0xFFFFFFFF fails the next test);
//! 3. the directory fits before its end record: offset + size <= position of the ZIP64
//!    end record if there is one, else of the record (no negative prepended data), and the
//!    record speaks of one disk: disk numbers 0 and as many entries on this disk as in all
//!    (the zip crate passes over other records; text that happens to follow the signature
//!    never has these zero bytes);
//! 4. a central header signature (`PK\x01\x02`) starts the directory where it must start to
//!    end right before its end record (every reader's first choice; the bytes before the
//!    archive are then prepended data such as a `#!` line or a self-extractor); or, failing
//!    that, at the recorded offset for a ZIP64 record, or anywhere from the recorded offset
//!    up to a classic record (the zip crate's fallback: the first signature found there
//!    starts its directory); or the record declares an empty directory (0 entries, 0 bytes).
//!
//! Bytes `PK\x05\x06` inside a comment that are not followed by such a record (text that
//! merely names the signature) do not parse and are ignored; a well-formed record hidden in
//! the comment, in data after it, or a second archive before this one all do, and are
//! refused. Of the primary record, the ZIP64 record must agree with every classic field that
//! is not a sentinel, and the directory must end right before its end record (checked
//! against the directory's real extent by [`super::directory`]).

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};

use super::sigscan::find_in;
use crate::{Error, Result};

const EOCD_SIG: [u8; 4] = [b'P', b'K', 5, 6];
const LOCATOR_SIG: [u8; 4] = [b'P', b'K', 6, 7];
const EOCD64_SIG: [u8; 4] = [b'P', b'K', 6, 6];
pub(crate) const CENTRAL_SIG: [u8; 4] = [b'P', b'K', 1, 2];
const EOCD_LEN: usize = 22;
const LOCATOR_LEN: u64 = 20;
const EOCD64_LEN: u64 = 56;
/// The ZIP64 end record's "size of the remaining record" without an extensible data sector.
const EOCD64_REST: u64 = EOCD64_LEN - 12;
/// Where readers look for the end record: 22 bytes plus a 64 KiB comment is 65,557; the zip
/// crate searches the last 65,572 bytes. A little more covers every reader.
pub(crate) const WINDOW: u64 = EOCD_LEN as u64 + 0xFFFF + 64;

/// The one end record that parses, and what it says about the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndRecord {
    /// Object offset of the classic record.
    pub at: u64,
    /// Object offset of the ZIP64 end record, when the counts come from one.
    pub zip64_at: Option<u64>,
    pub entries: u64,
    pub cd_size: u64,
    /// The directory offset the record states (relative to the archive's start).
    pub cd_offset: u64,
    /// Object offset where the directory starts.
    pub cd_start: u64,
    /// Where the directory must end: the ZIP64 end record, or the classic record.
    pub cd_end: u64,
    /// Bytes before the archive's start (`cd_start - cd_offset`).
    pub prefix: u64,
    /// Whether the directory was found ending right before its end record (else only at the
    /// recorded offset).
    pub abutting: bool,
    /// A ZIP64 field that contradicts the classic record or the locator.
    pub disagreement: Option<String>,
}

/// Every end record in the tail, for the entry limit and the choice of one.
#[derive(Debug)]
pub(crate) struct Ends {
    /// The largest entry count any signature in the tail declares, parsing or not (the zip
    /// crate may fall back to any of them and keeps that many entries in memory).
    pub max_declared: u64,
    /// The records that parse, the last first.
    parsed: Vec<EndRecord>,
}

impl Ends {
    /// The primary end record, `None` when no candidate parses (the zip crate then says what
    /// is wrong); `unsafe-archive` when its ZIP64 record disagrees with it or another record
    /// lies at or after where its directory starts.
    pub fn primary(&self) -> Result<Option<&EndRecord>> {
        let Some(primary) = self.parsed.first() else { return Ok(None) };
        if let Some(other) = self.parsed[1..].iter().find(|o| o.at >= primary.cd_start) {
            return Err(two_records(other, primary));
        }
        if let Some(why) = &primary.disagreement {
            return Err(Error::unsafe_archive(why.clone()));
        }
        Ok(Some(primary))
    }

    /// Refuses another record before `archive_start`, where the primary's first entry (or its
    /// directory, with no entries) begins: a second archive in the prepended data.
    pub fn check_prepended(&self, primary: &EndRecord, archive_start: u64) -> Result<()> {
        match self.parsed[1..].iter().find(|o| o.at < archive_start) {
            Some(other) => Err(two_records(other, primary)),
            None => Ok(()),
        }
    }
}

fn two_records(other: &EndRecord, primary: &EndRecord) -> Error {
    Error::unsafe_archive(format!(
        "the archive has two end-of-central-directory records that each locate a central \
         directory (at offsets {} and {}); zip readers differ in which one they use, so they \
         would list different files",
        other.at.min(primary.at),
        other.at.max(primary.at)
    ))
}

/// Reads every candidate end record in the last [`WINDOW`] bytes.
pub(crate) fn read_ends<R: Read + Seek>(r: &mut R) -> io::Result<Ends> {
    let len = r.seek(SeekFrom::End(0))?;
    let start = len.saturating_sub(WINDOW);
    r.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::with_capacity((len - start) as usize);
    r.by_ref().take(WINDOW).read_to_end(&mut tail)?;
    let mut max_declared = 0u64;
    let mut parsed = Vec::new();
    let mut directories = FirstSignature::new(len);
    for pos in (0..tail.len().saturating_sub(EOCD_LEN - 1)).rev() {
        if tail[pos..pos + 4] != EOCD_SIG {
            continue;
        }
        let at = start + pos as u64;
        let classic = Classic::parse(&tail[pos..pos + EOCD_LEN]);
        max_declared = max_declared.max(classic.entries.into()).max(classic.entries_here.into());
        if classic.needs_zip64()
            && let Some(count) = zip64_count_at_locator(r, at)?
        {
            max_declared = max_declared.max(count);
        }
        let zip64 = zip64_before(r, at)?;
        if let Some(z) = &zip64 {
            max_declared = max_declared.max(z.entries).max(z.entries_here);
        }
        if let Some(record) = candidate(r, at, len, &classic, zip64, &mut directories)? {
            parsed.push(record);
        }
    }
    r.seek(SeekFrom::Start(0))?;
    Ok(Ends { max_declared, parsed })
}

/// The classic record's fields.
#[derive(Debug)]
struct Classic {
    disk: u16,
    cd_disk: u16,
    entries_here: u16,
    entries: u16,
    cd_size: u32,
    cd_offset: u32,
    comment_len: u16,
}

impl Classic {
    fn parse(b: &[u8]) -> Classic {
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Classic {
            disk: u16_at(4),
            cd_disk: u16_at(6),
            entries_here: u16_at(8),
            entries: u16_at(10),
            cd_size: u32_at(12),
            cd_offset: u32_at(16),
            comment_len: u16_at(20),
        }
    }

    fn needs_zip64(&self) -> bool {
        self.entries == u16::MAX || self.entries_here == u16::MAX || self.cd_size == u32::MAX || self.cd_offset == u32::MAX
    }
}

/// A ZIP64 end record found right before its locator, with the locator's pointer.
#[derive(Debug)]
struct Zip64 {
    at: u64,
    disk: u32,
    cd_disk: u32,
    entries_here: u64,
    entries: u64,
    cd_size: u64,
    cd_offset: u64,
    /// Where the locator says the ZIP64 record is (relative to the archive's start).
    located_at: u64,
}

/// The ZIP64 end record of the classic record at `eocd_at`: a locator right before it and a
/// record without extensible data right before that (where CPython reads it; the zip crate
/// accepts only records that end at their locator).
fn zip64_before<R: Read + Seek>(r: &mut R, eocd_at: u64) -> io::Result<Option<Zip64>> {
    let Some(locator_at) = eocd_at.checked_sub(LOCATOR_LEN) else { return Ok(None) };
    let Some(at) = locator_at.checked_sub(EOCD64_LEN) else { return Ok(None) };
    let mut b = [0u8; (EOCD64_LEN + LOCATOR_LEN) as usize];
    r.seek(SeekFrom::Start(at))?;
    r.read_exact(&mut b)?;
    let (record, locator) = b.split_at(EOCD64_LEN as usize);
    if locator[..4] != LOCATOR_SIG || record[..4] != EOCD64_SIG {
        return Ok(None);
    }
    let u32_at = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().unwrap());
    let u64_at = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
    if u64_at(record, 4) != EOCD64_REST {
        return Ok(None);
    }
    Ok(Some(Zip64 {
        at,
        disk: u32_at(record, 16),
        cd_disk: u32_at(record, 20),
        entries_here: u64_at(record, 24),
        entries: u64_at(record, 32),
        cd_size: u64_at(record, 40),
        cd_offset: u64_at(record, 48),
        located_at: u64_at(locator, 8),
    }))
}

/// The entry count of the ZIP64 record the locator before `eocd_at` points at, taken
/// literally (the zip crate's first guess), for the entry limit only.
fn zip64_count_at_locator<R: Read + Seek>(r: &mut R, eocd_at: u64) -> io::Result<Option<u64>> {
    let Some(locator_at) = eocd_at.checked_sub(LOCATOR_LEN) else {
        return Ok(None);
    };
    let mut locator = [0u8; LOCATOR_LEN as usize];
    r.seek(SeekFrom::Start(locator_at))?;
    r.read_exact(&mut locator)?;
    if locator[..4] != LOCATOR_SIG {
        return Ok(None);
    }
    let eocd64_at = u64::from_le_bytes(locator[8..16].try_into().unwrap());
    let mut record = [0u8; 40];
    if eocd64_at >= locator_at || r.seek(SeekFrom::Start(eocd64_at)).is_err() {
        return Ok(None);
    }
    r.read_exact(&mut record)?;
    if record[..4] != EOCD64_SIG {
        return Ok(None);
    }
    Ok(Some(u64::from_le_bytes(record[32..40].try_into().unwrap())))
}

/// The record at `at` if it parses (see the module documentation).
fn candidate<R: Read + Seek>(r: &mut R, at: u64, len: u64, c: &Classic, zip64: Option<Zip64>, directories: &mut FirstSignature) -> io::Result<Option<EndRecord>> {
    if at + EOCD_LEN as u64 + u64::from(c.comment_len) > len {
        return Ok(None);
    }
    let one_disk = match &zip64 {
        Some(z) => z.disk == 0 && z.cd_disk == 0 && z.entries_here == z.entries,
        None => c.disk == 0 && c.cd_disk == 0 && c.entries_here == c.entries,
    };
    if !one_disk {
        return Ok(None);
    }
    let (entries, cd_size, cd_offset, cd_end) = match &zip64 {
        Some(z) => (z.entries, z.cd_size, z.cd_offset, z.at),
        None => (c.entries.into(), c.cd_size.into(), c.cd_offset.into(), at),
    };
    if cd_offset.checked_add(cd_size).is_none_or(|end| end > cd_end) {
        return Ok(None);
    }
    let abutting_start = cd_end - cd_size;
    let (cd_start, abutting) = if entries == 0 && cd_size == 0 {
        (cd_end, true)
    } else if signature_at(r, abutting_start, &CENTRAL_SIG)? {
        (abutting_start, true)
    } else if zip64.is_some() && signature_at(r, cd_offset, &CENTRAL_SIG)? {
        (cd_offset, false)
    } else if let (None, Some(first)) = (&zip64, directories.at_or_after(r, cd_offset)?.filter(|&f| f + 4 <= cd_end)) {
        (first, false)
    } else {
        return Ok(None);
    };
    let disagreement = zip64.as_ref().and_then(|z| zip64_disagreement(c, z));
    Ok(Some(EndRecord { at, zip64_at: zip64.map(|z| z.at), entries, cd_size, cd_offset, cd_start, cd_end, prefix: cd_start - cd_offset, abutting, disagreement }))
}

/// CPython reads the ZIP64 record whenever it is there, the zip crate only when the classic
/// record has a sentinel: they agree only if every classic field that is not a sentinel
/// says what the ZIP64 record says, and the locator points right after the directory.
fn zip64_disagreement(c: &Classic, z: &Zip64) -> Option<String> {
    let fields: [(&str, u64, bool, u64); 6] = [
        ("entry count", c.entries.into(), c.entries == u16::MAX, z.entries),
        ("entry count on this disk", c.entries_here.into(), c.entries_here == u16::MAX, z.entries_here),
        ("central directory size", c.cd_size.into(), c.cd_size == u32::MAX, z.cd_size),
        ("central directory offset", c.cd_offset.into(), c.cd_offset == u32::MAX, z.cd_offset),
        ("disk number", c.disk.into(), c.disk == u16::MAX, z.disk.into()),
        ("central directory disk", c.cd_disk.into(), c.cd_disk == u16::MAX, z.cd_disk.into()),
    ];
    for (what, classic, sentinel, wide) in fields {
        if !sentinel && classic != wide {
            return Some(format!(
                "the ZIP64 end record declares {what} {wide} but the classic end record \
                 declares {classic}; readers differ in which one they use"
            ));
        }
    }
    let after_directory = z.cd_offset.saturating_add(z.cd_size);
    if z.located_at != after_directory {
        return Some(format!(
            "the ZIP64 locator places the ZIP64 end record at offset {} but it follows the \
             central directory at offset {after_directory}; readers differ in which one they use",
            z.located_at
        ));
    }
    None
}

/// The first central-header signature at or after an offset, with every byte scanned at
/// most once however many records ask (a crafted tail can hold thousands of candidates).
struct FirstSignature {
    len: u64,
    /// Start of a scanned span -> (its end, the signature at its end or `None` at the
    /// object's end); no signature starts inside a span.
    spans: BTreeMap<u64, (u64, Option<u64>)>,
}

impl FirstSignature {
    fn new(len: u64) -> Self {
        FirstSignature { len, spans: BTreeMap::new() }
    }

    fn at_or_after<R: Read + Seek>(&mut self, r: &mut R, from: u64) -> io::Result<Option<u64>> {
        if let Some((_, &(end, found))) = self.spans.range(..=from).next_back()
            && from <= end
        {
            return Ok(found);
        }
        // Scan up to the next known span, which then answers for this one too.
        let (limit, after) = match self.spans.range(from..).next() {
            Some((&start, &(end, found))) => (start, Some((start, end, found))),
            None => (self.len, None),
        };
        let (end, found) = match find_in(r, CENTRAL_SIG, from, limit.saturating_add(3).min(self.len))? {
            Some(at) if at <= limit => (at, Some(at)),
            _ => match after {
                Some((start, end, found)) => {
                    self.spans.remove(&start);
                    (end, found)
                }
                None => (self.len, None),
            },
        };
        self.spans.insert(from, (end, found));
        Ok(found)
    }
}

/// Whether `sig` is at `at` (false past the end).
pub(crate) fn signature_at<R: Read + Seek>(r: &mut R, at: u64, sig: &[u8; 4]) -> io::Result<bool> {
    r.seek(SeekFrom::Start(at))?;
    let mut b = [0u8; 4];
    match r.read_exact(&mut b) {
        Ok(()) => Ok(&b == sig),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn eocd(count: u16, cd_size: u32, cd_offset: u32) -> Vec<u8> {
        let mut b = EOCD_SIG.to_vec();
        b.extend_from_slice(&[0, 0, 0, 0]);
        b.extend_from_slice(&count.to_le_bytes());
        b.extend_from_slice(&count.to_le_bytes());
        b.extend_from_slice(&cd_size.to_le_bytes());
        b.extend_from_slice(&cd_offset.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b
    }

    /// A 46-byte central header with an empty name.
    fn central() -> Vec<u8> {
        let mut b = CENTRAL_SIG.to_vec();
        b.resize(46, 0);
        b
    }

    fn ends(bytes: Vec<u8>) -> Ends {
        read_ends(&mut Cursor::new(bytes)).unwrap()
    }

    fn primary(bytes: Vec<u8>) -> Result<Option<EndRecord>> {
        ends(bytes).primary().map(|e| e.cloned())
    }

    #[test]
    fn counts_every_signature_for_the_limit() {
        assert_eq!(ends(eocd(7, 0, 0)).max_declared, 7);
        assert_eq!(ends(b"no zip here".to_vec()).max_declared, 0);
        assert_eq!(ends(Vec::new()).max_declared, 0);

        // A stray record in the comment of another counts too, parsing or not.
        let mut two = eocd(3, 0, 0);
        two.truncate(20);
        two.extend_from_slice(&22u16.to_le_bytes());
        two.extend_from_slice(&eocd(9000, 0, 0));
        assert_eq!(ends(two).max_declared, 9000);

        let mut z = Vec::new();
        z.extend_from_slice(&EOCD64_SIG);
        z.extend_from_slice(&[0; 28]);
        z.extend_from_slice(&5_000_000u64.to_le_bytes());
        z.extend_from_slice(&[0; 16]);
        z.extend_from_slice(&LOCATOR_SIG);
        z.extend_from_slice(&[0; 4]);
        z.extend_from_slice(&0u64.to_le_bytes());
        z.extend_from_slice(&[1, 0, 0, 0]);
        z.extend_from_slice(&eocd(0xFFFF, u32::MAX, u32::MAX));
        assert_eq!(ends(z).max_declared, 5_000_000);
    }

    #[test]
    fn one_record_with_its_directory_before_it() {
        let mut b = b"#!/bin/sh\n".to_vec();
        b.extend_from_slice(&central());
        b.extend_from_slice(&eocd(1, 46, 0));
        let e = primary(b).unwrap().unwrap();
        assert_eq!((e.at, e.cd_start, e.prefix, e.entries, e.abutting), (56, 10, 10, 1, true));
    }

    #[test]
    fn text_naming_the_signature_does_not_parse() {
        for comment in [&b"PK\x05\x06"[..], b"see PK\x05\x06 in APPNOTE section 4.3.16, the end record", &[b'P', b'K', 5, 6, 0xff, 0xff, 0xff, 0xff, 1, 0, 1, 0, 9, 9, 9, 9, 9, 9, 9, 9, 0, 0]] {
            let mut b = central();
            let mut end = eocd(1, 46, 0);
            end.truncate(20);
            end.extend_from_slice(&(comment.len() as u16).to_le_bytes());
            b.extend_from_slice(&end);
            b.extend_from_slice(comment);
            let e = primary(b).unwrap().unwrap();
            assert_eq!(e.at, 46, "{comment:?}");
        }
    }

    #[test]
    fn a_second_record_that_locates_a_directory_is_refused() {
        // The comment holds a record pointing at the same directory by its offset.
        let mut b = central();
        let mut end = eocd(1, 46, 0);
        end.truncate(20);
        end.extend_from_slice(&22u16.to_le_bytes());
        b.extend_from_slice(&end);
        b.extend_from_slice(&eocd(1, 46, 0));
        let e = primary(b).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::UnsafeArchive);
        assert!(e.message.contains("two end-of-central-directory records"), "{}", e.message);
        assert!(e.message.contains("offsets 46 and 68"), "{}", e.message);

        // An empty archive's record after a real one: the real one is prepended data of
        // the empty archive.
        let mut b = central();
        b.extend_from_slice(&eocd(1, 46, 0));
        b.extend_from_slice(&eocd(0, 0, 0));
        let all = ends(b);
        let empty = all.primary().unwrap().unwrap();
        assert_eq!((empty.at, empty.cd_start), (68, 68));
        let e = all.check_prepended(empty, empty.cd_start).unwrap_err();
        assert!(e.message.contains("offsets 46 and 68"), "{}", e.message);
    }

    #[test]
    fn a_record_inside_the_entries_is_data() {
        // A stored zip as the content of an entry: its records lie between the outer
        // archive's first entry (at 0) and its directory.
        let mut b = b"PK\x03\x04 stands in for a local header; a stored inner zip: ".to_vec();
        let inner_start = b.len() as u32;
        b.extend_from_slice(&central());
        b.extend_from_slice(&eocd(1, 46, inner_start));
        let outer_cd = b.len() as u32;
        b.extend_from_slice(&central());
        b.extend_from_slice(&eocd(1, 46, outer_cd));
        let all = ends(b);
        let outer = all.primary().unwrap().unwrap();
        assert_eq!(outer.cd_start, u64::from(outer_cd));
        all.check_prepended(outer, 0).unwrap();
        assert!(all.check_prepended(outer, u64::from(outer_cd)).is_err());
    }

    #[test]
    fn nothing_parses_without_a_directory() {
        assert_eq!(primary(eocd(1, 46, 0)).unwrap(), None);
        // The directory would need negative prepended data.
        let mut b = central();
        b.extend_from_slice(&eocd(1, 46, 7));
        assert_eq!(primary(b).unwrap(), None);
        // Sentinels without a ZIP64 record: the directory offset 0xFFFFFFFF cannot fit.
        let mut b = central();
        b.extend_from_slice(&eocd(0xFFFF, u32::MAX, u32::MAX));
        assert_eq!(primary(b).unwrap(), None);
    }

    #[test]
    fn the_signature_search_scans_each_byte_once() {
        let mut b = vec![0u8; 100];
        b[40..44].copy_from_slice(&CENTRAL_SIG);
        b[70..74].copy_from_slice(&CENTRAL_SIG);
        let mut r = Cursor::new(b);
        let mut first = FirstSignature::new(100);
        assert_eq!(first.at_or_after(&mut r, 50).unwrap(), Some(70));
        assert_eq!(first.at_or_after(&mut r, 10).unwrap(), Some(40));
        assert_eq!(first.at_or_after(&mut r, 41).unwrap(), Some(70));
        assert_eq!(first.at_or_after(&mut r, 40).unwrap(), Some(40));
        assert_eq!(first.at_or_after(&mut r, 71).unwrap(), None);
        assert_eq!(first.at_or_after(&mut r, 60).unwrap(), Some(70));
        // Answers now come from the spans alone: the reader is gone.
        let mut empty = Cursor::new(Vec::new());
        for (from, want) in [(10, Some(40)), (45, Some(70)), (70, Some(70)), (90, None)] {
            assert_eq!(first.at_or_after(&mut empty, from).unwrap(), want, "{from}");
        }
    }

    fn zip64_archive(classic: (u16, u32, u32), wide_count: u64, locator: u64) -> Vec<u8> {
        let mut b = central();
        let mut z = EOCD64_SIG.to_vec();
        z.extend_from_slice(&EOCD64_REST.to_le_bytes());
        z.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        z.extend_from_slice(&wide_count.to_le_bytes());
        z.extend_from_slice(&wide_count.to_le_bytes());
        z.extend_from_slice(&46u64.to_le_bytes());
        z.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&z);
        b.extend_from_slice(&LOCATOR_SIG);
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&locator.to_le_bytes());
        b.extend_from_slice(&[1, 0, 0, 0]);
        b.extend_from_slice(&eocd(classic.0, classic.1, classic.2));
        b
    }

    #[test]
    fn zip64_must_agree_with_the_classic_record() {
        let sentinels = (0xFFFF, u32::MAX, u32::MAX);
        let e = primary(zip64_archive(sentinels, 1, 46)).unwrap().unwrap();
        assert_eq!((e.zip64_at, e.cd_start, e.cd_end, e.entries), (Some(46), 0, 46, 1));
        // Real values where they fit, as most writers do: the same reading.
        assert!(primary(zip64_archive((1, 46, 0), 1, 46)).unwrap().is_some());

        let e = primary(zip64_archive((2, 46, 0), 1, 46)).unwrap_err();
        assert!(e.message.contains("ZIP64 end record declares entry count 1 but the classic end record declares 2"), "{}", e.message);
        let e = primary(zip64_archive(sentinels, 1, 40)).unwrap_err();
        assert!(e.message.contains("ZIP64 locator places the ZIP64 end record at offset 40"), "{}", e.message);
    }
}
