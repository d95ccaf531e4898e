//! The `obs://` storage-scheme plugin: Huawei OBS objects as Ray job packages.
//!
//! Everything but the WIT glue, the kit's `plugin_exports!` below, is plain Rust tested
//! natively; `ops` runs whole calls against a scripted transport.

pub mod credentials;
pub mod endpoint;
pub mod error;
pub mod ops;
pub mod remote;
pub mod settings;
pub mod sign;
pub mod store;
pub mod uri;

/// Where settings, config files and the clock come from (the kit's, shared by all plugins).
pub use scheme_plugin_kit::env;

#[cfg(target_family = "wasm")]
mod bindings;

// What the host calls: the kit's glue over this plugin's URIs, operations and `info()`.
#[cfg(target_family = "wasm")]
scheme_plugin_kit::plugin_exports! {
    bindings: crate::bindings,
    name: "obs",
    scheme: crate::uri::SCHEME,
    uri: crate::uri::ObsUri,
    ops: crate::ops,
    env_vars: crate::settings::ENV_VARS,
    config_files: [
        (crate::credentials::OBSUTIL_CONFIG_ID, "~/.obsutilconfig", crate::settings::OBS_CONFIG_FILE),
        (crate::credentials::HUAWEICLOUD_CREDENTIALS_ID, "~/.huaweicloud/credentials", crate::settings::HUAWEICLOUD_SDK_CREDENTIALS_FILE),
    ],
}
