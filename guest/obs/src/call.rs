//! One plugin call's means and results: the [`Call`] every operation takes, the stats it
//! returns, and [`Fetch`], what every request for the object needs. The layer below the
//! operations (`ops.rs`, `zipfetch.rs`, `object.rs`), which all use it.

use scheme_plugin_kit::http::{DownloadOptions, Transport};
use scheme_plugin_kit::retry::Sleeper;
pub use scheme_plugin_kit::Phase;
use scheme_plugin_kit::{Limits, Result};

use crate::credentials;
use crate::endpoint::Endpoint;
use crate::env::Env;
use crate::settings as s;
use crate::store::ObsStore;
use crate::uri::ObsUri;

/// Hosts a redirect may lead to without being refused by us (the host applies its own
/// list too). Credentials are only ever sent to the endpoint itself.
pub const DEFAULT_NETWORK_HOSTS: &[&str] = &["*.myhuaweicloud.com"];

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

/// Everything a request for the object needs: options, the signing store, and which
/// credential source signs.
pub(crate) struct Fetch<'e> {
    pub opts: DownloadOptions,
    pub store: ObsStore<'e>,
    pub credential_source: Option<&'static str>,
}

/// Resolves the endpoint and credentials once for every request of one call.
pub(crate) fn prepare_fetch<'e, T: Transport>(env: &'e dyn Env, transport: &mut T, uri: &ObsUri, limits: &Limits) -> Result<Fetch<'e>> {
    let ep = Endpoint::from_env(env)?;
    let target = ep.object(&uri.bucket, &uri.key);
    let resolved = credentials::resolve(env, transport)?;

    let mut opts = DownloadOptions::new(target.scheme, target.authority, target.path);
    opts.timeouts = s::timeouts(env)?;
    opts.retry = s::retry_policy(env)?;
    opts.max_bytes = limits.max_download_bytes;
    opts.headers.push(("User-Agent".into(), format!("scheme-host-obs/{}", env!("CARGO_PKG_VERSION"))));
    opts.redirect_allow = DEFAULT_NETWORK_HOSTS.iter().map(|h| h.to_string()).collect();
    opts.redirect_allow.push(ep.authority());
    if !ep.path_style {
        // Virtual-hosted buckets live under the endpoint's own name.
        opts.redirect_allow.push(match ep.port {
            Some(p) => format!("*.{}:{p}", ep.host),
            None => format!("*.{}", ep.host),
        });
    }

    let credential_source = resolved.credentials.as_ref().map(|c| c.source.describe());
    let store = ObsStore {
        credentials: resolved.credentials,
        bucket: uri.bucket.clone(),
        path_style: ep.path_style,
        env,
        anonymous_note: resolved.metadata_note,
    };
    Ok(Fetch { opts, store, credential_source })
}

/// One plugin call's means: where settings and credentials come from, the network, how to
/// wait between retries, the limits, and where progress goes. Every operation takes one.
pub struct Call<'a, T: Transport, Z: Sleeper> {
    pub env: &'a dyn Env,
    pub transport: &'a mut T,
    pub sleeper: &'a mut Z,
    pub limits: &'a Limits,
    pub progress: Progress<'a>,
}

/// `r` with the secrets this call may have sent scrubbed from its error: a hostile endpoint
/// can echo the access key or token into anything it returns, entry names included.
pub(crate) fn scrubbed<T>(env: &dyn Env, r: Result<T>) -> Result<T> {
    r.map_err(|e| {
        let secrets = credentials::known_secrets(env);
        crate::error::redact_error(e, &secrets.iter().map(String::as_str).collect::<Vec<_>>())
    })
}

