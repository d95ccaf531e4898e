//! The `s3://` storage-scheme plugin: objects in Amazon S3 and S3-compatible stores (MinIO,
//! Ceph, OBS's S3 API) as Ray job packages.
//!
//! What is S3's own: `uri` (Ray's package names), `profile` (the AWS CLI's files),
//! `credentials` (the AWS chain, IMDS), `endpoint` (region and addressing), `sign` (SigV4),
//! `error` (codes), `store` (checksums, the bucket's region). Everything else is the kit's.
//! All of it is plain Rust tested natively; `ops` runs whole calls against a scripted
//! transport. Only the WIT glue, the kit's `plugin_exports!` below, is wasm-only.

pub mod credentials;
pub mod endpoint;
pub mod error;
pub mod ops;
pub mod profile;
pub mod remote;
pub mod settings;
pub mod sign;
pub mod store;
pub mod uri;

#[cfg(target_family = "wasm")]
mod bindings;

// What the host calls: the kit's glue over this plugin's URIs, operations and `info()`.
#[cfg(target_family = "wasm")]
scheme_plugin_kit::plugin_exports! {
    bindings: crate::bindings,
    name: "s3",
    scheme: crate::uri::SCHEME,
    uri: crate::uri::S3Uri,
    ops: crate::ops,
    env_vars: crate::settings::ENV_VARS,
    config_files: [
        (crate::profile::CREDENTIALS_FILE_ID, "~/.aws/credentials", crate::settings::AWS_SHARED_CREDENTIALS_FILE),
        (crate::profile::CONFIG_FILE_ID, "~/.aws/config", crate::settings::AWS_CONFIG_FILE),
    ],
}
