//! Host-side bindings for the `storage-scheme` world, generated from `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "storage-scheme",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});

pub use exports::scheme_host::storage_scheme::plugin as plugin_api;
pub use scheme_host::storage_scheme::host as host_api;
pub use scheme_host::storage_scheme::types;

/// The contract this host implements. Plugins must export `plugin` at a semver-compatible
/// version of this package.
pub const CONTRACT_PACKAGE: &str = "scheme-host:storage-scheme";
pub const CONTRACT_VERSION: &str = "0.1.0";
