//! Zip extraction: one `ZipArchive` parse is validated completely, then extracted.
//!
//! Order of work: find the one end record and read the central directory it locates
//! ([`super::eocd`], [`super::directory`]: an archive that admits two readings is refused),
//! check every local header, data descriptor and the bytes between entries against it
//! ([`super::layout`]: no overlaps, nothing unlisted), open it with the zip crate (whose
//! parse must be the same one), check every central-directory entry (names, types, methods,
//! declared sizes, the tree), read and check symlink targets and LZMA headers, and only then
//! write, in local-header order so the reads stay sequential.
//!
//! XZ-in-zip (method 95) is not enabled: the zip crate builds its xz decoder without a memory
//! limit, so one block header could demand a 1.5 GiB dictionary. LZMA (method 14) entries
//! are accepted after their dictionary size is checked here.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use super::directory::{self, CentralEntry};
use super::eocd::{self, EndRecord};
use super::output::{FileSpec, Output, RATIO_FLOOR};
use super::seekbuf::SeekBuf;
use super::tree::{Kind, Tree};
use super::unicode_path;
use super::{layout, links, names, ExtractStats};
use crate::text::{escape, escape_bytes};
use crate::{Error, Limits, Result};

/// Buffer between the archive file and the zip crate (whose own reads are 8 KiB).
const READ_BUFFER: usize = 256 * 1024;
/// General-purpose flag bit 11: the name is UTF-8.
const UTF8_FLAG: u16 = 1 << 11;
/// Largest LZMA dictionary (decoder memory) an entry may ask for.
const MAX_LZMA_DICT: u64 = 256 << 20;
/// How much of a non-zip object the error message shows.
const SNIFF_BYTES: usize = 60;

const S_IFMT: u32 = 0o170000;

#[derive(Debug)]
pub(crate) enum What {
    Dir,
    File { executable: bool },
    Symlink { target: String },
    /// A `__MACOSX/` entry: never written, but its bytes still count for the overlap check.
    Skip,
}

pub(crate) struct Planned {
    pub index: usize,
    pub path: String,
    pub what: What,
    pub method: CompressionMethod,
    /// The entry as its central header's bytes say (the zip crate's parse agrees).
    pub central: CentralEntry,
}

/// The central directory, checked entry by entry; `plan` is in central-directory order.
pub(crate) struct Central {
    pub plan: Vec<Planned>,
    pub tree: Tree,
    lzma: Vec<usize>,
}

pub(crate) fn extract<R: Read + Seek>(
    reader: R,
    target: &Path,
    limits: &Limits,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExtractStats> {
    let mut src =
        SeekBuf::new(reader, READ_BUFFER).map_err(|e| Error::io("reading the archive", e))?;
    let head = sniff(&mut src)?;
    let ends = eocd::read_ends(&mut src).map_err(|e| Error::io("reading the archive", e))?;
    if ends.max_declared > limits.max_entries {
        return Err(too_many_entries(ends.max_declared, limits));
    }
    let end = ends.primary()?.cloned();
    let central = match &end {
        Some(end) => {
            let central = directory::read(&mut src, end)?;
            ends.check_prepended(end, directory::archive_start(&central, end))?;
            layout::check_file(&mut src, &central, end.cd_start)?;
            central
        }
        None => Vec::new(),
    };
    let mut archive = ZipArchive::new(src).map_err(|e| open_error(e, &head))?;
    let plan = validate(&mut archive, central, end.as_ref(), limits)?;

    let mut out = Output::new(target, limits, progress)?;
    for p in plan {
        match p.what {
            What::Dir => out.dir(&p.path)?,
            What::Symlink { target } => out.symlink(p.path, target),
            What::Skip => {}
            What::File { executable } => {
                let mut file = archive
                    .by_index(p.index)
                    .map_err(|e| entry_error(e, &p.path))?;
                let spec = FileSpec {
                    path: &p.path,
                    declared: Some(p.central.size),
                    compressed: Some(p.central.compressed),
                    executable,
                };
                out.file(&spec, &mut file, &mut |e| read_error(e, &p.path))?;
            }
        }
    }
    out.finish()
}

/// Checks everything that can be checked before writing; returns what to write, in data
/// order. The layout (overlaps, local headers) was checked before the crate's parse.
fn validate<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    central: Vec<CentralEntry>,
    end: Option<&EndRecord>,
    limits: &Limits,
) -> Result<Vec<Planned>> {
    let Central { mut plan, tree, lzma } = check_central(archive, central, end, limits)?;
    for &i in &lzma {
        check_lzma_dictionary(archive, &plan[i])?;
    }
    for p in plan.iter_mut() {
        if let What::Symlink { target } = &mut p.what {
            *target = read_link_target(archive, p.index, &p.path, limits)?;
            links::check(&tree, &p.path, target, limits)?;
        }
    }
    plan.sort_by_key(|p| p.central.header_start);
    Ok(plan)
}

