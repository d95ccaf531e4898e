//! A zip writer that writes every field exactly as told, so headers can lie: sizes, CRCs,
//! offsets, flags, counts, disk numbers. The zip crate's writer computes those itself, so it
//! cannot make the lying archives the extractors must refuse. One crate so the kit's archive
//! tests and the host's hostile catalogue craft them with the same code.

use std::io::Write;

pub mod differentials;

/// "Version made by": Unix, spec 2.0, so external attributes carry a Unix mode.
pub const MADE_BY_UNIX: u16 = (3 << 8) | 20;
const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD64_SIG: u32 = 0x0606_4b50;
const LOCATOR_SIG: u32 = 0x0706_4b50;
const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
/// 2020-01-01, a valid DOS date.
const DOS_DATE: u16 = (40 << 9) | (1 << 5) | 1;

pub const STORED: u16 = 0;
pub const DEFLATED: u16 = 8;
pub const FLAG_ENCRYPTED: u16 = 1;
pub const FLAG_DESCRIPTOR: u16 = 1 << 3;
pub const FLAG_UTF8: u16 = 1 << 11;

/// Info-ZIP's Unicode Path extra field (0x7075): version 1, the CRC-32 of `crc_of` (the
/// header's name, when the field is current), then `name`.
pub fn unicode_path(crc_of: &[u8], name: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    put16(&mut f, 0x7075);
    put16(&mut f, (5 + name.len()) as u16);
    f.push(1);
    put32(&mut f, crc32(crc_of));
    f.extend_from_slice(name);
    f
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// One entry. Every field goes to the wire as given.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: Vec<u8>,
    /// The bytes stored in the archive (already compressed).
    pub data: Vec<u8>,
    pub method: u16,
    pub flags: u16,
    pub crc: u32,
    pub uncompressed: u64,
    pub compressed: u64,
    pub external_attr: u32,
    /// The host system in the high byte decides whether `external_attr` holds a Unix mode.
    pub made_by: u16,
    pub time: u16,
    pub date: u16,
    /// Sizes as 0xFFFFFFFF plus a ZIP64 extra field carrying the real (or lying) values.
    pub zip64: bool,
    /// No local record is written; the central record then needs [`Entry::offset`].
    pub write_local: bool,
    /// Local-header offset the central record claims, instead of the real one.
    pub offset: Option<u64>,
    /// Local header says 0 for CRC and sizes; a data descriptor follows the data.
    pub descriptor: bool,
    /// What the local header says instead of the central record's values, so the two can
    /// disagree (each `None` repeats the central value).
    pub local: Local,
    /// The data descriptor's CRC, compressed and uncompressed size, instead of the real ones.
    pub descriptor_values: Option<(u32, u64, u64)>,
    /// The descriptor starts with its optional signature `PK\x07\x08`.
    pub descriptor_signature: bool,
    /// Bytes written after this entry's local record (and descriptor), outside every entry.
    pub trailing: Vec<u8>,
    /// Extra fields after the ZIP64 one (if any), in both headers unless `local.extra` says
    /// otherwise.
    pub extra: Vec<u8>,
}

/// Local-header fields that may differ from the central directory's.
#[derive(Debug, Clone, Default)]
pub struct Local {
    pub name: Option<Vec<u8>>,
    pub method: Option<u16>,
    pub flags: Option<u16>,
    pub crc: Option<u32>,
    pub compressed: Option<u64>,
    pub uncompressed: Option<u64>,
    pub extra: Option<Vec<u8>>,
}

