//! Redirect targets and the allow-list they must match.

use super::types::Scheme;

/// Where a `Location` header points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    pub authority: String,
    pub path_and_query: String,
}

/// Resolves `Location` against the current target. Only absolute `http(s)` URLs and
/// absolute paths are accepted; anything stranger is refused rather than guessed at.
pub fn resolve_location(location: &str, current: &Target) -> Option<Target> {
    let loc = location.trim();
    if loc.is_empty() || loc.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return None;
    }
    if loc.starts_with('/') && !loc.starts_with("//") {
        return Some(Target { scheme: current.scheme, authority: current.authority.clone(), path_and_query: strip_fragment(loc).to_string() });
    }
    let (scheme, rest) = if let Some(r) = strip_prefix_ci(loc, "https://") {
        (Scheme::Https, r)
    } else if let Some(r) = strip_prefix_ci(loc, "http://") {
        (Scheme::Http, r)
    } else {
        return None;
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let path = strip_fragment(path);
    let path = if path.starts_with('?') { format!("/{path}") } else if path.is_empty() { "/".to_string() } else { path.to_string() };
    Some(Target { scheme, authority: authority.to_ascii_lowercase(), path_and_query: path })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    // `get` rather than indexing: the cut may fall inside a multi-byte character.
    s.get(..prefix.len()).filter(|p| p.eq_ignore_ascii_case(prefix)).map(|_| &s[prefix.len()..])
}

fn strip_fragment(s: &str) -> &str {
    s.split('#').next().unwrap_or("")
}

/// Splits `host[:port]`, IPv6 literals in brackets included.
pub fn split_authority(authority: &str) -> (&str, Option<u16>) {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':')),
            None => (authority, None),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    (host, port.and_then(|p| p.parse().ok()))
}

/// Whether `authority` (with `scheme` supplying the default port) matches one of the
/// patterns `host`, `host:port`, `*.suffix`, `*.suffix:port`. A pattern without a port
/// matches ports 80 and 443 only, the same reading the host applies to its own allow-list.
pub fn host_allowed(scheme: Scheme, authority: &str, patterns: &[String]) -> bool {
    let (host, port) = split_authority(authority);
    let host = host.to_ascii_lowercase();
    let port = port.unwrap_or(scheme.default_port());
    patterns.iter().any(|p| {
        let p = p.trim().to_ascii_lowercase();
        let (phost, pport) = split_authority(&p);
        let port_ok = match pport {
            Some(pp) => pp == port,
            None => !p.ends_with(':') && (port == 80 || port == 443),
        };
        if !port_ok {
            return false;
        }
        match phost.strip_prefix("*.") {
            // `*.example.com` matches subdomains only, not `example.com` itself, and never
            // `evilexample.com`.
            Some(suffix) => !suffix.is_empty() && host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            None => host == phost,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur() -> Target {
        Target { scheme: Scheme::Https, authority: "b.obs.x.com".into(), path_and_query: "/k.zip".into() }
    }

    #[test]
    fn resolves_locations() {
        assert_eq!(resolve_location("/other?x=1#frag", &cur()).unwrap().path_and_query, "/other?x=1");
        let t = resolve_location("HTTP://Other.COM:8080/a/b", &cur()).unwrap();
        assert_eq!((t.scheme, t.authority.as_str(), t.path_and_query.as_str()), (Scheme::Http, "other.com:8080", "/a/b"));
        assert_eq!(resolve_location("https://h.com", &cur()).unwrap().path_and_query, "/");
        assert_eq!(resolve_location("https://h.com?q", &cur()).unwrap().path_and_query, "/?q");
        assert_eq!(resolve_location("https://user:pw@h.com/", &cur()), None);
        assert_eq!(resolve_location("//h.com/x", &cur()), None);
        assert_eq!(resolve_location("ftp://h.com/x", &cur()), None);
        assert_eq!(resolve_location("relative/x", &cur()), None);
        assert_eq!(resolve_location("/a\r\nSet-Cookie: x", &cur()), None);
        assert_eq!(resolve_location("", &cur()), None);
        assert_eq!(resolve_location("日本語://x", &cur()), None);
    }

    #[test]
    fn allow_list() {
        let pats = vec!["*.myhuaweicloud.com".to_string(), "127.0.0.1:9000".to_string(), "exact.org".to_string(), "[::1]:80".to_string()];
        assert!(host_allowed(Scheme::Https, "b.obs.cn-north-4.myhuaweicloud.com", &pats));
        assert!(host_allowed(Scheme::Https, "B.OBS.MYHUAWEICLOUD.COM:443", &pats));
        assert!(!host_allowed(Scheme::Https, "myhuaweicloud.com", &pats));
        assert!(!host_allowed(Scheme::Https, "evilmyhuaweicloud.com", &pats));
        assert!(!host_allowed(Scheme::Https, "myhuaweicloud.com.evil.net", &pats));
        assert!(host_allowed(Scheme::Http, "127.0.0.1:9000", &pats));
        assert!(!host_allowed(Scheme::Http, "127.0.0.1:9001", &pats));
        assert!(!host_allowed(Scheme::Http, "127.0.0.1", &pats));
        assert!(host_allowed(Scheme::Http, "exact.org", &pats));
        assert!(host_allowed(Scheme::Http, "exact.org:443", &pats));
        assert!(!host_allowed(Scheme::Http, "exact.org:1234", &pats));
        assert!(!host_allowed(Scheme::Https, "x.myhuaweicloud.com:8443", &pats));
        assert!(host_allowed(Scheme::Http, "[::1]", &pats));
        assert!(!host_allowed(Scheme::Http, "[::1]:81", &pats));
        assert!(!host_allowed(Scheme::Http, "anything", &[]));
    }

    #[test]
    fn authority_split() {
        assert_eq!(split_authority("h:80"), ("h", Some(80)));
        assert_eq!(split_authority("h"), ("h", None));
        assert_eq!(split_authority("[::1]:9000"), ("::1", Some(9000)));
        assert_eq!(split_authority("[::1]"), ("::1", None));
    }
}
