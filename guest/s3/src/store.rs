//! The S3-specific parts of a download: signing, error documents and the region they may
//! name, checksum headers.

use std::cell::Cell;

use scheme_plugin_kit::credentials::KeyMaterial;
use scheme_plugin_kit::env::Env;
use scheme_plugin_kit::http::checksum::{md5_from_etag, parse_base64_digest, Expected};
use scheme_plugin_kit::http::{Headers, Request, Store};
use scheme_plugin_kit::store_error::parse_error_doc;
use scheme_plugin_kit::{Error, ErrorKind, Result};

use crate::credentials::Credentials;
use crate::endpoint::validate_region;
use crate::error::{s3_error, WRONG_REGION_CODES};
use crate::sign::{amz_date, Payload, Signer};

pub struct S3Store<'a> {
    pub credentials: Option<Credentials>,
    /// The signing region.
    pub region: String,
    pub env: &'a dyn Env,
    /// Appended to access errors of anonymous requests (why no credentials were found).
    pub anonymous_note: Option<String>,
    /// Where an answer said the bucket really is, when that is not [`S3Store::region`]; the
    /// caller tries once more there.
    pub moved_to: &'a Cell<Option<String>>,
}

impl S3Store<'_> {
    /// The bucket's region an error names: `x-amz-bucket-region` (S3 sends it with a
    /// redirect and with most refusals), else the `<Region>` of a wrong-region error.
    fn bucket_region(headers: &Headers, body: &[u8], code: Option<&str>) -> Option<String> {
        let from_body = || {
            let doc = parse_error_doc(body)?;
            doc.region.filter(|_| code.is_some_and(|c| WRONG_REGION_CODES.contains(&c)))
        };
        let r = headers.get("x-amz-bucket-region").map(str::to_string).or_else(from_body)?;
        validate_region(&r, "x-amz-bucket-region").ok()
    }
}

