//! Local headers, data descriptors and the bytes between entries, checked against the
//! central directory (pure logic, shared by the file and the streaming extractor).
//!
//! Readers that go by the central directory (CPython, Info-ZIP, the zip crate) and readers
//! that walk local headers from the front (Java's `ZipInputStream`, streaming unzippers, a
//! reviewer's `less`) see the same files only if every local header repeats its central
//! entry and nothing else sits between entries. So:
//! - a local header's name, compression method and general-purpose flags must equal the
//!   central entry's; its CRC-32 and sizes too, except that with flag bit 3 (data
//!   descriptor) they may be 0, and the descriptor after the data must then repeat the
//!   central values (with 8-byte sizes when the local header has a ZIP64 extra field);
//! - an entry spans its local header, data and descriptor; the next entry's local header, or
//!   the central directory, must start at or after its end;
//! - the bytes between one entry's end and the next entry's header (or the central
//!   directory) must not hold a local-header signature, an entry no directory lists.
//!
//! Bytes before the first entry are prepended data (a `#!` line, a self-extractor) and are
//! not examined.

use std::io::{Read, Seek, SeekFrom};

use super::directory::{zip64_values, CentralEntry};
use super::sigscan::find_in;
use super::unicode_path;
use crate::text::escape_bytes;
use crate::{Error, Result};

pub(crate) const LOCAL_SIG: [u8; 4] = [b'P', b'K', 3, 4];
pub(crate) const LOCAL_FIXED: usize = 30;
const DESCRIPTOR_SIG: [u8; 4] = [b'P', b'K', 7, 8];
/// General-purpose flag bit 3: CRC-32 and sizes follow the data in a data descriptor.
const FLAG_DESCRIPTOR: u16 = 1 << 3;

/// What an entry's end runs into, for the overlap message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Next<'a> {
    Entry(&'a CentralEntry),
    Directory,
}

/// What follows an entry's data, as its local header announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    Nothing,
    /// A data descriptor, with 8-byte sizes when `wide`.
    Descriptor { wide: bool },
}

/// How the entry is named in messages: its raw central name, escaped.
pub(crate) fn shown(c: &CentralEntry) -> String {
    escape_bytes(&c.name_raw)
}

/// The whole local header's length, from its fixed 30 bytes; `None` without a signature.
pub(crate) fn local_len(fixed: &[u8]) -> Option<usize> {
    if fixed[..4] != LOCAL_SIG {
        return None;
    }
    let name = u16::from_le_bytes([fixed[26], fixed[27]]) as usize;
    let extra = u16::from_le_bytes([fixed[28], fixed[29]]) as usize;
    Some(LOCAL_FIXED + name + extra)
}

/// The error for a missing local header.
pub(crate) fn no_local_header(c: &CentralEntry) -> Error {
    Error::integrity(format!("corrupt zip archive: no local header where the central directory places entry `{}`", shown(c)))
}

