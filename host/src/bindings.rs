//! Host-side bindings for the `storage-scheme` worlds, generated from `wit/`.

wasmtime::component::bindgen!({
    path: "wit",
    world: "storage-scheme",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});

/// The optional exports, `parts` (0.1.1) and `upload` (0.1.3). Generated from the world that
/// has both, with every import mapped onto the base bindings above, so all share one set of
/// Rust types; only their export lookups are used, each on instances of plugins that have
/// that export.
mod optional {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "storage-scheme-upload",
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
pub use optional::exports::scheme_host::storage_scheme::parts as parts_api;
pub use optional::exports::scheme_host::storage_scheme::upload as upload_api;

/// The contract this host implements. Plugins must export `plugin` at a semver-compatible
/// version of this package.
pub const CONTRACT_PACKAGE: &str = "scheme-host:storage-scheme";
pub const CONTRACT_VERSION: &str = "0.1.3";

/// The contract's types (`scheme-contract`) from and to their generated twins: the only
/// place the host converts them.
mod convert {
    use super::types;
    use scheme_contract::{ErrorKind, Limits, PackageFormat};

    impl From<types::ErrorKind> for ErrorKind {
        fn from(k: types::ErrorKind) -> ErrorKind {
            use types::ErrorKind as W;
            match k {
                W::InvalidUri => ErrorKind::InvalidUri,
                W::NotFound => ErrorKind::NotFound,
                W::AccessDenied => ErrorKind::AccessDenied,
                W::BadCredentials => ErrorKind::BadCredentials,
                W::Network => ErrorKind::Network,
                W::Integrity => ErrorKind::Integrity,
                W::UnsafeArchive => ErrorKind::UnsafeArchive,
                W::LimitExceeded => ErrorKind::LimitExceeded,
                W::Unsupported => ErrorKind::Unsupported,
                W::Internal => ErrorKind::Internal,
            }
        }
    }

    impl From<Limits> for types::Limits {
        fn from(l: Limits) -> types::Limits {
            scheme_contract::convert_limits!(l => types::Limits)
        }
    }

    impl From<types::PackageFormat> for PackageFormat {
        fn from(f: types::PackageFormat) -> PackageFormat {
            match f {
                types::PackageFormat::Zip => PackageFormat::Zip,
                types::PackageFormat::TarGz => PackageFormat::TarGz,
                types::PackageFormat::TarXz => PackageFormat::TarXz,
                types::PackageFormat::Wheel => PackageFormat::Wheel,
            }
        }
    }
}
