//! `obs://<bucket>/<key>` URIs, parsed strictly and without any I/O.

use scheme_plugin_kit::text::escape;
use scheme_plugin_kit::{Error, Result};
use sha1::{Digest, Sha1};

pub const SCHEME: &str = "obs";
const PREFIX: &str = "obs://";
/// OBS object names are at most 1024 bytes.
const MAX_KEY_BYTES: usize = 1024;

pub use scheme_plugin_kit::PackageFormat;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObsUri {
    /// The URI exactly as given.
    pub uri: String,
    pub bucket: String,
    /// Taken literally: never percent-decoded.
    pub key: String,
    pub extension: &'static str,
    pub format: PackageFormat,
}

impl ObsUri {
    pub fn parse(uri: &str) -> Result<ObsUri> {
        if let Some(i) = uri.find(|c: char| c.is_control()) {
            return Err(Error::invalid_uri(format!(
                "the URI contains a control character at byte {i}: {}",
                escape(uri)
            )));
        }
        let rest = match uri.get(..PREFIX.len()) {
            Some(p) if p == PREFIX => &uri[PREFIX.len()..],
            Some(p) if p.eq_ignore_ascii_case(PREFIX) => {
                return Err(Error::invalid_uri(format!("write the scheme in lower case, obs://: {}", escape(uri))))
            }
            _ => return Err(Error::invalid_uri(format!("not an obs:// URI: {}", escape(uri)))),
        };
        let Some((authority, key)) = rest.split_once('/') else {
            return Err(Error::invalid_uri(format!("the URI names no object, expected obs://<bucket>/<key>: {}", escape(uri))));
        };
        if authority.contains('@') {
            return Err(Error::invalid_uri(
                "credentials in the URI are not accepted; use OBS_ACCESS_KEY_ID / OBS_SECRET_ACCESS_KEY or a credentials file",
            ));
        }
        if authority.contains(':') {
            return Err(Error::invalid_uri(format!(
                "a port belongs in OBS_ENDPOINT, not in the URI: {}",
                escape(uri)
            )));
        }
        validate_bucket(authority)?;
        if key.is_empty() {
            return Err(Error::invalid_uri(format!("the object key is empty: {}", escape(uri))));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(Error::invalid_uri(format!("the object key is {} bytes; OBS allows at most {MAX_KEY_BYTES}", key.len())));
        }
        let Some((extension, format)) = PackageFormat::of_key(key) else {
            return Err(Error::invalid_uri(format!(
                "URI must have a file extension: .zip, .jar, .whl, .tar.gz, .tgz or .tar.xz (got {})",
                escape(uri)
            )));
        };
        Ok(ObsUri { uri: uri.to_string(), bucket: authority.to_string(), key: key.to_string(), extension, format })
    }

    /// Ray's local name for the package: `obs_<sha1 hex of the URI><extension>`.
    pub fn package_name(&self) -> String {
        format!("{SCHEME}_{}{}", hex::encode(Sha1::digest(self.uri.as_bytes())), self.extension)
    }

    /// For messages: attacker-chosen text escaped, nothing secret.
    pub fn display(&self) -> String {
        format!("bucket {}, key {}", self.bucket, escape(&self.key))
    }
}

/// OBS bucket naming rules: 3-63 characters of `[a-z0-9.-]`, starting and ending with a
/// letter or digit, no `..`, `.-` or `-.`, and not shaped like an IPv4 address.
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

#[cfg(test)]
mod tests {
    use super::*;
    use scheme_plugin_kit::ErrorKind;

    fn err(uri: &str) -> String {
        let e = ObsUri::parse(uri).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidUri, "{uri}");
        e.message
    }

    #[test]
    fn parses_simple_and_nested() {
        let u = ObsUri::parse("obs://ray-jobs/pkgs/2024/job-1.zip").unwrap();
        assert_eq!((u.bucket.as_str(), u.key.as_str(), u.extension, u.format), ("ray-jobs", "pkgs/2024/job-1.zip", ".zip", PackageFormat::Zip));
        assert_eq!(u.display(), "bucket ray-jobs, key pkgs/2024/job-1.zip");
    }

    #[test]
    fn key_is_literal() {
        for (uri, key) in [
            ("obs://b12/100%/x%2Fy.zip", "100%/x%2Fy.zip"),
            ("obs://b12/a?b=c#frag.zip", "a?b=c#frag.zip"),
            ("obs://b12/my dir/a+b ~!*'().zip", "my dir/a+b ~!*'().zip"),
            ("obs://b12/日本/パッケージ.zip", "日本/パッケージ.zip"),
            ("obs://b12//lead.zip", "/lead.zip"),
        ] {
            assert_eq!(ObsUri::parse(uri).unwrap().key, key);
        }
    }

    #[test]
    fn extensions_and_formats() {
        for (uri, ext, f) in [
            ("obs://bkt/a.zip", ".zip", PackageFormat::Zip),
            ("obs://bkt/a.jar", ".jar", PackageFormat::Zip),
            ("obs://bkt/a-1.0-py3-none-any.whl", ".whl", PackageFormat::Wheel),
            ("obs://bkt/a.tar.gz", ".tar.gz", PackageFormat::TarGz),
            ("obs://bkt/a.tgz", ".tgz", PackageFormat::TarGz),
            ("obs://bkt/a.tar.xz", ".tar.xz", PackageFormat::TarXz),
        ] {
            let u = ObsUri::parse(uri).unwrap();
            assert_eq!((u.extension, u.format), (ext, f), "{uri}");
        }
        for uri in ["obs://bkt/a.gz", "obs://bkt/a", "obs://bkt/a.ZIP", "obs://bkt/a.zip/", "obs://bkt/.zip", "obs://bkt/a.xz"] {
            assert!(err(uri).starts_with("URI must have a file extension"), "{uri}");
        }
    }

    #[test]
    fn package_name_is_sha1_of_the_uri() {
        let u = ObsUri::parse("obs://ray-jobs/job.tar.gz").unwrap();
        let want = format!("obs_{}.tar.gz", hex::encode(Sha1::digest(b"obs://ray-jobs/job.tar.gz")));
        assert_eq!(u.package_name(), want);
        // Known value computed independently (python3 hashlib.sha1).
        assert_eq!(ObsUri::parse("obs://b12/x.zip").unwrap().package_name(), "obs_5114024ce89d21882081720942e16270aafc41fb.zip");
    }

    #[test]
    fn rejects_malformed() {
        assert!(err("s3://bkt/a.zip").contains("not an obs://"));
        assert!(err("OBS://bkt/a.zip").contains("lower case"));
        assert!(err("obs:/bkt/a.zip").contains("not an obs://"));
        assert!(err("obs://bkt").contains("names no object"));
        assert!(err("obs://bkt/").contains("key is empty"));
        assert!(err("obs://ak:sk@bkt/a.zip").contains("credentials"));
        assert!(!err("obs://ak:secretvalue@bkt/a.zip").contains("secretvalue"));
        assert!(err("obs://bkt:9000/a.zip").contains("port"));
        assert!(err("obs://bkt/a\nb.zip").contains("control character"));
        assert!(err("obs://bkt/a\u{7f}.zip").contains("control character"));
        assert!(err("obs://bkt/a\u{85}.zip").contains("control character"));
        assert!(err(&format!("obs://bkt/{}.zip", "k".repeat(1021))).contains("1024"));
        assert!(ObsUri::parse(&format!("obs://bkt/{}.zip", "k".repeat(1020))).is_ok());
        assert!(err("obs:///a.zip").contains("empty"));
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
}
