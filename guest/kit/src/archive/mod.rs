//! Safe extraction of job packages (`.zip`/`.jar`, `.tar.gz`/`.tgz`, `.tar.xz`).
//!
//! Every archive is hostile until proven otherwise. The extractor writes the tree exactly as
//! the archive describes it (no top-level stripping: the host does that) into `target`, an
//! existing empty directory, and either succeeds completely or returns a typed
//! [`crate::Error`]. On error it returns at once with every file handle closed; deleting the
//! partly written `target` is the caller's job (the host stages into a directory it removes).
//! Nothing is ever written outside `target`.
//!
//! The same code runs natively and in a `wasm32-wasip2` guest, so it uses `std::fs` only,
//! never sets permissions or timestamps (WASI cannot), and reads and writes in large chunks
//! because every I/O call is a host call in the guest.
//!
//! # Policies
//!
//! | Case | Decision |
//! |---|---|
//! | `..` component anywhere in an entry name | rejected (`unsafe-archive`), even when it would stay inside |
//! | absolute name (`/x`), drive letter (a name starting with a letter and `:`, e.g. `C:x`), backslash anywhere (`a\b`, `\\server\share`) | rejected (`unsafe-archive`) |
//! | NUL byte, empty name, a name that is only `.` / `./` (zip) | rejected (`unsafe-archive`) |
//! | `.` and empty components inside a name (`./a//b`) | dropped; the result must still be unique |
//! | tar directory entry `./` (the root itself, as written by `tar -C dir .`) | skipped; a non-directory naming the root is `unsafe-archive` |
//! | component longer than 255 bytes | rejected (`unsafe-archive`) |
//! | name longer than `max_path_bytes`, deeper than `max_path_depth`, more than `max_entries` entries (zip: also as declared by any end record, checked before the central directory is parsed into memory) | `limit-exceeded` |
//! | zip name bytes not UTF-8 while the UTF-8 flag (bit 11) is set | rejected (`unsafe-archive`) |
//! | zip name bytes not UTF-8 and no UTF-8 flag | accepted, decoded as CP437 (the zip crate's rule); written as the decoded UTF-8 |
//! | tar name bytes not UTF-8 | rejected (`unsafe-archive`): WASI paths are strings |
//! | duplicate names, also equal only after Unicode NFC normalisation | rejected (`unsafe-archive`) |
//! | names differing only in case (`A.py`, `a.py`) | accepted: the target filesystem (Linux) is case-sensitive; a case-insensitive one turns the collision into `unsafe-archive` (files are created with `create_new`) |
//! | a file and a directory with the same name (`a` and `a/b`), or anything below a symlink entry | rejected (`unsafe-archive`) |
//! | directory entries (zip: name ending in `/` or unix type directory; tar: type `5`, or a regular entry ending in `/`) | created; missing parent directories are created implicitly; a tar directory or symlink entry carrying data is `integrity` |
//! | `__MACOSX/` entries (macOS Finder resource forks) | skipped entirely and never written; they still count towards `max_entries` and the zip overlap check |
//! | symlink whose target is absolute, contains a backslash or NUL, or whose lexical resolution from the link's directory leaves the tree | rejected (`unsafe-archive`) |
//! | symlink target with a `..` after a name (`../b/../c`), even one resolving inside | rejected (`unsafe-archive`): the host's own link audit accepts only leading `..` |
//! | symlink whose target walks *through* another symlink entry (`l -> other_link/x`) | rejected (`unsafe-archive`); ending *at* a symlink entry (a chain) is allowed |
//! | symlink in an archive whose entries all sit under one top-level directory | the tree for resolution is that directory, because the host strips it: `pkg/l -> ../x` is rejected |
//! | symlink that stays inside (may dangle) | created after every regular file and directory was written, so no write ever goes through a link |
//! | symlink target longer than `min(max_path_bytes, 4095)` | `limit-exceeded` |
//! | hard links, device files, fifos, sockets, unknown zip file types | rejected (`unsafe-archive`) |
//! | zip entries that overlap: a local header, its data or data descriptor reaching into the next entry's local header or the central directory (Fifield's "better zip bomb") | rejected (`unsafe-archive`) |
//! | more than `max_unpacked_bytes` in total (declared or actually written) | `limit-exceeded` |
//! | zip entry whose uncompressed/compressed ratio (declared or actual) exceeds `max_compression_ratio`, for entries above 1 MiB | `limit-exceeded` |
//! | zip whose entries' declared sizes in total exceed `max_compression_ratio` times their compressed sizes in total, above 1 MiB (many small entries of zeros) | `limit-exceeded` |
//! | tar stream whose decompressed/compressed ratio exceeds `max_compression_ratio`, beyond the first 1 MiB (compressed bytes counted as the decoder consumes them) | `limit-exceeded` |
//! | an entry that inflates to more or fewer bytes than declared, a CRC (zip) or stream checksum (gzip, xz) mismatch, truncation, corrupt compressed data | `integrity` |
//! | not a zip at all (e.g. an OBS XML error body or an HTML page), not gzip/xz | `integrity`, the message shows the object's first bytes, escaped |
//! | data prepended to a zip (self-extracting stubs, a `#!` line), even holding zip signatures | accepted: the directory ends right before its end record and offsets shift by the prepended length, as every reader computes it; bytes before the first entry are not examined |
//! | more than one end record that parses (as `eocd.rs` defines it): in the comment, after it, or a second archive before this one (`cat a.zip b.zip`) | rejected (`unsafe-archive`): readers differ in which record they use |
//! | an archive comment that merely contains the bytes `PK\x05\x06` | accepted: no record parses there |
//! | a ZIP64 end record or locator contradicting a classic end-record field that is not a 0xFFFF/0xFFFFFFFF sentinel | rejected (`unsafe-archive`) |
//! | a central directory holding more or fewer entries or bytes than its end record declares, or not ending right before it | rejected (`unsafe-archive`): readers trusting the count, the size or the position list different files |
//! | the zip crate's parse differing from the directory the end record locates (it searches when the directory is not where the record says) | rejected (`unsafe-archive`) |
//! | a local header whose name, method, general-purpose flags, CRC-32 or sizes differ from its central entry (with flag bit 3, CRC and sizes may be 0 and the data descriptor must repeat the central values) | rejected (`unsafe-archive`): readers that walk local headers would unpack other files |
//! | a local-header signature between entries (an entry no central directory lists) | rejected (`unsafe-archive`) |
//! | encrypted zip entries, multi-disk zips, compression methods other than stored, deflate, deflate64, bzip2 and LZMA (including XZ-in-zip and zstd), GNU sparse tar entries | `unsupported`, naming the method or feature |
//! | LZMA entry whose dictionary needs more than 256 MiB; xz block needing more than 256 MiB | `limit-exceeded` |
//! | ZIP64, data descriptors, pax and GNU long names, concatenated gzip members, an empty archive | accepted (an empty archive gives an empty tree) |
//! | GNU long name longer than `max_path_bytes`, pax header over 1 MiB | `limit-exceeded` (read with a cap, never buffered whole) |
//! | pax `size` differing from the header (files of 8 GiB and more), pax or GNU sparse files, other tar entry types (`V`, `M`, ...) | `unsupported` |
//! | invalid timestamps | ignored, never an error (timestamps are not restored) |
//! | unix modes | files with any execute bit are listed in [`ExtractStats::executables`] for the host to `chmod`; setuid, setgid, sticky and mode `000` have no other effect |
//! | nested archives | written as plain files, never opened |
//! | data after the end of a tar archive | ignored up to 16 MiB (record padding), then `integrity`; gzip and xz trailers are always verified |

