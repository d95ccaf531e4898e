//! Where requests go: the region, the endpoint (AWS's own for the region, or a configured
//! one: MinIO, Ceph, OBS's S3 API, ...) and the addressing style.
//!
//! - Region: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, else `us-east-1`.
//! - Endpoint: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, the profile's `s3.endpoint_url`,
//!   its `endpoint_url` (all ignored with `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`),
//!   else AWS's: `s3.amazonaws.com` for `us-east-1` (as botocore), `s3.<region>.amazonaws.com`
//!   elsewhere, `.amazonaws.com.cn` in China.
//! - Addressing: path-style with `AWS_S3_ADDRESSING_STYLE=path` (or the profile's
//!   `s3.addressing_style`), for an IP or `localhost` endpoint, and for a bucket with dots
//!   over https (a wildcard certificate covers one label); virtual-hosted otherwise.

use scheme_plugin_kit::encode::encode_path;
use scheme_plugin_kit::endpoint::{authority, EndpointUrl};
use scheme_plugin_kit::env::Env;
use scheme_plugin_kit::http::Scheme;
use scheme_plugin_kit::settings::setting_error;
use scheme_plugin_kit::text::escape;
use scheme_plugin_kit::Result;

use crate::profile::Profile;
use crate::settings::{self as s, var};

/// Signing region when nothing names one: where botocore sends a client without a region.
pub const DEFAULT_REGION: &str = "us-east-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    Auto,
    Path,
    Virtual,
}

impl Addressing {
    pub fn parse(v: &str, what: &str) -> Result<Addressing> {
        match v.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Addressing::Auto),
            "path" => Ok(Addressing::Path),
            "virtual" => Ok(Addressing::Virtual),
            _ => Err(setting_error(format!("{what} must be path, virtual or auto, not {:?}", escape(v)))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub scheme: Scheme,
    /// Lower-case host; IPv6 without brackets.
    pub host: String,
    /// Only when given and not the scheme's default (the signed `host` never has one).
    pub port: Option<u16>,
    /// Configured rather than AWS's own for the region.
    pub custom: bool,
    pub addressing: Addressing,
    /// Where the store is asked to be: the signing region.
    pub region: String,
}

/// The target of one object request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectTarget {
    pub scheme: Scheme,
    pub authority: String,
    /// Encoded exactly as botocore sends it.
    pub path: String,
    pub path_style: bool,
}

/// Region names are DNS labels: anything else must not reach a host name or a signature.
pub fn validate_region(r: &str, what: &str) -> Result<String> {
    let r = r.trim();
    let ok = !r.is_empty() && r.len() <= 32 && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') && !r.starts_with('-') && !r.ends_with('-');
    if ok { Ok(r.to_string()) } else { Err(setting_error(format!("{what} {:?} is not a region name (like eu-west-1)", escape(r)))) }
}

/// `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, else [`DEFAULT_REGION`].
pub fn region(env: &dyn Env, profile: &Profile) -> Result<String> {
    for name in [s::AWS_REGION, s::AWS_DEFAULT_REGION] {
        if let Some(r) = var(env, name) {
            return validate_region(&r, name);
        }
    }
    match profile.get("region") {
        Some(r) => validate_region(r, &format!("the region of profile {:?}", escape(&profile.name))),
        None => Ok(DEFAULT_REGION.to_string()),
    }
}

impl Endpoint {
    /// AWS's own endpoint for `region`.
    pub fn aws(region: &str, addressing: Addressing) -> Endpoint {
        let host = match region {
            "us-east-1" => "s3.amazonaws.com".to_string(),
            r if r.starts_with("cn-") => format!("s3.{r}.amazonaws.com.cn"),
            r => format!("s3.{r}.amazonaws.com"),
        };
        Endpoint { scheme: Scheme::Https, host, port: None, custom: false, addressing, region: region.to_string() }
    }

