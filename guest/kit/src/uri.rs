//! `<scheme>://<bucket>/<key>` URIs, the shape OBS and S3 share: parsed strictly, keys taken
//! literally, and Ray's own name for the package.

use sha1::{Digest, Sha1};

use crate::text::escape;
use crate::{Error, PackageFormat, Result};

/// What differs between schemes of this shape.
#[derive(Debug, Clone, Copy)]
pub struct UriRules {
    /// Lower case, without `://`.
    pub scheme: &'static str,
    /// Where credentials belong instead of the URI's user information.
    pub credentials_hint: &'static str,
    /// Where the port belongs instead of the URI's authority.
    pub endpoint_hint: &'static str,
    /// The store's longest object name.
    pub max_key_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketUri {
    /// The URI exactly as given.
    pub uri: String,
    pub bucket: String,
    /// Taken literally: never percent-decoded.
    pub key: String,
    pub extension: &'static str,
    pub format: PackageFormat,
}

impl BucketUri {
    pub fn parse(rules: &UriRules, uri: &str) -> Result<BucketUri> {
        let scheme = rules.scheme;
        let prefix = format!("{scheme}://");
        if let Some(i) = uri.find(|c: char| c.is_control()) {
            return Err(Error::invalid_uri(format!("the URI contains a control character at byte {i}: {}", escape(uri))));
        }
        let rest = match uri.get(..prefix.len()) {
            Some(p) if p == prefix => &uri[prefix.len()..],
            Some(p) if p.eq_ignore_ascii_case(&prefix) => {
                return Err(Error::invalid_uri(format!("write the scheme in lower case, {prefix}: {}", escape(uri))))
            }
            _ => return Err(Error::invalid_uri(format!("not an {prefix} URI: {}", escape(uri)))),
        };
        let Some((authority, key)) = rest.split_once('/') else {
            return Err(Error::invalid_uri(format!("the URI names no object, expected {prefix}<bucket>/<key>: {}", escape(uri))));
        };
        if authority.contains('@') {
            return Err(Error::invalid_uri(format!("credentials in the URI are not accepted; {}", rules.credentials_hint)));
        }
        if authority.contains(':') {
            return Err(Error::invalid_uri(format!("a port belongs in {}, not in the URI: {}", rules.endpoint_hint, escape(uri))));
        }
        validate_bucket(authority)?;
        if key.is_empty() {
            return Err(Error::invalid_uri(format!("the object key is empty: {}", escape(uri))));
        }
        if key.len() > rules.max_key_bytes {
            return Err(Error::invalid_uri(format!("the object key is {} bytes; at most {} are allowed", key.len(), rules.max_key_bytes)));
        }
        let Some((extension, format)) = PackageFormat::of_key(key) else {
            return Err(Error::invalid_uri(format!(
                "URI must have a file extension: .zip, .jar, .whl, .tar.gz, .tgz or .tar.xz (got {})",
                escape(uri)
            )));
        };
        Ok(BucketUri { uri: uri.to_string(), bucket: authority.to_string(), key: key.to_string(), extension, format })
    }

    /// For messages: attacker-chosen text escaped, nothing secret.
    pub fn display(&self) -> String {
        format!("bucket {}, key {}", self.bucket, escape(&self.key))
    }
}

/// The bucket rules OBS and S3 share: 3-63 characters of `[a-z0-9.-]`, starting and ending
/// with a letter or digit, no `..`, `.-` or `-.`, and not shaped like an IPv4 address.
pub fn validate_bucket(b: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::invalid_uri(format!("invalid bucket name {:?}: {why}", escape(b))));
    if b.is_empty() {
        return bad("it is empty");
    }
    if b.len() < 3 || b.len() > 63 {
        return bad("it must be 3 to 63 characters long");
    }
    if !b.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-') {
        return bad("only lower-case letters, digits, '.' and '-' are allowed");
    }
    let first = b.as_bytes()[0];
    let last = b.as_bytes()[b.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return bad("it must start and end with a letter or digit");
    }
    if b.contains("..") || b.contains(".-") || b.contains("-.") {
        return bad("'..', '.-' and '-.' are not allowed");
    }
    if b.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("it must not be an IP address");
    }
    Ok(())
}

/// Ray 2.60's name for a remote package (`parse_uri` in `ray/_common/runtime_env_uri.py`),
/// for a URI of a scheme Ray treats as remote: a `.whl` keeps its file name (pip needs it);
/// anything else is `<scheme>_<sha1 hex of the URI><suffix>`. Ray reads the URI with
/// `urllib.parse.urlparse`, so its path stops at the first `?` or `#` even though our keys
/// are literal: a key with those characters gets whatever suffix that shorter path has.
pub fn ray_package_name(scheme: &str, uri: &str) -> String {
    let after = uri.split_once("://").map_or("", |(_, r)| r);
    let netloc_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (netloc, rest) = after.split_at(netloc_end);
    let path = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    if path.ends_with(".whl") {
        return path.rsplit('/').next().unwrap_or("").to_string();
    }
    let raw = format!("{netloc}{path}");
    let suffix = [".tar.gz", ".tar.bz2", ".tar.xz"]
        .into_iter()
        .find(|e| raw.ends_with(e))
        .map(str::to_string)
        .unwrap_or_else(|| pathlib_suffix(&raw).to_string());
    format!("{scheme}_{}{suffix}", hex::encode(Sha1::digest(uri.as_bytes())))
}

