//! An object store's endpoint URL as operators write it: `[http://|https://]host[:port][/]`,
//! strictly parsed, never echoing user information.

use crate::http::Scheme;
use crate::text::escape;
use crate::{Error, ErrorKind, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    pub scheme: Scheme,
    /// Lower-case host; IPv6 without brackets.
    pub host: String,
    /// Only when given explicitly.
    pub port: Option<u16>,
}

fn config_error(m: String) -> Error {
    Error::new(ErrorKind::InvalidUri, m)
}

impl EndpointUrl {
    /// Parses `[http://|https://]host[:port][/]`; no scheme means https. `what` names the
    /// setting in messages ("the OBS endpoint").
    pub fn parse(raw: &str, what: &str) -> Result<EndpointUrl> {
        let s = raw.trim();
        // User information may be a secret: never echo an endpoint that carries some.
        let shown = if s.contains('@') { "(redacted)".to_string() } else { escape(s) };
        if s.is_empty() {
            return Err(config_error(format!("{what} is empty")));
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(config_error(format!("{what} {shown:?} contains spaces or control characters")));
        }
        let (scheme, rest) = if let Some(r) = strip_ci(s, "https://") {
            (Scheme::Https, r)
        } else if let Some(r) = strip_ci(s, "http://") {
            (Scheme::Http, r)
        } else if s.contains("://") {
            return Err(config_error(format!("{what} {shown:?} must use http:// or https://")));
        } else {
            (Scheme::Https, s)
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(config_error(format!("{what} {shown:?} must not contain a path or query")));
        }
        if authority.contains('@') {
            return Err(config_error(format!("{what} must not contain user information")));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| config_error(format!("{what} {shown:?} has an invalid host or port")))?;
        let host = host.to_ascii_lowercase();
        if !is_ip(&host) && !valid_dns_name(&host) {
            return Err(config_error(format!("{what}'s host {:?} is not a valid host name", escape(&host))));
        }
        Ok(EndpointUrl { scheme, host, port })
    }

    /// An IP address or `localhost`: no bucket can be put in front of it as a subdomain.
    pub fn is_ip_or_localhost(&self) -> bool {
        is_ip(&self.host) || self.host == "localhost"
    }
}

fn is_ip(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
}

/// `host[:port]`, IPv6 in brackets.
pub fn authority(host: &str, port: Option<u16>) -> String {
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host,
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

/// Labels of letters, digits and inner hyphens, 1-63 bytes each, 253 in all.
pub fn valid_dns_name(h: &str) -> bool {
    h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty() && label.len() <= 63 && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !label.starts_with('-') && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<EndpointUrl> {
        EndpointUrl::parse(s, "the endpoint")
    }

    #[test]
    fn forms() {
        assert_eq!(parse("obs.example.com").unwrap(), EndpointUrl { scheme: Scheme::Https, host: "obs.example.com".into(), port: None });
        assert_eq!(parse(" HTTP://127.0.0.1:9000/ ").unwrap(), EndpointUrl { scheme: Scheme::Http, host: "127.0.0.1".into(), port: Some(9000) });
        let v6 = parse("https://[::1]:9000").unwrap();
        assert_eq!((v6.host.as_str(), v6.port, authority(&v6.host, v6.port)), ("::1", Some(9000), "[::1]:9000".to_string()));
        assert!(v6.is_ip_or_localhost() && parse("http://localhost:1").unwrap().is_ip_or_localhost());
        assert!(!parse("https://S3.Example.EU").unwrap().is_ip_or_localhost());
    }

    #[test]
    fn rejects_without_echoing_secrets() {
        for bad in ["", "ftp://h", "https://h/path", "https://h?x", "https://u:p@h", "https://h:0", "https://h:99999", "https://h:", "https://h:x", "h h", "https://-h.com", "https://h_.com", "https://[zz]:1", "https://a..b", "日本語://x"] {
            assert_eq!(parse(bad).unwrap_err().kind, ErrorKind::InvalidUri, "{bad}");
        }
        for leaky in ["https://ak:secretsk@h", "u:secretsk@h x", "ftp://u:secretsk@h"] {
            assert!(!parse(leaky).unwrap_err().message.contains("secretsk"), "{leaky}");
        }
        assert!(parse("ftp://h").unwrap_err().message.starts_with("the endpoint"));
    }
}
