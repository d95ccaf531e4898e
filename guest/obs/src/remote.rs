//! How the kit's operations reach an OBS object: the endpoint and credentials resolved once
//! per call, the request options, and the signing store; for uploads, OBS's limits too.

use scheme_plugin_kit::env::Env;
use scheme_plugin_kit::http::{DownloadOptions, Transport};
use scheme_plugin_kit::ops::{Fetch, Remote, UploadLimits, UploadRemote};
use scheme_plugin_kit::{Limits, PackageFormat, Result};

use crate::credentials;
use crate::endpoint::Endpoint;
use crate::settings as s;
use crate::store::ObsStore;
use crate::uri::ObsUri;

/// Hosts a redirect may lead to without being refused by us (the host applies its own
/// list too). Credentials are only ever sent to the endpoint itself.
pub const DEFAULT_NETWORK_HOSTS: &[&str] = &["*.myhuaweicloud.com"];

/// OBS's upload limits (API reference, multipart upload; esdk-obs-python clamps the same):
/// 10,000 parts of 100 KB to 5 GB, 5 GB in one PUT, and so objects of 10,000 x 5 GB
/// (the "48.8 TB" of Huawei's documentation).
pub const UPLOAD_LIMITS: UploadLimits = UploadLimits {
    max_parts: 10_000,
    min_part_size: 100 << 10,
    max_part_size: 5 << 30,
    max_single_put: 5 << 30,
    max_object_size: 10_000 * (5 << 30),
};

impl Remote for ObsUri {
    fn display(&self) -> String {
        ObsUri::display(self)
    }

    fn format(&self) -> PackageFormat {
        self.format
    }

    fn prepare<'a, T: Transport>(&'a self, env: &'a dyn Env, transport: &mut T, limits: &Limits) -> Result<Fetch<'a>> {
        let ep = Endpoint::from_env(env)?;
        let target = ep.object(&self.bucket, &self.key);
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
            bucket: self.bucket.clone(),
            path_style: ep.path_style,
            env,
            anonymous_note: resolved.metadata_note,
        };
        Ok(Fetch { opts, store: Box::new(store), credential_source })
    }

    fn secrets(&self, env: &dyn Env) -> Vec<String> {
        credentials::known_secrets(env)
    }
}

impl UploadRemote for ObsUri {
    fn upload_limits(&self) -> UploadLimits {
        UPLOAD_LIMITS
    }

    /// The same endpoint, credentials and signing as a download: nothing in a download's
    /// requests is download-only, and the download limits do not apply.
    fn prepare_upload<'a, T: Transport>(&'a self, env: &'a dyn Env, transport: &mut T) -> Result<Fetch<'a>> {
        self.prepare(env, transport, &Limits::default())
    }
}