    /// A configured endpoint URL; `what` names where it came from.
    pub fn custom(url: &str, what: &str, region: &str, addressing: Addressing) -> Result<Endpoint> {
        let EndpointUrl { scheme, host, port } = EndpointUrl::parse(url, what)?;
        let port = port.filter(|&p| p != scheme.default_port());
        Ok(Endpoint { scheme, host, port, custom: true, addressing, region: region.to_string() })
    }

    /// Everything from the environment and the profile, for `region`.
    pub fn resolve(env: &dyn Env, profile: &Profile, region: &str) -> Result<Endpoint> {
        let addressing = match (var(env, s::AWS_S3_ADDRESSING_STYLE), profile.get("s3.addressing_style")) {
            (Some(v), _) => Addressing::parse(&v, s::AWS_S3_ADDRESSING_STYLE)?,
            (None, Some(v)) => Addressing::parse(v, "the profile's s3.addressing_style")?,
            (None, None) => Addressing::Auto,
        };
        if !s::flag(env, s::AWS_IGNORE_CONFIGURED_ENDPOINT_URLS)? {
            for name in [s::AWS_ENDPOINT_URL_S3, s::AWS_ENDPOINT_URL] {
                if let Some(url) = var(env, name) {
                    return Endpoint::custom(&url, name, region, addressing);
                }
            }
            for key in ["s3.endpoint_url", "endpoint_url"] {
                if let Some(url) = profile.get(key) {
                    return Endpoint::custom(url, &format!("the profile's {key}"), region, addressing);
                }
            }
        }
        Ok(Endpoint::aws(region, addressing))
    }

    /// `host[:port]` of the endpoint itself.
    pub fn authority(&self) -> String {
        authority(&self.host, self.port)
    }

    /// Whether `bucket` goes in the path rather than the host name.
    pub fn path_style(&self, bucket: &str) -> bool {
        let ip_or_local = self.host.parse::<std::net::IpAddr>().is_ok() || self.host == "localhost";
        match self.addressing {
            Addressing::Path => true,
            _ if ip_or_local => true,
            Addressing::Virtual => false,
            Addressing::Auto => self.scheme == Scheme::Https && bucket.contains('.'),
        }
    }

