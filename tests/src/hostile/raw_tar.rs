//! A tar writer that puts names, link targets, types and sizes on the wire byte for byte
//! (GNU format), plus the gzip and xz wrappers.

use std::io::Write;

pub const REGULAR: u8 = b'0';
pub const HARD_LINK: u8 = b'1';
pub const SYMLINK: u8 = b'2';
pub const CHAR_DEVICE: u8 = b'3';
pub const FIFO: u8 = b'6';
pub const DIRECTORY: u8 = b'5';
pub const PAX: u8 = b'x';
pub const GNU_LONG_NAME: u8 = b'L';
pub const GNU_SPARSE: u8 = b'S';

#[derive(Default)]
pub struct Tar {
    out: Vec<u8>,
}

impl Tar {
    pub fn new() -> Tar {
        Tar::default()
    }

    /// One header plus its data padded to 512 bytes. `size` is what the header claims.
    pub fn raw(mut self, name: &[u8], kind: u8, link: &[u8], mode: u32, size: u64, data: &[u8]) -> Tar {
        let mut h = [0u8; 512];
        h[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
        octal(&mut h[100..108], u64::from(mode));
        octal(&mut h[108..116], 0);
        octal(&mut h[116..124], 0);
        octal(&mut h[124..136], size);
        octal(&mut h[136..148], 1_700_000_000);
        h[156] = kind;
        h[157..157 + link.len().min(100)].copy_from_slice(&link[..link.len().min(100)]);
        h[257..265].copy_from_slice(b"ustar  \0");
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        let text = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(text.as_bytes());
        self.out.extend_from_slice(&h);
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    pub fn file(self, name: &str, data: &[u8]) -> Tar {
        self.raw(name.as_bytes(), REGULAR, b"", 0o644, data.len() as u64, data)
    }

    pub fn file_mode(self, name: &str, mode: u32, data: &[u8]) -> Tar {
        self.raw(name.as_bytes(), REGULAR, b"", mode, data.len() as u64, data)
    }

    pub fn dir(self, name: &str) -> Tar {
        self.raw(name.as_bytes(), DIRECTORY, b"", 0o755, 0, b"")
    }

    pub fn symlink(self, name: &str, target: &str) -> Tar {
        self.raw(name.as_bytes(), SYMLINK, target.as_bytes(), 0o777, 0, b"")
    }

    /// A pax extended header (`x`) with `key=value` records for the next entry.
    pub fn pax(self, records: &[(&str, &str)]) -> Tar {
        let mut body = Vec::new();
        for (k, v) in records {
            let rest = format!(" {k}={v}\n");
            // The length field counts itself.
            let mut len = rest.len() + 1;
            while format!("{len}{rest}").len() != len {
                len += 1;
            }
            body.extend_from_slice(format!("{len}{rest}").as_bytes());
        }
        self.raw(b"././@PaxHeader", PAX, b"", 0o644, body.len() as u64, &body)
    }

    /// A GNU long-name record (`L`) for the next entry.
    pub fn gnu_long_name(self, name: &str) -> Tar {
        let mut body = name.as_bytes().to_vec();
        body.push(0);
        self.raw(b"././@LongLink", GNU_LONG_NAME, b"", 0o644, body.len() as u64, &body)
    }

    /// The end-of-archive marker (two zero blocks).
    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(&[0u8; 1024]);
        self.out
    }

    /// The records written so far, without an end marker (a truncated archive).
    pub fn unfinished(self) -> Vec<u8> {
        self.out
    }
}

fn octal(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    field[..digits].copy_from_slice(&s.as_bytes()[s.len() - digits..]);
    field[digits] = 0;
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut w = lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tar_crate_reads_what_we_write() {
        let t = Tar::new().dir("pkg/").file("pkg/a.py", b"A = 1\n").symlink("pkg/l", "a.py").pax(&[("path", "pkg/long.py")]).file("x", b"pax").finish();
        let mut a = tar::Archive::new(std::io::Cursor::new(t));
        let names: Vec<String> = a.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, ["pkg/", "pkg/a.py", "pkg/l", "pkg/long.py"]);
    }
}
