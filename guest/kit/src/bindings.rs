//! [`plugin_bindings!`]: what every plugin of the current contract writes instead of its own
//! `wit_bindgen::generate!` block and conversions.

/// Generates a plugin's bindings for one world of the current contract (`$wit` is the path
/// of the repo's `wit/` from the plugin's crate directory), with the WASI interfaces mapped
/// onto `wasip2` so the kit's HTTP transport shares their types, and the conversions between
/// the contract's types (`scheme-contract`, re-exported by the kit) and the generated ones.
/// A plugin then writes only its scheme's logic and `export!(ItsType)`.
#[macro_export]
macro_rules! plugin_bindings {
    ($wit:literal, $world:literal) => {
        $crate::wit_bindgen::generate!({
            path: $wit,
            world: $world,
            runtime_path: "scheme_plugin_kit::wit_bindgen::rt",
            with: {
                "wasi:http/types@0.2.12": scheme_plugin_kit::wasip2::http::types,
                "wasi:http/outgoing-handler@0.2.12": scheme_plugin_kit::wasip2::http::outgoing_handler,
                "wasi:io/error@0.2.12": scheme_plugin_kit::wasip2::io::error,
                "wasi:io/poll@0.2.12": scheme_plugin_kit::wasip2::io::poll,
                "wasi:io/streams@0.2.12": scheme_plugin_kit::wasip2::io::streams,
                "wasi:clocks/monotonic-clock@0.2.12": scheme_plugin_kit::wasip2::clocks::monotonic_clock,
            },
            pub_export_macro: true,
        });

        /// The retry loop's side effects inside the host: WASI's clock and random numbers,
        /// and throttling waits told to the host with its budget read from it (0.1.2).
        #[cfg(target_family = "wasm")]
        #[derive(Debug, Default, Clone, Copy)]
        pub struct HostSleeper;

        #[cfg(target_family = "wasm")]
        impl $crate::retry::Sleeper for HostSleeper {
            fn sleep(&mut self, d: ::core::time::Duration) {
                <$crate::retry::WasiSleeper as $crate::retry::Sleeper>::sleep(&mut $crate::retry::WasiSleeper, d)
            }
            fn random_u64(&mut self) -> u64 {
                <$crate::retry::WasiSleeper as $crate::retry::Sleeper>::random_u64(&mut $crate::retry::WasiSleeper)
            }
            fn throttled(&mut self, d: ::core::time::Duration) {
                scheme_host::storage_scheme::host::throttled(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            }
            fn throttle_budget(&self) -> Option<::core::time::Duration> {
                Some(::core::time::Duration::from_millis(scheme_host::storage_scheme::host::throttle_budget_ms()))
            }
        }

        impl From<$crate::ErrorKind> for scheme_host::storage_scheme::types::ErrorKind {
            fn from(k: $crate::ErrorKind) -> Self {
                use $crate::ErrorKind as K;
                match k.for_plugin() {
                    K::InvalidUri => Self::InvalidUri,
                    K::NotFound => Self::NotFound,
                    K::AccessDenied => Self::AccessDenied,
                    K::BadCredentials => Self::BadCredentials,
                    K::Network => Self::Network,
                    K::Integrity => Self::Integrity,
                    K::UnsafeArchive => Self::UnsafeArchive,
                    K::LimitExceeded => Self::LimitExceeded,
                    K::Unsupported => Self::Unsupported,
                    _ => Self::Internal,
                }
            }
        }

        impl From<$crate::Error> for scheme_host::storage_scheme::types::SchemeError {
            fn from(e: $crate::Error) -> Self {
                Self { kind: e.kind.into(), message: e.message, store_code: e.store_code, request_id: e.request_id, http_status: e.http_status }
            }
        }

        impl From<scheme_host::storage_scheme::types::Limits> for $crate::Limits {
            fn from(l: scheme_host::storage_scheme::types::Limits) -> Self {
                $crate::convert_limits!(l => $crate::Limits)
            }
        }

        impl From<$crate::Phase> for scheme_host::storage_scheme::types::Phase {
            fn from(p: $crate::Phase) -> Self {
                match p {
                    $crate::Phase::Download => Self::Download,
                    $crate::Phase::Unpack => Self::Unpack,
                }
            }
        }

        impl From<$crate::PackageFormat> for scheme_host::storage_scheme::types::PackageFormat {
            fn from(f: $crate::PackageFormat) -> Self {
                match f {
                    $crate::PackageFormat::Zip => Self::Zip,
                    $crate::PackageFormat::TarGz => Self::TarGz,
                    $crate::PackageFormat::TarXz => Self::TarXz,
                    $crate::PackageFormat::Wheel => Self::Wheel,
                }
            }
        }
    };
}