pub mod checksum;
mod directory;
mod eocd;
mod extra;
mod fsout;
mod layout;
mod links;
mod names;
mod output;
mod seekbuf;
mod sigscan;
mod tree;
mod unicode_path;
mod untar;
mod unzip;
pub mod zipstream;

use std::io::{Read, Seek};
use std::path::Path;

use crate::{Limits, Result};

/// What an extraction produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractStats {
    /// Archive entries written: files, directory entries and symlinks (skipped `__MACOSX/`
    /// entries and a tar root entry `./` are not counted).
    pub entries: u64,
    /// Regular files created.
    pub files: u64,
    /// Directories created, explicit entries and implied parents alike.
    pub directories: u64,
    /// Symbolic links created.
    pub symlinks: u64,
    /// Bytes written into regular files.
    pub bytes_written: u64,
    /// Files whose archive mode had an execute bit, as `/`-separated paths relative to the
    /// target, in extraction order.
    pub executables: Vec<String>,
}

/// The compression wrapped around a tar stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TarCompression {
    Gzip,
    Xz,
}

/// Extracts a zip archive into `target` (an existing empty directory). To unpack a zip while
/// it downloads, with the same checks, see [`zipstream`].
///
/// The whole central directory is validated before anything is written. `progress` gets
/// `(entries_done, bytes_written)` every few MiB or few hundred entries, and once at the end.
pub fn extract_zip<R: Read + Seek>(
    reader: R,
    target: &Path,
    limits: &Limits,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExtractStats> {
    unzip::extract(reader, target, limits, progress)
}

/// Extracts a gzip- or xz-compressed tar stream into `target` (an existing empty directory).
///
/// A tar stream cannot be validated up front, so each entry is checked before it is written
/// and symlinks are checked and created once every entry is known. `progress` as for
/// [`extract_zip`].
pub fn extract_tar<R: Read>(
    reader: R,
    compression: TarCompression,
    target: &Path,
    limits: &Limits,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExtractStats> {
    untar::extract(reader, compression, target, limits, progress)
}