/// `pathlib.PurePosixPath(p).suffix`: the last component's final `.ext`, where a leading
/// dot does not count and a trailing one gives nothing. Empty and `.` components are
/// dropped, as pathlib does.
fn pathlib_suffix(p: &str) -> &str {
    let name = p.split('/').rev().find(|c| !c.is_empty() && *c != ".").unwrap_or("");
    match name.rfind('.') {
        Some(i) if 0 < i && i < name.len() - 1 => &name[i..],
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const RULES: UriRules = UriRules { scheme: "xs", credentials_hint: "use XS_KEYS", endpoint_hint: "XS_ENDPOINT", max_key_bytes: 1024 };

    fn err(uri: &str) -> String {
        let e = BucketUri::parse(&RULES, uri).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidUri, "{uri}");
        e.message
    }

    #[test]
    fn keys_are_literal() {
        for (uri, key) in [
            ("xs://b12/100%/x%2Fy.zip", "100%/x%2Fy.zip"),
            ("xs://b12/a?b=c#frag.zip", "a?b=c#frag.zip"),
            ("xs://b12/my dir/a+b ~!*'().zip", "my dir/a+b ~!*'().zip"),
            ("xs://b12/日本/パッケージ.zip", "日本/パッケージ.zip"),
            ("xs://b12//lead.zip", "/lead.zip"),
        ] {
            let u = BucketUri::parse(&RULES, uri).unwrap();
            assert_eq!((u.bucket.as_str(), u.key.as_str(), u.uri.as_str()), ("b12", key, uri));
        }
        assert_eq!(BucketUri::parse(&RULES, "xs://b12/a\u{1b}x.zip").map(|u| u.display()).ok(), None);
        assert_eq!(BucketUri::parse(&RULES, "xs://b12/d/x y.tgz").unwrap().display(), "bucket b12, key d/x y.tgz");
    }

    #[test]
    fn rejects_malformed() {
        assert!(err("s3://bkt/a.zip").contains("not an xs://"));
        assert!(err("XS://bkt/a.zip").contains("lower case, xs://"));
        assert!(err("xs://bkt").contains("names no object"));
        assert!(err("xs://bkt/").contains("key is empty"));
        assert!(err("xs://ak:secretvalue@bkt/a.zip").contains("use XS_KEYS"));
        assert!(!err("xs://ak:secretvalue@bkt/a.zip").contains("secretvalue"));
        assert!(err("xs://bkt:9000/a.zip").contains("XS_ENDPOINT"));
        assert!(err("xs://bkt/a\u{85}.zip").contains("control character"));
        assert!(err(&format!("xs://bkt/{}.zip", "k".repeat(1021))).contains("1024"));
        assert!(err("xs://bkt/a.rar").starts_with("URI must have a file extension"));
        assert!(err("xs:///a.zip").contains("empty"));
    }

    #[test]
    fn bucket_rules() {
        for ok in ["abc", "a-b.c", "1bucket", &"a".repeat(63), "my.bucket.1"] {
            validate_bucket(ok).unwrap();
        }
        for bad in ["ab", &"a".repeat(64), "Abc", "a_b", "-ab", "ab-", ".ab", "ab.", "a..b", "a.-b", "a-.b", "192.168.1.1", "a b"] {
            assert!(validate_bucket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ray_names() {
        // Ray 2.60.0's own answers (the s3 plugin checks a larger table generated from Ray).
        assert_eq!(ray_package_name("s3", "s3://b12/x.zip"), "s3_5c43bce3518a08209190c6d835483b1ca7e17fd1.zip");
        assert_eq!(ray_package_name("s3", "s3://ray-jobs/job.tar.gz"), "s3_6cf958a9ff48c53b8c71734f29de7a8c559b9b95.tar.gz");
        assert_eq!(ray_package_name("s3", "s3://ray-jobs/wheels/pkg-1.0-py3-none-any.whl"), "pkg-1.0-py3-none-any.whl");
        assert_eq!(ray_package_name("s3", "s3://b12/a?b=c#frag.zip"), "s3_e00998e7f0a0a890f1f4a85aa700221fbb4c31cc");
        assert_eq!(ray_package_name("s3", "s3://b12/x.whl?v=1.zip"), "x.whl");
        assert_eq!(ray_package_name("s3", "s3://b12/dir/.zip"), "s3_6d387a68121fd9feb53b5520b2a937f1ff83ebfd");
    }

    #[test]
    fn pathlib_suffixes() {
        for (p, s) in [("b/a.zip", ".zip"), ("b/a.b.tgz", ".tgz"), ("b/.zip", ""), ("b/a.", ""), ("b/a.zip/", ".zip"), ("b/a.zip/.", ".zip"), ("b/..", ""), ("", ""), ("b/x.y/z", "")] {
            assert_eq!(pathlib_suffix(p), s, "{p}");
        }
    }
}
