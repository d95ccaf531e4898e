//! Where requests go: the endpoint's scheme, host and port, and the addressing style.

use scheme_plugin_kit::http::Scheme;
use scheme_plugin_kit::text::escape;
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

fn config_error(m: String) -> Error {
    Error::new(ErrorKind::InvalidUri, m)
}

impl Endpoint {
    /// Parses `[http://|https://]host[:port][/]`. `force_path_style` is `OBS_PATH_STYLE`.
    pub fn parse(raw: &str, force_path_style: bool) -> Result<Endpoint> {
        let s = raw.trim();
        // User information may be a secret: never echo an endpoint that carries some.
        let shown = if s.contains('@') { "(redacted)".to_string() } else { escape(s) };
        if s.is_empty() {
            return Err(config_error("the OBS endpoint is empty".into()));
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(config_error(format!("the OBS endpoint {shown:?} contains spaces or control characters")));
        }
        let (scheme, rest) = if let Some(r) = strip_ci(s, "https://") {
            (Scheme::Https, r)
        } else if let Some(r) = strip_ci(s, "http://") {
            (Scheme::Http, r)
        } else if s.contains("://") {
            return Err(config_error(format!("the OBS endpoint {shown:?} must use http:// or https://")));
        } else {
            (Scheme::Https, s)
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(config_error(format!("the OBS endpoint {shown:?} must not contain a path or query")));
        }
        if authority.contains('@') {
            return Err(config_error("the OBS endpoint must not contain user information".into()));
        }
        let (host, port) = split_host_port(authority)
            .ok_or_else(|| config_error(format!("the OBS endpoint {shown:?} has an invalid host or port")))?;
        let host = host.to_ascii_lowercase();
        let ip = host.parse::<std::net::IpAddr>().is_ok();
        if !ip && !valid_dns_name(&host) {
            return Err(config_error(format!("the OBS endpoint host {:?} is not a valid host name", escape(&host))));
        }
        // The SDK forces path style for IP endpoints (a bucket cannot prefix an address);
        // `localhost` is the same case for local test servers.
        let path_style = force_path_style || ip || host == "localhost";
        Ok(Endpoint { scheme, host, port, path_style })
    }

    fn host_port(&self, host: &str) -> String {
        let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
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

fn strip_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    // `get` rather than indexing: the cut may fall inside a multi-byte character.
    s.get(..prefix.len()).filter(|p| p.eq_ignore_ascii_case(prefix)).map(|_| &s[prefix.len()..])
}

fn split_host_port(a: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (h, tail) = rest.split_once(']')?;
        h.parse::<std::net::Ipv6Addr>().ok()?;
        match tail {
            "" => (h, None),
            t => (h, Some(t.strip_prefix(':')?)),
        }
    } else {
        match a.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        }
    };
    let port = match port {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse::<u16>().ok().filter(|&p| p != 0)?),
        Some(_) => return None,
        None => None,
    };
    (!host.is_empty()).then_some((host, port))
}

fn valid_dns_name(h: &str) -> bool {
    h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
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
