//! What a Linux executable needs from the system it runs on, read from its ELF file the way
//! auditwheel reads it: the CPU (`e_machine`), the shared libraries (`DT_NEEDED`) and the
//! symbol versions it binds to (`.gnu.version_r`, e.g. `GLIBC_2.17` from `libc.so.6`).
//!
//! The dynamic loader refuses to start a binary that names a symbol version its glibc lacks,
//! so the highest `GLIBC_x.y` here is the oldest glibc the binary runs on: the floor a
//! manylinux tag may claim. Only 64-bit little-endian ELF is read (x86_64 and aarch64, the
//! platforms we build wheels for); every read is bounds-checked, so a truncated or foreign
//! file is an error, never a panic.

use std::fmt;

pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;

const SHT_DYNAMIC: u32 = 6;
const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfNeeds {
    pub machine: u16,
    /// `DT_NEEDED`, in file order. Empty for a static binary.
    pub libraries: Vec<String>,
    /// (library, version name) for every version the binary binds to, in file order.
    pub versions: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElfError {
    NotElf,
    Unsupported(&'static str),
    Truncated(&'static str),
    BadString(&'static str),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::NotElf => write!(f, "not an ELF file"),
            ElfError::Unsupported(what) => write!(f, "unsupported ELF: {what}"),
            ElfError::Truncated(what) => write!(f, "ELF file truncated or corrupt: {what} lies outside the file"),
            ElfError::BadString(what) => write!(f, "ELF string table: {what} is not a NUL-terminated UTF-8 string inside its table"),
        }
    }
}

impl std::error::Error for ElfError {}

impl ElfNeeds {
    /// The highest `GLIBC_` version bound to, as (major, minor): `GLIBC_2.2.5` is (2, 2).
    /// None for a binary that binds to no glibc version (static, or no libc at all).
    pub fn glibc_floor(&self) -> Option<(u32, u32)> {
        self.versions.iter().filter_map(|(_, v)| glibc_version(v)).max()
    }

    pub fn arch(&self) -> Option<&'static str> {
        match self.machine {
            EM_X86_64 => Some("x86_64"),
            EM_AARCH64 => Some("aarch64"),
            _ => None,
        }
    }
}

/// `GLIBC_2.17` -> (2, 17); `GLIBC_2.2.5` -> (2, 2); anything else (GCC_4.2.0,
/// GLIBC_PRIVATE) -> None. Numeric, so 2.9 < 2.17.
pub fn glibc_version(name: &str) -> Option<(u32, u32)> {
    let mut parts = name.strip_prefix("GLIBC_")?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

pub fn parse(data: &[u8]) -> Result<ElfNeeds, ElfError> {
    if data.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err(ElfError::NotElf);
    }
    if data.get(4) != Some(&2) {
        return Err(ElfError::Unsupported("not 64-bit (ELFCLASS64)"));
    }
    if data.get(5) != Some(&1) {
        return Err(ElfError::Unsupported("not little-endian"));
    }
    let machine = u16_at(data, 18, "ELF header")?;
    let shoff = u64_at(data, 0x28, "ELF header")?;
    let shentsize = u16_at(data, 0x3a, "ELF header")? as u64;
    let shnum = u16_at(data, 0x3c, "ELF header")? as u64;
    if shnum == 0 {
        return Err(ElfError::Unsupported("no section headers"));
    }
    if shentsize < 64 {
        return Err(ElfError::Unsupported("section header entries smaller than 64 bytes"));
    }
    let table = slice(data, shoff, shnum * shentsize, "the section header table")?;
    let sections: Vec<Section> = table.chunks_exact(shentsize as usize).map(Section::read).collect::<Result<_, _>>()?;
    let strtab = |link: u32, what: &'static str| -> Result<&[u8], ElfError> {
        let s = sections.get(link as usize).ok_or(ElfError::Truncated(what))?;
        slice(data, s.offset, s.size, what)
    };

    let mut libraries = Vec::new();
    for dynamic in sections.iter().filter(|s| s.kind == SHT_DYNAMIC) {
        let table = slice(data, dynamic.offset, dynamic.size, ".dynamic")?;
        let names = strtab(dynamic.link, ".dynamic's string table")?;
        for entry in table.chunks_exact(16) {
            let tag = u64_at(entry, 0, ".dynamic entry")?;
            if tag == DT_NULL {
                break;
            }
            if tag == DT_NEEDED {
                libraries.push(string_at(names, u64_at(entry, 8, ".dynamic entry")?, "a DT_NEEDED name")?);
            }
        }
    }

    let mut versions = Vec::new();
    for verneed in sections.iter().filter(|s| s.kind == SHT_GNU_VERNEED) {
        let table = slice(data, verneed.offset, verneed.size, ".gnu.version_r")?;
        let names = strtab(verneed.link, ".gnu.version_r's string table")?;
        // sh_info is the entry count; vn_next chains them, 0 ends the chain.
        let mut at = 0u64;
        for _ in 0..verneed.info {
            let count = u16_at(table, at + 2, "a Verneed entry")?;
            let file = string_at(names, u32_at(table, at + 4, "a Verneed entry")? as u64, "a Verneed file name")?;
            let mut aux = at.checked_add(u32_at(table, at + 8, "a Verneed entry")? as u64).ok_or(ElfError::Truncated("a Vernaux entry"))?;
            for _ in 0..count {
                let name = string_at(names, u32_at(table, aux + 8, "a Vernaux entry")? as u64, "a version name")?;
                versions.push((file.clone(), name));
                aux = aux.checked_add(u32_at(table, aux + 12, "a Vernaux entry")? as u64).ok_or(ElfError::Truncated("a Vernaux entry"))?;
            }
            let next = u32_at(table, at + 12, "a Verneed entry")? as u64;
            if next == 0 {
                break;
            }
            at = at.checked_add(next).ok_or(ElfError::Truncated("a Verneed entry"))?;
        }
    }
    Ok(ElfNeeds { machine, libraries, versions })
}

