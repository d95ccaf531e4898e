//! The plugin's operations in plain Rust, generic over the network and the environment so
//! whole calls (credentials, signing, download, unpack) run natively in tests.

use std::fs::{self, File};
use std::path::Path;
use std::time::Instant;

use scheme_plugin_kit::archive::{extract_tar, TarCompression};
use scheme_plugin_kit::http::Transport;
use scheme_plugin_kit::retry::Sleeper;
use scheme_plugin_kit::{Error, Result};

pub use crate::call::{Call, DownloadStats, Phase, Progress, UnpackStats};
use crate::call::{scrubbed, DEFAULT_NETWORK_HOSTS};
use crate::credentials::metadata::METADATA_HOST;
pub use crate::object::download_to_file;
use crate::object::fetch_to_file;
use crate::settings as s;
use crate::uri::{PackageFormat, ObsUri};

/// Fetches the package and unpacks it into `target`; `scratch` holds whatever must touch
/// the disk first.
pub fn download_and_unpack<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &ObsUri, target: &Path, scratch: &Path) -> Result<UnpackStats> {
    let r = fetch_and_unpack(call, uri, target, scratch);
    scrubbed(call.env, r)
}

fn fetch_and_unpack<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &ObsUri, target: &Path, scratch: &Path) -> Result<UnpackStats> {
    let compression = match uri.format {
        PackageFormat::Zip => return crate::zipfetch::download_and_unpack_zip(call, uri, target, scratch),
        PackageFormat::TarGz => TarCompression::Gzip,
        PackageFormat::TarXz => TarCompression::Xz,
        PackageFormat::Wheel => {
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
    if uri.format == PackageFormat::Zip {
        let r = crate::zipfetch::download_and_unpack_zip_part(call, uri, target, scratch, part);
        return scrubbed(call.env, r);
    }
    if part.index > 0 {
        return Ok(PartOutcome { split: false, object_version: None, stats: UnpackStats::default() });
    }
    let stats = download_and_unpack(call, uri, target, scratch)?;
    Ok(PartOutcome { split: false, object_version: None, stats })
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
