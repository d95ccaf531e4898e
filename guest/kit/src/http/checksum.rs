//! End-to-end integrity: the whole-object checksum a store announced (CRC-64/XZ, what OBS
//! calls crc64ecma; S3's CRC-32, CRC-32C, CRC-64/NVME, SHA-1 and SHA-256) or a single-part
//! MD5 ETag, computed while the bytes stream past.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use crc::{Crc, Table, CRC_32_ISCSI, CRC_64_NVME, CRC_64_XZ};
use md5::{Digest as _, Md5};
use sha1::Sha1;
use sha2::Sha256;

/// Slice-by-16 tables: several times faster than the byte-wise table, which matters in
/// wasm where CRC otherwise shows up in profiles.
static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_XZ);
static CRC64_NVME: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_NVME);
static CRC32C: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);

/// What the store promised about the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Crc64(u64),
    Md5([u8; 16]),
    /// CRC-32 of zip and gzip (S3's `CRC32`).
    Crc32(u32),
    /// CRC-32C, Castagnoli (S3's `CRC32C`).
    Crc32c(u32),
    /// S3's `CRC64NVME`.
    Crc64Nvme(u64),
    Sha1([u8; 20]),
    Sha256([u8; 32]),
}

impl Expected {
    pub fn name(self) -> &'static str {
        match self {
            Expected::Crc64(_) => "crc64ecma",
            Expected::Md5(_) => "md5-etag",
            Expected::Crc32(_) => "crc32",
            Expected::Crc32c(_) => "crc32c",
            Expected::Crc64Nvme(_) => "crc64nvme",
            Expected::Sha1(_) => "sha1",
            Expected::Sha256(_) => "sha256",
        }
    }
}

/// A base64 digest of exactly `N` bytes, as S3 sends `x-amz-checksum-*`. A composite
/// checksum of a multipart upload (`...==-3`) is a checksum of checksums, not of the
/// object's bytes, and gives `None`.
pub fn parse_base64_digest<const N: usize>(v: &str) -> Option<[u8; N]> {
    let bytes = STANDARD.decode(v.trim()).ok()?;
    bytes.try_into().ok()
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
    Crc64(crc::Digest<'static, u64, Table<16>>),
    Crc32c(crc::Digest<'static, u32, Table<16>>),
    /// Running CRC-32 through the archive code's implementation, which uses the host's
    /// native one for large pieces.
    Crc32(u32),
    Md5(Box<Md5>),
    Sha1(Box<Sha1>),
    Sha256(Box<Sha256>),
}

impl Verifier {
    pub fn new(expected: Expected) -> Self {
        let state = match expected {
            Expected::Crc64(_) => State::Crc64(CRC64.digest()),
            Expected::Crc64Nvme(_) => State::Crc64(CRC64_NVME.digest()),
            Expected::Crc32c(_) => State::Crc32c(CRC32C.digest()),
            Expected::Crc32(_) => State::Crc32(0),
            Expected::Md5(_) => State::Md5(Box::default()),
            Expected::Sha1(_) => State::Sha1(Box::default()),
            Expected::Sha256(_) => State::Sha256(Box::default()),
        };
        Verifier { expected, state }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc64(d) => d.update(data),
            State::Crc32c(d) => d.update(data),
            State::Crc32(c) => *c = crate::archive::checksum::crc32(*c, data),
            State::Md5(d) => d.update(data),
            State::Sha1(d) => d.update(data),
            State::Sha256(d) => d.update(data),
        }
    }

    /// `Ok(name)` when the digest matches, `Err((expected, actual))` as printable text:
    /// CRC-64/XZ in decimal as OBS sends it, S3's checksums in base64 as S3 sends them,
    /// MD5 in hex as in the ETag.
    pub fn finish(self) -> Result<&'static str, (String, String)> {
        let name = self.expected.name();
        let (want, got) = match (self.state, self.expected) {
            (State::Crc64(d), Expected::Crc64(want)) => (want.to_string(), d.finalize().to_string()),
            (State::Crc64(d), Expected::Crc64Nvme(want)) => (b64(&want.to_be_bytes()), b64(&d.finalize().to_be_bytes())),
            (State::Crc32c(d), Expected::Crc32c(want)) => (b64(&want.to_be_bytes()), b64(&d.finalize().to_be_bytes())),
            (State::Crc32(c), Expected::Crc32(want)) => (b64(&want.to_be_bytes()), b64(&c.to_be_bytes())),
            (State::Md5(d), Expected::Md5(want)) => (hex::encode(want), hex::encode(d.finalize())),
            (State::Sha1(d), Expected::Sha1(want)) => (b64(&want), b64(&d.finalize())),
            (State::Sha256(d), Expected::Sha256(want)) => (b64(&want), b64(&d.finalize())),
            _ => unreachable!("Verifier state always matches its expectation"),
        };
        if want == got { Ok(name) } else { Err((want, got)) }
    }
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
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

    /// Each S3 algorithm against the value S3 (and botocore) gives for "123456789".
    #[test]
    fn s3_checksums() {
        let cases: [(Expected, &str); 5] = [
            (Expected::Crc32(u32::from_be_bytes(parse_base64_digest("y/Q5Jg==").unwrap())), "crc32"),
            (Expected::Crc32c(u32::from_be_bytes(parse_base64_digest("4waSgw==").unwrap())), "crc32c"),
            (Expected::Crc64Nvme(u64::from_be_bytes(parse_base64_digest("rosUhgp5mIg=").unwrap())), "crc64nvme"),
            (Expected::Sha1(parse_base64_digest("98O8HYCOBHMq32eZZczDTKeuNEE=").unwrap()), "sha1"),
            (Expected::Sha256(parse_base64_digest("FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=").unwrap()), "sha256"),
        ];
        for (expected, name) in cases {
            let mut v = Verifier::new(expected);
            v.update(b"1234");
            v.update(b"56789");
            assert_eq!(v.finish(), Ok(name));
            let mut v = Verifier::new(expected);
            v.update(b"123456780");
            let (want, got) = v.finish().unwrap_err();
            assert_ne!(want, got, "{name}");
        }
    }

    #[test]
    fn base64_digests() {
        assert_eq!(parse_base64_digest::<4>(" y/Q5Jg== "), Some([0xcb, 0xf4, 0x39, 0x26]));
        assert_eq!(parse_base64_digest::<4>("y/Q5Jg==-3"), None, "a composite checksum is not the object's");
        assert_eq!(parse_base64_digest::<8>("y/Q5Jg=="), None);
        assert_eq!(parse_base64_digest::<4>("not base64"), None);
    }

    #[test]
    fn crc_header() {
        assert_eq!(parse_crc64_decimal(" 11051210869376104954 "), Some(11051210869376104954));
        assert_eq!(parse_crc64_decimal("18446744073709551616"), None);
        assert_eq!(parse_crc64_decimal("0x12"), None);
        assert_eq!(parse_crc64_decimal(""), None);
    }
}