struct Section {
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
}

impl Section {
    fn read(header: &[u8]) -> Result<Section, ElfError> {
        const WHAT: &str = "a section header";
        Ok(Section {
            kind: u32_at(header, 4, WHAT)?,
            offset: u64_at(header, 24, WHAT)?,
            size: u64_at(header, 32, WHAT)?,
            link: u32_at(header, 40, WHAT)?,
            info: u32_at(header, 44, WHAT)?,
        })
    }
}

fn slice<'a>(data: &'a [u8], offset: u64, size: u64, what: &'static str) -> Result<&'a [u8], ElfError> {
    let start = usize::try_from(offset).map_err(|_| ElfError::Truncated(what))?;
    let end = start.checked_add(usize::try_from(size).map_err(|_| ElfError::Truncated(what))?).ok_or(ElfError::Truncated(what))?;
    data.get(start..end).ok_or(ElfError::Truncated(what))
}

fn bytes<const N: usize>(data: &[u8], at: u64, what: &'static str) -> Result<[u8; N], ElfError> {
    Ok(slice(data, at, N as u64, what)?.try_into().expect("slice has length N"))
}

fn u16_at(data: &[u8], at: u64, what: &'static str) -> Result<u16, ElfError> {
    bytes(data, at, what).map(u16::from_le_bytes)
}

fn u32_at(data: &[u8], at: u64, what: &'static str) -> Result<u32, ElfError> {
    bytes(data, at, what).map(u32::from_le_bytes)
}

fn u64_at(data: &[u8], at: u64, what: &'static str) -> Result<u64, ElfError> {
    bytes(data, at, what).map(u64::from_le_bytes)
}

fn string_at(table: &[u8], at: u64, what: &'static str) -> Result<String, ElfError> {
    let rest = usize::try_from(at).ok().and_then(|at| table.get(at..)).ok_or(ElfError::BadString(what))?;
    let end = rest.iter().position(|&b| b == 0).ok_or(ElfError::BadString(what))?;
    String::from_utf8(rest[..end].to_vec()).map_err(|_| ElfError::BadString(what))
}

#[cfg(test)]
pub mod testing {
    //! A minimal ELF64 writer: just the header, a string table, `.dynamic` and
    //! `.gnu.version_r`, which is all `parse` reads.

    use super::*;

    pub fn elf(machine: u16, needs: &[(&str, &[&str])]) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut name = |s: &str| {
            let at = strtab.len() as u32;
            strtab.extend_from_slice(s.as_bytes());
            strtab.push(0);
            at
        };
        let mut dynamic = Vec::new();
        let mut verneed = Vec::new();
        for (i, (lib, versions)) in needs.iter().enumerate() {
            let file = name(lib);
            dynamic.extend_from_slice(&DT_NEEDED.to_le_bytes());
            dynamic.extend_from_slice(&(file as u64).to_le_bytes());
            let last = i + 1 == needs.len();
            verneed.extend_from_slice(&1u16.to_le_bytes());
            verneed.extend_from_slice(&(versions.len() as u16).to_le_bytes());
            verneed.extend_from_slice(&file.to_le_bytes());
            verneed.extend_from_slice(&16u32.to_le_bytes());
            let next = if last { 0 } else { 16 + 16 * versions.len() as u32 };
            verneed.extend_from_slice(&next.to_le_bytes());
            for (j, v) in versions.iter().enumerate() {
                let n = name(v);
                verneed.extend_from_slice(&0u32.to_le_bytes());
                verneed.extend_from_slice(&0u16.to_le_bytes());
                verneed.extend_from_slice(&0u16.to_le_bytes());
                verneed.extend_from_slice(&n.to_le_bytes());
                let next: u32 = if j + 1 == versions.len() { 0 } else { 16 };
                verneed.extend_from_slice(&next.to_le_bytes());
            }
        }
        dynamic.extend_from_slice(&[0u8; 16]);

