//! Operator configuration: where plugins and the compile cache live, the limits every
//! plugin call runs under, and per-plugin network grants.
//!
//! Looked up in this order: `--config FILE`, `$SCHEME_HOST_CONFIG`, `/etc/scheme-host/config.toml`
//! (if it exists), built-in defaults. Every field is optional.

use crate::error::{HostError, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const SYSTEM_CONFIG: &str = "/etc/scheme-host/config.toml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub plugin_dir: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub output: OutputLimits,
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginGrant>,
    #[serde(default)]
    pub tls: TlsConfig,
    /// Name-resolution overrides, like curl's `--resolve`: `"host:port"` (or
    /// `"*.domain:port"`) to one address or a list. `$SCHEME_HOST_RESOLVE` adds to and
    /// overrides these.
    #[serde(default)]
    pub resolve: BTreeMap<String, ResolveTo>,
    /// How many plugin instances unpack one package at once (plugins that export `parts`;
    /// small packages are never split). `--parts` and `$SCHEME_HOST_UNPACK_PARTS` override
    /// it; the default is one per CPU, at most [`MAX_DEFAULT_PARTS`].
    pub unpack_parts: Option<u32>,
    /// Capabilities the operator approved beyond the defaults, per plugin name, bound to
    /// the plugin file's sha256 (written by `scheme-host trust`; see `sandbox::grant`).
    #[serde(default)]
    pub approvals: BTreeMap<String, Approval>,
    /// Approvals shipped beside the binary for the plugins shipped with it
    /// ([`SHIPPED_APPROVALS`]); consulted after the operator's own.
    #[serde(skip)]
    pub shipped_approvals: BTreeMap<String, Approval>,
}

/// Where a distribution keeps the approvals of the plugins it ships, relative to the
/// directory of the `scheme-host` executable: beside the binary, not in the plugin
/// directory, so whoever can drop a plugin there cannot approve it too.
pub const SHIPPED_APPROVALS: &str = "../share/scheme-host/approvals.toml";

/// `rel` (`../share/...`) from the executable's directory, without the `..` in what is
/// shown to the operator.
fn shipped(rel: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let rest = rel.strip_prefix("../")?;
    Some(exe.parent()?.parent()?.join(rest))
}

/// Where a distribution keeps the plugins it ships, relative to the executable's
/// directory: `dist/` and the `ray-scheme-host` wheel (whose data files land under the
/// environment's prefix, beside its `bin/`) share this layout.
pub const SHIPPED_PLUGINS: &str = "../share/scheme-host/plugins";

/// One approval: what the operator allowed one plugin file beyond the defaults.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Approval {
    /// The approved plugin file's sha256 (hex).
    pub sha256: String,
    /// Host patterns, spelled as the manifest spells them.
    #[serde(default)]
    pub network_hosts: Vec<String>,
    /// Config files, by the default path the manifest declares.
    #[serde(default)]
    pub config_files: Vec<String>,
}

/// The default number of parts stops here: past a few cores the loopback or NIC and the
/// disk are the limit, and every instance costs its own memory.
pub const MAX_DEFAULT_PARTS: u32 = 4;
/// Upper bound for any explicit setting.
pub const MAX_PARTS: u32 = 16;

/// TLS for plugin requests. Certificates are always verified; there is no setting to stop it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TlsConfig {
    /// PEM file of extra CA certificates trusted in addition to the system store (or
    /// `$SSL_CERT_FILE`/`$SSL_CERT_DIR`), e.g. an on-premises cloud's or a proxy's CA.
    pub ca_bundle: Option<PathBuf>,
}

/// The address(es) one resolve entry maps to.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ResolveTo {
    One(String),
    Many(Vec<String>),
}

impl ResolveTo {
    pub fn addrs(&self) -> Vec<String> {
        match self {
            ResolveTo::One(a) => vec![a.clone()],
            ResolveTo::Many(v) => v.clone(),
        }
    }
}

