//! What a plugin may do. Its manifest (WIT `plugin-info`) is a request; the host grants
//! the part of it that policy allows, and nothing else reaches the sandbox.
//!
//! Granted without any operator action: only what cannot reach another system's secrets
//! or internal services. DNS-name host patterns (connections to them are still refused if
//! the name resolves to a loopback, link-local or private address), `env:VAR` endpoints
//! (the operator chose VAR's value), declared environment variables, and config files in
//! the invoking user's home (or wherever the operator points the file's path variable).
//!
//! Everything else (IP literals, `localhost`, public-suffix wildcards, config files
//! elsewhere) needs an approval: `scheme-host trust NAME` records `[approvals.NAME]` in
//! the config, bound to the plugin file's sha256. A plugin without an approval runs with
//! what it is granted by default and the rest withheld; a plugin whose file no longer
//! matches its approval and asks for anything that needs one is refused until approved
//! again, so replacing an approved plugin can never widen what it gets.
//!
//! Hosts the operator names in `[plugins.NAME]` (`allow-hosts`, `extra-allow-hosts`) are
//! the operator's own grants and need no approval.

use super::pattern::{pattern_text, HostGrant, HostPattern};
use crate::config::{Approval, PluginGrant};
use crate::manifest::{ConfigFile, PluginManifest};
use serde::Serialize;
use std::path::{Component, Path, PathBuf};

/// The operator's own grant: `[plugins.NAME]` hosts, `env:VAR` endpoints, approvals.
fn operator_grants(pattern: HostPattern, env: &HostEnv) -> Vec<HostGrant> {
    pattern.resolve_with(env.var).into_iter().map(|pattern| HostGrant { pattern, internal: true }).collect()
}

/// The kind of a request, as `scheme-host schemes` and `trust` print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestKind {
    NetworkHost,
    ConfigFile,
}

/// One request that needs the operator's approval, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeedsApproval {
    pub kind: RequestKind,
    /// The request as the manifest spells it (host pattern, or the config file's path).
    pub request: String,
    pub why: &'static str,
}

impl std::fmt::Display for NeedsApproval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            RequestKind::NetworkHost => "network host",
            RequestKind::ConfigFile => "config file",
        };
        write!(f, "{kind} {} ({})", scheme_contract::text::escape(&self.request), self.why)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalState {
    /// The plugin asks for nothing beyond the defaults.
    NotNeeded,
    /// An approval for this exact file grants what it asks for.
    Approved,
    /// It asks for more than the defaults and nobody approved it: the rest is withheld.
    Missing,
}

/// Everything one plugin is granted.
#[derive(Debug, Clone)]
pub struct Grants {
    pub hosts: Vec<HostGrant>,
    /// Config file id -> the host path the plugin may read.
    pub config_files: Vec<(String, PathBuf)>,
    pub env_vars: Vec<String>,
    /// Requested, needs an approval, not granted.
    pub withheld: Vec<NeedsApproval>,
    pub approval: ApprovalState,
}

/// Why a plugin is not run at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub plugin: String,
    pub sha256: String,
    pub approved_sha256: Vec<String>,
    pub asks: Vec<NeedsApproval>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |s: &str| s.chars().take(12).collect::<String>();
        let approved: Vec<String> = self.approved_sha256.iter().map(|s| short(s)).collect();
        let asks: Vec<String> = self.asks.iter().map(ToString::to_string).collect();
        write!(
            f,
            "plugin {} (sha256 {}) is not the file that was approved (sha256 {}) and asks for: {}; review it and approve it with `scheme-host trust {}`",
            self.plugin,
            short(&self.sha256),
            approved.join(", "),
            asks.join(", "),
            self.plugin
        )
    }
}

/// What the grant decision reads from the host's environment.
pub struct HostEnv<'a> {
    pub home: Option<PathBuf>,
    pub var: &'a dyn Fn(&str) -> Option<String>,
}

impl HostEnv<'_> {
    pub fn process() -> HostEnv<'static> {
        HostEnv { home: std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from), var: &|v| std::env::var(v).ok() }
    }
}

