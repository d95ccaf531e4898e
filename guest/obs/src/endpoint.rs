//! Where requests go: the endpoint's scheme, host and port, and the addressing style.

use scheme_plugin_kit::endpoint::{authority, EndpointUrl};
use scheme_plugin_kit::http::Scheme;
use scheme_plugin_kit::{Error, ErrorKind, Result};

use crate::credentials;
use crate::env::Env;
use crate::settings::{self as s, var};
use crate::sign::encode_path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub scheme: Scheme,
    /// Lower-case host; IPv6 without brackets.
    pub host: String,
    /// Only when given explicitly.
    pub port: Option<u16>,
    pub path_style: bool,
}

/// The target of one object request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectTarget {
    pub scheme: Scheme,
    pub authority: String,
    /// Encoded exactly as the SDK sends it.
    pub path: String,
}

impl Endpoint {
    /// Parses `[http://|https://]host[:port][/]`. `force_path_style` is `OBS_PATH_STYLE`.
    pub fn parse(raw: &str, force_path_style: bool) -> Result<Endpoint> {
        let url = EndpointUrl::parse(raw, "the OBS endpoint")?;
        // The SDK forces path style for IP endpoints (a bucket cannot prefix an address);
        // `localhost` is the same case for local test servers.
        let path_style = force_path_style || url.is_ip_or_localhost();
        let EndpointUrl { scheme, host, port } = url;
        Ok(Endpoint { scheme, host, port, path_style })
    }

    fn host_port(&self, host: &str) -> String {
        authority(host, self.port)
    }

    /// `scheme://host[:port]` for the host's allow-list and for messages.
    pub fn authority(&self) -> String {
        self.host_port(&self.host)
    }

    pub fn object(&self, bucket: &str, key: &str) -> ObjectTarget {
        if self.path_style {
            ObjectTarget { scheme: self.scheme, authority: self.authority(), path: format!("/{bucket}/{}", encode_path(key)) }
        } else {
            ObjectTarget { scheme: self.scheme, authority: self.host_port(&format!("{bucket}.{}", self.host)), path: format!("/{}", encode_path(key)) }
        }
    }

    /// The object store endpoint: `OBS_ENDPOINT`, else obsutil's `endpoint`.
    pub fn from_env(env: &dyn Env) -> Result<Endpoint> {
        let path_style = s::flag(env, s::OBS_PATH_STYLE)?;
        if let Some(e) = var(env, s::OBS_ENDPOINT) {
            return Endpoint::parse(&e, path_style).map_err(|e| e.context("OBS_ENDPOINT"));
        }
        let from_obsutil = env.config_file(credentials::OBSUTIL_CONFIG_ID).and_then(|b| credentials::files::parse_obsutil(&b).endpoint);
        if let Some(e) = from_obsutil {
            return Endpoint::parse(&e, path_style).map_err(|e| e.context("endpoint in the obsutil config"));
        }
        Err(Error::new(
            ErrorKind::InvalidUri,
            "no OBS endpoint configured: set OBS_ENDPOINT (for example https://obs.cn-north-4.myhuaweicloud.com) \
             or `endpoint` in ~/.obsutilconfig",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let e = Endpoint::parse("obs.cn-north-4.myhuaweicloud.com", false).unwrap();
        assert_eq!(e, Endpoint { scheme: Scheme::Https, host: "obs.cn-north-4.myhuaweicloud.com".into(), port: None, path_style: false });
        let e = Endpoint::parse(" HTTP://127.0.0.1:9000/ ", false).unwrap();
        assert_eq!(e, Endpoint { scheme: Scheme::Http, host: "127.0.0.1".into(), port: Some(9000), path_style: true });
        let e = Endpoint::parse("http://localhost:8080", false).unwrap();
        assert!(e.path_style);
        let e = Endpoint::parse("https://[::1]:9000", false).unwrap();
        assert_eq!((e.host.as_str(), e.port, e.path_style), ("::1", Some(9000), true));
        assert_eq!(e.authority(), "[::1]:9000");
        let e = Endpoint::parse("https://OBS.example.EU", true).unwrap();
        assert!(e.path_style);
        assert_eq!(e.host, "obs.example.eu");
    }

    #[test]
    fn rejects() {
        for bad in [
            "", "ftp://h", "https://h/path", "https://h?x", "https://u:p@h", "https://h:0", "https://h:99999", "https://h:",
            "https://h:x", "h h", "https://-h.com", "https://h_.com", "https://[zz]:1", "https://a..b", "u:secretsk@h x", "日本語://x", "htt日",
        ] {
            let e = Endpoint::parse(bad, false).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidUri, "{bad}");
        }
        for leaky in ["https://ak:secretsk@h", "u:secretsk@h x", "ftp://u:secretsk@h"] {
            assert!(!Endpoint::parse(leaky, false).unwrap_err().message.contains("secretsk"), "{leaky}");
        }
    }

    #[test]
    fn addressing() {
        let v = Endpoint::parse("obs.r.example.com", false).unwrap();
        assert_eq!(
            v.object("ray-jobs", "my dir/a+b.zip"),
            ObjectTarget { scheme: Scheme::Https, authority: "ray-jobs.obs.r.example.com".into(), path: "/my%20dir/a%2Bb.zip".into() }
        );
        let p = Endpoint::parse("http://127.0.0.1:9000", false).unwrap();
        assert_eq!(
            p.object("ray-jobs", "100%/x.zip"),
            ObjectTarget { scheme: Scheme::Http, authority: "127.0.0.1:9000".into(), path: "/ray-jobs/100%25/x.zip".into() }
        );
        let v = Endpoint::parse("http://obs.local:9000", false).unwrap();
        assert_eq!(v.object("b12", "k.zip").authority, "b12.obs.local:9000");
    }
}
