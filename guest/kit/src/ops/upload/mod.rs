//! Publishing one file at a URI (WIT `upload`), for any store with the OBS/S3 object API:
//! one PUT, or a multipart upload (`POST ?uploads`, `PUT ?partNumber=&uploadId=`, `POST
//! ?uploadId=`, `DELETE ?uploadId=`). The host hands over the bytes of each part and runs
//! parts on several instances; each call here is one store operation, every request signed
//! by the plugin's store, sent with `Content-MD5`, retried whole on transient failures, and
//! its answer checked (an MD5 ETag must be the MD5 of what was sent).
//!
//! A plugin implements [`UploadRemote`] beside its [`Remote`]; the operations are plain Rust
//! over the kit's [`Transport`](crate::http::Transport), so whole calls run natively.

pub mod digest;
mod multipart;
mod object;
pub mod plan;
mod session;
pub mod xml;

use crate::env::Env;
use crate::http::Transport;
use crate::ops::{Fetch, Remote};
use crate::Result;

pub use multipart::{abort_multipart, begin_multipart, complete_multipart, upload_part};
pub use object::{put_object, stat};
pub use plan::{UploadLimits, UploadPlan, PART_SIZE_FLOOR, SINGLE_PUT_MAX};
pub use session::content_type;

/// What a scheme adds to its [`Remote`] so the kit can upload to it.
pub trait UploadRemote: Remote {
    /// What the store accepts: part count and sizes, object size.
    fn upload_limits(&self) -> UploadLimits;

    /// Like [`Remote::prepare`], for the requests of an upload: the object's URL, the
    /// headers every request carries (a download's own, like asking for checksums, left
    /// out), and the store that signs them and reads its errors.
    fn prepare_upload<'a, T: Transport>(&'a self, env: &'a dyn Env, transport: &mut T) -> Result<Fetch<'a>>;
}

/// WIT `uploaded-part`: one part the store accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    /// 1-based.
    pub number: u32,
    /// Bytes in the part: completing the upload sums them into the object's size.
    pub size: u64,
    /// Exactly as the store sent it.
    pub etag: String,
    /// Failed attempts that were retried, throttled ones not included.
    pub retries: u32,
}

/// WIT `object-info`: what the store holds at a URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    /// Exactly as the store sent it.
    pub etag: Option<String>,
    /// The checksum verified against what was sent ([`digest::VERIFIED_MD5`],
    /// [`digest::VERIFIED_MD5_OF_PARTS`]), if any.
    pub verified: Option<String>,
    pub retries: u32,
}

/// How `size` bytes go up to `remote` (no I/O).
pub fn plan_upload<R: UploadRemote>(remote: &R, size: u64) -> Result<UploadPlan> {
    plan::plan(&remote.upload_limits(), size).map_err(|e| e.context(format!("planning the upload of {}", remote.display())))
}

#[cfg(test)]
mod tests;