        let mut out = vec![0u8; 64];
        out[..6].copy_from_slice(b"\x7fELF\x02\x01");
        out[18..20].copy_from_slice(&machine.to_le_bytes());
        let place = |out: &mut Vec<u8>, body: &[u8]| {
            let at = out.len() as u64;
            out.extend_from_slice(body);
            (at, body.len() as u64)
        };
        let str_at = place(&mut out, &strtab);
        let dyn_at = place(&mut out, &dynamic);
        let ver_at = place(&mut out, &verneed);
        let shoff = out.len() as u64;
        // (type, (offset, size), link, info): 0 null, 1 .dynstr, 2 .dynamic, 3 .gnu.version_r
        let headers = [(0u32, (0, 0), 0u32, 0u32), (3, str_at, 0, 0), (SHT_DYNAMIC, dyn_at, 1, 0), (SHT_GNU_VERNEED, ver_at, 1, needs.len() as u32)];
        for (kind, (offset, size), link, info) in headers {
            let mut h = [0u8; 64];
            h[4..8].copy_from_slice(&kind.to_le_bytes());
            h[24..32].copy_from_slice(&offset.to_le_bytes());
            h[32..40].copy_from_slice(&size.to_le_bytes());
            h[40..44].copy_from_slice(&link.to_le_bytes());
            h[44..48].copy_from_slice(&info.to_le_bytes());
            out.extend_from_slice(&h);
        }
        out[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        out[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        out[0x3c..0x3e].copy_from_slice(&(headers.len() as u16).to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testing::elf;
    use super::*;

    #[test]
    fn reads_machine_libraries_and_every_version() {
        let data = elf(EM_AARCH64, &[("libgcc_s.so.1", &["GCC_3.0", "GCC_4.2.0"]), ("libc.so.6", &["GLIBC_2.17", "GLIBC_2.9"])]);
        let needs = parse(&data).unwrap();
        assert_eq!(needs.machine, EM_AARCH64);
        assert_eq!(needs.arch(), Some("aarch64"));
        assert_eq!(needs.libraries, ["libgcc_s.so.1", "libc.so.6"]);
        assert_eq!(
            needs.versions,
            [("libgcc_s.so.1", "GCC_3.0"), ("libgcc_s.so.1", "GCC_4.2.0"), ("libc.so.6", "GLIBC_2.17"), ("libc.so.6", "GLIBC_2.9")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn floor_is_the_numerically_highest_glibc_version() {
        let data = elf(EM_X86_64, &[("libc.so.6", &["GLIBC_2.9", "GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_PRIVATE"]), ("libm.so.6", &["GLIBC_2.29"])]);
        assert_eq!(parse(&data).unwrap().glibc_floor(), Some((2, 34)));
        let data = elf(EM_X86_64, &[("libc.so.6", &["GLIBC_2.9", "GLIBC_2.17"])]);
        assert_eq!(parse(&data).unwrap().glibc_floor(), Some((2, 17)));
    }

    #[test]
    fn no_glibc_version_means_no_floor() {
        let needs = parse(&elf(EM_X86_64, &[])).unwrap();
        assert!(needs.libraries.is_empty());
        assert_eq!(needs.glibc_floor(), None);
        let needs = parse(&elf(EM_X86_64, &[("libgcc_s.so.1", &["GCC_3.0"])])).unwrap();
        assert_eq!(needs.glibc_floor(), None);
    }

    #[test]
    fn glibc_version_names() {
        assert_eq!(glibc_version("GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(glibc_version("GLIBC_2.17"), Some((2, 17)));
        assert_eq!(glibc_version("GLIBC_PRIVATE"), None);
        assert_eq!(glibc_version("GCC_4.2.0"), None);
        assert_eq!(glibc_version("GLIBC_2"), None);
    }

    #[test]
    fn foreign_and_truncated_files_are_errors() {
        assert_eq!(parse(b"#!/bin/sh\n"), Err(ElfError::NotElf));
        assert_eq!(parse(b""), Err(ElfError::NotElf));
        let mut data = elf(EM_AARCH64, &[("libc.so.6", &["GLIBC_2.17"])]);
        let mut class32 = data.clone();
        class32[4] = 1;
        assert!(matches!(parse(&class32), Err(ElfError::Unsupported(_))));
        let mut big_endian = data.clone();
        big_endian[5] = 2;
        assert!(matches!(parse(&big_endian), Err(ElfError::Unsupported(_))));
        // Every prefix of a valid file fails cleanly (the section headers are at the end).
        for len in 0..data.len() {
            assert!(parse(&data[..len]).is_err(), "prefix of {len} bytes");
        }
        // A string offset past its table.
        let shoff = u64::from_le_bytes(data[0x28..0x30].try_into().unwrap()) as usize;
        let dynstr_size = shoff + 64 + 32;
        data[dynstr_size..dynstr_size + 8].copy_from_slice(&3u64.to_le_bytes());
        assert!(matches!(parse(&data), Err(ElfError::BadString(_))));
    }
}
