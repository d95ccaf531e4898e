//! One plugin call's means and results: the [`Call`] every operation takes, the stats it
//! returns, and [`Remote`], what a scheme supplies so the operations can reach its object.

use crate::env::Env;
use crate::http::{DownloadOptions, Store, Transport};
use crate::retry::Sleeper;
use crate::store_error::redact_error;
use crate::{Limits, PackageFormat, Phase, Result};

/// WIT `download-stats`, plus what the plugin logs for diagnosis.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownloadStats {
    pub bytes_downloaded: u64,
    pub object_size: u64,
    pub retries: u32,
    pub verified: Option<String>,
    pub download_ms: u64,
    /// Body reads (host calls).
    pub reads: u64,
    /// Which credential source signed the requests; `None` means anonymous.
    pub credential_source: Option<&'static str>,
}

/// Mirrors WIT `unpack-stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackStats {
    pub download: DownloadStats,
    pub files: u64,
    pub directories: u64,
    pub bytes_written: u64,
    pub executables: Vec<String>,
    pub unpack_ms: u64,
}

/// `(phase, done, total, entries)`, forwarded to the host's `progress` import.
pub type Progress<'a> = &'a mut dyn FnMut(Phase, u64, Option<u64>, u64);

/// One plugin call's means: where settings and credentials come from, the network, how to
/// wait between retries, the limits, and where progress goes. Every operation takes one.
pub struct Call<'a, T: Transport, Z: Sleeper> {
    pub env: &'a dyn Env,
    pub transport: &'a mut T,
    pub sleeper: &'a mut Z,
    pub limits: &'a Limits,
    pub progress: Progress<'a>,
}

/// Everything a request for the object needs: options, the signing store, and which
/// credential source signs.
pub struct Fetch<'a> {
    pub opts: DownloadOptions,
    pub store: Box<dyn Store + 'a>,
    pub credential_source: Option<&'static str>,
}

/// What a scheme supplies for one object: how to name it, what it holds, and how to reach
/// it. The operations in [`crate::ops`] do the rest the same way for every store.
pub trait Remote {
    /// For messages: attacker-chosen text escaped, nothing secret.
    fn display(&self) -> String;
    fn format(&self) -> PackageFormat;
    /// Resolves endpoint and credentials once for every request of one call.
    fn prepare<'a, T: Transport>(&'a self, env: &'a dyn Env, transport: &mut T, limits: &Limits) -> Result<Fetch<'a>>;
    /// Every secret this call may have sent, found without any I/O (a hostile endpoint can
    /// echo them into anything it returns, entry names included).
    fn secrets(&self, env: &dyn Env) -> Vec<String>;
}

/// `r` with the secrets `remote` may have sent scrubbed from its error.
pub fn scrubbed<R: Remote + ?Sized, T>(remote: &R, env: &dyn Env, r: Result<T>) -> Result<T> {
    r.map_err(|e| {
        let secrets = remote.secrets(env);
        redact_error(e, &secrets.iter().map(String::as_str).collect::<Vec<_>>())
    })
}