    pub fn object(&self, bucket: &str, key: &str) -> ObjectTarget {
        if self.path_style(bucket) {
            ObjectTarget { scheme: self.scheme, authority: self.authority(), path: format!("/{bucket}/{}", encode_path(key)), path_style: true }
        } else {
            ObjectTarget { scheme: self.scheme, authority: authority(&format!("{bucket}.{}", self.host), self.port), path: format!("/{}", encode_path(key)), path_style: false }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::CONFIG_FILE_ID;
    use scheme_plugin_kit::env::MapEnv;
    use scheme_plugin_kit::ErrorKind;

    fn url(e: &Endpoint, bucket: &str, key: &str) -> String {
        let t = e.object(bucket, key);
        format!("{}://{}{}", t.scheme.as_str(), t.authority, t.path)
    }

    #[test]
    fn aws_endpoints_by_region() {
        assert_eq!(url(&Endpoint::aws("us-east-1", Addressing::Auto), "ray-jobs", "a b.zip"), "https://ray-jobs.s3.amazonaws.com/a%20b.zip");
        assert_eq!(url(&Endpoint::aws("eu-west-1", Addressing::Auto), "ray-jobs", "k.zip"), "https://ray-jobs.s3.eu-west-1.amazonaws.com/k.zip");
        assert_eq!(url(&Endpoint::aws("cn-north-1", Addressing::Auto), "ray-jobs", "k.zip"), "https://ray-jobs.s3.cn-north-1.amazonaws.com.cn/k.zip");
        assert_eq!(url(&Endpoint::aws("eu-west-1", Addressing::Path), "ray-jobs", "k.zip"), "https://s3.eu-west-1.amazonaws.com/ray-jobs/k.zip");
        assert_eq!(url(&Endpoint::aws("eu-west-1", Addressing::Auto), "my.bucket", "k.zip"), "https://s3.eu-west-1.amazonaws.com/my.bucket/k.zip");
    }

    #[test]
    fn custom_endpoints() {
        let minio = Endpoint::custom("http://127.0.0.1:9000", "X", "us-east-1", Addressing::Auto).unwrap();
        assert_eq!(url(&minio, "b12", "k.zip"), "http://127.0.0.1:9000/b12/k.zip");
        let local = Endpoint::custom("http://localhost:9000", "X", "us-east-1", Addressing::Virtual).unwrap();
        assert!(local.path_style("b12"), "a bucket cannot be a subdomain of localhost");
        // A DNS name: virtual-hosted, as the AWS SDKs do (botocore alone defaults to path).
        let dns = Endpoint::custom("https://obs.cn-north-4.myhuaweicloud.com:443/", "X", "cn-north-4", Addressing::Auto).unwrap();
        assert_eq!((dns.port, url(&dns, "b12", "k.zip")), (None, "https://b12.obs.cn-north-4.myhuaweicloud.com/k.zip".to_string()));
        let port = Endpoint::custom("http://minio.internal:9000", "X", "us-east-1", Addressing::Auto).unwrap();
        assert_eq!(url(&port, "my.bucket", "k.zip"), "http://my.bucket.minio.internal:9000/k.zip");
        let forced = Endpoint::custom("https://minio.example.com", "X", "us-east-1", Addressing::Path).unwrap();
        assert_eq!(url(&forced, "b12", "k.zip"), "https://minio.example.com/b12/k.zip");
    }

    #[test]
    fn resolution_order() {
        let profile = Profile::load(&MapEnv::new().file(CONFIG_FILE_ID, "[default]\nregion = ap-south-1\ns3 =\n  addressing_style = path\nendpoint_url = http://127.0.0.2:9000\n")).unwrap();
        let env = MapEnv::new();
        assert_eq!(region(&env, &profile).unwrap(), "ap-south-1");
        assert_eq!(region(&env, &Profile::default()).unwrap(), "us-east-1");
        assert_eq!(region(&env.clone().var(s::AWS_DEFAULT_REGION, "eu-west-2"), &profile).unwrap(), "eu-west-2");
        assert_eq!(region(&env.clone().var(s::AWS_DEFAULT_REGION, "eu-west-2").var(s::AWS_REGION, "eu-west-3"), &profile).unwrap(), "eu-west-3");
        let e = region(&env.clone().var(s::AWS_REGION, "evil.com/x"), &profile).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidUri);

        let ep = Endpoint::resolve(&env, &profile, "ap-south-1").unwrap();
        assert_eq!((ep.authority(), ep.custom, ep.addressing), ("127.0.0.2:9000".to_string(), true, Addressing::Path));
        let ep = Endpoint::resolve(&env.clone().var(s::AWS_ENDPOINT_URL, "https://a.example").var(s::AWS_ENDPOINT_URL_S3, "https://s3.example"), &profile, "x").unwrap();
        assert_eq!(ep.host, "s3.example");
        let ep = Endpoint::resolve(&env.clone().var(s::AWS_S3_ADDRESSING_STYLE, "virtual").var(s::AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, "true"), &profile, "ap-south-1").unwrap();
        assert_eq!((ep.host.as_str(), ep.custom, ep.addressing), ("s3.ap-south-1.amazonaws.com", false, Addressing::Virtual));
        let e = Endpoint::resolve(&env.clone().var(s::AWS_S3_ADDRESSING_STYLE, "sideways"), &profile, "x").unwrap_err();
        assert!(e.message.starts_with(s::AWS_S3_ADDRESSING_STYLE), "{}", e.message);
        let e = Endpoint::resolve(&env.var(s::AWS_ENDPOINT_URL_S3, "https://AKIA:secretsk@h"), &profile, "x").unwrap_err();
        assert!(e.message.starts_with(s::AWS_ENDPOINT_URL_S3) && !e.message.contains("secretsk"), "{}", e.message);
    }
}
