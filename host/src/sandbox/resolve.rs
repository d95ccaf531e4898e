//! Name-resolution overrides, like curl's `--resolve`: `host:port` maps to fixed addresses
//! without touching `/etc/hosts`, so virtual-hosted names (`bucket.obs.test`) can be served
//! on loopback and operators can pin an endpoint.
//!
//! An override only changes where the connection goes. The allow-list, the TLS server name
//! and certificate verification all keep using the name the plugin asked for.

use std::net::IpAddr;

/// Which names one entry covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Name {
    Exact(String),
    /// `*.suffix`: any name ending in `.suffix`, not `suffix` itself.
    Suffix(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: Name,
    port: u16,
    addrs: Vec<IpAddr>,
}

/// Overrides in precedence order: the first matching exact name wins, then the longest
/// matching wildcard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolveMap {
    entries: Vec<Entry>,
}

impl ResolveMap {
    /// One config entry: `"host:port" = "addr"` or `= ["addr", ...]`.
    pub fn add_config_entry(&mut self, key: &str, addrs: &[String]) -> Result<(), String> {
        let (name, port) = parse_name_port(key).ok_or_else(|| format!("resolve key {key:?} must look like \"host:port\" or \"*.domain:port\""))?;
        let addrs = addrs
            .iter()
            .flat_map(|a| a.split(','))
            .map(|a| parse_addr(a).ok_or_else(|| format!("resolve {key:?}: {:?} is not an IP address", a.trim())))
            .collect::<Result<Vec<_>, _>>()?;
        if addrs.is_empty() {
            return Err(format!("resolve {key:?} has no address"));
        }
        self.entries.push(Entry { name, port, addrs });
        Ok(())
    }

    /// `SCHEME_HOST_RESOLVE`: entries `host:port:addr[,addr]` (curl's form) separated by
    /// spaces or `;`. They take precedence over the config's, so a run can repoint a name.
    pub fn add_env_entries(&mut self, value: &str) -> Result<(), String> {
        let mut added = Vec::new();
        for item in value.split([' ', ';', '\t', '\n']).filter(|s| !s.is_empty()) {
            let (key, addrs) = split_env_entry(item).ok_or_else(|| format!("SCHEME_HOST_RESOLVE entry {item:?} must look like host:port:address[,address]"))?;
            let mut one = ResolveMap::default();
            one.add_config_entry(key, &[addrs.to_string()]).map_err(|e| format!("SCHEME_HOST_RESOLVE: {e}"))?;
            added.extend(one.entries);
        }
        added.append(&mut self.entries);
        self.entries = added;
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The addresses `host:port` is pinned to, if any. `host` is lower-case, IPv6 in brackets.
    pub fn lookup(&self, host: &str, port: u16) -> Option<&[IpAddr]> {
        let on_port = || self.entries.iter().filter(move |e| e.port == port);
        if let Some(e) = on_port().find(|e| e.name == Name::Exact(host.to_string())) {
            return Some(&e.addrs);
        }
        on_port()
            .filter_map(|e| match &e.name {
                Name::Suffix(s) if host.len() > s.len() + 1 && host.ends_with(s.as_str()) && host.as_bytes()[host.len() - s.len() - 1] == b'.' => {
                    Some((s.len(), &e.addrs))
                }
                _ => None,
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, addrs)| addrs.as_slice())
    }
}

/// `host:port`, `[v6]:port` or `*.suffix:port`, lower-cased.
fn parse_name_port(s: &str) -> Option<(Name, u16)> {
    let s = s.trim();
    let (host, port) = s.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let host = host.to_ascii_lowercase();
    if let Some(inner) = host.strip_prefix('[') {
        inner.strip_suffix(']')?.parse::<std::net::Ipv6Addr>().ok()?;
        return Some((Name::Exact(host), port));
    }
    let valid = |h: &str| !h.is_empty() && h.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if let Some(suffix) = host.strip_prefix("*.") {
        return (valid(suffix) && suffix.contains('.')).then(|| (Name::Suffix(suffix.to_string()), port));
    }
    valid(&host).then_some((Name::Exact(host), port))
}

/// Splits curl's `host:port:addrs` where the host may be `[v6]`.
fn split_env_entry(item: &str) -> Option<(&str, &str)> {
    let host_end = if item.starts_with('[') { item.find(']')? + 1 } else { item.find(':')? };
    let rest = item.get(host_end..)?.strip_prefix(':')?;
    let port_len = rest.find(':')?;
    Some((&item[..host_end + 1 + port_len], &rest[port_len + 1..]))
}

fn parse_addr(a: &str) -> Option<IpAddr> {
    let a = a.trim();
    let a = a.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(a);
    a.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn config_entries_exact_and_wildcard() {
        let mut m = ResolveMap::default();
        m.add_config_entry("Bucket.OBS.test:8443", &["127.0.0.1".into()]).unwrap();
        m.add_config_entry("*.obs.test:8443", &["127.0.0.2".into(), "[::1]".into()]).unwrap();
        m.add_config_entry("*.deep.obs.test:8443", &["127.0.0.3".into()]).unwrap();
        assert_eq!(m.lookup("bucket.obs.test", 8443), Some(&[ip("127.0.0.1")][..]));
        assert_eq!(m.lookup("other.obs.test", 8443), Some(&[ip("127.0.0.2"), ip("::1")][..]));
        assert_eq!(m.lookup("x.deep.obs.test", 8443), Some(&[ip("127.0.0.3")][..]), "longest wildcard wins");
        assert_eq!(m.lookup("obs.test", 8443), None, "a wildcard does not cover the bare domain");
        assert_eq!(m.lookup("bucket.obs.test", 443), None, "ports must match");
        assert_eq!(m.lookup("evilobs.test", 8443), None);
    }

    #[test]
    fn env_entries_use_curls_form_and_win_over_config() {
        let mut m = ResolveMap::default();
        m.add_config_entry("a.test:80", &["10.0.0.1".into()]).unwrap();
        m.add_env_entries("a.test:80:127.0.0.1,127.0.0.2; [::1]:443:[::1]  *.obs.test:9000:::1").unwrap();
        assert_eq!(m.lookup("a.test", 80), Some(&[ip("127.0.0.1"), ip("127.0.0.2")][..]));
        assert_eq!(m.lookup("[::1]", 443), Some(&[ip("::1")][..]));
        assert_eq!(m.lookup("b.obs.test", 9000), Some(&[ip("::1")][..]));
    }

    #[test]
    fn malformed_entries_are_refused() {
        for key in ["host", "host:", "host:0", "host:99999", "*:80", "*.com:80", "a b:80", "[zz]:80", ":80"] {
            assert!(ResolveMap::default().add_config_entry(key, &["127.0.0.1".into()]).is_err(), "{key}");
        }
        assert!(ResolveMap::default().add_config_entry("h.test:80", &["not-an-ip".into()]).is_err());
        assert!(ResolveMap::default().add_config_entry("h.test:80", &[]).is_err());
        for env in ["h.test:80", "h.test:80:", "h.test:x:1.2.3.4", "h.test:80:1.2.3.4,nope"] {
            assert!(ResolveMap::default().add_env_entries(env).is_err(), "{env}");
        }
    }
}
