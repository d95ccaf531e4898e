//! A zip header's extra fields: id, size and data, one after another.

/// The data of the first extra field with `id`.
pub fn extra_field(extra: &[u8], id: u16) -> Option<&[u8]> {
    extra_fields(extra, id).next()
}

/// The data of every extra field with `id`, in order (fields are id, size, data); the walk
/// stops at a field that runs past the end.
pub fn extra_fields(mut extra: &[u8], id: u16) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        while extra.len() >= 4 {
            let field = u16::from_le_bytes([extra[0], extra[1]]);
            let len = u16::from_le_bytes([extra[2], extra[3]]) as usize;
            let data = extra.get(4..4 + len)?;
            extra = &extra[4 + len..];
            if field == id {
                return Some(data);
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(id: u16, data: &[u8]) -> Vec<u8> {
        let mut f = id.to_le_bytes().to_vec();
        f.extend_from_slice(&(data.len() as u16).to_le_bytes());
        f.extend_from_slice(data);
        f
    }

    #[test]
    fn every_field_with_the_id_in_order_and_nothing_past_a_truncated_one() {
        let mut extra = [field(0x7075, b"one"), field(0x0001, b"zip64"), field(0x7075, b"two")].concat();
        assert_eq!(extra_fields(&extra, 0x7075).collect::<Vec<_>>(), [b"one".as_slice(), b"two"]);
        assert_eq!(extra_field(&extra, 0x0001), Some(b"zip64".as_slice()));
        assert_eq!(extra_field(&extra, 0x5455), None);
        // A field claiming more bytes than are left ends the walk.
        extra.extend_from_slice(&[0x75, 0x70, 0xff, 0x00, b'x']);
        assert_eq!(extra_fields(&extra, 0x7075).count(), 2);
    }
}
