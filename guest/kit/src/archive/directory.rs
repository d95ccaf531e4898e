//! The central directory as its end record describes it, read header by header before the
//! zip crate parses it.
//!
//! Readers walk the directory differently: the zip crate reads exactly the number of entries
//! the end record declares, CPython reads headers until the declared size is used up. So the
//! count, the size and the headers actually there must all agree, or the two list
//! different files. The facts read here (raw name, flags, method, CRC and sizes) are what
//! every local header must repeat ([`super::layout`]); the zip crate's own parse must agree
//! with them too, which the caller checks.

use std::io::{self, Read, Seek, SeekFrom};

use super::eocd::{EndRecord, CENTRAL_SIG};
use super::extra::extra_field;
use super::unicode_path;
use crate::{Error, Result};

const CENTRAL_FIXED: usize = 46;
const ZIP64_EXTRA: u16 = 0x0001;

/// One central directory entry, as its header's bytes say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CentralEntry {
    /// Object offset of the central header.
    pub central_at: u64,
    /// Object offset of the local header (prepended data included).
    pub header_start: u64,
    pub name_raw: Box<[u8]>,
    pub flags: u16,
    pub method: u16,
    pub crc32: u32,
    /// Sizes with ZIP64 sentinels resolved.
    pub compressed: u64,
    pub size: u64,
}

/// Reads the directory `end` locates; refuses one whose entries disagree with the record in
/// number or size, or that does not end right before its end record.
pub(crate) fn read<R: Read + Seek>(r: &mut R, end: &EndRecord) -> Result<Vec<CentralEntry>> {
    let io_err = |e| Error::io("reading the central directory", e);
    r.seek(SeekFrom::Start(end.cd_start)).map_err(io_err)?;
    // One more than declared is enough to tell the count is wrong.
    let cap = end.entries.saturating_add(1);
    let mut entries = Vec::with_capacity(cap.min(end.cd_size / CENTRAL_FIXED as u64 + 1) as usize);
    let mut pos = end.cd_start;
    while (entries.len() as u64) < cap && pos + CENTRAL_FIXED as u64 <= end.cd_end {
        match header(r, pos, end).map_err(io_err)? {
            Some((entry, next, renamed)) => {
                if let Some(other) = renamed {
                    return Err(unicode_path::two_names(&entry.name_raw, "central header", &other));
                }
                entries.push(entry);
                pos = next;
            }
            None => break,
        }
    }
    let found = entries.len() as u64;
    if found != end.entries {
        let holds = if found > end.entries { format!("more than {}", end.entries) } else { found.to_string() };
        return Err(Error::unsafe_archive(format!(
            "the end record declares {} entries but the central directory holds {holds}; \
             readers that trust the count and readers that walk the directory would list \
             different files",
            end.entries
        )));
    }
    let walked = pos - end.cd_start;
    if walked != end.cd_size {
        return Err(Error::unsafe_archive(format!(
            "the end record declares a central directory of {} bytes but its {found} entries \
             take {walked}; readers that trust the size and readers that count entries would \
             list different files",
            end.cd_size
        )));
    }
    if !end.abutting {
        return Err(Error::unsafe_archive(format!(
            "{} bytes lie between the central directory and its end record; readers that \
             locate the directory from the end record's position find something else there",
            end.cd_end - pos
        )));
    }
    Ok(entries)
}

/// Where the archive `end` describes begins: its first local header, or its directory when
/// it has no entries.
pub(crate) fn archive_start(entries: &[CentralEntry], end: &EndRecord) -> u64 {
    entries.iter().map(|e| e.header_start).min().unwrap_or(end.cd_start).min(end.cd_start)
}

