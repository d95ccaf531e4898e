//! The OBS-specific parts of a download: signing, error documents, checksum headers.

use scheme_plugin_kit::credentials::KeyMaterial;
use scheme_plugin_kit::http::checksum::parse_crc64_decimal;
use scheme_plugin_kit::http::{Headers, Request, Store};
use scheme_plugin_kit::{Error, Result};

use crate::credentials::Credentials;
use crate::env::Env;
use crate::error::obs_error;
use crate::sign::{authorization, canonical_resource_from_path, string_to_sign, SignatureType};

pub struct ObsStore<'a> {
    pub credentials: Option<Credentials>,
    pub bucket: String,
    pub path_style: bool,
    pub env: &'a dyn Env,
    /// Appended to access errors of anonymous requests (why no credentials were found).
    pub anonymous_note: Option<String>,
}

impl Store for ObsStore<'_> {
    fn sign(&mut self, req: &mut Request) -> Result<()> {
        let Some(c) = &self.credentials else { return Ok(()) };
        let date = httpdate::fmt_http_date(self.env.now());
        req.set_header("Date", date.clone());
        if let Some(token) = &c.security_token {
            req.set_header(SignatureType::Obs.security_token_header(), token.clone());
        }
        let resource = canonical_resource_from_path(&self.bucket, &req.path_and_query, self.path_style)
            .ok_or_else(|| Error::internal("cannot sign a request whose path is not under the bucket"))?;
        let sts = string_to_sign(req.method.as_str(), &req.headers, &date, &resource, SignatureType::Obs);
        req.set_header("Authorization", authorization(SignatureType::Obs, &c.access_key, &c.secret_key, &sts));
        Ok(())
    }

    fn parse_error(&self, status: u16, headers: &Headers, body: &[u8], _truncated: bool) -> Error {
        let secrets = self.credentials.as_ref().map(Credentials::secrets).unwrap_or_default();
        let mut e = obs_error(status, headers, body, self.credentials.is_none(), &secrets);
        let refused = matches!(e.kind, scheme_plugin_kit::ErrorKind::AccessDenied | scheme_plugin_kit::ErrorKind::BadCredentials);
        if let (None, Some(note), true) = (&self.credentials, &self.anonymous_note, refused) {
            e.message.push_str(&format!(" [{note}]"));
        }
        e
    }

    fn crc64(&self, headers: &Headers) -> Option<u64> {
        headers
            .get("x-obs-checksum-crc64ecma")
            .or_else(|| headers.get("x-obs-hash-crc64ecma"))
            .and_then(parse_crc64_decimal)
    }

    /// With SSE-KMS or customer keys the ETag is not the MD5 of the plaintext.
    fn etag_is_md5(&self, headers: &Headers) -> bool {
        let kms = headers.get("x-obs-server-side-encryption").is_some_and(|v| v.eq_ignore_ascii_case("kms"));
        let customer = headers.get("x-obs-server-side-encryption-customer-algorithm").is_some();
        !kms && !customer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Source;
    use crate::env::MapEnv;
    use scheme_plugin_kit::http::{Method, Scheme};

    fn creds(token: Option<&str>) -> Credentials {
        Credentials {
            access_key: "AKTESTEXAMPLE0000001".into(),
            secret_key: "SKtestExampleSecretKey0000000000000000001".into(),
            security_token: token.map(str::to_string),
            expires_at: None,
            source: Source::ObsEnv,
        }
    }

    fn env() -> MapEnv {
        MapEnv::new().at(httpdate::parse_http_date("Tue, 15 Oct 2024 07:20:09 GMT").unwrap())
    }

    #[test]
    fn signs_like_the_sdk_in_both_addressing_styles() {
        let env = env();
        for (authority, path, path_style) in [("ray-jobs.obs.cn-north-4.myhuaweicloud.com", "/job.zip", false), ("obs.cn-north-4.myhuaweicloud.com", "/ray-jobs/job.zip", true)] {
            let mut store = ObsStore { credentials: Some(creds(None)), bucket: "ray-jobs".into(), path_style, env: &env, anonymous_note: None };
            let mut req = Request::new(Method::Get, Scheme::Https, authority, path);
            req.set_header("Range", "bytes=5-");
            store.sign(&mut req).unwrap();
            assert_eq!(req.header("date"), Some("Tue, 15 Oct 2024 07:20:09 GMT"));
            // Same vector as get_simple_vhost: Range is not signed, addressing does not matter.
            assert_eq!(req.header("authorization"), Some("OBS AKTESTEXAMPLE0000001:XH/xw6IBWdbYTPD7HMecyh5Pl6M="));
        }
    }

    #[test]
    fn token_is_sent_and_signed() {
        let env = env();
        let mut store = ObsStore { credentials: Some(creds(Some("gQpjbi1ub3J0aC00+Token/With=Special+Chars"))), bucket: "ray-jobs".into(), path_style: false, env: &env, anonymous_note: None };
        let mut req = Request::new(Method::Get, Scheme::Https, "ray-jobs.obs.cn-north-4.myhuaweicloud.com", "/job.zip");
        store.sign(&mut req).unwrap();
        assert_eq!(req.header("x-obs-security-token"), Some("gQpjbi1ub3J0aC00+Token/With=Special+Chars"));
        assert_eq!(req.header("authorization"), Some("OBS AKTESTEXAMPLE0000001:MfHVIHek1YEDCpGSy/wXgMLnchc="));
    }

    #[test]
    fn anonymous_requests_are_not_signed() {
        let env = env();
        let mut store = ObsStore { credentials: None, bucket: "b12".into(), path_style: false, env: &env, anonymous_note: Some("ECS metadata disabled".into()) };
        let mut req = Request::new(Method::Get, Scheme::Https, "b12.obs.x.com", "/k.zip");
        store.sign(&mut req).unwrap();
        assert!(req.headers.is_empty());
        let e = store.parse_error(403, &Headers::new(), b"<Error><Code>AccessDenied</Code></Error>", false);
        assert!(e.message.contains("anonymous") && e.message.contains("ECS metadata disabled"), "{}", e.message);
    }

    #[test]
    fn errors_redact_the_access_key() {
        let env = env();
        let store = ObsStore { credentials: Some(creds(None)), bucket: "b12".into(), path_style: false, env: &env, anonymous_note: None };
        let e = store.parse_error(403, &Headers::new(), b"<Error><Code>InvalidAccessKeyId</Code><Message>AKTESTEXAMPLE0000001 unknown</Message></Error>", false);
        assert!(!e.message.contains("AKTESTEXAMPLE0000001"), "{}", e.message);
    }

    #[test]
    fn checksum_headers() {
        let env = env();
        let store = ObsStore { credentials: None, bucket: "b12".into(), path_style: false, env: &env, anonymous_note: None };
        let h: Headers = [("x-obs-hash-crc64ecma", "123")].into_iter().collect();
        assert_eq!(store.crc64(&h), Some(123));
        let h: Headers = [("x-obs-checksum-crc64ecma", "7"), ("x-obs-hash-crc64ecma", "123")].into_iter().collect();
        assert_eq!(store.crc64(&h), Some(7));
        assert!(store.etag_is_md5(&Headers::new()));
        assert!(!store.etag_is_md5(&[("x-obs-server-side-encryption", "kms")].into_iter().collect()));
        assert!(store.etag_is_md5(&[("x-obs-server-side-encryption", "AES256")].into_iter().collect()));
    }
}
