//! A small zip writer for entries whose data is already compressed, writing to any
//! `Write` without seeking.
//!
//! Every entry has the same fixed fields, so the bytes depend only on names, modes and data:
//! DOS time 1980-01-01 00:00:00, "made by" Unix with the mode in the external attributes,
//! the UTF-8 flag, no comments. An entry whose compressed size is not known when its data
//! starts (a file of several chunks) sets flag bit 3 and is followed by a data descriptor
//! with its signature; when it could reach 4 GiB its local header carries a ZIP64 extra
//! field, which announces 8-byte sizes in the descriptor. ZIP64 fields appear exactly where
//! a value does not fit, as CPython's `zipfile` writes them, and the classic end record
//! holds every value that fits.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
const END_SIG: u32 = 0x0605_4b50;
const END64_SIG: u32 = 0x0606_4b50;
const LOCATOR64_SIG: u32 = 0x0706_4b50;
/// Version 4.5 (ZIP64) made by Unix (3), so readers take the mode from the attributes.
const MADE_BY: u16 = (3 << 8) | 45;
const NEEDS_DEFAULT: u16 = 20;
const NEEDS_ZIP64: u16 = 45;
const FLAG_DESCRIPTOR: u16 = 1 << 3;
const FLAG_UTF8: u16 = 1 << 11;
/// 1980-01-01: day 1, month 1, year 0 of the DOS epoch; time 00:00:00.
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;
const MAX32: u64 = 0xFFFF_FFFF;
const MAX16: u64 = 0xFFFF;
/// MS-DOS directory attribute, set beside the Unix mode for directories as Info-ZIP does.
const DOS_DIRECTORY: u32 = 0x10;

pub(crate) const METHOD_STORED: u16 = 0;
pub(crate) const METHOD_DEFLATED: u16 = 8;

/// What the central directory needs about an entry.
struct Central {
    name: Vec<u8>,
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u64,
    size: u64,
    offset: u64,
    mode: u32,
}

/// An entry whose data is being written; see [`ZipWriter::begin_streamed`].
pub(crate) struct Streamed {
    central: Central,
    /// Whether the local header announced 8-byte descriptor sizes.
    wide: bool,
}

pub(crate) struct ZipWriter<W: Write> {
    out: W,
    offset: u64,
    sha: Sha256,
    central: Vec<Central>,
}

