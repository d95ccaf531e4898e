//! Outbound proxies from the host's own environment, read the way curl reads them:
//! `https_proxy`/`HTTPS_PROXY` for https URLs, `http_proxy`/`HTTP_PROXY` for http URLs,
//! `all_proxy`/`ALL_PROXY` for both when the specific one is unset (lower case wins when both
//! cases are set), and `no_proxy`/`NO_PROXY` for exceptions.
//!
//! Only `http://` proxies are supported: https goes through them with CONNECT, plain http
//! as absolute-form requests. Proxy credentials (`http://user:pass@proxy:port`) are sent as
//! `Proxy-Authorization: Basic` and never shown: [`ProxyUrl`]'s `Display` leaves them out.

use base64::Engine;
use http::HeaderValue;
use std::fmt;
use std::net::IpAddr;

/// curl's default port for a proxy URL without one.
const DEFAULT_PROXY_PORT: u16 = 1080;

/// One proxy, with where it came from (for messages).
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// Lower-case; IPv6 in brackets.
    pub host: String,
    pub port: u16,
    /// The environment variable it was read from.
    pub source: &'static str,
    auth: Option<HeaderValue>,
}

impl ProxyUrl {
    /// Parses `[http://][user[:password]@]host[:port][/]`. Errors never contain the value,
    /// which may hold a password.
    pub fn parse(value: &str, source: &'static str) -> Result<ProxyUrl, String> {
        let v = value.trim();
        let rest = match v.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                let scheme = if scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.') { scheme } else { "?" };
                return Err(format!("{source}: proxy scheme {scheme:?} is not supported; use an http:// proxy (https URLs are tunnelled through it with CONNECT)"));
            }
            None => v,
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let invalid = || format!("{source} is not a valid proxy URL (expected http://[user:password@]host[:port])");
        if authority.contains(['/', '?', '#']) || authority.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport).ok_or_else(invalid)?;
        let auth = match userinfo {
            None => None,
            Some(u) => {
                let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                let decode = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
                let mut raw = decode(user);
                raw.push(b':');
                raw.extend(decode(pass));
                let token = base64::engine::general_purpose::STANDARD.encode(raw);
                let mut value = HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| invalid())?;
                // hyper and our own logging leave sensitive values out of debug output.
                value.set_sensitive(true);
                Some(value)
            }
        };
        Ok(ProxyUrl { host, port: port.unwrap_or(DEFAULT_PROXY_PORT), source, auth })
    }

    /// `Proxy-Authorization` value, when the URL carried credentials.
    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.auth.as_ref()
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let creds = if self.auth.is_some() { ", with credentials" } else { "" };
        write!(f, "proxy {}:{} (from {}{creds})", self.host, self.port, self.source)
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `host[:port]` / `[v6][:port]`, lower-cased; the host keeps IPv6 brackets.
fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, tail) = rest.split_once(']')?;
        h.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match tail {
            "" => None,
            t => Some(t.strip_prefix(':')?),
        };
        (format!("[{}]", h.to_ascii_lowercase()), port)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
            None => (s.to_ascii_lowercase(), None),
        }
    };
    let valid_host = host.starts_with('[')
        || (!host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'));
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0)?),
    };
    valid_host.then_some((host, port))
}

/// One `no_proxy` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exception {
    /// A name and all names below it (`example.com` and `.example.com` both cover
    /// `example.com` and `www.example.com`, not `notexample.com`).
    Domain { name: String, port: Option<u16> },
    /// An address or a CIDR block (`10.0.0.0/8`, `fd00::/8`).
    Net { addr: IpAddr, prefix: u8, port: Option<u16> },
}

/// The `no_proxy` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    /// `*`: no request uses a proxy.
    all: bool,
    entries: Vec<Exception>,
}

impl NoProxy {
    /// Entries separated by commas or spaces. Unparseable entries are skipped, as curl does.
    pub fn parse(value: &str) -> NoProxy {
        let mut np = NoProxy::default();
        for token in value.split([',', ' ', '\t']).map(str::trim).filter(|t| !t.is_empty()) {
            if token == "*" {
                np.all = true;
                continue;
            }
            if let Some(e) = parse_exception(token) {
                np.entries.push(e);
            }
        }
        np
    }

