//! tar.gz / tar.xz extraction with the same rules as zip, checked entry by entry.
//!
//! The `tar` crate is used in raw mode: it parses headers and yields every record, and the
//! extension records (GNU long names, pax headers) are read here with a size cap, because
//! the crate would otherwise buffer them whole in memory. Pax `size` overrides and sparse
//! files are refused rather than reinterpreted.
//!
//! A stream cannot be validated before writing, so each entry is checked just before it is
//! written; symlinks are only recorded and are checked against the complete tree and created
//! after the last entry. After the tar end marker the rest of the stream is read, so the
//! gzip/xz trailer checksums are always verified.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use tar::{EntryType, PaxExtensions};

use super::names;
use super::output::{FileSpec, Output, RATIO_FLOOR};
use super::tree::{Kind, Tree};
use super::{links, ExtractStats, TarCompression};
use crate::text::{escape, escape_bytes};
use crate::{Error, Limits, Result};

const READ_BUFFER: usize = 256 * 1024;
/// Cap on one pax header record (real ones are a few hundred bytes).
const MAX_PAX_BYTES: u64 = 1 << 20;
/// Decompressed bytes tolerated after the tar end marker (record padding is at most a few
/// KiB with default blocking; more means something else was appended).
const MAX_TRAILING_BYTES: u64 = 16 << 20;
/// Decoder memory an xz block may ask for (xz -9 uses 64 MiB).
const XZ_MEMORY_KIB: u32 = 256 * 1024;
const SNIFF_BYTES: usize = 60;

/// Byte counts on both sides of the decompressor, and the limit error once tripped (an
/// `io::Error` passing through the tar crate cannot carry our typed error).
#[derive(Default)]
struct Meter {
    compressed: Cell<u64>,
    decompressed: Cell<u64>,
    tripped: RefCell<Option<Error>>,
}

/// Counts compressed bytes as the decoder takes them from the read buffer. Counting what is
/// read into the buffer instead would credit the decoder with up to a whole buffer of input
/// it has not used yet, and a bomb could then write `buffer × ratio` bytes (256 MB at the
/// defaults) before the ratio check saw it.
struct CountConsumed<R> {
    inner: R,
    meter: Rc<Meter>,
}

impl<R> CountConsumed<R> {
    fn add(&self, n: usize) {
        self.meter
            .compressed
            .set(self.meter.compressed.get() + n as u64);
    }
}

impl<R: BufRead> Read for CountConsumed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.add(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for CountConsumed<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.add(n);
        self.inner.consume(n);
    }
}

/// Counts decompressed bytes and stops the stream once it expands too much.
struct RatioGuard<R> {
    inner: R,
    meter: Rc<Meter>,
    ratio: u64,
}

impl<R: Read> Read for RatioGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let out = self.meter.decompressed.get() + n as u64;
        self.meter.decompressed.set(out);
        let input = self.meter.compressed.get().max(1);
        if out > RATIO_FLOOR && out > input.saturating_mul(self.ratio) {
            *self.meter.tripped.borrow_mut() = Some(Error::limit(format!(
                "the archive expands more than {} times (to {out} bytes from {input} compressed)",
                self.ratio
            )));
            return Err(io::Error::other("decompression ratio limit reached"));
        }
        Ok(n)
    }
}

#[derive(Default)]
struct Extensions {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Vec<u8>>,
}