impl Entry {
    pub fn stored(name: &str, data: &[u8]) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            method: STORED,
            flags: 0,
            crc: crc32(data),
            uncompressed: data.len() as u64,
            compressed: data.len() as u64,
            external_attr: 0o100644 << 16,
            made_by: MADE_BY_UNIX,
            time: 0,
            date: DOS_DATE,
            zip64: false,
            write_local: true,
            offset: None,
            descriptor: false,
            local: Local::default(),
            descriptor_values: None,
            descriptor_signature: true,
            trailing: Vec::new(),
            extra: Vec::new(),
        }
    }

    pub fn deflated(name: &str, data: &[u8]) -> Entry {
        let packed = deflate(data);
        Entry { method: DEFLATED, compressed: packed.len() as u64, data: packed, ..Entry::stored(name, data) }
    }

    pub fn dir(name: &str) -> Entry {
        Entry::stored(name, b"").mode(0o040755)
    }

    pub fn symlink(name: &str, target: &str) -> Entry {
        Entry::stored(name, target.as_bytes()).mode(0o120777)
    }

    pub fn raw_name(mut self, name: &[u8]) -> Entry {
        self.name = name.to_vec();
        self
    }

    /// Full Unix mode including the file type bits.
    pub fn mode(mut self, mode: u32) -> Entry {
        self.external_attr = mode << 16;
        self
    }

    fn sizes_extra(&self, uncompressed: u64, compressed: u64) -> Vec<u8> {
        if !self.zip64 {
            return Vec::new();
        }
        let mut x = Vec::new();
        x.extend_from_slice(&1u16.to_le_bytes());
        x.extend_from_slice(&16u16.to_le_bytes());
        x.extend_from_slice(&uncompressed.to_le_bytes());
        x.extend_from_slice(&compressed.to_le_bytes());
        x
    }

    fn size32(&self, v: u64) -> u32 {
        if self.zip64 { u32::MAX } else { v as u32 }
    }

    fn version_needed(&self) -> u16 {
        if self.zip64 { 45 } else { 20 }
    }

    /// Local header, data, (if asked) the data descriptor, and the trailing bytes. A ZIP64
    /// entry's descriptor carries 8-byte sizes, as the local ZIP64 extra field announces.
    pub fn local_record(&self) -> Vec<u8> {
        let l = &self.local;
        let (crc, c, u) = if self.descriptor { (0, 0, 0) } else { (self.crc, self.compressed, self.uncompressed) };
        let (crc, c, u) = (l.crc.unwrap_or(crc), l.compressed.unwrap_or(c), l.uncompressed.unwrap_or(u));
        let name = l.name.as_deref().unwrap_or(&self.name);
        let extra = [self.sizes_extra(u, c), l.extra.clone().unwrap_or_else(|| self.extra.clone())].concat();
        let flags = self.flags | if self.descriptor { FLAG_DESCRIPTOR } else { 0 };
        let mut b = Vec::new();
        put32(&mut b, LOCAL_SIG);
        put16(&mut b, self.version_needed());
        put16(&mut b, l.flags.unwrap_or(flags));
        put16(&mut b, l.method.unwrap_or(self.method));
        put16(&mut b, self.time);
        put16(&mut b, self.date);
        put32(&mut b, crc);
        put32(&mut b, self.size32(c));
        put32(&mut b, self.size32(u));
        put16(&mut b, name.len() as u16);
        put16(&mut b, extra.len() as u16);
        b.extend_from_slice(name);
        b.extend_from_slice(&extra);
        b.extend_from_slice(&self.data);
        if self.descriptor {
            let (crc, c, u) = self.descriptor_values.unwrap_or((self.crc, self.compressed, self.uncompressed));
            if self.descriptor_signature {
                put32(&mut b, DESCRIPTOR_SIG);
            }
            put32(&mut b, crc);
            if self.zip64 {
                b.extend_from_slice(&c.to_le_bytes());
                b.extend_from_slice(&u.to_le_bytes());
            } else {
                put32(&mut b, c as u32);
                put32(&mut b, u as u32);
            }
        }
        b.extend_from_slice(&self.trailing);
        b
    }

    fn central_record(&self, offset: u64) -> Vec<u8> {
        let extra = [self.sizes_extra(self.uncompressed, self.compressed), self.extra.clone()].concat();
        let mut b = Vec::new();
        put32(&mut b, CENTRAL_SIG);
        put16(&mut b, self.made_by);
        put16(&mut b, self.version_needed());
        put16(&mut b, self.flags | if self.descriptor { FLAG_DESCRIPTOR } else { 0 });
        put16(&mut b, self.method);
        put16(&mut b, self.time);
        put16(&mut b, self.date);
        put32(&mut b, self.crc);
        put32(&mut b, self.size32(self.compressed));
        put32(&mut b, self.size32(self.uncompressed));
        put16(&mut b, self.name.len() as u16);
        put16(&mut b, extra.len() as u16);
        put16(&mut b, 0); // comment length
        put16(&mut b, 0); // disk number start
        put16(&mut b, 0); // internal attributes
        put32(&mut b, self.external_attr);
        put32(&mut b, offset as u32);
        b.extend_from_slice(&self.name);
        b.extend_from_slice(&extra);
        b
    }
}

/// Knobs of the end of the archive.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Bytes before the first local header (a self-extractor stub, a `#!` line).
    pub prefix: Vec<u8>,
    pub disk: u16,
    pub cd_disk: u16,
    /// Entry count the end record claims (default: the real one, or 0xFFFF with ZIP64).
    pub count: Option<u16>,
    /// Added to the real central-directory offset in the end record.
    pub cd_offset_delta: i64,
    /// Added to the real central-directory size in the end record.
    pub cd_size_delta: i64,
    pub comment: Vec<u8>,
    /// Writes a ZIP64 end record and locator before the end record, declaring this many
    /// entries; the classic record then says 0xFFFF for the count.
    pub zip64_count: Option<u64>,
    /// With ZIP64: the classic record says 0xFFFFFFFF for the directory's size and offset too
    /// (otherwise it repeats the real values, as writers do when they fit).
    pub zip64_sentinels: bool,
    /// With ZIP64: added to the directory offset the ZIP64 record declares.
    pub zip64_cd_offset_delta: i64,
    /// With ZIP64: added to the ZIP64 record's offset in the locator.
    pub zip64_locator_delta: i64,
}

pub fn zip(entries: &[Entry]) -> Vec<u8> {
    zip_with(entries, &Options::default())
}