/// How much of what a plugin says reaches the operator, per call (all parts together):
/// a plugin cannot flood the terminal, the logs or a `--json` reader. What is cut is
/// counted and reported in one line at the end of the call.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct OutputLimits {
    /// Longest error message kept from a plugin (also caps its trap text and the other
    /// strings it hands back for display).
    pub max_error_bytes: u64,
    /// Log lines passed on, and their total size.
    pub max_log_lines: u64,
    pub max_log_bytes: u64,
    /// Longest single log line.
    pub max_log_line_bytes: u64,
    /// Progress reports passed on to the progress bar (the kit reports once per entry, so
    /// this matches the default `max-entries`).
    pub max_progress_reports: u64,
}

impl Default for OutputLimits {
    fn default() -> Self {
        OutputLimits {
            max_error_bytes: 16 << 10,
            max_log_lines: 1_000,
            max_log_bytes: 256 << 10,
            max_log_line_bytes: 4 << 10,
            max_progress_reports: 1_000_000,
        }
    }
}

/// Limits for one plugin call. Defaults are generous for real job code and finite for
/// everything else.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Limits {
    pub max_download_bytes: u64,
    pub max_unpacked_bytes: u64,
    pub max_entries: u64,
    pub max_compression_ratio: u64,
    pub max_path_bytes: u32,
    pub max_path_depth: u32,
    /// Linear memory a plugin may grow to.
    pub memory_mib: u64,
    /// Wall-clock deadline for a whole call, including time blocked on the network.
    pub timeout_secs: u64,
    pub connect_timeout_secs: u64,
    pub first_byte_timeout_secs: u64,
    pub between_bytes_timeout_secs: u64,
    /// Cap on the size of one response's header section.
    pub max_header_bytes: u64,
    /// Total wait one download may spend on a store that answers "slow down" (plugins of
    /// contract 0.1.2 on); 0 fails at the first throttled answer.
    pub throttle_budget_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        scheme_contract::convert_limits!(scheme_contract::Limits::default() => Limits {
            memory_mib: 512,
            timeout_secs: 1800,
            connect_timeout_secs: 10,
            first_byte_timeout_secs: 60,
            between_bytes_timeout_secs: 60,
            max_header_bytes: 64 << 10,
            throttle_budget_secs: scheme_contract::DEFAULT_THROTTLE_BUDGET_SECS,
        })
    }
}

