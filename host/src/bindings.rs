//! Host-side bindings for the `storage-scheme` worlds, generated from `wit/`.

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

/// The optional `parts` export. Generated from the superset world with every import mapped
/// onto the base bindings above, so both share one set of Rust types; only its export
/// lookup is used, on instances of plugins that have it.
mod with_parts {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "storage-scheme-parts",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "scheme-host:storage-scheme/types": super::scheme_host::storage_scheme::types,
            "scheme-host:storage-scheme/host": super::scheme_host::storage_scheme::host,
        },
    });
}

pub use exports::scheme_host::storage_scheme::plugin as plugin_api;
pub use scheme_host::storage_scheme::host as host_api;
pub use scheme_host::storage_scheme::types;
pub use with_parts::exports::scheme_host::storage_scheme::parts as parts_api;

/// The contract this host implements. Plugins must export `plugin` at a semver-compatible
/// version of this package.
pub const CONTRACT_PACKAGE: &str = "scheme-host:storage-scheme";
pub const CONTRACT_VERSION: &str = "0.1.1";
