//! How the host reaches the network on a plugin's behalf: trusted TLS roots, proxies and
//! name-resolution overrides. Built once per process from the operator's config and the
//! host's own environment, shared by every sandbox; plugins see none of it.

use super::proxy::{self, ProxySettings};
use super::resolve::ResolveMap;
use super::tls::{self, Trust};
use crate::config::Config;
use crate::error::{HostError, Result};

/// Extra `host:port:addr[,addr]` resolve entries, curl style, separated by spaces or `;`.
pub const RESOLVE_VAR: &str = "SCHEME_HOST_RESOLVE";

pub struct Outbound {
    pub trust: Trust,
    pub proxies: ProxySettings,
    pub resolve: ResolveMap,
}

impl Outbound {
    /// From the config and the host's process environment.
    pub fn from_config(config: &Config) -> Result<Outbound> {
        Self::build(config, |name| std::env::var(name).ok())
    }

    /// From the config and an environment given as a lookup function.
    pub fn build(config: &Config, env: impl Fn(&str) -> Option<String>) -> Result<Outbound> {
        let trust = Trust::new(config.tls.ca_bundle.as_deref(), &env).map_err(HostError::config)?;
        let proxies = ProxySettings::from_env(&env).map_err(HostError::config)?;
        let mut resolve = ResolveMap::default();
        for (key, to) in &config.resolve {
            resolve.add_config_entry(key, &to.addrs()).map_err(HostError::config)?;
        }
        if let Some(v) = env(RESOLVE_VAR).filter(|v| !v.trim().is_empty()) {
            resolve.add_env_entries(&v).map_err(HostError::config)?;
        }
        if proxies.http.is_some() || proxies.https.is_some() {
            tracing::debug!(http = ?proxies.http, https = ?proxies.https, "outbound proxies");
        }
        Ok(Outbound { trust, proxies, resolve })
    }
}

/// Variables that configure the host's networking. A plugin declaring one in its manifest
/// still does not get it: proxy URLs can carry credentials.
pub fn is_host_only_var(name: &str) -> bool {
    proxy::is_proxy_var(name) || tls::TRUST_VARS.iter().any(|v| v.eq_ignore_ascii_case(name)) || name.eq_ignore_ascii_case(RESOLVE_VAR)
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
    fn environment_and_config_combine() {
        let config = Config::parse("[resolve]\n\"a.obs.test:8443\" = \"127.0.0.2\"\n\"*.obs.test:8443\" = [\"127.0.0.3\", \"::1\"]\n").unwrap();
        let o = Outbound::build(&config, env(&[("SCHEME_HOST_RESOLVE", "a.obs.test:8443:127.0.0.1"), ("HTTPS_PROXY", "http://u:p@proxy:3128")])).unwrap();
        assert_eq!(o.resolve.lookup("a.obs.test", 8443), Some(&["127.0.0.1".parse().unwrap()][..]), "the environment wins");
        assert_eq!(o.resolve.lookup("b.obs.test", 8443).map(<[_]>::len), Some(2));
        assert_eq!(o.proxies.https.as_ref().unwrap().port, 3128);
    }

    #[test]
    fn bad_settings_are_configuration_errors_without_secrets() {
        let e = Outbound::build(&Config::default(), env(&[("https_proxy", "socks5://u:hunter2@h:1")])).err().unwrap();
        assert_eq!(e.kind, crate::ErrorKind::Config);
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        let e = Outbound::build(&Config::default(), env(&[("SCHEME_HOST_RESOLVE", "nonsense")])).err().unwrap();
        assert!(e.message.contains("SCHEME_HOST_RESOLVE"), "{}", e.message);
    }

    #[test]
    fn networking_variables_are_the_hosts() {
        for v in ["HTTPS_PROXY", "http_proxy", "No_Proxy", "ALL_PROXY", "SSL_CERT_FILE", "ssl_cert_dir", "SCHEME_HOST_RESOLVE"] {
            assert!(is_host_only_var(v), "{v}");
        }
        assert!(!is_host_only_var("OBS_ENDPOINT"));
    }
}