    /// Whether a request to `host:port` (lower-case, IPv6 in brackets) skips the proxy.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.all {
            return true;
        }
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let ip = bare.parse::<IpAddr>().ok();
        self.entries.iter().any(|e| match e {
            Exception::Domain { name, port: p } => {
                p.is_none_or(|p| p == port)
                    && ip.is_none()
                    && (bare == name || (bare.len() > name.len() && bare.ends_with(name.as_str()) && bare.as_bytes()[bare.len() - name.len() - 1] == b'.'))
            }
            Exception::Net { addr, prefix, port: p } => p.is_none_or(|p| p == port) && ip.is_some_and(|ip| in_net(ip, *addr, *prefix)),
        })
    }
}

fn parse_exception(token: &str) -> Option<Exception> {
    let token = token.to_ascii_lowercase();
    // CIDR first: `fd00::/8` must not be split at a colon.
    if let Some((addr, bits)) = token.split_once('/') {
        let addr: IpAddr = addr.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = bits.parse().ok().filter(|b| *b <= max)?;
        return Some(Exception::Net { addr, prefix, port: None });
    }
    if let Ok(addr) = token.parse::<IpAddr>() {
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        return Some(Exception::Net { addr, prefix, port: None });
    }
    let token = token.strip_prefix("*.").or_else(|| token.strip_prefix('.')).unwrap_or(&token);
    let (host, port) = split_host_port(token)?;
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return Some(Exception::Net { addr: v6.parse().ok()?, prefix: 128, port });
    }
    if let Ok(addr) = host.parse::<IpAddr>() {
        return Some(Exception::Net { addr, prefix: 32, port });
    }
    Some(Exception::Domain { name: host, port })
}

fn in_net(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// Which proxy, if any, each request goes through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    pub http: Option<ProxyUrl>,
    pub https: Option<ProxyUrl>,
    pub no_proxy: NoProxy,
}

/// Every variable [`ProxySettings::from_env`] reads. They are the host's: plugins never see
/// them, whatever their manifests declare.
pub const PROXY_VARS: [&str; 8] = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"];

impl ProxySettings {
    /// Reads the proxy variables through `get` (the process environment in production).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<ProxySettings, String> {
        let first = |names: [&'static str; 2]| names.into_iter().find_map(|n| get(n).filter(|v| !v.trim().is_empty()).map(|v| (n, v)));
        let url = |names: [&'static str; 2]| -> Result<Option<ProxyUrl>, String> {
            match first(names).or_else(|| first(["all_proxy", "ALL_PROXY"])) {
                Some((name, value)) => ProxyUrl::parse(&value, name).map(Some),
                None => Ok(None),
            }
        };
        Ok(ProxySettings {
            http: url(["http_proxy", "HTTP_PROXY"])?,
            https: url(["https_proxy", "HTTPS_PROXY"])?,
            no_proxy: first(["no_proxy", "NO_PROXY"]).map(|(_, v)| NoProxy::parse(&v)).unwrap_or_default(),
        })
    }

    /// The proxy for a request to `host:port`, or none for a direct connection.
    pub fn for_target(&self, https: bool, host: &str, port: u16) -> Option<&ProxyUrl> {
        let proxy = if https { self.https.as_ref() } else { self.http.as_ref() }?;
        (!self.no_proxy.matches(host, port)).then_some(proxy)
    }
}