impl Limits {
    /// The part a plugin is told to enforce (the host enforces it too, see `sandbox::meter`).
    pub fn plugin(&self) -> scheme_contract::Limits {
        scheme_contract::convert_limits!(self => scheme_contract::Limits)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

/// What the operator grants one plugin, by plugin name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PluginGrant {
    /// Replaces the plugin's declared network hosts when set.
    pub allow_hosts: Option<Vec<String>>,
    /// Added to the declared (or replaced) hosts.
    #[serde(default)]
    pub extra_allow_hosts: Vec<String>,
    /// Disables the plugin without removing its file.
    #[serde(default)]
    pub disabled: bool,
}

impl Config {
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let from_env = std::env::var_os("SCHEME_HOST_CONFIG").map(PathBuf::from);
        let path = match explicit.map(Path::to_path_buf).or(from_env) {
            Some(p) => p,
            None if Path::new(SYSTEM_CONFIG).exists() => PathBuf::from(SYSTEM_CONFIG),
            None => return Ok(Config::default()),
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| HostError::config(format!("cannot read config {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| e.context(format!("config {}", path.display())))
    }

    /// [`Config::load`] plus the approvals shipped beside the executable.
    pub fn load_with_shipped(explicit: Option<&Path>) -> Result<Config> {
        Self::with_shipped(Self::load(explicit)?)
    }

    /// `cfg` plus the approvals shipped beside the executable.
    pub fn with_shipped(mut cfg: Config) -> Result<Config> {
        if let Some(path) = shipped(SHIPPED_APPROVALS) {
            if path.is_file() {
                cfg.shipped_approvals = Self::read_approvals_file(&path)?;
            }
        }
        Ok(cfg)
    }

    /// A file that holds only `[approvals.*]` tables (the shipped approvals).
    pub fn read_approvals_file(path: &Path) -> Result<BTreeMap<String, Approval>> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct OnlyApprovals {
            #[serde(default)]
            approvals: BTreeMap<String, Approval>,
        }
        let text = std::fs::read_to_string(path).map_err(|e| HostError::config(format!("cannot read approvals {}: {e}", path.display())))?;
        let parsed: OnlyApprovals = toml::from_str(&text).map_err(|e| HostError::config(format!("approvals {}: {e}", path.display())))?;
        Ok(parsed.approvals)
    }

    /// The file `scheme-host trust` records approvals in: the one [`Config::load`] reads,
    /// or the system config when there is none yet.
    pub fn writable_path(explicit: Option<&Path>) -> PathBuf {
        explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("SCHEME_HOST_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(SYSTEM_CONFIG))
    }

    /// Every approval recorded for `plugin`: the operator's first, then the shipped one.
    pub fn approvals_for(&self, plugin: &str) -> Vec<Approval> {
        self.approvals.get(plugin).into_iter().chain(self.shipped_approvals.get(plugin)).cloned().collect()
    }

    pub fn parse(text: &str) -> Result<Config> {
        let cfg: Config = toml::from_str(text).map_err(|e| HostError::config(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
        let l = &self.limits;
        for (name, v) in [
            ("timeout-secs", l.timeout_secs),
            ("connect-timeout-secs", l.connect_timeout_secs),
            ("first-byte-timeout-secs", l.first_byte_timeout_secs),
            ("between-bytes-timeout-secs", l.between_bytes_timeout_secs),
            ("memory-mib", l.memory_mib),
            ("max-download-bytes", l.max_download_bytes),
            ("max-entries", l.max_entries),
        ] {
            if v == 0 {
                return Err(HostError::config(format!("limits.{name} must be greater than 0")));
            }
        }
        if let Some(n) = self.unpack_parts {
            check_parts(n).map_err(|e| HostError::config(format!("unpack-parts: {e}")))?;
        }
        let mut resolve = crate::sandbox::resolve::ResolveMap::default();
        for (key, to) in &self.resolve {
            resolve.add_config_entry(key, &to.addrs()).map_err(HostError::config)?;
        }
        for (plugin, a) in &self.approvals {
            if a.sha256.len() != 64 || !a.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(HostError::config(format!("approvals.{plugin}.sha256 must be 64 hex digits")));
            }
        }
        for (plugin, grant) in &self.plugins {
            for p in grant.allow_hosts.iter().flatten().chain(&grant.extra_allow_hosts) {
                crate::sandbox::pattern::HostPattern::parse(p)
                    .map_err(|e| HostError::config(format!("plugins.{plugin}: {e}")))?;
            }
        }
        Ok(())
    }

    /// `--parts`, `$SCHEME_HOST_UNPACK_PARTS`, the config, then one per CPU (at most
    /// [`MAX_DEFAULT_PARTS`]).
    pub fn unpack_parts(&self, explicit: Option<u32>) -> Result<u32> {
        if let Some(n) = explicit {
            return check_parts(n).map_err(|e| HostError::config(format!("--parts: {e}")));
        }
        if let Some(v) = std::env::var_os("SCHEME_HOST_UNPACK_PARTS") {
            let n = v.to_str().and_then(|v| v.trim().parse().ok()).unwrap_or(0);
            return check_parts(n).map_err(|e| HostError::config(format!("SCHEME_HOST_UNPACK_PARTS: {e}")));
        }
        if let Some(n) = self.unpack_parts {
            return Ok(n);
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        Ok(cpus.clamp(1, MAX_DEFAULT_PARTS))
    }

    /// `--plugin-dir`, `$SCHEME_HOST_PLUGIN_DIR`, the config, then the shipped plugins
    /// ([`SHIPPED_PLUGINS`], so `dist/` and the wheel work as installed), then
    /// `/usr/local/lib/scheme-host/plugins`.
    pub fn plugin_dir(&self, explicit: Option<&Path>) -> PathBuf {
        if let Some(p) = explicit {
            return p.to_path_buf();
        }
        if let Some(p) = std::env::var_os("SCHEME_HOST_PLUGIN_DIR") {
            return PathBuf::from(p);
        }
        if let Some(p) = &self.plugin_dir {
            return p.clone();
        }
        if let Some(dir) = shipped(SHIPPED_PLUGINS) {
            if dir.is_dir() {
                return dir;
            }
        }
        PathBuf::from("/usr/local/lib/scheme-host/plugins")
    }

    /// `$SCHEME_HOST_CACHE_DIR`, the config, `$XDG_CACHE_HOME/scheme-host`,
    /// `~/.cache/scheme-host`.
    pub fn cache_dir(&self) -> PathBuf {
        if let Some(p) = std::env::var_os("SCHEME_HOST_CACHE_DIR") {
            return PathBuf::from(p);
        }
        if let Some(p) = &self.cache_dir {
            return p.clone();
        }
        if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
            return PathBuf::from(x).join("scheme-host");
        }
        if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            return PathBuf::from(h).join(".cache/scheme-host");
        }
        std::env::temp_dir().join(format!("scheme-host-cache-{}", rustix::process::getuid().as_raw()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_partial_config_with_defaults() {
        let c = Config::parse(
            "[limits]\nmemory-mib = 64\n[plugins.obs]\nextra-allow-hosts = [\"127.0.0.1:9000\"]\n",
        )
        .unwrap();
        assert_eq!(c.limits.memory_mib, 64);
        assert_eq!(c.limits.timeout_secs, Limits::default().timeout_secs);
        assert_eq!(c.plugins["obs"].extra_allow_hosts, vec!["127.0.0.1:9000"]);
    }

    #[test]
    fn rejects_unknown_keys_and_zero_limits() {
        assert!(Config::parse("[limits]\nmemory-mb = 64\n").is_err());
        assert!(Config::parse("[limits]\ntimeout-secs = 0\n").is_err());
        assert!(Config::parse("[plugins.x]\nallow-hosts = [\"*\"]\n").is_err());
    }

    #[test]
    fn unpack_parts_bounds() {
        assert_eq!(Config::parse("unpack-parts = 3\n").unwrap().unpack_parts(None).unwrap(), 3);
        assert_eq!(Config::parse("unpack-parts = 3\n").unwrap().unpack_parts(Some(1)).unwrap(), 1, "--parts wins");
        assert!(Config::parse("unpack-parts = 0\n").is_err());
        assert!(Config::parse("unpack-parts = 17\n").is_err());
        assert!(Config::default().unpack_parts(Some(0)).is_err());
        let default = Config::default().unpack_parts(None).unwrap();
        assert!((1..=MAX_DEFAULT_PARTS).contains(&default) || std::env::var_os("SCHEME_HOST_UNPACK_PARTS").is_some());
    }

    #[test]
    fn tls_and_resolve_sections() {
        let c = Config::parse("[tls]\nca-bundle = \"/etc/pki/corp.pem\"\n[resolve]\n\"b.obs.test:8443\" = \"127.0.0.1\"\n\"*.obs.test:8443\" = [\"127.0.0.1\", \"::1\"]\n").unwrap();
        assert_eq!(c.tls.ca_bundle.as_deref(), Some(Path::new("/etc/pki/corp.pem")));
        assert_eq!(c.resolve["*.obs.test:8443"].addrs(), ["127.0.0.1", "::1"]);
        assert!(Config::parse("[tls]\nverify = false\n").is_err(), "there is no switch to turn verification off");
        assert!(Config::parse("[resolve]\n\"b.obs.test\" = \"127.0.0.1\"\n").is_err(), "the port is required");
        assert!(Config::parse("[resolve]\n\"b.obs.test:1\" = \"localhost\"\n").is_err(), "addresses, not names");
    }
}

fn check_parts(n: u32) -> std::result::Result<u32, String> {
    if (1..=MAX_PARTS).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be a whole number from 1 to {MAX_PARTS}"))
    }
}
