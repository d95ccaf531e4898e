//! `obs://<bucket>/<key>` URIs, parsed strictly and without any I/O by the kit's rules for
//! bucket-and-key URIs; what is OBS's own is the scheme, the hints and the package name.

use scheme_plugin_kit::uri::{BucketUri, UriRules};
use scheme_plugin_kit::Result;

pub use scheme_plugin_kit::uri::validate_bucket;
pub use scheme_plugin_kit::PackageFormat;

pub const SCHEME: &str = "obs";

const RULES: UriRules = UriRules {
    scheme: SCHEME,
    credentials_hint: "use OBS_ACCESS_KEY_ID / OBS_SECRET_ACCESS_KEY or a credentials file",
    endpoint_hint: "OBS_ENDPOINT",
    // OBS object names are at most 1024 bytes.
    max_key_bytes: 1024,
};

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
        let BucketUri { uri, bucket, key, extension, format } = BucketUri::parse(&RULES, uri)?;
        Ok(ObsUri { uri, bucket, key, extension, format })
    }

    /// The name Ray 2.60 gives this URI once `obs` is one of its remote schemes:
    /// `obs_<sha1 hex of the URI><suffix>`, a wheel keeping its file name (pip needs it).
    pub fn package_name(&self) -> String {
        scheme_plugin_kit::uri::ray_package_name(SCHEME, &self.uri)
    }

    /// For messages: attacker-chosen text escaped, nothing secret.
    pub fn display(&self) -> String {
        format!("bucket {}, key {}", self.bucket, scheme_plugin_kit::text::escape(&self.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha1::{Digest, Sha1};
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
        // A wheel keeps its file name, as Ray names any remote wheel.
        assert_eq!(ObsUri::parse("obs://b12/wheels/pkg-1.0-py3-none-any.whl").unwrap().package_name(), "pkg-1.0-py3-none-any.whl");
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
}
