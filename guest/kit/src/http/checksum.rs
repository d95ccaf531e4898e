//! End-to-end integrity: CRC-64/XZ (what OBS calls crc64ecma) or a single-part MD5 ETag,
//! computed while the bytes stream past.

use crc::{Crc, Table, CRC_64_XZ};
use md5::{Digest as _, Md5};

/// Slice-by-16 tables: several times faster than the byte-wise table, which matters in
/// wasm where CRC otherwise shows up in profiles.
static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_XZ);

/// What the store promised about the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Crc64(u64),
    Md5([u8; 16]),
}

impl Expected {
    pub fn name(self) -> &'static str {
        match self {
            Expected::Crc64(_) => "crc64ecma",
            Expected::Md5(_) => "md5-etag",
        }
    }
}

/// An ETag that is the hex MD5 of the body: exactly 32 hex digits in quotes. Multipart
/// ETags carry a `-<parts>` suffix and are not a digest of the body.
pub fn md5_from_etag(etag: &str) -> Option<[u8; 16]> {
    let inner = etag.trim().strip_prefix('"')?.strip_suffix('"')?;
    if inner.len() != 32 || !inner.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    hex::decode_to_slice(inner, &mut out).ok()?;
    Some(out)
}

/// A decimal CRC-64 header value, as OBS sends it.
pub fn parse_crc64_decimal(v: &str) -> Option<u64> {
    let v = v.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Running digest for one [`Expected`] value.
pub struct Verifier {
    expected: Expected,
    state: State,
}

enum State {
    Crc(crc::Digest<'static, u64, Table<16>>),
    Md5(Box<Md5>),
}

impl Verifier {
    pub fn new(expected: Expected) -> Self {
        let state = match expected {
            Expected::Crc64(_) => State::Crc(CRC64.digest()),
            Expected::Md5(_) => State::Md5(Box::default()),
        };
        Verifier { expected, state }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc(d) => d.update(data),
            State::Md5(d) => d.update(data),
        }
    }

    /// `Ok(name)` when the digest matches, `Err((expected, actual))` as printable hex.
    pub fn finish(self) -> Result<&'static str, (String, String)> {
        let name = self.expected.name();
        match (self.state, self.expected) {
            (State::Crc(d), Expected::Crc64(want)) => {
                let got = d.finalize();
                if got == want { Ok(name) } else { Err((want.to_string(), got.to_string())) }
            }
            (State::Md5(d), Expected::Md5(want)) => {
                let got: [u8; 16] = d.finalize().into();
                if got == want { Ok(name) } else { Err((hex::encode(want), hex::encode(got))) }
            }
            _ => unreachable!("Verifier state always matches its expectation"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_xz_check_value() {
        // The catalogue check value of CRC-64/XZ for "123456789".
        let mut v = Verifier::new(Expected::Crc64(0x995D_C9BB_DF19_39FA));
        v.update(b"1234");
        v.update(b"56789");
        assert_eq!(v.finish(), Ok("crc64ecma"));
        let mut v = Verifier::new(Expected::Crc64(1));
        v.update(b"123456789");
        assert!(v.finish().is_err());
    }

    #[test]
    fn md5_etag() {
        let want = md5_from_etag("\"5d41402abc4b2a76b9719d911017c592\"").unwrap();
        let mut v = Verifier::new(Expected::Md5(want));
        v.update(b"hel");
        v.update(b"lo");
        assert_eq!(v.finish(), Ok("md5-etag"));
        let mut v = Verifier::new(Expected::Md5(want));
        v.update(b"hellO");
        let (w, g) = v.finish().unwrap_err();
        assert_eq!(w, "5d41402abc4b2a76b9719d911017c592");
        assert_ne!(g, w);
    }

    #[test]
    fn etag_forms() {
        assert!(md5_from_etag("\"5D41402ABC4B2A76B9719D911017C592\"").is_some());
        assert!(md5_from_etag("5d41402abc4b2a76b9719d911017c592").is_none());
        assert!(md5_from_etag("\"5d41402abc4b2a76b9719d911017c592-3\"").is_none());
        assert!(md5_from_etag("\"d41402abc4b2a76b9719d911017c592-3\"").is_none());
        assert!(md5_from_etag("\"zz41402abc4b2a76b9719d911017c592\"").is_none());
    }

    #[test]
    fn crc_header() {
        assert_eq!(parse_crc64_decimal(" 11051210869376104954 "), Some(11051210869376104954));
        assert_eq!(parse_crc64_decimal("18446744073709551616"), None);
        assert_eq!(parse_crc64_decimal("0x12"), None);
        assert_eq!(parse_crc64_decimal(""), None);
    }
}
