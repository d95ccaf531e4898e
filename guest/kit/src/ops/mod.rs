//! The operations of a bucket-and-key store, for any store: download, download and unpack
//! (zips while they stream, tars from a file), one part of a package, and in [`upload`] the
//! upload of one file. Each plugin supplies a [`Remote`] (its endpoint, credentials and
//! signing) and calls these; they are plain Rust over the kit's [`Transport`], so whole
//! calls run natively in tests.

mod call;
mod object;
/// Scaffolding for plugins' native tests of whole operations; kept out of plugins.
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod upload;
mod zipfetch;

use std::fs::{self, File};
use std::path::Path;
use std::time::Instant;

use crate::archive::{extract_tar, TarCompression};
use crate::http::Transport;
use crate::retry::Sleeper;
use crate::{Error, PackageFormat, Phase, Result};

pub use call::{scrubbed, Call, DownloadStats, Fetch, Progress, Remote, UnpackStats};
pub use object::download_to_file;
pub use upload::{
    abort_multipart, begin_multipart, complete_multipart, plan_upload, put_object, stat, upload_part, ObjectInfo, UploadLimits, UploadPlan, UploadRemote,
    UploadedPart,
};
use object::fetch_to_file;
pub use zipfetch::{Part, PartOutcome, MAX_DIRECTORY_BYTES, OTHER_PARTS_TAIL_BYTES, SPLIT_ABOVE_BYTES, STREAM_VERIFIED, TAIL_BYTES};

/// Fetches the package and unpacks it into `target`; `scratch` holds whatever must touch
/// the disk first.
pub fn download_and_unpack<R: Remote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, target: &Path, scratch: &Path) -> Result<UnpackStats> {
    let r = fetch_and_unpack(call, remote, target, scratch);
    scrubbed(remote, call.env, r)
}

fn fetch_and_unpack<R: Remote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, target: &Path, scratch: &Path) -> Result<UnpackStats> {
    let compression = match remote.format() {
        PackageFormat::Zip => return zipfetch::download_and_unpack_zip(call, remote, target, scratch),
        PackageFormat::TarGz => TarCompression::Gzip,
        PackageFormat::TarXz => TarCompression::Xz,
        PackageFormat::Wheel => {
            return Err(Error::unsupported(
                "a .whl package is installed as a file, not unpacked: the host fetches it with `download`",
            ))
        }
    };
    let object = scratch.join("object");
    let dl = fetch_to_file(call, remote, &object)?;

    let started = Instant::now();
    let file = File::open(&object).map_err(|e| Error::io("opening the downloaded object", e))?;
    let progress = &mut call.progress;
    let mut on_unpack = |entries: u64, bytes: u64| progress(Phase::Unpack, bytes, None, entries);
    let stats = extract_tar(file, compression, target, call.limits, &mut on_unpack).map_err(|e| e.context(format!("unpacking {}", remote.display())))?;
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

/// The share of `part` of the package (WIT `parts`): zips split when they stream; any
/// other package is done whole by part 0.
pub fn download_and_unpack_part<R: Remote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, target: &Path, scratch: &Path, part: Part) -> Result<PartOutcome> {
    if part.index >= part.count.max(1) {
        return Err(Error::internal(format!("part {} of {} does not exist", part.index, part.count)));
    }
    if remote.format() == PackageFormat::Zip {
        let r = zipfetch::download_and_unpack_zip_part(call, remote, target, scratch, part);
        return scrubbed(remote, call.env, r);
    }
    if part.index > 0 {
        return Ok(PartOutcome { split: false, object_version: None, stats: UnpackStats::default() });
    }
    let stats = download_and_unpack(call, remote, target, scratch)?;
    Ok(PartOutcome { split: false, object_version: None, stats })
}

#[cfg(test)]
mod tests;
