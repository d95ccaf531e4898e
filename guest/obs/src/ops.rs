//! The plugin's operations: the kit's, on an [`ObsUri`](crate::uri::ObsUri) (see
//! `remote.rs` for how they reach it). Generic over the network and the environment, so
//! whole calls (credentials, signing, download, unpack, upload) run natively in tests.

pub use scheme_plugin_kit::ops::{
    abort_multipart, begin_multipart, complete_multipart, download_and_unpack, download_and_unpack_part, download_to_file, plan_upload, put_object, stat,
    upload_part, Call, DownloadStats, ObjectInfo, Part, PartOutcome, Progress, UnpackStats, UploadPlan, UploadedPart,
};
pub use scheme_plugin_kit::Phase;

use crate::credentials::metadata::METADATA_HOST;
use crate::remote::DEFAULT_NETWORK_HOSTS;
use crate::settings as s;

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
