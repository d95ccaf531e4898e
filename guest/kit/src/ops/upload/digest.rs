//! The MD5 an upload sends as `Content-MD5` (the store refuses bytes that do not match it)
//! and checks the store's ETag against: for a single PUT or a part without KMS or customer
//! keys, the ETag is the hex MD5 of what the store kept.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use md5::{Digest as _, Md5};

use crate::http::checksum::md5_from_etag;
use crate::text::escape;
use crate::{Error, Result};

/// What [`check_etag`] reports as verified.
pub const VERIFIED_MD5: &str = "md5";
/// What a completed upload whose ETag is the MD5 of its parts' MD5s reports as verified.
pub const VERIFIED_MD5_OF_PARTS: &str = "md5-of-parts";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Md5Digest(pub [u8; 16]);

impl Md5Digest {
    pub fn of(bytes: &[u8]) -> Md5Digest {
        Md5Digest(Md5::digest(bytes).into())
    }

    /// The `Content-MD5` header value: base64, not hex (RFC 1864).
    pub fn content_md5(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// The MD5 an ETag holds, quoted as the stores send it or bare as some S3 copies do.
/// `None` for anything else (a multipart `...-N` ETag, an opaque tag).
pub fn etag_md5(etag: &str) -> Option<[u8; 16]> {
    let t = etag.trim();
    md5_from_etag(t).or_else(|| md5_from_etag(&format!("\"{t}\"")))
}

/// Holds the store's ETag for bytes we sent to their MD5. `etag_is_md5` is the store's
/// word that this answer's ETag is a plain digest (no KMS or customer keys). A digest that
/// differs means the store kept other bytes than we sent: an integrity error. An ETag that
/// is no digest proves nothing either way: `Ok(None)`.
pub fn check_etag(etag: Option<&str>, etag_is_md5: bool, sent: &Md5Digest) -> Result<Option<&'static str>> {
    let Some(stored) = etag.filter(|_| etag_is_md5).and_then(etag_md5) else { return Ok(None) };
    if stored == sent.0 {
        return Ok(Some(VERIFIED_MD5));
    }
    Err(Error::integrity(format!(
        "the store's ETag {} is not the MD5 {} of the bytes sent: it kept other bytes",
        escape(etag.unwrap_or_default()),
        sent.hex()
    )))
}

/// The ETag S3 gives a completed multipart upload: the MD5 of the parts' MD5s, then `-`
/// and the part count. `None` when a part's ETag is no MD5. Parts in upload order.
pub fn multipart_etag<'a>(part_etags: impl ExactSizeIterator<Item = &'a str>) -> Option<String> {
    let count = part_etags.len();
    let mut md5s = Md5::new();
    for etag in part_etags {
        md5s.update(etag_md5(etag)?);
    }
    Some(format!("\"{}-{count}\"", hex::encode(md5s.finalize())))
}

/// Whether two ETags name the same version: quotes and hex case aside.
pub fn same_etag(a: &str, b: &str) -> bool {
    let bare = |s: &str| s.trim().trim_matches('"').to_ascii_lowercase();
    bare(a) == bare(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn content_md5_is_base64_of_the_digest() {
        // RFC 1864's own example is for "Check Integrity!"; this one is checkable with
        // `printf hello | openssl md5 -binary | base64`.
        let d = Md5Digest::of(b"hello");
        assert_eq!(d.content_md5(), "XUFAKrxLKna5cZ2REBfFkg==");
        assert_eq!(d.hex(), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn etags_are_checked_only_when_they_are_digests() {
        let d = Md5Digest::of(b"hello");
        assert_eq!(check_etag(Some("\"5d41402abc4b2a76b9719d911017c592\""), true, &d).unwrap(), Some("md5"));
        assert_eq!(check_etag(Some("5D41402ABC4B2A76B9719D911017C592"), true, &d).unwrap(), Some("md5"));
        let e = check_etag(Some("\"00000000000000000000000000000000\""), true, &d).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Integrity);
        assert!(e.message.contains("5d41402abc4b2a76b9719d911017c592"), "{}", e.message);
        // Encrypted with KMS, multipart-shaped, opaque or absent: nothing to verify.
        assert_eq!(check_etag(Some("\"00000000000000000000000000000000\""), false, &d).unwrap(), None);
        assert_eq!(check_etag(Some("\"5d41402abc4b2a76b9719d911017c592-2\""), true, &d).unwrap(), None);
        assert_eq!(check_etag(Some("W/\"x\""), true, &d).unwrap(), None);
        assert_eq!(check_etag(None, true, &d).unwrap(), None);
    }

    #[test]
    fn multipart_etags_are_md5s_of_md5s() {
        let a = format!("\"{}\"", Md5Digest::of(b"part one").hex());
        let b = Md5Digest::of(b"part two").hex();
        let mut both = Vec::new();
        both.extend_from_slice(&Md5Digest::of(b"part one").0);
        both.extend_from_slice(&Md5Digest::of(b"part two").0);
        let want = format!("\"{}-2\"", Md5Digest::of(&both).hex());
        assert_eq!(multipart_etag([a.as_str(), b.as_str()].into_iter()), Some(want));
        assert_eq!(multipart_etag([a.as_str(), "\"opaque\""].into_iter()), None);
    }

    #[test]
    fn etag_comparison_ignores_quotes_and_case() {
        assert!(same_etag("\"AbC-2\"", "abc-2"));
        assert!(!same_etag("\"abc-2\"", "\"abc-3\""));
    }
}