/// Files in a user's home that hold secrets for other systems: a plugin that asks for one
/// needs an approval even though it is in the home directory.
const SECRET_HOME_PATHS: &[&str] = &[".ssh", ".gnupg", ".netrc", ".kube", ".docker", ".git-credentials", ".config/gh"];

/// Whether a host pattern needs an approval, and why.
pub fn host_needs_approval(p: &HostPattern) -> Option<&'static str> {
    match p {
        HostPattern::Env(_) => None,
        HostPattern::Exact { host, .. } => {
            if host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok() {
                Some("an IP address")
            } else if is_loopback_name(host) {
                Some("a loopback name")
            } else {
                None
            }
        }
        HostPattern::Suffix { suffix, .. } => {
            if is_loopback_name(suffix) {
                Some("a loopback name")
            } else if psl::suffix_str(suffix) == Some(suffix.as_str()) {
                Some("a wildcard over a public suffix")
            } else {
                None
            }
        }
    }
}

fn is_loopback_name(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost") || host == "localhost.localdomain"
}

/// The host path a config file resolves to, and whether reading it needs an approval.
fn config_file(c: &ConfigFile, env: &HostEnv) -> (Option<PathBuf>, Option<&'static str>) {
    if let Some(var) = &c.path_env {
        // The operator pointed the plugin at this file.
        if let Some(p) = (env.var)(var).filter(|p| !p.is_empty()) {
            return (Some(PathBuf::from(p)), None);
        }
    }
    let Some(rest) = c.default_path.strip_prefix("~/") else {
        return (Some(PathBuf::from(&c.default_path)), Some("outside the user's home"));
    };
    let rel = Path::new(rest);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return (None, Some("a path that leaves the user's home"));
    }
    if SECRET_HOME_PATHS.iter().any(|s| rel.starts_with(s)) {
        return (env.home.as_ref().map(|h| h.join(rel)), Some("a file that holds secrets for other systems"));
    }
    (env.home.as_ref().map(|h| h.join(rel)), None)
}

/// Decides what `manifest` (the plugin file with hash `sha256`) is granted, given the
/// approvals recorded for its name and the operator's `[plugins.NAME]` section.
pub fn decide(
    manifest: &PluginManifest,
    sha256: &str,
    approvals: &[Approval],
    operator: Option<&PluginGrant>,
    env: &HostEnv,
) -> Result<Grants, Refusal> {
    let mut needs = Vec::new();
    let mut hosts = Vec::new();
    // Hosts: the operator's list replaces the declared ones, and is granted as is.
    let declared: Vec<HostPattern> = match operator.and_then(|g| g.allow_hosts.as_ref()) {
        Some(_) => vec![],
        None => manifest.network_hosts.iter().filter_map(|h| HostPattern::parse(h).ok()).collect(),
    };
    let mut pending_hosts = Vec::new();
    for p in declared {
        match host_needs_approval(&p) {
            None => {
                let internal = matches!(p, HostPattern::Env(_));
                hosts.extend(p.resolve_with(env.var).into_iter().map(|pattern| HostGrant { pattern, internal }));
            }
            Some(why) => {
                needs.push(NeedsApproval { kind: RequestKind::NetworkHost, request: pattern_text(&p), why });
                pending_hosts.push(p);
            }
        }
    }
    if let Some(g) = operator {
        for h in g.allow_hosts.iter().flatten().chain(&g.extra_allow_hosts) {
            if let Ok(p) = HostPattern::parse(h) {
                hosts.extend(operator_grants(p, env));
            }
        }
    }
    let mut config_files = Vec::new();
    let mut pending_files = Vec::new();
    for c in &manifest.config_files {
        match config_file(c, env) {
            (Some(path), None) => config_files.push((c.id.clone(), path)),
            (None, None) => {}
            (path, Some(why)) => {
                needs.push(NeedsApproval { kind: RequestKind::ConfigFile, request: c.default_path.clone(), why });
                pending_files.push((c, path));
            }
        }
    }
    let env_vars = manifest.env_vars.iter().filter(|v| !super::outbound::is_host_only_var(v)).cloned().collect();
    if needs.is_empty() {
        return Ok(Grants { hosts, config_files, env_vars, withheld: vec![], approval: ApprovalState::NotNeeded });
    }
    let Some(approval) = approvals.iter().find(|a| a.sha256.eq_ignore_ascii_case(sha256)) else {
        if approvals.is_empty() {
            return Ok(Grants { hosts, config_files, env_vars, withheld: needs, approval: ApprovalState::Missing });
        }
        return Err(Refusal {
            plugin: manifest.name.clone(),
            sha256: sha256.to_string(),
            approved_sha256: approvals.iter().map(|a| a.sha256.clone()).collect(),
            asks: needs,
        });
    };
    // The same file asks for the same things, so an approval normally covers all of it;
    // one edited by hand grants only what it names.
    let mut withheld = Vec::new();
    for (n, p) in needs.iter().filter(|n| n.kind == RequestKind::NetworkHost).zip(&pending_hosts) {
        if approval.network_hosts.iter().any(|a| a == &n.request) {
            hosts.extend(operator_grants(p.clone(), env));
        } else {
            withheld.push(n.clone());
        }
    }
    for (n, (c, path)) in needs.iter().filter(|n| n.kind == RequestKind::ConfigFile).zip(pending_files) {
        match path {
            Some(path) if approval.config_files.iter().any(|a| a == &n.request) => config_files.push((c.id.clone(), path)),
            _ => withheld.push(n.clone()),
        }
    }
    Ok(Grants { hosts, config_files, env_vars, withheld, approval: ApprovalState::Approved })
}