/// Case-insensitive: `Https_Proxy` is as much the host's as `HTTPS_PROXY`.
pub fn is_proxy_var(name: &str) -> bool {
    PROXY_VARS.iter().any(|v| v.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn proxy_urls_parse_and_never_show_credentials() {
        let p = ProxyUrl::parse("http://alice:s3cr%40t@Proxy.Corp:3128/", "HTTPS_PROXY").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 3128));
        // base64("alice:s3cr@t")
        assert_eq!(p.authorization().unwrap(), "Basic YWxpY2U6czNjckB0");
        assert!(p.authorization().unwrap().is_sensitive());
        let shown = format!("{p} {p:?}");
        assert!(!shown.contains("alice") && !shown.contains("s3cr"), "{shown}");
        assert_eq!(p.to_string(), "proxy proxy.corp:3128 (from HTTPS_PROXY, with credentials)");
        let p = ProxyUrl::parse("10.0.0.1", "http_proxy").unwrap();
        assert_eq!((p.host.as_str(), p.port, p.authorization()), ("10.0.0.1", DEFAULT_PROXY_PORT, None));
        let p = ProxyUrl::parse("http://[::1]:8080", "http_proxy").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("[::1]", 8080));
        let p = ProxyUrl::parse("http://bob@proxy:1", "ALL_PROXY").unwrap();
        assert_eq!(p.authorization().unwrap(), "Basic Ym9iOg==");
    }

    #[test]
    fn bad_proxy_urls_are_refused_without_echoing_them() {
        for bad in ["socks5://u:topsecret@h:1", "https://u:topsecret@h:1", "http://u:topsecret@h:x", "http://u:topsecret@h:1/path", "http://u:topsecret@", "http://u:top secret@h:1"] {
            let e = ProxyUrl::parse(bad, "HTTPS_PROXY").expect_err(bad);
            assert!(!e.contains("topsecret") && e.starts_with("HTTPS_PROXY"), "{e}");
        }
    }

    #[test]
    fn lower_case_wins_and_all_proxy_is_the_fallback() {
        let s = ProxySettings::from_env(env(&[("HTTPS_PROXY", "http://upper:1"), ("https_proxy", "http://lower:2"), ("ALL_PROXY", "http://all:3")])).unwrap();
        assert_eq!(s.https.as_ref().unwrap().host, "lower");
        assert_eq!(s.https.as_ref().unwrap().source, "https_proxy");
        assert_eq!(s.http.as_ref().unwrap().host, "all");
        let s = ProxySettings::from_env(env(&[("HTTP_PROXY", "http://upper:1"), ("https_proxy", "  ")])).unwrap();
        assert_eq!(s.http.as_ref().unwrap().host, "upper");
        assert_eq!(s.https, None, "empty means unset");
        assert!(ProxySettings::from_env(env(&[("https_proxy", "socks5://h:1")])).is_err());
    }

    #[test]
    fn no_proxy_follows_curl() {
        let np = NoProxy::parse(" example.com, .corp.test  internal:8080,10.0.0.0/8,192.168.1.5 ,[::1], fd00::/8, bad/entry ");
        assert!(np.matches("example.com", 443));
        assert!(np.matches("www.example.com", 443));
        assert!(!np.matches("notexample.com", 443));
        assert!(np.matches("corp.test", 80), "a leading dot is ignored, as in curl");
        assert!(np.matches("a.b.corp.test", 80));
        assert!(np.matches("internal", 8080));
        assert!(!np.matches("internal", 80), "a port limits the entry to that port");
        assert!(np.matches("10.1.2.3", 80));
        assert!(!np.matches("11.1.2.3", 80));
        assert!(np.matches("192.168.1.5", 9000));
        assert!(!np.matches("192.168.1.6", 9000));
        assert!(np.matches("[::1]", 443));
        assert!(np.matches("[fd12::1]", 443));
        assert!(!np.matches("[fe80::1]", 443));
        assert!(!np.matches("10.other.test", 443), "address blocks never match names");
        assert!(NoProxy::parse("a.test,*").matches("anything.at.all", 1));
        assert!(!NoProxy::parse("").matches("example.com", 443));
    }

    #[test]
    fn targets_pick_their_proxy_unless_excepted() {
        let s = ProxySettings::from_env(env(&[("https_proxy", "http://p:3128"), ("no_proxy", "obs.test")])).unwrap();
        assert!(s.for_target(true, "bucket.obs.example", 443).is_some());
        assert!(s.for_target(true, "bucket.obs.test", 443).is_none());
        assert!(s.for_target(false, "bucket.obs.example", 80).is_none(), "no http proxy set");
        assert!(is_proxy_var("Https_Proxy") && is_proxy_var("no_proxy") && !is_proxy_var("OBS_ENDPOINT"));
    }
}