impl<W: Write> ZipWriter<W> {
    pub fn new(out: W) -> Self {
        ZipWriter {
            out,
            offset: 0,
            sha: Sha256::new(),
            central: Vec::new(),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.sha.update(bytes);
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// An entry whose data, CRC and sizes are all known. `mode` is the full Unix mode
    /// (file type bits included).
    pub fn whole(
        &mut self,
        name: &str,
        mode: u32,
        method: u16,
        crc: u32,
        size: u64,
        data: &[u8],
    ) -> io::Result<()> {
        check_name(name)?;
        let c = Central {
            name: name.as_bytes().to_vec(),
            flags: FLAG_UTF8,
            method,
            crc,
            compressed: data.len() as u64,
            size,
            offset: self.offset,
            mode,
        };
        let zip64 = c.size >= MAX32 || c.compressed >= MAX32;
        let extra = if zip64 {
            zip64_extra(&[c.size, c.compressed])
        } else {
            Vec::new()
        };
        let (csize32, size32) = if zip64 {
            (MAX32 as u32, MAX32 as u32)
        } else {
            (c.compressed as u32, c.size as u32)
        };
        let header = local_header(&c, zip64, c.crc, csize32, size32, &extra);
        self.put(&header)?;
        self.put(data)?;
        self.central.push(c);
        Ok(())
    }

    /// Starts a deflated entry whose sizes follow its data. `size_hint` is the expected
    /// uncompressed size; from 4 GiB minus a margin for deflate's overhead, the entry is
    /// written as ZIP64.
    pub fn begin_streamed(
        &mut self,
        name: &str,
        mode: u32,
        size_hint: u64,
    ) -> io::Result<Streamed> {
        check_name(name)?;
        let c = Central {
            name: name.as_bytes().to_vec(),
            flags: FLAG_UTF8 | FLAG_DESCRIPTOR,
            method: METHOD_DEFLATED,
            crc: 0,
            compressed: 0,
            size: 0,
            offset: self.offset,
            mode,
        };
        // Stored blocks add 5 bytes per 64 KiB and a sync flush 5 per chunk: far under 1/64.
        let wide = size_hint >= MAX32 - MAX32 / 64;
        let (extra, sizes32) = if wide {
            (zip64_extra(&[0, 0]), MAX32 as u32)
        } else {
            (Vec::new(), 0)
        };
        let header = local_header(&c, wide, 0, sizes32, sizes32, &extra);
        self.put(&header)?;
        Ok(Streamed { central: c, wide })
    }

    pub fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.put(bytes)
    }

    /// Ends a streamed entry with its data descriptor. Fails if the entry outgrew the 4 GiB
    /// its header allowed, which the size hint rules out unless the file changed.
    pub fn end_streamed(
        &mut self,
        s: Streamed,
        crc: u32,
        compressed: u64,
        size: u64,
    ) -> io::Result<()> {
        let mut c = s.central;
        if !s.wide && (compressed >= MAX32 || size >= MAX32) {
            return Err(io::Error::other(
                "an entry grew past 4 GiB after its header was written",
            ));
        }
        c.crc = crc;
        c.compressed = compressed;
        c.size = size;
        let mut d = Vec::with_capacity(24);
        d.extend(DESCRIPTOR_SIG.to_le_bytes());
        d.extend(crc.to_le_bytes());
        if s.wide {
            d.extend(compressed.to_le_bytes());
            d.extend(size.to_le_bytes());
        } else {
            d.extend((compressed as u32).to_le_bytes());
            d.extend((size as u32).to_le_bytes());
        }
        self.put(&d)?;
        self.central.push(c);
        Ok(())
    }

    /// Writes the central directory and the end records; returns the total size, the
    /// SHA-256 of everything written, and the writer.
    pub fn finish(mut self) -> io::Result<(u64, [u8; 32], W)> {
        let start = self.offset;
        let entries = std::mem::take(&mut self.central);
        for c in &entries {
            let mut wide = Vec::new();
            let size32 = fits(c.size, MAX32, &mut wide);
            let csize32 = fits(c.compressed, MAX32, &mut wide);
            let offset32 = fits(c.offset, MAX32, &mut wide);
            let extra = if wide.is_empty() {
                Vec::new()
            } else {
                zip64_extra(&wide)
            };
            let mut h = Vec::with_capacity(46 + c.name.len() + extra.len());
            h.extend(CENTRAL_SIG.to_le_bytes());
            h.extend(MADE_BY.to_le_bytes());
            h.extend(needs(!extra.is_empty()).to_le_bytes());
            h.extend(c.flags.to_le_bytes());
            h.extend(c.method.to_le_bytes());
            h.extend(DOS_TIME.to_le_bytes());
            h.extend(DOS_DATE.to_le_bytes());
            h.extend(c.crc.to_le_bytes());
            h.extend((csize32 as u32).to_le_bytes());
            h.extend((size32 as u32).to_le_bytes());
            h.extend((c.name.len() as u16).to_le_bytes());
            h.extend((extra.len() as u16).to_le_bytes());
            h.extend(0u16.to_le_bytes()); // comment length
            h.extend(0u16.to_le_bytes()); // disk number
            h.extend(0u16.to_le_bytes()); // internal attributes
            h.extend(external_attributes(c.mode).to_le_bytes());
            h.extend((offset32 as u32).to_le_bytes());
            h.extend(&c.name);
            h.extend(extra);
            self.put(&h)?;
        }
        let cd_size = self.offset - start;
        let count = entries.len() as u64;
        if count >= MAX16 || cd_size >= MAX32 || start >= MAX32 {
            let end64 = self.offset;
            let mut r = Vec::with_capacity(56 + 20);
            r.extend(END64_SIG.to_le_bytes());
            r.extend(44u64.to_le_bytes()); // size of the rest of the record
            r.extend(MADE_BY.to_le_bytes());
            r.extend(NEEDS_ZIP64.to_le_bytes());
            r.extend(0u32.to_le_bytes()); // this disk
            r.extend(0u32.to_le_bytes()); // disk with the central directory
            r.extend(count.to_le_bytes());
            r.extend(count.to_le_bytes());
            r.extend(cd_size.to_le_bytes());
            r.extend(start.to_le_bytes());
            r.extend(LOCATOR64_SIG.to_le_bytes());
            r.extend(0u32.to_le_bytes());
            r.extend(end64.to_le_bytes());
            r.extend(1u32.to_le_bytes()); // total disks
            self.put(&r)?;
        }
        let mut e = Vec::with_capacity(22);
        e.extend(END_SIG.to_le_bytes());
        e.extend(0u16.to_le_bytes());
        e.extend(0u16.to_le_bytes());
        e.extend((count.min(MAX16) as u16).to_le_bytes());
        e.extend((count.min(MAX16) as u16).to_le_bytes());
        e.extend((cd_size.min(MAX32) as u32).to_le_bytes());
        e.extend((start.min(MAX32) as u32).to_le_bytes());
        e.extend(0u16.to_le_bytes()); // comment length
        self.put(&e)?;
        self.out.flush()?;
        Ok((self.offset, self.sha.finalize().into(), self.out))
    }
}

/// A name must fit the 16-bit length field (paths on Linux stop at 4 KiB anyway).
fn check_name(name: &str) -> io::Result<()> {
    if name.len() > MAX16 as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an entry name longer than 65535 bytes",
        ));
    }
    Ok(())
}

/// The 32-bit field for `value`: the value when it fits, else the sentinel, with the value
/// appended to the ZIP64 list.
fn fits(value: u64, max: u64, wide: &mut Vec<u64>) -> u64 {
    if value >= max {
        wide.push(value);
        max
    } else {
        value
    }
}