/// Compares a whole local header (`local_len` bytes) with its central entry.
pub(crate) fn check_local(c: &CentralEntry, header: &[u8]) -> Result<After> {
    let u16_at = |i: usize| u16::from_le_bytes([header[i], header[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let name_len = u16_at(26) as usize;
    let name = &header[LOCAL_FIXED..LOCAL_FIXED + name_len];
    let extra = &header[LOCAL_FIXED + name_len..];
    let differs = |what: String| {
        Error::unsafe_archive(format!(
            "the local header of entry `{}` {what}; readers that go by local headers and \
             readers that go by the central directory would unpack different files",
            shown(c)
        ))
    };
    if name != &*c.name_raw {
        return Err(differs(format!("names `{}`", escape_bytes(name))));
    }
    if let Some(other) = unicode_path::renaming(name, extra) {
        return Err(unicode_path::two_names(name, "local header", other));
    }
    let (flags, method) = (u16_at(6), u16_at(8));
    if method != c.method {
        return Err(differs(format!("says compression method {method}, the central directory {}", c.method)));
    }
    if flags != c.flags {
        return Err(differs(format!("has general-purpose flags {flags:#06x}, the central directory {:#06x}", c.flags)));
    }
    // A local ZIP64 extra field holds both sizes; each applies where its field is a sentinel.
    let wide: Vec<u64> = zip64_values(extra).collect();
    let (size32, compressed32) = (u32_at(22), u32_at(18));
    let size = if size32 == u32::MAX { wide.first().copied().unwrap_or(size32.into()) } else { size32.into() };
    let compressed = if compressed32 == u32::MAX {
        let at = if size32 == u32::MAX || wide.len() >= 2 { 1 } else { 0 };
        wide.get(at).copied().unwrap_or(compressed32.into())
    } else {
        compressed32.into()
    };
    let deferred = c.flags & FLAG_DESCRIPTOR != 0;
    for (what, local, central) in [("CRC-32", u64::from(u32_at(14)), u64::from(c.crc32)), ("compressed size", compressed, c.compressed), ("size", size, c.size)] {
        if local != central && !(deferred && local == 0) {
            return Err(differs(format!("says {what} {local}, the central directory {central}")));
        }
    }
    Ok(if deferred { After::Descriptor { wide: !wide.is_empty() } } else { After::Nothing })
}

/// The longest data descriptor: signature, CRC-32 and two 8-byte sizes.
pub(crate) const DESCRIPTOR_MAX: usize = 24;

/// The descriptor's length from its first 4 bytes (the signature is optional).
pub(crate) fn descriptor_len(first4: &[u8], wide: bool) -> usize {
    let sizes = if wide { 16 } else { 8 };
    if first4 == DESCRIPTOR_SIG { 8 + sizes } else { 4 + sizes }
}

/// Compares a data descriptor (`descriptor_len` bytes) with the central entry.
pub(crate) fn check_descriptor(c: &CentralEntry, bytes: &[u8], wide: bool) -> Result<()> {
    let b = if bytes[..4] == DESCRIPTOR_SIG { &bytes[4..] } else { bytes };
    let crc = u32::from_le_bytes(b[..4].try_into().unwrap());
    let (compressed, size) = if wide {
        (u64::from_le_bytes(b[4..12].try_into().unwrap()), u64::from_le_bytes(b[12..20].try_into().unwrap()))
    } else {
        (u64::from(u32::from_le_bytes(b[4..8].try_into().unwrap())), u64::from(u32::from_le_bytes(b[8..12].try_into().unwrap())))
    };
    for (what, got, central) in [("CRC-32", u64::from(crc), u64::from(c.crc32)), ("compressed size", compressed, c.compressed), ("size", size, c.size)] {
        if got != central {
            return Err(Error::unsafe_archive(format!(
                "the data descriptor of entry `{}` says {what} {got}, the central directory \
                 {central}; streaming readers would unpack something else",
                shown(c)
            )));
        }
    }
    Ok(())
}

/// The error for a data descriptor that flag bit 3 announces but that cannot fit.
pub(crate) fn no_descriptor(c: &CentralEntry) -> Error {
    Error::unsafe_archive(format!(
        "entry `{}` has general-purpose flag bit 3 set but no data descriptor after its data",
        shown(c)
    ))
}

/// Refuses an entry part (header, data, descriptor) of `c` ending at `end` past `limit`,
/// where `next` begins.
pub(crate) fn ends_before(c: &CentralEntry, end: Option<u64>, limit: u64, next: Next<'_>) -> Result<()> {
    if end.is_some_and(|e| e <= limit) {
        return Ok(());
    }
    Err(match next {
        Next::Entry(n) => Error::unsafe_archive(format!(
            "entry `{}` starts inside the previous entry's data (`{}`): the entries overlap, \
             as in a zip bomb that shares compressed data",
            shown(n),
            shown(c)
        )),
        Next::Directory => Error::unsafe_archive(format!("the data of entry `{}` overlaps the central directory", shown(c))),
    })
}

/// The error for a local header no central entry lists, found after entry `c`.
pub(crate) fn unlisted(at: u64, c: &CentralEntry) -> Error {
    Error::unsafe_archive(format!(
        "a local header at offset {at}, after entry `{}`, belongs to no entry the central \
         directory lists; readers that walk local headers would unpack it",
        shown(c)
    ))
}

/// Every check of this module on an archive that can be read at will: entries in local
/// header order, each header, data end and descriptor, and the gaps up to `cd_start`.
pub(crate) fn check_file<R: Read + Seek>(r: &mut R, entries: &[CentralEntry], cd_start: u64) -> Result<()> {
    let io_err = |e| Error::io("reading the local headers", e);
    let mut order: Vec<&CentralEntry> = entries.iter().collect();
    order.sort_by_key(|c| c.header_start);
    for (i, c) in order.iter().enumerate() {
        let (limit, next) = match order.get(i + 1) {
            Some(n) if n.header_start <= cd_start => (n.header_start, Next::Entry(n)),
            _ => (cd_start, Next::Directory),
        };
        let start = c.header_start;
        ends_before(c, start.checked_add(LOCAL_FIXED as u64), limit, next)?;
        let mut header = vec![0u8; LOCAL_FIXED];
        r.seek(SeekFrom::Start(start)).map_err(io_err)?;
        r.read_exact(&mut header).map_err(io_err)?;
        let len = local_len(&header).ok_or_else(|| no_local_header(c))?;
        ends_before(c, Some(start + len as u64), limit, next)?;
        header.resize(len, 0);
        r.read_exact(&mut header[LOCAL_FIXED..]).map_err(io_err)?;
        let after = check_local(c, &header)?;
        let data_end = (start + len as u64).checked_add(c.compressed);
        ends_before(c, data_end, limit, next)?;
        let mut end = data_end.unwrap_or(u64::MAX);
        if let After::Descriptor { wide } = after {
            if end + 4 > limit {
                return Err(no_descriptor(c));
            }
            let mut d = [0u8; DESCRIPTOR_MAX];
            r.seek(SeekFrom::Start(end)).map_err(io_err)?;
            r.read_exact(&mut d[..4]).map_err(io_err)?;
            let n = descriptor_len(&d[..4], wide);
            if end + n as u64 > limit {
                return Err(no_descriptor(c));
            }
            r.read_exact(&mut d[4..n]).map_err(io_err)?;
            check_descriptor(c, &d[..n], wide)?;
            end += n as u64;
        }
        find_in(r, LOCAL_SIG, end, limit).map_err(io_err)?.map_or(Ok(()), |at| Err(unlisted(at, c)))?;
    }
    Ok(())
}


#[cfg(test)]
mod tests {
    use crate::archive::sigscan::SigScan;
    use super::*;

    fn central(name: &[u8], flags: u16, crc: u32, compressed: u64, size: u64) -> CentralEntry {
        CentralEntry { central_at: 0, header_start: 0, name_raw: name.into(), flags, method: 8, crc32: crc, compressed, size }
    }

    fn local(name: &[u8], flags: u16, method: u16, crc: u32, compressed: u32, size: u32, extra: &[u8]) -> Vec<u8> {
        let mut b = LOCAL_SIG.to_vec();
        b.extend_from_slice(&20u16.to_le_bytes());
        b.extend_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&method.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&crc.to_le_bytes());
        b.extend_from_slice(&compressed.to_le_bytes());
        b.extend_from_slice(&size.to_le_bytes());
        b.extend_from_slice(&(name.len() as u16).to_le_bytes());
        b.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        b.extend_from_slice(name);
        b.extend_from_slice(extra);
        b
    }

    fn zip64_extra(size: u64, compressed: u64) -> Vec<u8> {
        let mut x = vec![1, 0, 16, 0];
        x.extend_from_slice(&size.to_le_bytes());
        x.extend_from_slice(&compressed.to_le_bytes());
        x
    }

    #[test]
    fn a_faithful_local_header_passes() {
        let c = central(b"a.py", 0, 7, 10, 20);
        let h = local(b"a.py", 0, 8, 7, 10, 20, &[]);
        assert_eq!(local_len(&h), Some(h.len()));
        assert_eq!(check_local(&c, &h).unwrap(), After::Nothing);
        let h = local(b"a.py", 0, 8, 7, u32::MAX, u32::MAX, &zip64_extra(20, 10));
        assert_eq!(check_local(&c, &h).unwrap(), After::Nothing);
        assert_eq!(local_len(b"PK\x01\x02 and the rest of a central header"), None);
    }

    #[test]
    fn every_disagreeing_field_is_named() {
        let c = central(b"a.py", 0, 7, 10, 20);
        for (h, says) in [
            (local(b"b.py", 0, 8, 7, 10, 20, &[]), "names `b.py`"),
            (local(b"a.py", 0, 0, 7, 10, 20, &[]), "says compression method 0, the central directory 8"),
            (local(b"a.py", 1 << 11, 8, 7, 10, 20, &[]), "has general-purpose flags 0x0800, the central directory 0x0000"),
            (local(b"a.py", 0, 8, 8, 10, 20, &[]), "says CRC-32 8, the central directory 7"),
            (local(b"a.py", 0, 8, 7, 11, 20, &[]), "says compressed size 11, the central directory 10"),
            (local(b"a.py", 0, 8, 7, 10, 0, &[]), "says size 0, the central directory 20"),
            (local(b"a.py", 0, 8, 7, u32::MAX, u32::MAX, &zip64_extra(21, 10)), "says size 21"),
        ] {
            let e = check_local(&c, &h).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::UnsafeArchive);
            assert!(e.message.contains(says), "{says}: {}", e.message);
        }
    }

    #[test]
    fn a_descriptor_defers_crc_and_sizes() {
        let c = central(b"d", FLAG_DESCRIPTOR, 7, 10, 20);
        assert_eq!(check_local(&c, &local(b"d", 8, 8, 0, 0, 0, &[])).unwrap(), After::Descriptor { wide: false });
        assert_eq!(check_local(&c, &local(b"d", 8, 8, 7, 10, 20, &[])).unwrap(), After::Descriptor { wide: false });
        let z = local(b"d", 8, 8, 0, u32::MAX, u32::MAX, &zip64_extra(0, 0));
        assert_eq!(check_local(&c, &z).unwrap(), After::Descriptor { wide: true });
        assert!(check_local(&c, &local(b"d", 8, 8, 9, 0, 0, &[])).is_err());

        let mut with_sig = DESCRIPTOR_SIG.to_vec();
        with_sig.extend_from_slice(&[7, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0]);
        assert_eq!(descriptor_len(&with_sig[..4], false), 16);
        check_descriptor(&c, &with_sig, false).unwrap();
        let bare = &with_sig[4..];
        assert_eq!(descriptor_len(&bare[..4], false), 12);
        check_descriptor(&c, bare, false).unwrap();
        let mut wide = vec![7, 0, 0, 0];
        wide.extend_from_slice(&10u64.to_le_bytes());
        wide.extend_from_slice(&20u64.to_le_bytes());
        assert_eq!(descriptor_len(&wide[..4], true), 20);
        check_descriptor(&c, &wide, true).unwrap();
        let mut lying = with_sig.clone();
        lying[12] = 99;
        let e = check_descriptor(&c, &lying, false).unwrap_err();
        assert!(e.message.contains("data descriptor of entry `d` says size 99, the central directory 20"), "{}", e.message);
    }

    #[test]
    fn gap_scan_finds_signatures_split_across_pieces() {
        let mut bytes = [0u8; 100];
        bytes[57..61].copy_from_slice(&LOCAL_SIG);
        for piece in [1, 2, 3, 4, 5, 58, 100] {
            let mut scan = SigScan::new(LOCAL_SIG, 1000);
            let found = bytes.chunks(piece).find_map(|p| scan.feed(p));
            assert_eq!(found, Some(1057), "pieces of {piece}");
        }
        let mut scan = SigScan::new(LOCAL_SIG, 0);
        assert_eq!(scan.feed(b"PK\x05\x06PK\x01\x02 not a local header PK\x03"), None);
        assert_eq!(scan.feed(b"\x05"), None);
    }

    #[test]
    fn overlaps_name_both_entries() {
        let a = central(b"a", 0, 0, 0, 0);
        let b = central(b"b", 0, 0, 0, 0);
        ends_before(&a, Some(10), 10, Next::Entry(&b)).unwrap();
        let e = ends_before(&a, Some(11), 10, Next::Entry(&b)).unwrap_err();
        assert!(e.message.contains("entry `b` starts inside the previous entry's data (`a`)"), "{}", e.message);
        assert!(e.message.contains("overlap"), "{}", e.message);
        let e = ends_before(&a, None, 10, Next::Directory).unwrap_err();
        assert_eq!(e.message, "the data of entry `a` overlaps the central directory");
    }
}
