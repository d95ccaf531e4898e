//! The whole object into one file: `download`, and the first step of every package that
//! is not unpacked while it streams.

use std::fs::File;
use std::path::Path;
use std::time::Instant;

use super::call::{scrubbed, Call, DownloadStats, Fetch, Remote};
use crate::http::{download, FileSink, Transport};
use crate::retry::Sleeper;
use crate::{Error, Phase, Result};

/// Downloads the object into `file` (created or truncated).
pub fn download_to_file<R: Remote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, file: &Path) -> Result<DownloadStats> {
    let r = fetch_to_file(call, remote, file);
    scrubbed(remote, call.env, r)
}

pub(crate) fn fetch_to_file<R: Remote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, file: &Path) -> Result<DownloadStats> {
    let started = Instant::now();
    let Fetch { opts, mut store, credential_source } = remote.prepare(call.env, call.transport, call.limits)?;
    let f = File::create(file).map_err(|e| Error::io("creating the download file", e))?;
    let mut sink = FileSink::new(f);
    let progress = &mut call.progress;
    let outcome = download(call.transport, &mut *store, call.sleeper, &opts, &mut sink, &mut |done, total| progress(Phase::Download, done, total, 0))
        .map_err(|e| e.context(format!("downloading {}", remote.display())));
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