/// Every check that needs only the central directory: that the zip crate's parse is the
/// one `central` (read from `end`) describes, names, types, methods, declared sizes and
/// ratios, the tree. What needs the local headers or entry data (layout, LZMA dictionaries,
/// symlink targets) is the caller's.
pub(crate) fn check_central<R: Read + Seek>(
    archive: &ZipArchive<R>,
    central: Vec<CentralEntry>,
    end: Option<&EndRecord>,
    limits: &Limits,
) -> Result<Central> {
    let count = archive.len();
    if count as u64 > limits.max_entries {
        return Err(too_many_entries(count as u64, limits));
    }
    if archive.has_duplicate_names() {
        return Err(Error::unsafe_archive(
            "the archive's central directory lists the same name more than once",
        ));
    }
    same_reading(archive, &central, end)?;
    let mut tree = Tree::new();
    let mut plan = Vec::with_capacity(count);
    let mut declared_total: u64 = 0;
    let mut compressed_total: u64 = 0;
    let mut lzma = Vec::new();
    for (index, c) in central.into_iter().enumerate() {
        let entry = archive
            .by_index_data(index)
            .map_err(|e| entry_error(e, "?"))?;
        same_entry(&entry, &c)?;
        let raw = entry.name_raw();
        // The zip crate renames an entry after a Unicode Path field; the directory check
        // refused every such field that names another path, so the names agree.
        if raw != &*c.name_raw {
            return Err(unicode_path::two_names(&c.name_raw, "central header", raw));
        }
        if entry.flags().as_u16() & UTF8_FLAG != 0 && std::str::from_utf8(raw).is_err() {
            return Err(Error::unsafe_archive(format!(
                "entry name `{}` is marked UTF-8 but is not valid UTF-8",
                escape_bytes(raw)
            )));
        }
        let name = entry.name().map_err(|e| {
            Error::unsafe_archive(format!(
                "entry name `{}` cannot be decoded: {}",
                escape_bytes(raw),
                escape(&e.to_string())
            ))
        })?;
        if names::is_macos_metadata(&name) {
            plan.push(Planned {
                index,
                path: String::new(),
                what: What::Skip,
                method: entry.compression(),
                central: c,
            });
            continue;
        }
        if entry.encrypted() {
            return Err(Error::unsupported(format!(
                "entry `{}` is encrypted; encrypted archives are not supported",
                escape(&name)
            )));
        }
        let method = entry.compression();
        if !supported(method) {
            #[allow(deprecated)]
            let code = method.to_u16();
            return Err(Error::unsupported(format!(
                "entry `{}` uses compression method {code} ({method}), which is not supported \
                 (supported: stored, deflate, deflate64, bzip2, lzma)",
                escape(&name)
            )));
        }
        let what = classify(&name, entry.unix_mode())?;
        let parsed = names::parse(&name, limits)?;
        if parsed.is_root() {
            return Err(Error::unsafe_archive(format!(
                "entry `{}` names the target directory itself",
                escape(&name)
            )));
        }
        let kind = match what {
            What::Dir => Kind::Dir,
            What::File { .. } => Kind::File,
            What::Symlink { .. } => Kind::Symlink,
            What::Skip => unreachable!("classify() never yields Skip"),
        };
        tree.insert(&parsed.path, kind)?;
        let (size, compressed) = (entry.size(), entry.compressed_size());
        if kind != Kind::Dir {
            declared_total = declared_total.saturating_add(size);
            compressed_total = compressed_total.saturating_add(compressed);
            if declared_total > limits.max_unpacked_bytes {
                return Err(Error::limit(format!(
                    "the archive declares more than the limit of {} unpacked bytes",
                    limits.max_unpacked_bytes
                )));
            }
            let ratio = limits.max_compression_ratio;
            if size > RATIO_FLOOR && size > compressed.max(1).saturating_mul(ratio) {
                return Err(Error::limit(format!(
                    "entry `{}` declares {size} bytes from {compressed} compressed, a ratio \
                     above the limit of {ratio}",
                    escape(&name)
                )));
            }
            if method == CompressionMethod::LZMA {
                lzma.push(plan.len());
            }
        }
        plan.push(Planned {
            index,
            path: parsed.path,
            what,
            method,
            central: c,
        });
    }
    // The ratio limit per entry misses many small entries of zeros (each under the floor):
    // 1024 entries of 1 MiB make 1 GiB from 1 MB. The same limit applies to the totals.
    // Writing more than an entry declares is an integrity error, and with no overlap the
    // compressed sizes fit in the archive, so neither side of the ratio can be inflated.
    let ratio = limits.max_compression_ratio;
    if declared_total > RATIO_FLOOR && declared_total > compressed_total.max(1).saturating_mul(ratio) {
        return Err(Error::limit(format!(
            "the archive's entries declare {declared_total} bytes from {compressed_total} \
             compressed, a ratio above the limit of {ratio}"
        )));
    }
    Ok(Central { plan, tree, lzma })
}

