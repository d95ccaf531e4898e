//! The plugin's operations in plain Rust, generic over the network and the environment so
//! whole calls (credentials, signing, download, unpack) run natively in tests.

use std::fs::{self, File};
use std::path::Path;
use std::time::Instant;

use scheme_plugin_kit::archive::{extract_tar, TarCompression};
use scheme_plugin_kit::http::{download, DownloadOptions, FileSink, Transport};
use scheme_plugin_kit::retry::Sleeper;
use scheme_plugin_kit::{Error, ErrorKind, Limits, Result};

use crate::credentials::{self, metadata::METADATA_HOST};
use crate::endpoint::Endpoint;
use crate::env::Env;
use crate::settings::{self as s, var};
use crate::store::ObsStore;
use crate::uri::{Format, ObsUri};

/// Hosts a redirect may lead to without being refused by us (the host applies its own
/// list too). Credentials are only ever sent to the endpoint itself.
pub const DEFAULT_NETWORK_HOSTS: &[&str] = &["*.myhuaweicloud.com"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Download,
    Unpack,
}

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

/// The object store endpoint: `OBS_ENDPOINT`, else obsutil's `endpoint`.
pub fn endpoint(env: &dyn Env) -> Result<Endpoint> {
    let path_style = s::flag(env, s::OBS_PATH_STYLE)?;
    if let Some(e) = var(env, s::OBS_ENDPOINT) {
        return Endpoint::parse(&e, path_style).map_err(|e| e.context("OBS_ENDPOINT"));
    }
    let from_obsutil = env.config_file(credentials::OBSUTIL_CONFIG_ID).and_then(|b| credentials::files::parse_obsutil(&b).endpoint);
    if let Some(e) = from_obsutil {
        return Endpoint::parse(&e, path_style).map_err(|e| e.context("endpoint in the obsutil config"));
    }
    Err(Error::new(
        ErrorKind::InvalidUri,
        "no OBS endpoint configured: set OBS_ENDPOINT (for example https://obs.cn-north-4.myhuaweicloud.com) \
         or `endpoint` in ~/.obsutilconfig",
    ))
}

/// Everything a request for the object needs: options, the signing store, and which
/// credential source signs.
pub(crate) struct Fetch<'e> {
    pub opts: DownloadOptions,
    pub store: ObsStore<'e>,
    pub credential_source: Option<&'static str>,
}

/// Resolves the endpoint and credentials once for every request of one call.
pub(crate) fn prepare_fetch<'e, T: Transport>(env: &'e dyn Env, transport: &mut T, uri: &ObsUri, limits: &Limits) -> Result<Fetch<'e>> {
    let ep = endpoint(env)?;
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

/// Downloads the object into `file` (created or truncated).
pub fn download_to_file<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &ObsUri, file: &Path) -> Result<DownloadStats> {
    let r = fetch_to_file(call, uri, file);
    scrubbed(call.env, r)
}

fn fetch_to_file<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &ObsUri, file: &Path) -> Result<DownloadStats> {
    let started = Instant::now();
    let Fetch { opts, mut store, credential_source } = prepare_fetch(call.env, call.transport, uri, call.limits)?;
    let f = File::create(file).map_err(|e| Error::io("creating the download file", e))?;
    let mut sink = FileSink::new(f);
    let progress = &mut call.progress;
    let outcome = download(call.transport, &mut store, call.sleeper, &opts, &mut sink, &mut |done, total| progress(Phase::Download, done, total, 0))
        .map_err(|e| e.context(format!("downloading {}", uri.display())));
    drop(sink);
    // On error the partial file stays: the host removes its staging directory, and until
    // then a full disk stays visible to the host, which names it (a WASI stream reports
    // a failed write as a bare I/O error).
    let outcome = outcome?;
    Ok(DownloadStats {
        bytes_downloaded: outcome.bytes,
        object_size: outcome.object_size,
        retries: outcome.retries,
        verified: outcome.verified.map(str::to_string),
        download_ms: started.elapsed().as_millis() as u64,
        reads: outcome.reads,
        credential_source,
    })
}

/// Fetches the package and unpacks it into `target`; `scratch` holds whatever must touch
/// the disk first.
pub fn download_and_unpack<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &ObsUri, target: &Path, scratch: &Path) -> Result<UnpackStats> {
    let r = fetch_and_unpack(call, uri, target, scratch);
    scrubbed(call.env, r)
}

fn fetch_and_unpack<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &ObsUri, target: &Path, scratch: &Path) -> Result<UnpackStats> {
    let compression = match uri.format {
        Format::Zip => return crate::zipfetch::download_and_unpack_zip(call, uri, target, scratch),
        Format::TarGz => TarCompression::Gzip,
        Format::TarXz => TarCompression::Xz,
        Format::Wheel => {
            return Err(Error::unsupported(
                "a .whl package is installed as a file, not unpacked: the host fetches it with `download`",
            ))
        }
    };
    let object = scratch.join("object");
    let dl = fetch_to_file(call, uri, &object)?;

    let started = Instant::now();
    let file = File::open(&object).map_err(|e| Error::io("opening the downloaded object", e))?;
    let progress = &mut call.progress;
    let mut on_unpack = |entries: u64, bytes: u64| progress(Phase::Unpack, bytes, None, entries);
    let stats = extract_tar(file, compression, target, call.limits, &mut on_unpack).map_err(|e| e.context(format!("unpacking {}", uri.display())))?;
    // Free the space before the host publishes the tree.
    let _ = fs::remove_file(&object);
    Ok(UnpackStats {
        download: dl,
        files: stats.files,
        directories: stats.directories,
        bytes_written: stats.bytes_written,
        executables: stats.executables,
        unpack_ms: started.elapsed().as_millis() as u64,
    })
}

pub use crate::zipfetch::{Part, PartOutcome};

/// The share of `part` of the package (WIT `parts`): zips split when they stream; any
/// other package is done whole by part 0.
pub fn download_and_unpack_part<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &ObsUri, target: &Path, scratch: &Path, part: Part) -> Result<PartOutcome> {
    if part.index >= part.count.max(1) {
        return Err(Error::internal(format!("part {} of {} does not exist", part.index, part.count)));
    }
    if uri.format == Format::Zip {
        let r = crate::zipfetch::download_and_unpack_zip_part(call, uri, target, scratch, part);
        return scrubbed(call.env, r);
    }
    if part.index > 0 {
        return Ok(PartOutcome { split: false, object_version: None, stats: UnpackStats::default() });
    }
    let stats = download_and_unpack(call, uri, target, scratch)?;
    Ok(PartOutcome { split: false, object_version: None, stats })
}

/// `r` with the secrets this call may have sent scrubbed from its error: a hostile endpoint
/// can echo the access key or token into anything it returns, entry names included.
fn scrubbed<T>(env: &dyn Env, r: Result<T>) -> Result<T> {
    r.map_err(|e| {
        let secrets = credentials::known_secrets(env);
        crate::error::redact_error(e, &secrets.iter().map(String::as_str).collect::<Vec<_>>())
    })
}

/// What `info()` declares: every variable read, the two config files, the hosts.
pub fn network_hosts() -> Vec<String> {
    let mut v: Vec<String> = DEFAULT_NETWORK_HOSTS.iter().map(|h| h.to_string()).collect();
    v.push(format!("env:{}", s::OBS_ENDPOINT));
    v.push(format!("{METADATA_HOST}:80"));
    v
}

#[cfg(test)]
#[path = "ops_tests.rs"]
mod tests;
