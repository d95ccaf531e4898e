//! The plugin's operations: the kit's, on an [`S3Object`] (see `remote.rs`), each tried once
//! more in the bucket's own region when S3 answers that it is elsewhere (a `301
//! PermanentRedirect`, an `AuthorizationHeaderMalformed` naming the region, or any refusal
//! whose `x-amz-bucket-region` differs), as botocore's region redirector does. Uploads too:
//! a wrong region is refused before anything is stored.

use std::path::Path;

use scheme_plugin_kit::http::{RequestBody, Transport};
use scheme_plugin_kit::ops;
pub use scheme_plugin_kit::ops::{Call, DownloadStats, ObjectInfo, Part, PartOutcome, Progress, UnpackStats, UploadPlan, UploadedPart};
use scheme_plugin_kit::retry::Sleeper;
pub use scheme_plugin_kit::Phase;
use scheme_plugin_kit::Result;

use crate::credentials::imds::METADATA_HOST;
use crate::remote::{S3Object, DEFAULT_NETWORK_HOSTS};
use crate::settings as s;
use crate::uri::S3Uri;

/// Where an operation writes, which decides whether it may start over.
enum Writes<'p> {
    /// A file it creates afresh, or a tree only it writes: the retry needs it empty.
    Own(Option<&'p Path>),
    /// Its share of a tree other parts write too, or nothing local at all (an upload): a
    /// wrong region is the answer to the first request, before anything was written or
    /// stored, so the retry needs nothing cleared.
    Shared,
}

fn in_bucket_region<T: Transport, Z: Sleeper, R>(
    call: &mut Call<'_, T, Z>,
    uri: &S3Uri,
    writes: Writes<'_>,
    op: impl Fn(&mut Call<'_, T, Z>, &S3Object<'_>) -> Result<R>,
) -> Result<R> {
    let first = S3Object::new(uri, None);
    let error = match op(call, &first) {
        Ok(r) => return Ok(r),
        Err(e) => e,
    };
    let Some(region) = first.moved_to() else { return Err(error) };
    let clean = match writes {
        Writes::Own(Some(tree)) => std::fs::read_dir(tree).map(|mut d| d.next().is_none()).unwrap_or(false),
        Writes::Own(None) | Writes::Shared => true,
    };
    if !clean {
        return Err(error);
    }
    let again = S3Object::new(uri, Some(region.clone()));
    op(call, &again).map_err(|e| e.context(format!("in region {region}, where S3 said bucket {} is", uri.bucket)))
}

/// Fetches the package and unpacks it into `target`; `scratch` holds whatever must touch
/// the disk first.
pub fn download_and_unpack<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &S3Uri, target: &Path, scratch: &Path) -> Result<UnpackStats> {
    in_bucket_region(call, uri, Writes::Own(Some(target)), |c, o| ops::download_and_unpack(c, o, target, scratch))
}

/// Downloads the object into `file` (created or truncated).
pub fn download_to_file<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &S3Uri, file: &Path) -> Result<DownloadStats> {
    in_bucket_region(call, uri, Writes::Own(None), |c, o| ops::download_to_file(c, o, file))
}

/// The share of `part` of the package (WIT `parts`).
pub fn download_and_unpack_part<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &S3Uri, target: &Path, scratch: &Path, part: Part) -> Result<PartOutcome> {
    in_bucket_region(call, uri, Writes::Shared, |c, o| ops::download_and_unpack_part(c, o, target, scratch, part))
}

/// How `size` bytes go up to `uri` (no I/O).
pub fn plan_upload(uri: &S3Uri, size: u64) -> Result<UploadPlan> {
    ops::plan_upload(&S3Object::new(uri, None), size)
}

/// What S3 holds at `uri` (one HEAD); `None` when there is nothing.
pub fn stat<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &S3Uri) -> Result<Option<ObjectInfo>> {
    in_bucket_region(call, uri, Writes::Shared, |c, o| ops::stat(c, o))
}

/// Stores `bytes` as the whole object.
pub fn put_object<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &S3Uri, bytes: RequestBody) -> Result<ObjectInfo> {
    in_bucket_region(call, uri, Writes::Shared, |c, o| ops::put_object(c, o, bytes.clone()))
}

/// Starts a multipart upload; returns S3's upload id.
pub fn begin_multipart<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &S3Uri) -> Result<String> {
    in_bucket_region(call, uri, Writes::Shared, |c, o| ops::begin_multipart(c, o))
}

/// Uploads part `number` (1-based).
pub fn upload_part<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &S3Uri, upload_id: &str, number: u32, bytes: RequestBody) -> Result<UploadedPart> {
    in_bucket_region(call, uri, Writes::Shared, |c, o| ops::upload_part(c, o, upload_id, number, bytes.clone()))
}

/// Completes the upload from `parts`.
pub fn complete_multipart<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &S3Uri, upload_id: &str, parts: Vec<UploadedPart>) -> Result<ObjectInfo> {
    in_bucket_region(call, uri, Writes::Shared, |c, o| ops::complete_multipart(c, o, upload_id, parts.clone()))
}

/// Aborts the upload so S3 drops its parts.
pub fn abort_multipart<T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, uri: &S3Uri, upload_id: &str) -> Result<()> {
    in_bucket_region(call, uri, Writes::Shared, |c, o| ops::abort_multipart(c, o, upload_id))
}

/// The hosts `info()` declares: AWS's, the configured endpoints, the metadata service.
pub fn network_hosts() -> Vec<String> {
    let mut v: Vec<String> = DEFAULT_NETWORK_HOSTS.iter().map(|h| h.to_string()).collect();
    v.push(format!("env:{}", s::AWS_ENDPOINT_URL_S3));
    v.push(format!("env:{}", s::AWS_ENDPOINT_URL));
    v.push(format!("{METADATA_HOST}:80"));
    v
}

#[cfg(test)]
#[path = "ops_tests.rs"]
mod tests;