/// The zip crate must read the directory the end record locates: where it starts, where the
/// archive starts and how many entries it holds.
fn same_reading<R: Read + Seek>(archive: &ZipArchive<R>, central: &[CentralEntry], end: Option<&EndRecord>) -> Result<()> {
    let Some(end) = end else {
        return Err(Error::unsafe_archive(format!(
            "the zip reader found a central directory at offset {} that no end record locates \
             the way other readers do",
            archive.central_directory_start()
        )));
    };
    let (start, offset, len) = (archive.central_directory_start(), archive.offset(), archive.len());
    if (start, offset, len) != (end.cd_start, end.prefix, central.len()) {
        return Err(Error::unsafe_archive(format!(
            "the zip reader reads {len} entries from offset {start} (archive start {offset}), \
             the end record locates {} entries at offset {} (archive start {})",
            central.len(),
            end.cd_start,
            end.prefix
        )));
    }
    Ok(())
}

/// An entry as the zip crate parsed it must be the header `c` describes.
fn same_entry(entry: &zip::read::ZipFileEntry<'_>, c: &CentralEntry) -> Result<()> {
    let crate_view = (entry.central_header_start(), entry.header_start(), entry.compressed_size(), entry.size(), entry.crc32());
    if crate_view != (c.central_at, c.header_start, c.compressed, c.size, c.crc32) {
        return Err(Error::unsafe_archive(format!(
            "the zip reader reads entry `{}` differently from its central header (offsets, \
             sizes or CRC-32)",
            escape_bytes(&c.name_raw)
        )));
    }
    Ok(())
}

pub(crate) fn too_many_entries(count: u64, limits: &Limits) -> Error {
    Error::limit(format!(
        "the archive declares {count} entries, more than the limit of {}",
        limits.max_entries
    ))
}

