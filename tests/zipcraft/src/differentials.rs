//! Archives that honest zip readers read differently (parser differentials), and the
//! look-alikes they all read the same way. Shared by the kit's tests (both extractors), the
//! oracle test that records what CPython and Info-ZIP make of them, and the host's hostile
//! catalogue; the fuzz corpus holds the same bytes.

use crate::{end_record, unicode_path, zip, zip_with, zip_with_hidden_directory, Entry, Local, Options, FLAG_DESCRIPTOR, FLAG_UTF8, STORED};

/// What the unpacker must do with a [`Differential`].
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Refused as `unsafe-archive`, with a message containing this.
    Refused(&'static str),
    /// Accepted, producing exactly these files (path, content).
    Accepted(Vec<(&'static str, Vec<u8>)>),
}

#[derive(Debug, Clone)]
pub struct Differential {
    /// Unique, usable as a file name (and as the hostile catalogue's case name).
    pub name: &'static str,
    pub about: &'static str,
    pub bytes: Vec<u8>,
    pub verdict: Verdict,
}

/// The message fragment every refusal for two end records shares.
pub const TWO_END_RECORDS: &str = "two end-of-central-directory records";

fn refused(name: &'static str, about: &'static str, bytes: Vec<u8>, says: &'static str) -> Differential {
    Differential { name, about, bytes, verdict: Verdict::Refused(says) }
}

fn accepted(name: &'static str, about: &'static str, bytes: Vec<u8>, files: &[(&'static str, &[u8])]) -> Differential {
    Differential { name, about, bytes, verdict: Verdict::Accepted(files.iter().map(|(p, d)| (*p, d.to_vec())).collect()) }
}

const A: &[u8] = b"print('a')\n";
const B: &[u8] = b"print('b')\n";

fn a() -> Entry {
    Entry::stored("a.py", A)
}

fn b() -> Entry {
    Entry::stored("b.py", B)
}

fn hidden() -> Entry {
    Entry::stored("hidden.py", b"print('hidden')\n")
}

/// The local header of the first entry (at offset 0) given an extra-field length that makes
/// it reach past the entry that follows.
fn header_reaching_next() -> Vec<u8> {
    let mut bytes = zip(&[a(), b()]);
    bytes[28..30].copy_from_slice(&200u16.to_le_bytes());
    bytes
}

/// Two archives back to back, as `cat first.zip second.zip` makes.
fn two_archives() -> Vec<u8> {
    let mut bytes = zip(&[a()]);
    bytes.extend_from_slice(&zip(&[b()]));
    bytes
}

/// The hidden-directory archive with the outer record's comment length set to 0: the
/// second record is trailing data rather than a comment.
fn record_after_comment() -> Vec<u8> {
    let mut bytes = zip_with_hidden_directory(&[a()], &[hidden()]);
    let at = bytes.len() - 22 - 2;
    bytes[at..at + 2].copy_from_slice(&0u16.to_le_bytes());
    bytes
}

/// A local record (header and data) between two listed entries that no central entry lists.
fn unlisted_between() -> Vec<u8> {
    let mut first = a();
    first.trailing = hidden().local_record();
    zip(&[first, b()])
}

/// Bytes a self-extractor stub might hold: the signatures as constants, none forming a
/// record (Info-ZIP's stubs avoid even that; others may not).
fn stub_with_signatures() -> Vec<u8> {
    let mut stub = b"#!/bin/sh\n# self-extracting stub\nexit 0\n\x00\x00".to_vec();
    for sig in [&b"PK\x03\x04"[..], b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"] {
        stub.extend_from_slice(sig);
        stub.extend_from_slice(&[0xff; 18]);
    }
    stub
}

fn descriptor(e: Entry) -> Entry {
    Entry { descriptor: true, ..e }
}

pub fn differentials() -> Vec<Differential> {
    let deflated = Entry::deflated("a.py", &A.repeat(40));
    let z64 = Options { zip64_count: Some(2), ..Options::default() };
    vec![
        // ------------------------------------------------ more than one end record
        refused(
            "eocd-hidden-in-comment",
            "a second end record fills the comment and locates a hidden central directory (the zip crate lists it, CPython refuses)",
            zip_with_hidden_directory(&[a()], &[hidden()]),
            TWO_END_RECORDS,
        ),
        refused("eocd-after-comment", "a second end record after the real one, outside its (empty) comment", record_after_comment(), TWO_END_RECORDS),
        refused(
            "eocd-empty-in-comment",
            "the comment is an empty archive's end record (readers taking the last record see nothing)",
            zip_with(&[a()], &Options { comment: end_record(0, 0, 0), ..Options::default() }),
            TWO_END_RECORDS,
        ),
        refused("two-end-records", "two complete archives back to back (streaming readers see the first, the others the second)", two_archives(), TWO_END_RECORDS),
        // ------------------------------------------------ ZIP64 against the classic record
        refused(
            "zip64-count-disagrees",
            "the ZIP64 end record declares 2 entries, the classic record 3 (not a sentinel)",
            zip_with(&[a(), b()], &Options { count: Some(3), ..z64.clone() }),
            "ZIP64 end record declares entry count 2 but the classic end record declares 3",
        ),
        refused(
            "zip64-offset-disagrees",
            "the ZIP64 end record places the directory 1 byte before the classic record's offset",
            zip_with(&[a(), b()], &Options { zip64_cd_offset_delta: -1, ..z64.clone() }),
            "ZIP64 end record declares central directory offset",
        ),
        refused(
            "zip64-locator-wrong",
            "the ZIP64 locator points 8 bytes before the ZIP64 end record (all classic fields sentinels)",
            zip_with(&[a(), b()], &Options { zip64_sentinels: true, zip64_locator_delta: -8, ..z64 }),
            "ZIP64 locator places the ZIP64 end record",
        ),
        // ------------------------------------------------ the directory against its record
        refused(
            "directory-holds-more",
            "the end record declares 1 entry, the central directory holds 2 (the zip crate lists one, CPython both)",
            zip_with(&[a(), b()], &Options { count: Some(1), ..Options::default() }),
            "declares 1 entries but the central directory holds more than 1",
        ),
        refused(
            "directory-size-wrong",
            "the end record declares a central directory 10 bytes shorter than its 2 entries",
            zip_with(&[a(), b()], &Options { cd_size_delta: -10, ..Options::default() }),
            "declares a central directory of",
        ),
        // ------------------------------------------------ local headers against the directory
        refused(
            "local-name-differs",
            "the local header names `evil.py`, the central directory `a.py`",
            zip(&[Entry { local: Local { name: Some(b"evil.py".to_vec()), ..Local::default() }, ..a() }, b()]),
            "the local header of entry `a.py` names `evil.py`",
        ),
        refused(
            "local-method-differs",
            "the local header says stored, the central directory deflate",
            zip(&[Entry { local: Local { method: Some(STORED), ..Local::default() }, ..deflated.clone() }]),
            "says compression method 0, the central directory 8",
        ),
        refused(
            "local-flags-differ",
            "the local header sets the UTF-8 flag, the central directory does not: the name `café.py` decodes as UTF-8 from one, as CP437 from the other",
            zip(&[Entry { local: Local { flags: Some(FLAG_UTF8), ..Local::default() }, ..Entry::stored("café.py", A) }]),
            "has general-purpose flags 0x0800, the central directory 0x0000",
        ),
        refused(
            "local-crc-differs",
            "the local header's CRC-32 differs from the central directory's",
            zip(&[Entry { local: Local { crc: Some(0x1234_5678), ..Local::default() }, ..a() }]),
            "says CRC-32 305419896",
        ),
        refused(
            "local-size-differs",
            "the local header declares 4 compressed bytes, the central directory 11 (streaming readers stop early)",
            zip(&[Entry { local: Local { compressed: Some(4), uncompressed: Some(4), ..Local::default() }, ..a() }, b()]),
            "says compressed size 4, the central directory 11",
        ),
        refused(
            "descriptor-differs",
            "flag bit 3 set; the data descriptor's CRC-32 and sizes differ from the central directory's",
            zip(&[Entry { descriptor_values: Some((0x1234_5678, 4, 4)), ..descriptor(a()) }, b()]),
            "the data descriptor of entry `a.py` says CRC-32 305419896",
        ),
        refused(
            "descriptor-missing",
            "flag bit 3 set in both headers but no data descriptor after the data",
            zip(&[Entry { flags: FLAG_DESCRIPTOR, ..a() }]),
            "has general-purpose flag bit 3 set but no data descriptor",
        ),
        // ------------------------------------------------ a second name in an extra field
        refused(
            "unicode-path-renames",
            "both headers name `a.py`; an Info-ZIP Unicode Path field, its CRC-32 that of `a.py`, names `evil.py` (Info-ZIP and the zip crate unpack evil.py, CPython a.py)",
            zip(&[Entry { extra: unicode_path(b"a.py", b"evil.py"), ..a() }, b()]),
            "carries an Info-ZIP Unicode Path field naming it `evil.py`",
        ),
        refused(
            "unicode-path-renames-locally",
            "only the local header carries the Unicode Path field naming `evil.py` (seen by readers that walk local headers)",
            zip(&[Entry { local: Local { extra: Some(unicode_path(b"a.py", b"evil.py")), ..Local::default() }, ..a() }, b()]),
            "the local header of entry `a.py` carries an Info-ZIP Unicode Path field naming it `evil.py`",
        ),
        // ------------------------------------------------ entries overlapping or unlisted
        refused(
            "local-header-runs-into-next",
            "the first local header's extra-field length reaches past the next entry's header",
            header_reaching_next(),
            "entry `b.py` starts inside the previous entry's data (`a.py`)",
        ),
        refused(
            "unlisted-local-header",
            "a complete local record between two listed entries, in no central directory (streaming readers unpack it)",
            unlisted_between(),
            "belongs to no entry the central directory lists",
        ),
        // ------------------------------------------------ look-alikes, accepted
        accepted(
            "unicode-path-same-name",
            "a Unicode Path field repeating the header's own name, as Info-ZIP's zip writes on a UTF-8 system",
            zip(&[Entry { extra: unicode_path(b"a.py", b"a.py"), ..a() }]),
            &[("a.py", A)],
        ),
        accepted(
            "unicode-path-stale",
            "a Unicode Path field naming `evil.py` whose CRC-32 is that of another name (left by a rename): every reader ignores it",
            zip(&[Entry { extra: unicode_path(b"old.py", b"evil.py"), ..a() }]),
            &[("a.py", A)],
        ),
        accepted(
            "comment-names-end-signature",
            "the archive comment mentions the bytes PK\\x05\\x06 without forming a record",
            zip_with(&[a()], &Options { comment: b"end record signature: PK\x05\x06 (APPNOTE 4.3.16)".to_vec(), ..Options::default() }),
            &[("a.py", A)],
        ),
        accepted(
            "comment-end-signature-junk",
            "the comment is PK\\x05\\x06 and 18 bytes of 0xff: a record whose directory cannot exist (CPython and Info-ZIP refuse the archive; no reader lists other files)",
            zip_with(&[a()], &Options { comment: [&b"PK\x05\x06"[..], &[0xff; 18]].concat(), ..Options::default() }),
            &[("a.py", A)],
        ),
        accepted(
            "prepended-stub-with-signatures",
            "a stub holding every zip signature as a constant, then the archive",
            zip_with(&[a(), b()], &Options { prefix: stub_with_signatures(), ..Options::default() }),
            &[("a.py", A), ("b.py", B)],
        ),
        accepted(
            "stored-zip-at-the-end",
            "the last entry is a stored zip: its end record, within the outer one's search window, lies inside that entry's data",
            zip(&[a(), Entry::stored("inner.zip", &zip(&[b()]))]),
            &[("a.py", A), ("inner.zip", &zip(&[b()]))],
        ),
        accepted(
            "data-descriptor-unsigned",
            "data descriptors without their optional signature",
            zip(&[Entry { descriptor_signature: false, ..descriptor(deflated.clone()) }, descriptor(b())]),
            &[("a.py", &A.repeat(40)), ("b.py", B)],
        ),
        accepted(
            "data-descriptor-zip64",
            "a ZIP64 entry whose data descriptor has 8-byte sizes",
            zip(&[Entry { zip64: true, ..descriptor(deflated.clone()) }, b()]),
            &[("a.py", &A.repeat(40)), ("b.py", B)],
        ),
        accepted(
            "zip64-end-sentinels",
            "a ZIP64 end record; the classic record holds only sentinels",
            zip_with(&[a(), b()], &Options { zip64_count: Some(2), zip64_sentinels: true, ..Options::default() }),
            &[("a.py", A), ("b.py", B)],
        ),
        accepted(
            "zip64-end-real-values",
            "a ZIP64 end record; the classic record repeats the values that fit",
            zip_with(&[a(), b()], &Options { zip64_count: Some(2), count: Some(2), ..Options::default() }),
            &[("a.py", A), ("b.py", B)],
        ),
        accepted(
            "zip64-end-prepended",
            "a ZIP64 end record in an archive behind a `#!` line",
            zip_with(&[a(), b()], &Options { zip64_count: Some(2), zip64_sentinels: true, prefix: b"#!/usr/bin/env python3\n".to_vec(), ..Options::default() }),
            &[("a.py", A), ("b.py", B)],
        ),
    ]
}
