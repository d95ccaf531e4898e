//! `s3://<bucket>/<key>` URIs: the kit's bucket-and-key rules (keys taken literally, as for
//! `obs://`), and Ray's own name for the package.

use scheme_plugin_kit::uri::{ray_package_name, BucketUri, UriRules};
use scheme_plugin_kit::Result;

pub use scheme_plugin_kit::PackageFormat;

pub const SCHEME: &str = "s3";

const RULES: UriRules = UriRules {
    scheme: SCHEME,
    credentials_hint: "use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a profile in ~/.aws/credentials",
    endpoint_hint: "AWS_ENDPOINT_URL_S3",
    // S3 object keys are at most 1024 bytes of UTF-8.
    max_key_bytes: 1024,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Uri {
    /// The URI exactly as given.
    pub uri: String,
    pub bucket: String,
    /// Taken literally: never percent-decoded.
    pub key: String,
    pub extension: &'static str,
    pub format: PackageFormat,
}

impl S3Uri {
    pub fn parse(uri: &str) -> Result<S3Uri> {
        let BucketUri { uri, bucket, key, extension, format } = BucketUri::parse(&RULES, uri)?;
        Ok(S3Uri { uri, bucket, key, extension, format })
    }

    /// Ray's own name for this package: `s3` is one of Ray's schemes, so Ray names it itself
    /// and ours must agree (a wheel keeps its file name; see [`ray_package_name`]).
    pub fn package_name(&self) -> String {
        ray_package_name(SCHEME, &self.uri)
    }

    /// For messages: attacker-chosen text escaped, nothing secret.
    pub fn display(&self) -> String {
        format!("bucket {}, key {}", self.bucket, scheme_plugin_kit::text::escape(&self.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheme_plugin_kit::ErrorKind;

    /// `vectors/ray-package-names.json`, written by `vectors/gen_ray_names.py` from Ray
    /// 2.60.0's own `parse_uri`.
    #[test]
    fn package_names_are_rays() {
        let v: serde_json::Value = serde_json::from_str(include_str!("../tests/vectors/ray-package-names.json")).unwrap();
        let cases = v["cases"].as_array().unwrap();
        assert!(cases.len() >= 25);
        for c in cases {
            let (uri, want) = (c[0].as_str().unwrap(), c[1].as_str().unwrap());
            let u = S3Uri::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
            assert_eq!(u.package_name(), want, "{uri}");
        }
    }

    /// The same cases written out, so the rule is readable here.
    #[test]
    fn package_name_cases() {
        for (uri, want) in [
            ("s3://ray-jobs/job.zip", "s3_1edc7a974ab4ef5ecf8e34a965b523994da9d08e.zip"),
            ("s3://ray-jobs/job.tar.gz", "s3_6cf958a9ff48c53b8c71734f29de7a8c559b9b95.tar.gz"),
            ("s3://ray-jobs/job.tgz", "s3_1f8c7299efae9c99c467ab3f210b5c48cda98008.tgz"),
            ("s3://ray-jobs/job.tar.xz", "s3_f17b2581e41e3834dcc2a47896758ec934088fa1.tar.xz"),
            ("s3://ray-jobs/lib.jar", "s3_6c490758377e2fd2480c9252db643351f41c1dba.jar"),
            // A wheel keeps its file name: pip reads the version and tags from it.
            ("s3://ray-jobs/wheels/pkg-1.0-py3-none-any.whl", "pkg-1.0-py3-none-any.whl"),
            ("s3://b12/%E6%97%A5.whl", "%E6%97%A5.whl"),
            // The key is literal for us, but Ray's urlparse ends the path at `?` or `#`.
            ("s3://b12/a?b=c#frag.zip", "s3_e00998e7f0a0a890f1f4a85aa700221fbb4c31cc"),
            ("s3://b12/x.tar.gz?v=1.zip", "s3_0313331ff1295a9139f5b0bdea3d966d3ff71a36.tar.gz"),
            ("s3://b12/x.whl?v=1.zip", "x.whl"),
            ("s3://b12/dir/.zip", "s3_6d387a68121fd9feb53b5520b2a937f1ff83ebfd"),
            ("s3://b12/dir/a.b.c.tar.xz", "s3_112350e4289e15b2e9f68c08951c133e25018c09.tar.xz"),
        ] {
            assert_eq!(S3Uri::parse(uri).unwrap().package_name(), want, "{uri}");
        }
    }

    #[test]
    fn parses_literally_and_refuses_what_obs_refuses() {
        let u = S3Uri::parse("s3://ray-jobs/100%/x%2Fy.tar.gz").unwrap();
        assert_eq!((u.bucket.as_str(), u.key.as_str(), u.extension, u.format), ("ray-jobs", "100%/x%2Fy.tar.gz", ".tar.gz", PackageFormat::TarGz));
        assert_eq!(u.display(), "bucket ray-jobs, key 100%/x%2Fy.tar.gz");
        for (bad, says) in [
            ("obs://b12/a.zip", "not an s3://"),
            ("S3://b12/a.zip", "lower case"),
            ("s3://AKIA:secret@b12/a.zip", "AWS_ACCESS_KEY_ID"),
            ("s3://b12:9000/a.zip", "AWS_ENDPOINT_URL_S3"),
            ("s3://Bucket/a.zip", "lower-case"),
            ("s3://b12/a.rar", "file extension"),
        ] {
            let e = S3Uri::parse(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidUri, "{bad}");
            assert!(e.message.contains(says) && !e.message.contains("secret"), "{bad}: {}", e.message);
        }
    }
}
