//! A plugin's self-description (WIT `plugin-info`), as the host caches and checks it.

use crate::bindings::{types, CONTRACT_PACKAGE, CONTRACT_VERSION};
use crate::error::{HostError, Result};
use serde::{Deserialize, Serialize};
use wasmtime::component::Component;
use wasmtime::Engine;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConfigFile {
    pub id: String,
    pub default_path: String,
    pub path_env: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PluginManifest {
    pub name: String,
    pub version: String,
    pub schemes: Vec<String>,
    pub env_vars: Vec<String>,
    pub config_files: Vec<ConfigFile>,
    pub network_hosts: Vec<String>,
    /// Version of the storage-scheme contract the plugin was built against.
    pub contract_version: String,
}

/// A manifest names a handful of things; these bounds keep a hostile one small.
const MAX_LIST: usize = 64;
const MAX_STRING: usize = 1024;

impl PluginManifest {
    pub fn from_wit(info: types::PluginInfo, contract_version: String) -> Result<PluginManifest> {
        let m = PluginManifest {
            name: info.name,
            version: info.version,
            schemes: info.schemes.into_iter().map(|s| s.to_ascii_lowercase()).collect(),
            env_vars: info.env_vars,
            config_files: info
                .config_files
                .into_iter()
                .map(|c| ConfigFile { id: c.id, default_path: c.default_path, path_env: c.path_env })
                .collect(),
            network_hosts: info.network_hosts,
            contract_version,
        };
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(HostError::plugin(format!("plugin manifest is invalid: {what}")));
        // Bounded first, so nothing below (or `schemes --json`) handles megabytes of it.
        let lists = [self.schemes.len(), self.env_vars.len(), self.config_files.len(), self.network_hosts.len()];
        if lists.iter().any(|&n| n > MAX_LIST) {
            return bad(format!("more than {MAX_LIST} entries in one list"));
        }
        let strings = [&self.name, &self.version]
            .into_iter()
            .chain(&self.schemes)
            .chain(&self.env_vars)
            .chain(&self.network_hosts)
            .chain(self.config_files.iter().flat_map(|c| [&c.id, &c.default_path].into_iter().chain(&c.path_env)));
        for s in strings {
            if s.len() > MAX_STRING {
                return bad(format!("a field of {} bytes (at most {MAX_STRING})", s.len()));
            }
        }
        if self.name.is_empty() || !self.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return bad(format!("name {:?}", scheme_contract::text::escape(&self.name)));
        }
        if self.schemes.is_empty() {
            return bad(format!("plugin {} declares no schemes", self.name));
        }
        for s in &self.schemes {
            if !is_scheme_name(s) {
                return bad(format!("scheme {:?}", scheme_contract::text::escape(s)));
            }
        }
        for v in &self.env_vars {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return bad(format!("environment variable {:?}", scheme_contract::text::escape(v)));
            }
        }
        for h in &self.network_hosts {
            crate::sandbox::pattern::HostPattern::parse(h).map_err(|e| HostError::plugin(format!("plugin {}: {e}", self.name)))?;
        }
        Ok(())
    }
}

/// RFC 3986 scheme syntax, lower case.
pub fn is_scheme_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_lowercase())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.'))
}

/// Finds the contract version a component was built against and refuses incompatible ones
/// before instantiation, so the operator reads "built for 0.2.0, host supports 0.1.x"
/// instead of a linker error.
pub fn check_contract(engine: &Engine, component: &Component) -> Result<String> {
    let ty = component.component_type();
    let export_prefix = format!("{CONTRACT_PACKAGE}/plugin@");
    let mut found = None;
    for (name, _) in ty.exports(engine) {
        if let Some(v) = name.strip_prefix(&export_prefix) {
            found = Some(v.to_string());
        }
    }
    let Some(version) = found else {
        return Err(HostError::plugin(format!(
            "not a storage-scheme plugin: it does not export {CONTRACT_PACKAGE}/plugin (this host speaks {CONTRACT_PACKAGE}@{CONTRACT_VERSION})"
        )));
    };
    if !compatible(&version, CONTRACT_VERSION) {
        return Err(HostError::plugin(format!(
            "plugin was built against {CONTRACT_PACKAGE}@{version}, which this host ({CONTRACT_PACKAGE}@{CONTRACT_VERSION}) cannot run; rebuild the plugin against a compatible contract or upgrade scheme-host"
        )));
    }
    let import_prefix = format!("{CONTRACT_PACKAGE}/");
    for (name, _) in ty.imports(engine) {
        if let Some(rest) = name.strip_prefix(&import_prefix) {
            let v = rest.split_once('@').map(|(_, v)| v).unwrap_or("");
            if !compatible(v, CONTRACT_VERSION) {
                return Err(HostError::plugin(format!(
                    "plugin imports {name}, which this host ({CONTRACT_PACKAGE}@{CONTRACT_VERSION}) does not provide"
                )));
            }
        }
    }
    Ok(version)
}

/// Semver compatibility as the component linker applies it: same major; while the major
/// is 0, same minor.
fn compatible(plugin: &str, host: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split(['.', '-', '+']);
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parse(plugin), parse(host)) {
        (Some((pm, pn)), Some((hm, hn))) => pm == hm && (pm != 0 || pn == hn),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn contract_versions() {
        assert!(super::compatible("0.1.0", "0.1.0"));
        assert!(super::compatible("0.1.7", "0.1.0"));
        assert!(super::compatible("0.1.0", "0.1.1"), "plugins built before 0.1.1 keep working");
        assert!(!super::compatible("0.2.0", "0.1.0"));
        assert!(!super::compatible("1.0.0", "0.1.0"));
        assert!(super::compatible("1.3.0", "1.0.0"));
        assert!(!super::compatible("garbage", "0.1.0"));
    }

    #[test]
    fn scheme_names() {
        assert!(super::is_scheme_name("obs"));
        assert!(super::is_scheme_name("s3+x.y-z"));
        assert!(!super::is_scheme_name("Obs"));
        assert!(!super::is_scheme_name("1obs"));
        assert!(!super::is_scheme_name(""));
    }
}