/// The header at `pos`, where the next one starts, and the other name a Unicode Path field
/// gives it (see `unicode_path`); `None` when no whole header is there.
fn header<R: Read>(r: &mut R, pos: u64, end: &EndRecord) -> io::Result<Option<(CentralEntry, u64, Option<Box<[u8]>>)>> {
    let mut f = [0u8; CENTRAL_FIXED];
    r.read_exact(&mut f)?;
    if f[..4] != CENTRAL_SIG {
        return Ok(None);
    }
    let u16_at = |i: usize| u16::from_le_bytes([f[i], f[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([f[i], f[i + 1], f[i + 2], f[i + 3]]);
    let (name_len, extra_len, comment_len) = (u16_at(28) as usize, u16_at(30) as usize, u16_at(32) as u64);
    let next = pos + (CENTRAL_FIXED + name_len + extra_len) as u64 + comment_len;
    if next > end.cd_end {
        return Ok(None);
    }
    let mut var = vec![0u8; name_len + extra_len];
    r.read_exact(&mut var)?;
    io::copy(&mut r.take(comment_len), &mut io::sink())?;
    let (size32, compressed32, offset32) = (u32_at(24), u32_at(20), u32_at(42));
    // The ZIP64 extra field holds the sentinel fields' values in this order.
    let (size, compressed, offset) = {
        let mut wide = zip64_values(&var[name_len..]);
        let mut resolve = |v: u32| if v == u32::MAX { wide.next().unwrap_or(v.into()) } else { v.into() };
        (resolve(size32), resolve(compressed32), resolve(offset32))
    };
    let renamed = unicode_path::renaming(&var[..name_len], &var[name_len..]).map(Box::from);
    var.truncate(name_len);
    let entry = CentralEntry {
        central_at: pos,
        header_start: end.prefix.saturating_add(offset),
        name_raw: var.into_boxed_slice(),
        flags: u16_at(8),
        method: u16_at(10),
        crc32: u32_at(16),
        compressed,
        size,
    };
    Ok(Some((entry, next, renamed)))
}

/// The 8-byte values of the first ZIP64 extra field in `extra`.
pub(crate) fn zip64_values(extra: &[u8]) -> impl Iterator<Item = u64> + '_ {
    let data = extra_field(extra, ZIP64_EXTRA).unwrap_or(&[]);
    data.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn central(name: &[u8], sizes: (u32, u32, u32), extra: &[u8]) -> Vec<u8> {
        let mut b = CENTRAL_SIG.to_vec();
        b.extend_from_slice(&[20, 3, 20, 0, 8, 0, 8, 0, 0, 0, 0, 0]); // made by, needed, flags, method, time, date
        b.extend_from_slice(&0x1234_5678u32.to_le_bytes());
        b.extend_from_slice(&sizes.0.to_le_bytes());
        b.extend_from_slice(&sizes.1.to_le_bytes());
        b.extend_from_slice(&(name.len() as u16).to_le_bytes());
        b.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        b.extend_from_slice(&[0; 8]); // comment length, disk, internal attributes, external (2 of 4)
        b.extend_from_slice(&[0; 2]);
        b.extend_from_slice(&sizes.2.to_le_bytes());
        b.extend_from_slice(name);
        b.extend_from_slice(extra);
        b
    }

    fn end(bytes: &[u8], entries: u64, cd_size: u64) -> EndRecord {
        EndRecord {
            at: bytes.len() as u64,
            zip64_at: None,
            entries,
            cd_size,
            cd_offset: 0,
            cd_start: 0,
            cd_end: bytes.len() as u64,
            prefix: 0,
            abutting: true,
            disagreement: None,
        }
    }

    #[test]
    fn reads_entries_and_resolves_zip64_sentinels() {
        let mut extra = vec![1, 0, 24, 0];
        for v in [5_000_000_000u64, 4_000_000_000, 7] {
            extra.extend_from_slice(&v.to_le_bytes());
        }
        let mut b = central(b"a.py", (10, 20, 30), &[]);
        b.extend_from_slice(&central(b"big", (u32::MAX, u32::MAX, u32::MAX), &extra));
        let e = end(&b, 2, b.len() as u64);
        let entries = read(&mut Cursor::new(&b), &e).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0].compressed, entries[0].size, entries[0].header_start, entries[0].flags, entries[0].method), (10, 20, 30, 8, 8));
        assert_eq!(&*entries[1].name_raw, b"big");
        assert_eq!((entries[1].size, entries[1].compressed, entries[1].header_start), (5_000_000_000, 4_000_000_000, 7));
        assert_eq!(entries[1].central_at, 50);
    }

    #[test]
    fn count_and_size_must_match_the_record() {
        let mut b = central(b"a", (1, 1, 0), &[]);
        b.extend_from_slice(&central(b"b", (1, 1, 0), &[]));
        let len = b.len() as u64;
        for (entries, size, says) in [
            (5, len, "declares 5 entries but the central directory holds 2"),
            (1, len, "declares 1 entries but the central directory holds more than 1"),
            (2, len - 1, &format!("declares a central directory of {} bytes but its 2 entries take {len}", len - 1)),
        ] {
            let e = read(&mut Cursor::new(&b), &end(&b, entries, size)).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::UnsafeArchive);
            assert!(e.message.contains(says), "{}", e.message);
        }
        // The directory found only at its recorded offset, with bytes before the end record.
        let mut gap = b.clone();
        gap.extend_from_slice(b"hidden");
        let e = end(&gap, 2, len);
        let e = read(&mut Cursor::new(&gap), &EndRecord { abutting: false, ..e }).unwrap_err();
        assert!(e.message.starts_with("6 bytes lie between the central directory and its end record"), "{}", e.message);
    }
}