fn needs(zip64: bool) -> u16 {
    if zip64 { NEEDS_ZIP64 } else { NEEDS_DEFAULT }
}

fn external_attributes(mode: u32) -> u32 {
    let dos = if mode & 0o170000 == 0o040000 {
        DOS_DIRECTORY
    } else {
        0
    };
    (mode << 16) | dos
}

fn zip64_extra(values: &[u64]) -> Vec<u8> {
    let mut e = Vec::with_capacity(4 + 8 * values.len());
    e.extend(1u16.to_le_bytes());
    e.extend(((8 * values.len()) as u16).to_le_bytes());
    for v in values {
        e.extend(v.to_le_bytes());
    }
    e
}

fn local_header(
    c: &Central,
    zip64: bool,
    crc: u32,
    csize32: u32,
    size32: u32,
    extra: &[u8],
) -> Vec<u8> {
    let mut h = Vec::with_capacity(30 + c.name.len() + extra.len());
    h.extend(LOCAL_SIG.to_le_bytes());
    h.extend(needs(zip64).to_le_bytes());
    h.extend(c.flags.to_le_bytes());
    h.extend(c.method.to_le_bytes());
    h.extend(DOS_TIME.to_le_bytes());
    h.extend(DOS_DATE.to_le_bytes());
    h.extend(crc.to_le_bytes());
    h.extend(csize32.to_le_bytes());
    h.extend(size32.to_le_bytes());
    h.extend((c.name.len() as u16).to_le_bytes());
    h.extend((extra.len() as u16).to_le_bytes());
    h.extend(&c.name);
    h.extend(extra);
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Read};

    fn crc(data: &[u8]) -> u32 {
        crc32fast::hash(data)
    }

    #[test]
    fn the_zip_crate_reads_every_entry_form() {
        let mut w = ZipWriter::new(Vec::new());
        w.whole("top/", 0o040755, METHOD_STORED, 0, 0, b"").unwrap();
        w.whole(
            "top/a.sh",
            0o100755,
            METHOD_STORED,
            crc(b"#!/bin/sh\n"),
            10,
            b"#!/bin/sh\n",
        )
        .unwrap();
        let text = b"hello hello hello hello hello hello".repeat(100);
        let deflated = {
            let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(&text).unwrap();
            e.finish().unwrap()
        };
        w.whole(
            "top/t.txt",
            0o100644,
            METHOD_DEFLATED,
            crc(&text),
            text.len() as u64,
            &deflated,
        )
        .unwrap();
        let s = w
            .begin_streamed("top/big", 0o100644, text.len() as u64)
            .unwrap();
        w.data(&deflated[..10]).unwrap();
        w.data(&deflated[10..]).unwrap();
        w.end_streamed(s, crc(&text), deflated.len() as u64, text.len() as u64)
            .unwrap();
        let s = w.begin_streamed("top/wide", 0o100644, 5 << 30).unwrap();
        w.data(&deflated).unwrap();
        w.end_streamed(s, crc(&text), deflated.len() as u64, text.len() as u64)
            .unwrap();
        w.whole("top/l", 0o120777, METHOD_STORED, crc(b"a.sh"), 4, b"a.sh")
            .unwrap();
        let (len, sha, bytes) = w.finish().unwrap();
        assert_eq!(len, bytes.len() as u64);
        assert_eq!(sha, <[u8; 32]>::from(Sha256::digest(&bytes)));

        let mut z = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let names: Vec<String> = z.file_names().map(|n| n.unwrap().into_owned()).collect();
        assert_eq!(
            names,
            [
                "top/",
                "top/a.sh",
                "top/t.txt",
                "top/big",
                "top/wide",
                "top/l"
            ]
        );
        for (name, mode, content) in [
            ("top/a.sh", 0o100755, &b"#!/bin/sh\n"[..]),
            ("top/t.txt", 0o100644, &text[..]),
            ("top/big", 0o100644, &text[..]),
            ("top/wide", 0o100644, &text[..]),
            ("top/l", 0o120777, &b"a.sh"[..]),
        ] {
            let mut f = z.by_name(name).unwrap();
            assert_eq!(f.unix_mode(), Some(mode), "{name}");
            let mut got = Vec::new();
            f.read_to_end(&mut got).unwrap();
            assert_eq!(got, content, "{name}");
        }
        assert!(z.by_name("top/").unwrap().is_dir());
    }

    #[test]
    fn many_entries_get_zip64_end_records() {
        let mut w = ZipWriter::new(Vec::new());
        for i in 0..70_000u32 {
            w.whole(&format!("d/{i}"), 0o100644, METHOD_STORED, crc(b""), 0, b"")
                .unwrap();
        }
        let (_, _, bytes) = w.finish().unwrap();
        let z = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(z.len(), 70_000);
    }

    #[test]
    fn identical_input_gives_identical_bytes() {
        let build = || {
            let mut w = ZipWriter::new(Vec::new());
            w.whole("x/a", 0o100644, METHOD_STORED, crc(b"a"), 1, b"a")
                .unwrap();
            w.finish().unwrap().2
        };
        assert_eq!(build(), build());
    }
}
