//! Entry counts declared by a zip's end records, read before the zip crate parses the
//! central directory.
//!
//! The crate keeps every central-directory entry in memory (a few hundred bytes each) before
//! `max_entries` can be checked, and in a wasm guest running out of memory is a trap, not an
//! error. The crate parses exactly the count an end record declares, so refusing every
//! candidate end record (the crate may fall back from one to another) whose count is over the
//! limit bounds that memory. This only ever refuses: extraction still uses the crate's parse.

use std::io::{self, Read, Seek, SeekFrom};

const EOCD_SIG: [u8; 4] = [b'P', b'K', 5, 6];
const LOCATOR_SIG: [u8; 4] = [b'P', b'K', 6, 7];
const EOCD64_SIG: [u8; 4] = [b'P', b'K', 6, 6];
const EOCD_LEN: usize = 22;
const LOCATOR_LEN: usize = 20;
/// The end record sits within the last 22 bytes plus a 64 KiB comment.
const TAIL: u64 = EOCD_LEN as u64 + 0xFFFF;

/// The largest entry count any end record in the tail declares (ZIP64 counts included when
/// their locator points at a ZIP64 end record), or 0 when there is none.
pub(crate) fn max_declared_entries<R: Read + Seek>(r: &mut R) -> io::Result<u64> {
    let len = r.seek(SeekFrom::End(0))?;
    let start = len.saturating_sub(TAIL);
    r.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::with_capacity((len - start) as usize);
    r.by_ref().take(TAIL).read_to_end(&mut tail)?;
    let mut max = 0u64;
    for pos in (0..tail.len().saturating_sub(EOCD_LEN - 1)).rev() {
        if tail[pos..pos + 4] != EOCD_SIG {
            continue;
        }
        let record = &tail[pos..pos + EOCD_LEN];
        let count = u64::from(u16::from_le_bytes([record[10], record[11]]));
        max = max.max(count);
        if count == 0xFFFF || record[16..20] == [0xFF; 4] {
            let at = start + pos as u64;
            if let Some(count64) = zip64_count(r, at)? {
                max = max.max(count64);
            }
        }
    }
    r.seek(SeekFrom::Start(0))?;
    Ok(max)
}

/// Follows the ZIP64 locator just before the end record at `eocd_at`.
fn zip64_count<R: Read + Seek>(r: &mut R, eocd_at: u64) -> io::Result<Option<u64>> {
    let Some(locator_at) = eocd_at.checked_sub(LOCATOR_LEN as u64) else {
        return Ok(None);
    };
    let mut locator = [0u8; LOCATOR_LEN];
    r.seek(SeekFrom::Start(locator_at))?;
    if r.read_exact(&mut locator).is_err() || locator[..4] != LOCATOR_SIG {
        return Ok(None);
    }
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&locator[8..16]);
    let eocd64_at = u64::from_le_bytes(offset);
    let mut record = [0u8; 40];
    if r.seek(SeekFrom::Start(eocd64_at)).is_err() || r.read_exact(&mut record).is_err() {
        return Ok(None);
    }
    if record[..4] != EOCD64_SIG {
        return Ok(None);
    }
    let mut total = [0u8; 8];
    total.copy_from_slice(&record[32..40]);
    Ok(Some(u64::from_le_bytes(total)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn eocd(count: u16, cd_offset: u32) -> Vec<u8> {
        let mut b = EOCD_SIG.to_vec();
        b.extend_from_slice(&[0, 0, 0, 0]);
        b.extend_from_slice(&count.to_le_bytes());
        b.extend_from_slice(&count.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&cd_offset.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b
    }

    #[test]
    fn reads_plain_and_zip64_counts() {
        assert_eq!(
            max_declared_entries(&mut Cursor::new(eocd(7, 0))).unwrap(),
            7
        );
        assert_eq!(
            max_declared_entries(&mut Cursor::new(b"no zip here".to_vec())).unwrap(),
            0
        );
        assert_eq!(
            max_declared_entries(&mut Cursor::new(Vec::new())).unwrap(),
            0
        );

        // A stray record in the comment of another counts too.
        let mut two = eocd(3, 0);
        two.truncate(20);
        two.extend_from_slice(&22u16.to_le_bytes());
        two.extend_from_slice(&eocd(9000, 0));
        assert_eq!(max_declared_entries(&mut Cursor::new(two)).unwrap(), 9000);

        let mut z = Vec::new();
        z.extend_from_slice(&EOCD64_SIG);
        z.extend_from_slice(&[0; 28]);
        z.extend_from_slice(&5_000_000u64.to_le_bytes());
        z.extend_from_slice(&[0; 16]);
        z.extend_from_slice(&LOCATOR_SIG);
        z.extend_from_slice(&[0; 4]);
        z.extend_from_slice(&0u64.to_le_bytes());
        z.extend_from_slice(&[1, 0, 0, 0]);
        z.extend_from_slice(&eocd(0xFFFF, u32::MAX));
        assert_eq!(
            max_declared_entries(&mut Cursor::new(z)).unwrap(),
            5_000_000
        );
    }
}
