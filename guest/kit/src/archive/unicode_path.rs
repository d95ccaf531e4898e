//! Info-ZIP's Unicode Path extra field (0x7075, APPNOTE 4.6.9): a version byte, the CRC-32
//! of the header's name, and a UTF-8 name. Readers that honour it (Info-ZIP's unzip, 7-Zip,
//! the zip crate) use that name instead of the header's whenever the CRC-32 matches; readers
//! that do not (Python's `zipfile`) use the header's. A field naming anything but the
//! header's own bytes therefore gives one entry two paths, and the archive is refused. A
//! field repeating the header's bytes (what Info-ZIP's zip writes on a UTF-8 system) and a
//! stale one whose CRC-32 no longer matches are read one way by all, and pass. Pure logic.

use super::checksum::crc32;
use super::extra::extra_fields;
use crate::text::escape_bytes;
use crate::Error;

const ID: u16 = 0x7075;

/// The first name that a Unicode Path field in `extra` would give an entry whose header
/// names it `name`, when that differs from `name` itself.
pub(crate) fn renaming<'a>(name: &[u8], extra: &'a [u8]) -> Option<&'a [u8]> {
    // Only an entry with such a field pays for hashing its name.
    let mut name_crc = None;
    extra_fields(extra, ID).find_map(|data| {
        let (head, other) = (data.get(..5)?, &data[5..]);
        let claimed = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
        (claimed == *name_crc.get_or_insert_with(|| crc32(0, name)) && other != name).then_some(other)
    })
}

/// The refusal for an entry whose `header` ("central header", "local header") carries a
/// renaming field.
pub(crate) fn two_names(name: &[u8], header: &str, other: &[u8]) -> Error {
    Error::unsafe_archive(format!(
        "the {header} of entry `{}` carries an Info-ZIP Unicode Path field naming it `{}`; \
         readers that honour the field (Info-ZIP's unzip, 7-Zip) and readers that do not \
         (Python's zipfile) would unpack different files",
        escape_bytes(name),
        escape_bytes(other)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zipcraft::unicode_path as field;

    #[test]
    fn a_field_naming_another_path_renames() {
        assert_eq!(renaming(b"a.py", &field(b"a.py", b"evil.py")), Some(&b"evil.py"[..]));
        // After another field, and after one that repeats the name.
        let zip64 = [1u8, 0, 0, 0];
        let extra = [&zip64[..], &field(b"a.py", b"a.py"), &field(b"a.py", b"x/../b.py")].concat();
        assert_eq!(renaming(b"a.py", &extra), Some(&b"x/../b.py"[..]));
    }

    #[test]
    fn the_same_bytes_a_stale_field_and_broken_fields_do_not() {
        assert_eq!(renaming("café.py".as_bytes(), &field("café.py".as_bytes(), "café.py".as_bytes())), None);
        assert_eq!(renaming(b"a.py", &field(b"old.py", b"evil.py")), None, "CRC-32 of another name: ignored by every reader");
        assert_eq!(renaming(b"a.py", &[0x75, 0x70, 3, 0, 1, 2, 3]), None, "too short for version and CRC-32");
        let truncated = &field(b"a.py", b"evil.py")[..8];
        assert_eq!(renaming(b"a.py", truncated), None);
        assert_eq!(renaming(b"a.py", b""), None);
    }

    #[test]
    fn the_refusal_names_both_paths() {
        let e = two_names(b"a.py", "central header", b"evil\x1b.py");
        assert_eq!(e.kind, crate::ErrorKind::UnsafeArchive);
        assert!(e.message.contains("the central header of entry `a.py` carries an Info-ZIP Unicode Path field naming it `evil\\u{1b}.py`"), "{}", e.message);
    }
}
