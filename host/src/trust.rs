//! `scheme-host trust NAME`: shows what an installed plugin asks for and records the
//! operator's approval of it in the config (`[approvals.NAME]`), bound to the file's
//! sha256. The rest of the file is kept as the operator wrote it.

use crate::config::{Approval, Config};
use crate::error::{HostError, Result};
use crate::sandbox::grant::{NeedsApproval, RequestKind};
use std::path::Path;

/// Records `approval` for `plugin` in the config file at `path` (created if missing) and
/// checks that the result is still a valid config before replacing the file.
pub fn record(path: &Path, plugin: &str, approval: &Approval) -> Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(HostError::config(format!("cannot read config {}: {e}", path.display()))),
    };
    let mut doc: toml_edit::DocumentMut =
        text.parse().map_err(|e| HostError::config(format!("config {} is not valid TOML: {e}", path.display())))?;
    let approvals = doc
        .entry("approvals")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_mut()
        .ok_or_else(|| HostError::config(format!("config {}: `approvals` must be a table", path.display())))?;
    let mut entry = toml_edit::Table::new();
    entry.insert("sha256", toml_edit::value(approval.sha256.as_str()));
    entry.insert("network-hosts", toml_edit::value(string_array(&approval.network_hosts)));
    entry.insert("config-files", toml_edit::value(string_array(&approval.config_files)));
    approvals.insert(plugin, toml_edit::Item::Table(entry));
    let out = doc.to_string();
    Config::parse(&out).map_err(|e| e.context(format!("the approval would make {} invalid", path.display())))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| HostError::config(format!("cannot create {}: {e}", dir.display())))?;
    }
    crate::atomic::write_file(path, out.as_bytes()).map_err(|e| HostError::config(format!("cannot write {}: {e}", path.display())))
}

fn string_array(items: &[String]) -> toml_edit::Array {
    items.iter().map(String::as_str).collect()
}

/// The approval that grants exactly `needs` to the file with hash `sha256`.
pub fn approval_for(sha256: &str, needs: &[NeedsApproval]) -> Approval {
    let of = |kind| needs.iter().filter(|n| n.kind == kind).map(|n| n.request.clone()).collect();
    Approval { sha256: sha256.to_string(), network_hosts: of(RequestKind::NetworkHost), config_files: of(RequestKind::ConfigFile) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_beside_what_the_operator_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etc/config.toml");
        let sha = "ab".repeat(32);
        record(&path, "obs", &Approval { sha256: sha.clone(), network_hosts: vec!["169.254.169.254:80".into()], config_files: vec![] }).unwrap();
        let c = Config::load(Some(&path)).unwrap();
        assert_eq!(c.approvals["obs"].network_hosts, ["169.254.169.254:80"]);

        std::fs::write(&path, format!("# limits for our nodes\n[limits]\nmemory-mib = 64\n\n[approvals.obs]\nsha256 = \"{sha}\"\n")).unwrap();
        let other = "cd".repeat(32);
        record(&path, "hostile", &Approval { sha256: other.clone(), network_hosts: vec![], config_files: vec!["/etc/shadow".into()] }).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# limits for our nodes\n[limits]\nmemory-mib = 64\n"), "{text}");
        let c = Config::load(Some(&path)).unwrap();
        assert_eq!(c.limits.memory_mib, 64);
        assert_eq!(c.approvals["obs"].sha256, sha);
        assert_eq!(c.approvals["hostile"].config_files, ["/etc/shadow"]);

        // Approving again replaces the record, bound to the new file.
        record(&path, "hostile", &Approval { sha256: sha.clone(), ..Default::default() }).unwrap();
        assert_eq!(Config::load(Some(&path)).unwrap().approvals["hostile"].sha256, sha);
    }

    #[test]
    fn refuses_to_break_a_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "approvals = 3\n").unwrap();
        assert!(record(&path, "obs", &Approval { sha256: "ab".repeat(32), ..Default::default() }).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "approvals = 3\n");
    }
}