fn supported(method: CompressionMethod) -> bool {
    [
        CompressionMethod::STORE,
        CompressionMethod::DEFLATE,
        CompressionMethod::DEFLATE64,
        CompressionMethod::BZIP2,
        CompressionMethod::LZMA,
    ]
    .contains(&method)
}

fn classify(name: &str, mode: Option<u32>) -> Result<What> {
    if name.ends_with('/') {
        return Ok(What::Dir);
    }
    let mode = mode.unwrap_or(0);
    let special = match mode & S_IFMT {
        0 | 0o100000 => {
            return Ok(What::File {
                executable: mode & 0o111 != 0,
            })
        }
        0o040000 => return Ok(What::Dir),
        0o120000 => {
            return Ok(What::Symlink {
                target: String::new(),
            })
        }
        0o010000 => "a fifo",
        0o020000 => "a character device",
        0o060000 => "a block device",
        0o140000 => "a socket",
        _ => "of an unknown file type",
    };
    Err(Error::unsafe_archive(format!(
        "entry `{}` is {special}",
        escape(name)
    )))
}

fn read_link_target<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    index: usize,
    path: &str,
    limits: &Limits,
) -> Result<String> {
    let cap = links::max_target_bytes(limits);
    let mut file = archive.by_index(index).map_err(|e| entry_error(e, path))?;
    let mut bytes = Vec::new();
    // Reading to the end (when within the cap) is what makes the crate verify the CRC.
    (&mut file)
        .take(cap as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(e, path))?;
    if bytes.len() > cap {
        return Err(Error::limit(format!(
            "symlink `{}` has a target longer than the limit of {cap} bytes",
            escape(path)
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::unsafe_archive(format!(
            "symlink `{}` has a target that is not UTF-8: `{}`",
            escape(path),
            escape_bytes(e.as_bytes())
        ))
    })
}

/// Refuses LZMA entries whose decoder would allocate a huge dictionary (the decoder caps it
/// at the declared size, which is itself limited).
fn check_lzma_dictionary<R: Read + Seek>(archive: &mut ZipArchive<R>, p: &Planned) -> Result<()> {
    let mut raw = archive
        .by_index_raw(p.index)
        .map_err(|e| entry_error(e, &p.path))?;
    // Version (2), properties size (2), properties byte (1), dictionary size (4).
    let mut header = [0u8; 9];
    raw.read_exact(&mut header)
        .map_err(|e| read_error(e, &p.path))?;
    let dict = u64::from(u32::from_le_bytes([
        header[5], header[6], header[7], header[8],
    ]));
    let needed = dict.min(p.central.size.max(4096));
    if needed > MAX_LZMA_DICT {
        return Err(Error::limit(format!(
            "LZMA entry `{}` needs a {} MiB dictionary, more than the {} MiB allowed",
            escape(&p.path),
            needed >> 20,
            MAX_LZMA_DICT >> 20
        )));
    }
    Ok(())
}

/// The first bytes of the object, for the "not a zip" message.
fn sniff<R: Read + Seek>(src: &mut SeekBuf<R>) -> Result<Vec<u8>> {
    let io_err = |e| Error::io("reading the archive", e);
    src.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    src.by_ref()
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    src.seek(SeekFrom::Start(0)).map_err(io_err)?;
    Ok(head)
}

fn open_error(e: ZipError, head: &[u8]) -> Error {
    // The crate's messages may quote archive bytes: escape them like any archive text.
    let shown = |e: &dyn std::fmt::Display| escape(&e.to_string());
    match e {
        ZipError::UnsupportedArchive(m) => {
            Error::unsupported(format!("unsupported zip archive: {}", shown(&m)))
        }
        // The crate reports split archives from two places, one of them as "invalid".
        ZipError::InvalidArchive(m) if m.to_ascii_lowercase().contains("multi-disk") => {
            Error::unsupported(format!("unsupported zip archive: {}", shown(&m)))
        }
        ZipError::Io(io) if io.raw_os_error().is_some() => Error::io("reading the archive", io),
        e if head.is_empty() => {
            Error::integrity(format!("the object is empty, not a zip archive ({})", shown(&e)))
        }
        e if head.starts_with(b"PK") => {
            Error::integrity(format!("corrupt zip archive: {}", shown(&e)))
        }
        e => Error::integrity(format!(
            "the object is not a zip archive ({}); it starts with \"{}\"",
            shown(&e),
            shown_prefix(head)
        )),
    }
}

/// `head` escaped, cut at a character boundary when it is UTF-8 cut short.
fn shown_prefix(head: &[u8]) -> String {
    match std::str::from_utf8(head) {
        Err(e) if e.error_len().is_none() => escape_bytes(&head[..e.valid_up_to()]),
        _ => escape_bytes(head),
    }
}

fn entry_error(e: ZipError, path: &str) -> Error {
    match e {
        ZipError::Io(io) => read_error(io, path),
        ZipError::UnsupportedArchive(m) => {
            Error::unsupported(format!("entry `{}`: unsupported: {m}", escape(path)))
        }
        ZipError::CompressionMethodNotSupported(m) => Error::unsupported(format!(
            "entry `{}` uses unsupported compression method {m}",
            escape(path)
        )),
        ZipError::InvalidPassword => {
            Error::unsupported(format!("entry `{}` is encrypted", escape(path)))
        }
        e => Error::integrity(format!(
            "corrupt zip archive at entry `{}`: {}",
            escape(path),
            escape(&e.to_string())
        )),
    }
}

fn read_error(e: io::Error, path: &str) -> Error {
    if e.raw_os_error().is_some() {
        return Error::io(
            format_args!("reading the archive at entry `{}`", escape(path)),
            e,
        );
    }
    if e.to_string().contains("Invalid checksum") {
        return Error::integrity(format!("CRC-32 mismatch in entry `{}`", escape(path)));
    }
    Error::integrity(format!(
        "entry `{}` is corrupt: {}",
        escape(path),
        escape(&e.to_string())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_unix_modes() {
        assert!(matches!(
            classify("a", Some(0o100755)),
            Ok(What::File { executable: true })
        ));
        assert!(matches!(
            classify("a", Some(0o104644)),
            Ok(What::File { executable: false })
        ));
        assert!(matches!(
            classify("a", None),
            Ok(What::File { executable: false })
        ));
        assert!(matches!(
            classify("a", Some(0o000)),
            Ok(What::File { executable: false })
        ));
        assert!(matches!(classify("a/", Some(0o100644)), Ok(What::Dir)));
        assert!(matches!(classify("a", Some(0o040755)), Ok(What::Dir)));
        assert!(matches!(
            classify("a", Some(0o120777)),
            Ok(What::Symlink { .. })
        ));
        for special in [0o010644, 0o020644, 0o060644, 0o140644, 0o170644] {
            assert_eq!(
                classify("a", Some(special)).unwrap_err().kind,
                crate::ErrorKind::UnsafeArchive
            );
        }
    }

    #[test]
    fn not_a_zip_message_shows_the_start() {
        let e = open_error(
            ZipError::InvalidArchive("no EOCD".into()),
            b"<?xml version=\"1.0\"?>\n<Error>",
        );
        assert_eq!(e.kind, crate::ErrorKind::Integrity);
        assert!(e.message.contains("not a zip archive"), "{}", e.message);
        assert!(
            e.message.contains("<?xml version=\"1.0\"?>\\u{a}<Error>"),
            "{}",
            e.message
        );
        // A multi-byte character cut by the sniff limit is dropped, not shown as bytes.
        assert_eq!(shown_prefix("é".as_bytes().get(..1).unwrap()), "");
        assert_eq!(shown_prefix(b"\x00\xff"), "\\x00\\xff");
    }
}