impl Store for S3Store<'_> {
    fn sign(&mut self, req: &mut Request) -> Result<()> {
        let Some(c) = &self.credentials else { return Ok(()) };
        let signer = Signer { access_key: &c.access_key, secret_key: &c.secret_key, session_token: c.session_token.as_deref(), region: &self.region };
        let payload = Payload::for_request(req);
        signer.sign(req, &amz_date(self.env.now()), &payload);
        Ok(())
    }

    fn parse_error(&self, status: u16, headers: &Headers, body: &[u8], _truncated: bool) -> Error {
        let secrets = self.credentials.as_ref().map(Credentials::secrets).unwrap_or_default();
        let mut e = s3_error(status, headers, body, self.credentials.is_none(), &secrets);
        if let Some(r) = Self::bucket_region(headers, body, e.store_code.as_deref()).filter(|r| *r != self.region) {
            e.message.push_str(&format!(" [the bucket is in region {r}, the request was for {}]", self.region));
            self.moved_to.set(Some(r));
        }
        let refused = matches!(e.kind, ErrorKind::AccessDenied | ErrorKind::BadCredentials);
        if let (None, Some(note), true) = (&self.credentials, &self.anonymous_note, refused) {
            e.message.push_str(&format!(" [{note}]"));
        }
        e
    }

    /// S3's own checksum of the whole object when it sent one (it does for a full GET with
    /// `x-amz-checksum-mode: ENABLED` on objects uploaded with one, and CRC64NVME for all
    /// new objects), else the MD5 ETag of a single-part upload without KMS or customer keys.
    /// A composite checksum (multipart, `x-amz-checksum-type: COMPOSITE`, `...-N`) covers the
    /// parts' checksums, not the bytes, and is not used.
    fn expected(&self, headers: &Headers) -> Option<Expected> {
        let composite = headers.get("x-amz-checksum-type").is_some_and(|t| t.eq_ignore_ascii_case("COMPOSITE"));
        if !composite {
            let h = |name: &str| headers.get(name);
            let found = h("x-amz-checksum-crc64nvme")
                .and_then(parse_base64_digest::<8>)
                .map(|b| Expected::Crc64Nvme(u64::from_be_bytes(b)))
                .or_else(|| h("x-amz-checksum-crc32c").and_then(parse_base64_digest::<4>).map(|b| Expected::Crc32c(u32::from_be_bytes(b))))
                .or_else(|| h("x-amz-checksum-crc32").and_then(parse_base64_digest::<4>).map(|b| Expected::Crc32(u32::from_be_bytes(b))))
                .or_else(|| h("x-amz-checksum-sha1").and_then(parse_base64_digest::<20>).map(Expected::Sha1))
                .or_else(|| h("x-amz-checksum-sha256").and_then(parse_base64_digest::<32>).map(Expected::Sha256));
            if found.is_some() {
                return found;
            }
        }
        let etag = headers.get("etag")?;
        md5_from_etag(etag).filter(|_| self.etag_is_md5(headers)).map(Expected::Md5)
    }

    fn etag_is_md5(&self, headers: &Headers) -> bool {
        let kms = headers.get("x-amz-server-side-encryption").is_some_and(|v| v.to_ascii_lowercase().starts_with("aws:kms"));
        let customer = headers.get("x-amz-server-side-encryption-customer-algorithm").is_some();
        !kms && !customer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Source;
    use scheme_plugin_kit::env::MapEnv;
    use scheme_plugin_kit::http::{Method, Scheme};
    use scheme_plugin_kit::time::parse_rfc3339;

    fn creds(token: Option<&str>) -> Credentials {
        Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_string),
            expires_at: None,
            source: Source::Environment,
        }
    }

    fn env() -> MapEnv {
        MapEnv::new().at(parse_rfc3339("2013-05-24T00:00:00Z").unwrap())
    }

    fn store<'a>(env: &'a MapEnv, cell: &'a Cell<Option<String>>, c: Option<Credentials>) -> S3Store<'a> {
        S3Store { credentials: c, region: "us-east-1".into(), env, anonymous_note: Some("IMDS not reachable".into()), moved_to: cell }
    }

    #[test]
    fn signs_with_the_clock_and_region() {
        let (env, cell) = (env(), Cell::new(None));
        let mut s = store(&env, &cell, Some(creds(None)));
        let mut req = Request::new(Method::Get, Scheme::Https, "examplebucket.s3.amazonaws.com", "/test.txt");
        req.set_header("Range", "bytes=0-9");
        s.sign(&mut req).unwrap();
        // AWS's documented GET Object example.
        assert!(req.header("authorization").unwrap().ends_with("Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"));
        let mut anon = store(&env, &cell, None);
        let mut req = Request::new(Method::Get, Scheme::Https, "b.s3.amazonaws.com", "/k");
        anon.sign(&mut req).unwrap();
        assert!(req.headers.is_empty());
    }

    #[test]
    fn errors_name_the_bucket_region_and_remember_it() {
        let (env, cell) = (env(), Cell::new(None));
        let s = store(&env, &cell, Some(creds(Some("TOKENsecretValue"))));
        let h: Headers = [("x-amz-bucket-region", "eu-west-1"), ("x-amz-request-id", "R1")].into_iter().collect();
        let e = s.parse_error(301, &h, b"<Error><Code>PermanentRedirect</Code><Message>TOKENsecretValue</Message></Error>", false);
        assert_eq!(cell.take().as_deref(), Some("eu-west-1"));
        assert!(e.message.contains("region eu-west-1") && !e.message.contains("TOKENsecretValue"), "{}", e.message);
        let body = b"<Error><Code>AuthorizationHeaderMalformed</Code><Region>ap-south-1</Region></Error>";
        s.parse_error(400, &Headers::new(), body, false);
        assert_eq!(cell.take().as_deref(), Some("ap-south-1"));
        // The same region, a region only in an unrelated error, or a malformed one: no hint.
        s.parse_error(403, &[("x-amz-bucket-region", "us-east-1")].into_iter().collect(), b"", false);
        s.parse_error(403, &Headers::new(), b"<Error><Code>AccessDenied</Code><Region>eu-west-1</Region></Error>", false);
        s.parse_error(301, &[("x-amz-bucket-region", "evil.example/x")].into_iter().collect(), b"", false);
        assert_eq!(cell.take(), None);
        let anon = store(&env, &cell, None);
        let e = anon.parse_error(403, &Headers::new(), b"<Error><Code>AccessDenied</Code></Error>", false);
        assert!(e.message.contains("anonymous") && e.message.contains("IMDS not reachable"), "{}", e.message);
    }

    #[test]
    fn checksum_headers() {
        let (env, cell) = (env(), Cell::new(None));
        let s = store(&env, &cell, None);
        let hs = |pairs: &[(&str, &str)]| pairs.iter().copied().collect::<Headers>();
        assert_eq!(s.expected(&hs(&[("x-amz-checksum-crc32", "y/Q5Jg=="), ("etag", "\"5d41402abc4b2a76b9719d911017c592\"")])), Some(Expected::Crc32(0xcbf4_3926)));
        assert_eq!(s.expected(&hs(&[("x-amz-checksum-crc32c", "4waSgw==")])), Some(Expected::Crc32c(0xe306_9283)));
        assert_eq!(s.expected(&hs(&[("x-amz-checksum-crc64nvme", "rosUhgp5mIg="), ("x-amz-checksum-type", "FULL_OBJECT")])), Some(Expected::Crc64Nvme(0xae8b_1486_0a79_9888)));
        assert!(matches!(s.expected(&hs(&[("x-amz-checksum-sha256", "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=")])), Some(Expected::Sha256(_))));
        assert!(matches!(s.expected(&hs(&[("x-amz-checksum-sha1", "98O8HYCOBHMq32eZZczDTKeuNEE=")])), Some(Expected::Sha1(_))));
        // Composite (multipart) checksums cover part checksums, not the bytes.
        assert_eq!(s.expected(&hs(&[("x-amz-checksum-crc32", "y/Q5Jg==-3"), ("etag", "\"5d41402abc4b2a76b9719d911017c592-3\"")])), None);
        assert_eq!(s.expected(&hs(&[("x-amz-checksum-crc32", "y/Q5Jg=="), ("x-amz-checksum-type", "COMPOSITE")])), None);
        assert!(matches!(s.expected(&hs(&[("etag", "\"5d41402abc4b2a76b9719d911017c592\"")])), Some(Expected::Md5(_))));
        assert_eq!(s.expected(&hs(&[("etag", "\"5d41402abc4b2a76b9719d911017c592\""), ("x-amz-server-side-encryption", "aws:kms")])), None);
        assert_eq!(s.expected(&hs(&[("etag", "\"5d41402abc4b2a76b9719d911017c592\""), ("x-amz-server-side-encryption-customer-algorithm", "AES256")])), None);
        assert!(s.etag_is_md5(&hs(&[("x-amz-server-side-encryption", "AES256")])));
    }
}