pub(crate) fn extract<R: Read>(
    mut reader: R,
    compression: TarCompression,
    target: &Path,
    limits: &Limits,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExtractStats> {
    let (label, magic): (&str, &[u8]) = match compression {
        TarCompression::Gzip => ("tar.gz", &[0x1f, 0x8b]),
        TarCompression::Xz => ("tar.xz", &[0xfd, b'7', b'z', b'X', b'Z', 0]),
    };
    let head = sniff(&mut reader)?;
    if !head.starts_with(magic) {
        return Err(Error::integrity(if head.is_empty() {
            format!("the object is empty, not a {label} archive")
        } else {
            format!(
                "the object is not a {label} archive; it starts with \"{}\"",
                escape_bytes(&head)
            )
        }));
    }
    let meter = Rc::new(Meter::default());
    let input = CountConsumed {
        inner: BufReader::with_capacity(READ_BUFFER, io::Cursor::new(head).chain(reader)),
        meter: meter.clone(),
    };
    let decoder: Box<dyn Read> = match compression {
        TarCompression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        TarCompression::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(
            input,
            true,
            XZ_MEMORY_KIB,
        )),
    };
    let guard = RatioGuard {
        inner: decoder,
        meter: meter.clone(),
        ratio: limits.max_compression_ratio,
    };
    let fail = |e: io::Error| stream_error(e, &meter, label);

    let mut archive = tar::Archive::new(guard);
    let mut out = Output::new(target, limits, progress)?;
    let mut tree = Tree::new();
    let mut symlinks = Vec::new();
    let mut count: u64 = 0;
    {
        let mut ext = Extensions::default();
        for entry in archive.entries().map_err(fail)?.raw(true) {
            let mut entry = entry.map_err(fail)?;
            let kind = entry.header().entry_type();
            if kind.is_gnu_longname() || kind.is_gnu_longlink() {
                // The name may carry a NUL terminator, hence one byte of slack.
                let cap = u64::from(limits.max_path_bytes) + 1;
                let mut v = read_capped(&mut entry, cap, &fail, || {
                    Error::limit(format!(
                        "a GNU long name is longer than the limit of {} bytes",
                        limits.max_path_bytes
                    ))
                })?;
                while v.last() == Some(&0) {
                    v.pop();
                }
                let slot = if kind.is_gnu_longname() {
                    &mut ext.long_name
                } else {
                    &mut ext.long_link
                };
                *slot = Some(v);
                continue;
            }
            if kind.is_pax_local_extensions() || kind.is_pax_global_extensions() {
                let v = read_capped(&mut entry, MAX_PAX_BYTES, &fail, || {
                    Error::limit(format!("a pax header is larger than {MAX_PAX_BYTES} bytes"))
                })?;
                // Global headers only set defaults (times, owners) we never apply.
                if kind.is_pax_local_extensions() {
                    ext.pax = Some(v);
                }
                continue;
            }

            count += 1;
            if count > limits.max_entries {
                return Err(Error::limit(format!(
                    "the archive has more than the limit of {} entries",
                    limits.max_entries
                )));
            }
            let ext = std::mem::take(&mut ext);
            let (path_bytes, link_bytes) = resolve_names(&entry, &ext)?;
            let name = String::from_utf8(path_bytes).map_err(|e| {
                Error::unsafe_archive(format!(
                    "entry name `{}` is not valid UTF-8",
                    escape_bytes(e.as_bytes())
                ))
            })?;
            let name = name.as_str();
            if names::is_macos_metadata(name) {
                continue;
            }
            let size = entry.size();
            let parsed = names::parse(name, limits)?;
            let is_dir = kind.is_dir()
                || ((kind.is_file() || kind.is_contiguous()) && parsed.trailing_slash);
            if is_dir {
                no_data(size, name, "directory")?;
                if parsed.is_root() {
                    continue;
                }
                tree.insert(&parsed.path, Kind::Dir)?;
                out.dir(&parsed.path)?;
            } else if kind.is_file() || kind.is_contiguous() {
                if parsed.is_root() {
                    return Err(root_error(name));
                }
                tree.insert(&parsed.path, Kind::File)?;
                let mode = entry.header().mode().map_err(|e| {
                    Error::integrity(format!(
                        "entry `{}` has a corrupt mode field: {}",
                        escape(name),
                        escape(&e.to_string())
                    ))
                })?;
                let spec = FileSpec {
                    path: &parsed.path,
                    declared: Some(size),
                    compressed: None,
                    executable: mode & 0o111 != 0,
                };
                out.file(&spec, &mut entry, &mut |e| fail(e))?;
            } else if kind.is_symlink() {
                no_data(size, name, "symlink")?;
                if parsed.is_root() {
                    return Err(root_error(name));
                }
                let Some(link) = link_bytes else {
                    return Err(Error::integrity(format!(
                        "symlink `{}` has no target",
                        escape(name)
                    )));
                };
                let link = String::from_utf8(link).map_err(|e| {
                    Error::unsafe_archive(format!(
                        "symlink `{}` has a target that is not UTF-8: `{}`",
                        escape(name),
                        escape_bytes(e.as_bytes())
                    ))
                })?;
                tree.insert(&parsed.path, Kind::Symlink)?;
                symlinks.push((parsed.path, link));
            } else {
                return Err(refuse_type(kind, name));
            }
        }
        if ext.long_name.is_some() || ext.long_link.is_some() || ext.pax.is_some() {
            return Err(Error::integrity(format!(
                "corrupt {label} archive: it ends with an extension header that describes no entry"
            )));
        }
    }

    let mut rest = archive.into_inner();
    let trailing = io::copy(
        &mut (&mut rest).take(MAX_TRAILING_BYTES + 1),
        &mut io::sink(),
    )
    .map_err(fail)?;
    if trailing > MAX_TRAILING_BYTES {
        return Err(Error::integrity(format!(
            "corrupt {label} archive: more than {} MiB of data follow the end of the tar archive",
            MAX_TRAILING_BYTES >> 20
        )));
    }

    for (path, link) in symlinks {
        links::check(&tree, &path, &link, limits)?;
        out.symlink(path, link);
    }
    out.finish()
}