pub fn zip_with(entries: &[Entry], o: &Options) -> Vec<u8> {
    let mut out = o.prefix.clone();
    let base = o.prefix.len();
    let mut offsets = Vec::new();
    for e in entries {
        offsets.push((out.len() - base) as u64);
        if e.write_local {
            out.extend_from_slice(&e.local_record());
        }
    }
    let cd_start = out.len() - base;
    out.extend_from_slice(&central_directory(entries, &offsets));
    let cd_size = out.len() - base - cd_start;
    let cd_offset = (cd_start as i64 + o.cd_offset_delta) as u64;
    let declared_size = (cd_size as i64 + o.cd_size_delta) as u64;
    let mut count = o.count.unwrap_or(entries.len() as u16);
    let (mut size32, mut offset32) = (declared_size as u32, cd_offset as u32);
    if let Some(total) = o.zip64_count {
        let eocd64_at = (out.len() - base) as u64;
        put32(&mut out, EOCD64_SIG);
        out.extend_from_slice(&44u64.to_le_bytes()); // size of the rest of the record
        put16(&mut out, 45);
        put16(&mut out, 45);
        put32(&mut out, o.disk as u32);
        put32(&mut out, o.cd_disk as u32);
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(&declared_size.to_le_bytes());
        out.extend_from_slice(&((cd_offset as i64 + o.zip64_cd_offset_delta) as u64).to_le_bytes());
        put32(&mut out, LOCATOR_SIG);
        put32(&mut out, 0);
        out.extend_from_slice(&((eocd64_at as i64 + o.zip64_locator_delta) as u64).to_le_bytes());
        put32(&mut out, 1);
        count = o.count.unwrap_or(0xFFFF);
        if o.zip64_sentinels {
            (size32, offset32) = (u32::MAX, u32::MAX);
        }
    }
    put32(&mut out, EOCD_SIG);
    put16(&mut out, o.disk);
    put16(&mut out, o.cd_disk);
    put16(&mut out, count);
    put16(&mut out, count);
    put32(&mut out, size32);
    put32(&mut out, offset32);
    put16(&mut out, o.comment.len() as u16);
    out.extend_from_slice(&o.comment);
    out
}

/// The central records of `entries`, whose local records are at `offsets` (an entry's own
/// [`Entry::offset`] wins).
pub fn central_directory(entries: &[Entry], offsets: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    for (e, off) in entries.iter().zip(offsets) {
        out.extend_from_slice(&e.central_record(e.offset.unwrap_or(*off)));
    }
    out
}

/// A classic end record with no comment of its own, e.g. to hide inside another record's
/// comment.
pub fn end_record(count: u16, cd_size: u32, cd_offset: u32) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, EOCD_SIG);
    put16(&mut b, 0);
    put16(&mut b, 0);
    put16(&mut b, count);
    put16(&mut b, count);
    put32(&mut b, cd_size);
    put32(&mut b, cd_offset);
    put16(&mut b, 0);
    b
}

/// The attack of two readings: `visible` entries with their central directory and end
/// record, and `hidden` entries whose local records follow the visible ones and whose own
/// central directory sits just before the visible one, found only through a second end
/// record that fills the visible record's comment (so it ends the file exactly).
pub fn zip_with_hidden_directory(visible: &[Entry], hidden: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut visible_offsets = Vec::new();
    for e in visible {
        visible_offsets.push(out.len() as u64);
        out.extend_from_slice(&e.local_record());
    }
    let mut hidden_offsets = Vec::new();
    for e in hidden {
        hidden_offsets.push(out.len() as u64);
        out.extend_from_slice(&e.local_record());
    }
    let hidden_cd_start = out.len();
    out.extend_from_slice(&central_directory(hidden, &hidden_offsets));
    let hidden_cd_size = out.len() - hidden_cd_start;
    let cd_start = out.len();
    out.extend_from_slice(&central_directory(visible, &visible_offsets));
    let cd_size = out.len() - cd_start;
    let inner = end_record(hidden.len() as u16, hidden_cd_size as u32, hidden_cd_start as u32);
    let mut outer = end_record(visible.len() as u16, cd_size as u32, cd_start as u32);
    let comment_len = outer.len() - 2;
    outer[comment_len..].copy_from_slice(&(inner.len() as u16).to_le_bytes());
    out.extend_from_slice(&outer);
    out.extend_from_slice(&inner);
    out
}

fn put16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn honest_archives_read_back_with_the_zip_crate() {
        let mut d = Entry::stored("d.txt", b"descriptor");
        d.descriptor = true;
        let mut z64 = Entry::deflated("big/z64.txt", &b"zip64 ".repeat(100));
        z64.zip64 = true;
        let bytes = zip_with(
            &[Entry::deflated("a.py", b"print(1)\n"), Entry::dir("big/"), z64, d],
            &Options { prefix: b"#!/bin/sh\n".to_vec(), ..Options::default() },
        );
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(z.len(), 4);
        let mut s = String::new();
        z.by_name("big/z64.txt").unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "zip64 ".repeat(100));
        s.clear();
        z.by_name("d.txt").unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "descriptor");
    }
}
