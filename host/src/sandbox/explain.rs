//! A failed call's error, completed with what only the host knows: connections it
//! refused, what failed below the plugin's view of the network, a full disk.

use super::Instance;
use crate::error::{ErrorKind, HostError};
use std::path::Path;

/// A plugin's error with what only the host knows added (denied hosts, connection
/// failures, a full disk).
impl Instance {
    pub fn explain(&self, e: HostError, staging: &Path) -> HostError {
        with_disk_full(with_denied(e, self), staging)
    }

    /// An upload call's error with the connections and requests the host refused added.
    pub fn explain_upload(&self, e: HostError) -> HostError {
        with_denied(e, self)
    }
}

/// A refused connection surfaces in the plugin as a generic network error; name the host
/// so the operator knows what to allow, and add what the host knows about failed
/// connections (certificate, proxy, trusted roots) that the plugin's error code cannot say.
fn with_denied(mut e: HostError, inst: &Instance) -> HostError {
    let denied = inst.denied_hosts();
    if !denied.is_empty() {
        e.message.push_str(&format!(
            " (scheme-host denied connections to {}: not granted to this plugin; `scheme-host schemes` shows what it asks for and is granted, `scheme-host trust {}` approves what needs approval, `[plugins.{}] extra-allow-hosts` in the config adds hosts)",
            inst.display_text(&denied.join(", ")),
            inst.plugin_name(),
            inst.plugin_name()
        ));
    }
    let refused = inst.refused_methods();
    if !refused.is_empty() {
        e.message.push_str(&format!(" (scheme-host refused requests of plugin {}: {})", inst.plugin_name(), inst.display_text(&refused.join("; "))));
    }
    let failures = inst.network_failures();
    if !failures.is_empty() {
        e.message.push_str(&format!(" (scheme-host: {})", inst.display_text(&failures.join("; "))));
    }
    e
}

/// A write to a full disk reaches a plugin as a bare I/O error (WASI streams carry no
/// errno), so the host, which can look at the filesystem, names the cause. Checked while
/// the staging directory still holds what filled the disk.
fn with_disk_full(mut e: HostError, staging: &Path) -> HostError {
    if e.kind != ErrorKind::Internal {
        return e;
    }
    if e.message.contains("no space left on device") {
        e.kind = ErrorKind::Publish;
        return e;
    }
    if !e.message.contains("I/O error") {
        return e;
    }
    let Ok(fs) = rustix::fs::statvfs(staging) else { return e };
    let free = fs.f_bavail.saturating_mul(fs.f_frsize);
    if free < 1 << 20 {
        let dir = staging.parent().unwrap_or(staging);
        e.kind = ErrorKind::Publish;
        e.message.push_str(&format!(": no space left on device (the filesystem of {} has {free} bytes free)", dir.display()));
    }
    e
}