/// Reads an extension record, refusing more than `cap` bytes.
fn read_capped<R: Read>(
    entry: &mut R,
    cap: u64,
    fail: &dyn Fn(io::Error) -> Error,
    too_big: impl FnOnce() -> Error,
) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    entry.take(cap + 1).read_to_end(&mut v).map_err(fail)?;
    if v.len() as u64 > cap {
        return Err(too_big());
    }
    Ok(v)
}

/// The entry's name and link target after GNU long-name and pax records.
fn resolve_names<R: Read>(
    entry: &tar::Entry<'_, R>,
    ext: &Extensions,
) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    let mut path = ext.long_name.as_deref().map(Cow::Borrowed);
    let mut link = ext.long_link.as_deref().map(Cow::Borrowed);
    if let Some(pax) = &ext.pax {
        for field in PaxExtensions::new(pax) {
            let field =
                field.map_err(|e| Error::integrity(format!("malformed pax header: {}", escape(&e.to_string()))))?;
            let key = field.key_bytes();
            let value = field.value_bytes();
            match key {
                b"path" => path = Some(Cow::Borrowed(value)),
                b"linkpath" => link = Some(Cow::Borrowed(value)),
                b"size" => {
                    let size = std::str::from_utf8(value)
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok());
                    if size != Some(entry.size()) {
                        return Err(Error::unsupported(format!(
                            "entry `{}` has a pax size ({}) that differs from its header; files \
                             of 8 GiB or more in pax format are not supported",
                            escape_bytes(&entry.path_bytes()),
                            escape_bytes(value)
                        )));
                    }
                }
                k if k.starts_with(b"GNU.sparse.") => {
                    return Err(Error::unsupported(format!(
                        "entry `{}` is a sparse file (pax GNU.sparse), which is not supported",
                        escape_bytes(&entry.path_bytes())
                    )));
                }
                _ => {}
            }
        }
    }
    let path = path.unwrap_or_else(|| entry.path_bytes());
    let link = link.or_else(|| entry.link_name_bytes());
    Ok((path.into_owned(), link.map(Cow::into_owned)))
}

fn no_data(size: u64, name: &str, what: &str) -> Result<()> {
    if size != 0 {
        return Err(Error::integrity(format!(
            "{what} entry `{}` carries {size} bytes of data",
            escape(name)
        )));
    }
    Ok(())
}

fn root_error(name: &str) -> Error {
    Error::unsafe_archive(format!(
        "entry `{}` names the target directory itself",
        escape(name)
    ))
}

fn refuse_type(kind: EntryType, name: &str) -> Error {
    let shown = escape(name);
    if kind.is_hard_link() {
        Error::unsafe_archive(format!(
            "entry `{shown}` is a hard link; hard links are refused"
        ))
    } else if kind.is_character_special() || kind.is_block_special() {
        Error::unsafe_archive(format!("entry `{shown}` is a device file"))
    } else if kind.is_fifo() {
        Error::unsafe_archive(format!("entry `{shown}` is a fifo"))
    } else if kind.is_gnu_sparse() {
        Error::unsupported(format!(
            "entry `{shown}` is a GNU sparse file, which is not supported"
        ))
    } else {
        Error::unsupported(format!(
            "entry `{shown}` has tar entry type `{}`, which is not supported",
            kind.as_byte().escape_ascii()
        ))
    }
}

fn sniff<R: Read>(reader: &mut R) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    reader
        .by_ref()
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io("reading the archive", e))?;
    Ok(head)
}

fn stream_error(e: io::Error, meter: &Meter, label: &str) -> Error {
    if let Some(limit) = meter.tripped.borrow_mut().take() {
        return limit;
    }
    if e.raw_os_error().is_some() {
        return Error::io("reading the archive", e);
    }
    if e.kind() == io::ErrorKind::OutOfMemory {
        return Error::limit(format!(
            "the {label} stream needs more than {} MiB of decoder memory",
            XZ_MEMORY_KIB >> 10
        ));
    }
    // The tar crate quotes header bytes in its messages: attacker text.
    Error::integrity(format!("corrupt {label} archive: {}", escape(&e.to_string())))
}
