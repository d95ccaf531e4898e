//! Host patterns as manifests, approvals and the operator's config spell them, what a
//! grant of one allows, and which addresses count as internal. A leaf: the grant decision,
//! the config and the HTTP policy all build on it.

/// One entry of an allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// `host` or `host:port`. Without a port only 80 and 443 match.
    Exact { host: String, port: Option<u16> },
    /// `*.suffix` or `*.suffix:port`: any name ending in `.suffix` (not `suffix` itself).
    Suffix { suffix: String, port: Option<u16> },
    /// `env:VAR`: the authority of the URL in the host's environment variable `VAR`,
    /// resolved when the policy is built; nothing when `VAR` is unset.
    Env(String),
}

impl HostPattern {
    pub fn parse(s: &str) -> Result<HostPattern, String> {
        let s = s.trim();
        if let Some(var) = s.strip_prefix("env:") {
            if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("invalid environment variable name in host pattern {s:?}"));
            }
            return Ok(HostPattern::Env(var.to_string()));
        }
        let (host, port) = split_host_port(s).ok_or_else(|| format!("invalid host pattern {s:?}"))?;
        if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') || !suffix.contains('.') {
                return Err(format!("host pattern {s:?} is too broad"));
            }
            return Ok(HostPattern::Suffix { suffix: suffix.to_string(), port });
        }
        if host.contains('*') {
            return Err(format!("host pattern {s:?}: only a leading '*.' wildcard is allowed"));
        }
        Ok(HostPattern::Exact { host, port })
    }

    /// Replaces `env:VAR` with what it names right now: the endpoint itself and, for a DNS
    /// name, its subdomains on the same port (virtual-hosted buckets live at
    /// `<bucket>.<endpoint>`). Other patterns are returned as is.
    pub fn resolve(self) -> Vec<HostPattern> {
        self.resolve_with(&|v| std::env::var(v).ok())
    }

    /// [`HostPattern::resolve`] with the environment given as a lookup.
    pub fn resolve_with(self, env: &dyn Fn(&str) -> Option<String>) -> Vec<HostPattern> {
        match self {
            HostPattern::Env(var) => {
                let Some((host, port)) = env(&var).as_deref().and_then(authority_of_url) else {
                    return vec![];
                };
                let is_ip = host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok();
                let mut v = vec![HostPattern::Exact { host: host.clone(), port: Some(port) }];
                if !is_ip && host.contains('.') {
                    v.push(HostPattern::Suffix { suffix: host, port: Some(port) });
                }
                v
            }
            p => vec![p],
        }
    }

    pub fn matches(&self, host: &str, port: u16) -> bool {
        let port_ok = |p: &Option<u16>| match p {
            Some(p) => *p == port,
            None => port == 80 || port == 443,
        };
        match self {
            HostPattern::Exact { host: h, port: p } => h == host && port_ok(p),
            HostPattern::Suffix { suffix, port: p } => {
                host.len() > suffix.len() + 1
                    && host.ends_with(suffix.as_str())
                    && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                    && port_ok(p)
            }
            HostPattern::Env(_) => false,
        }
    }
}

/// Splits `host[:port]` / `[v6]:port`, lower-casing the host.
fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if s.is_empty() || s.contains(['/', '@', ' ', '?', '#']) {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (h, tail) = rest.split_once(']')?;
        let port = match tail {
            "" => None,
            t => Some(t.strip_prefix(':')?.parse().ok()?),
        };
        return Some((format!("[{}]", h.to_ascii_lowercase()), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => Some((h.to_ascii_lowercase(), Some(p.parse().ok()?))),
        Some(_) => None,
        None => Some((s.to_ascii_lowercase(), None)),
    }
}

/// `https://host:port/path` -> (host, port); a bare `host[:port]` means https.
pub fn authority_of_url(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => ("https".to_string(), url),
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = split_host_port(authority)?;
    let default = if scheme == "http" { 80 } else { 443 };
    Some((host, port.unwrap_or(default)))
}

/// Which addresses a granted name may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A grant the operator made or approved: any address.
    Internal,
    /// A name granted by default: refused if it resolves to an internal address.
    PublicOnly,
}

/// A network grant, and whether its connections may reach internal addresses (loopback,
/// link-local, private ranges): only grants the operator made or approved may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostGrant {
    pub pattern: HostPattern,
    pub internal: bool,
}

/// A pattern spelled the way manifests and approvals spell it.
pub fn pattern_text(p: &HostPattern) -> String {
    let port = |p: &Option<u16>| p.map(|p| format!(":{p}")).unwrap_or_default();
    match p {
        HostPattern::Exact { host, port: p } => format!("{host}{}", port(p)),
        HostPattern::Suffix { suffix, port: p } => format!("*.{suffix}{}", port(p)),
        HostPattern::Env(v) => format!("env:{v}"),
    }
}

/// Addresses that belong to this machine or its private network: a name granted by default
/// that resolves to one of these is refused.
pub fn is_internal(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                // 100.64.0.0/10, carrier-grade NAT: cloud VPCs use it for internal services.
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_match() {
        let p = HostPattern::parse("*.myhuaweicloud.com").unwrap();
        assert!(p.matches("bucket.obs.cn-north-4.myhuaweicloud.com", 443));
        assert!(!p.matches("myhuaweicloud.com", 443));
        assert!(!p.matches("evilmyhuaweicloud.com", 443));
        assert!(!p.matches("a.myhuaweicloud.com", 8443));
        let p = HostPattern::parse("127.0.0.1:9000").unwrap();
        assert!(p.matches("127.0.0.1", 9000));
        assert!(!p.matches("127.0.0.1", 9001));
        let p = HostPattern::parse("[::1]:9000").unwrap();
        assert!(p.matches("[::1]", 9000));
        for bad in ["*", "*.", "*.com", "a*b.com", "host:notaport", "user@host", "", "env:", "env:A-B", "*.c*om"] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_patterns_resolve_to_exact_authorities() {
        assert_eq!(authority_of_url("http://127.0.0.1:9000"), Some(("127.0.0.1".into(), 9000)));
        assert_eq!(authority_of_url("obs.cn-north-4.myhuaweicloud.com"), Some(("obs.cn-north-4.myhuaweicloud.com".into(), 443)));
        assert_eq!(authority_of_url("http://Example.COM/x"), Some(("example.com".into(), 80)));
        // SAFETY: no other test reads or writes this variable.
        unsafe { std::env::set_var("SCHEME_HOST_TEST_ENDPOINT_VAR", "http://127.0.0.1:1234") };
        let p = HostPattern::parse("env:SCHEME_HOST_TEST_ENDPOINT_VAR").unwrap().resolve();
        assert_eq!(p.len(), 1, "an IP endpoint has no subdomains");
        assert!(p[0].matches("127.0.0.1", 1234));
        // SAFETY: as above.
        unsafe { std::env::set_var("SCHEME_HOST_TEST_ENDPOINT_VAR2", "https://obs.example.eu") };
        let p = HostPattern::parse("env:SCHEME_HOST_TEST_ENDPOINT_VAR2").unwrap().resolve();
        assert!(p.iter().any(|p| p.matches("bucket.obs.example.eu", 443)));
        assert!(!p.iter().any(|p| p.matches("bucket.obs.example.eu", 80)));
        assert!(HostPattern::parse("env:SCHEME_HOST_TEST_UNSET_VAR").unwrap().resolve().is_empty());
    }

    #[test]
    fn internal_addresses() {
        for ip in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1"] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "121.36.0.1", "2001:db8::1", "100.128.0.1"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
