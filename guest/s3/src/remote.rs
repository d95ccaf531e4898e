//! How the kit's operations reach an S3 object: profile, region, endpoint and credentials
//! resolved once per call, the request options, and the signing store; for uploads, S3's
//! limits too.

use std::cell::Cell;

use scheme_plugin_kit::env::Env;
use scheme_plugin_kit::http::{DownloadOptions, Transport};
use scheme_plugin_kit::ops::{Fetch, Remote, UploadLimits, UploadRemote};
use scheme_plugin_kit::{Limits, PackageFormat, Result};

use crate::credentials;
use crate::endpoint::{self, Endpoint};
use crate::profile::Profile;
use crate::settings as s;
use crate::store::S3Store;
use crate::uri::S3Uri;

/// Hosts a redirect may lead to without being refused by us (the host applies its own
/// list too). Credentials are only ever sent to the endpoint itself.
pub const DEFAULT_NETWORK_HOSTS: &[&str] = &["*.amazonaws.com", "*.amazonaws.com.cn"];

/// S3's upload limits (S3 User Guide, "Amazon S3 multipart upload limits"), which MinIO and
/// Ceph RGW share: 10,000 parts of 5 MiB to 5 GiB, 5 GiB in one PUT, objects up to 5 TiB.
pub const UPLOAD_LIMITS: UploadLimits =
    UploadLimits { max_parts: 10_000, min_part_size: 5 << 20, max_part_size: 5 << 30, max_single_put: 5 << 30, max_object_size: 5 << 40 };

/// One object, and the region to ask for it in.
pub struct S3Object<'u> {
    pub uri: &'u S3Uri,
    /// Replaces the configured region (the one retry after S3 named the bucket's region).
    region: Option<String>,
    moved_to: Cell<Option<String>>,
}

impl<'u> S3Object<'u> {
    pub fn new(uri: &'u S3Uri, region: Option<String>) -> Self {
        S3Object { uri, region, moved_to: Cell::new(None) }
    }

    /// The region an answer of the last call said the bucket is in, if not the one asked.
    pub fn moved_to(&self) -> Option<String> {
        self.moved_to.take()
    }
}

impl Remote for S3Object<'_> {
    fn display(&self) -> String {
        self.uri.display()
    }

    fn format(&self) -> PackageFormat {
        self.uri.format
    }

    fn prepare<'a, T: Transport>(&'a self, env: &'a dyn Env, transport: &mut T, limits: &Limits) -> Result<Fetch<'a>> {
        let mut fetch = self.reach(env, transport)?;
        fetch.opts.max_bytes = limits.max_download_bytes;
        // Asks S3 for the object's own checksum (botocore sends this on every GetObject).
        fetch.opts.headers.push(("x-amz-checksum-mode".into(), "ENABLED".into()));
        Ok(fetch)
    }

    fn secrets(&self, env: &dyn Env) -> Vec<String> {
        credentials::known_secrets(env)
    }
}

impl UploadRemote for S3Object<'_> {
    fn upload_limits(&self) -> UploadLimits {
        UPLOAD_LIMITS
    }

    fn prepare_upload<'a, T: Transport>(&'a self, env: &'a dyn Env, transport: &mut T) -> Result<Fetch<'a>> {
        self.reach(env, transport)
    }
}

impl S3Object<'_> {
    /// The object's URL, the headers of every request, and the signing store, resolved
    /// once for every request of one call.
    fn reach<'a, T: Transport>(&'a self, env: &'a dyn Env, transport: &mut T) -> Result<Fetch<'a>> {
        let profile = Profile::load(env)?;
        let region = match &self.region {
            Some(r) => r.clone(),
            None => endpoint::region(env, &profile)?,
        };
        let ep = Endpoint::resolve(env, &profile, &region)?;
        let target = ep.object(&self.uri.bucket, &self.uri.key);
        let resolved = credentials::resolve(env, &profile, transport)?;

        let mut opts = DownloadOptions::new(target.scheme, target.authority, target.path);
        opts.timeouts = s::timeouts(env)?;
        opts.retry = s::retry_policy(env)?;
        opts.headers.push(("User-Agent".into(), format!("scheme-host-s3/{}", env!("CARGO_PKG_VERSION"))));
        opts.redirect_allow = DEFAULT_NETWORK_HOSTS.iter().map(|h| h.to_string()).collect();
        opts.redirect_allow.push(ep.authority());
        if !target.path_style {
            // Virtual-hosted buckets live under the endpoint's own name.
            opts.redirect_allow.push(match ep.port {
                Some(p) => format!("*.{}:{p}", ep.host),
                None => format!("*.{}", ep.host),
            });
        }

        let credential_source = resolved.credentials.as_ref().map(|c| c.source.describe());
        let store = S3Store { credentials: resolved.credentials, region, env, anonymous_note: resolved.metadata_note, moved_to: &self.moved_to };
        Ok(Fetch { opts, store: Box::new(store), credential_source })
    }
}