/// Everything in `manifest` that needs an approval: what `scheme-host trust` records.
pub fn needs_approval(manifest: &PluginManifest, operator: Option<&PluginGrant>, env: &HostEnv) -> Vec<NeedsApproval> {
    match decide(manifest, "", &[], operator, env) {
        Ok(g) => g.withheld,
        Err(r) => r.asks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn manifest(hosts: &[&str], files: &[(&str, &str, Option<&str>)]) -> PluginManifest {
        PluginManifest {
            name: "p".into(),
            version: "1".into(),
            schemes: vec!["p".into()],
            env_vars: vec!["P_KEY".into(), "HTTPS_PROXY".into()],
            config_files: files
                .iter()
                .map(|(id, path, var)| ConfigFile { id: id.to_string(), default_path: path.to_string(), path_env: var.map(str::to_string) })
                .collect(),
            network_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            contract_version: "0.1.2".into(),
        }
    }

    fn with_env<R>(vars: &[(&str, &str)], f: impl FnOnce(&HostEnv) -> R) -> R {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let lookup = move |k: &str| map.get(k).cloned();
        f(&HostEnv { home: Some("/home/u".into()), var: &lookup })
    }

    fn allows(g: &Grants, host: &str, port: u16) -> bool {
        g.hosts.iter().any(|h| h.pattern.matches(host, port))
    }

    #[test]
    fn defaults_grant_names_and_withhold_addresses() {
        let m = manifest(&["*.myhuaweicloud.com", "127.0.0.1:8265", "169.254.169.254:80", "10.0.0.5:9000", "[::1]:80", "localhost:80", "*.co.uk"], &[]);
        let g = with_env(&[], |env| decide(&m, "aa", &[], None, env)).unwrap();
        assert_eq!(g.approval, ApprovalState::Missing);
        assert!(allows(&g, "b.obs.myhuaweicloud.com", 443));
        for (h, p) in [("127.0.0.1", 8265), ("169.254.169.254", 80), ("10.0.0.5", 9000), ("[::1]", 80), ("localhost", 80), ("x.co.uk", 443)] {
            assert!(!allows(&g, h, p), "{h}:{p} granted without approval");
        }
        let withheld: Vec<&str> = g.withheld.iter().map(|n| n.request.as_str()).collect();
        assert_eq!(withheld, ["127.0.0.1:8265", "169.254.169.254:80", "10.0.0.5:9000", "[::1]:80", "localhost:80", "*.co.uk"]);
        assert!(g.hosts.iter().all(|h| !h.internal), "default names may not reach internal addresses");
        assert_eq!(g.env_vars, ["P_KEY"], "host networking variables are never granted");
    }

    #[test]
    fn env_endpoints_are_the_operators() {
        let m = manifest(&["env:P_ENDPOINT"], &[]);
        let g = with_env(&[("P_ENDPOINT", "http://127.0.0.1:9000")], |env| decide(&m, "aa", &[], None, env)).unwrap();
        assert_eq!(g.approval, ApprovalState::NotNeeded);
        assert!(allows(&g, "127.0.0.1", 9000));
        assert!(g.hosts.iter().all(|h| h.internal));
    }

    #[test]
    fn config_files_outside_home_need_approval() {
        let m = manifest(
            &[],
            &[("shadow", "/etc/shadow", None), ("cfg", "~/.pcfg", Some("P_CONFIG")), ("up", "~/../../etc/passwd", None), ("ssh", "~/.ssh/id_rsa", None)],
        );
        let g = with_env(&[], |env| decide(&m, "aa", &[], None, env)).unwrap();
        assert_eq!(g.config_files, [("cfg".to_string(), PathBuf::from("/home/u/.pcfg"))]);
        let withheld: Vec<&str> = g.withheld.iter().map(|n| n.request.as_str()).collect();
        assert_eq!(withheld, ["/etc/shadow", "~/../../etc/passwd", "~/.ssh/id_rsa"]);
        // The operator's path variable is the operator's choice, wherever it points.
        let g = with_env(&[("P_CONFIG", "/etc/p/config")], |env| decide(&m, "aa", &[], None, env)).unwrap();
        assert!(g.config_files.contains(&("cfg".to_string(), PathBuf::from("/etc/p/config"))));
    }

    #[test]
    fn an_approval_grants_only_the_file_it_names() {
        let m = manifest(&["*.example.com", "127.0.0.1:8265"], &[("shadow", "/etc/shadow", None)]);
        let approval = Approval { sha256: "AA11".into(), network_hosts: vec!["127.0.0.1:8265".into()], config_files: vec!["/etc/shadow".into()] };
        let g = with_env(&[], |env| decide(&m, "aa11", std::slice::from_ref(&approval), None, env)).unwrap();
        assert_eq!(g.approval, ApprovalState::Approved);
        assert!(g.withheld.is_empty());
        assert!(allows(&g, "127.0.0.1", 8265));
        assert!(g.hosts.iter().any(|h| h.internal && h.pattern.matches("127.0.0.1", 8265)));
        assert_eq!(g.config_files, [("shadow".to_string(), PathBuf::from("/etc/shadow"))]);

        // Another file under the same name: refused, and told how to approve it.
        let refusal = with_env(&[], |env| decide(&m, "bb22", std::slice::from_ref(&approval), None, env)).unwrap_err();
        let text = refusal.to_string();
        assert!(text.contains("scheme-host trust p") && text.contains("127.0.0.1:8265") && text.contains("/etc/shadow"), "{text}");

        // ... unless it asks for nothing that needs approval.
        let plain = manifest(&["*.example.com"], &[]);
        let g = with_env(&[], |env| decide(&plain, "bb22", std::slice::from_ref(&approval), None, env)).unwrap();
        assert_eq!(g.approval, ApprovalState::NotNeeded);

        // An approval edited to name less grants less.
        let partial = Approval { network_hosts: vec![], ..approval };
        let g = with_env(&[], |env| decide(&m, "aa11", &[partial], None, env)).unwrap();
        assert!(!allows(&g, "127.0.0.1", 8265));
        assert_eq!(g.withheld.len(), 1);
    }

    #[test]
    fn operator_hosts_are_granted_and_may_be_internal() {
        let m = manifest(&["*.example.com"], &[]);
        let grant = PluginGrant { allow_hosts: None, extra_allow_hosts: vec!["127.0.0.1:9000".into()], disabled: false };
        let g = with_env(&[], |env| decide(&m, "aa", &[], Some(&grant), env)).unwrap();
        assert!(allows(&g, "127.0.0.1", 9000) && allows(&g, "a.example.com", 443));
        let replace = PluginGrant { allow_hosts: Some(vec!["obs.private:443".into()]), ..grant };
        let g = with_env(&[], |env| decide(&m, "aa", &[], Some(&replace), env)).unwrap();
        assert!(!allows(&g, "a.example.com", 443), "allow-hosts replaces the declared hosts");
        assert!(allows(&g, "obs.private", 443));
    }
}
