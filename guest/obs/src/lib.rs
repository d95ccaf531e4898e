//! The `obs://` storage-scheme plugin: Huawei OBS objects as Ray job packages.
//!
//! Everything but the WIT glue below is plain Rust tested natively; `ops` runs whole calls
//! against a scripted transport.

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

/// Serialises tests that touch the process-wide metadata credential cache.
#[cfg(test)]
pub(crate) fn test_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(target_family = "wasm")]
mod glue {
    use std::path::Path;

    use scheme_plugin_kit::http::wasi::WasiTransport;
    use crate::bindings::HostSleeper;

    use crate::bindings::exports::scheme_host::storage_scheme::parts::Guest as PartsGuest;
    use crate::bindings::exports::scheme_host::storage_scheme::plugin::{
        DownloadStats, Guest, Limits, PackageRef, PluginInfo, SchemeError, UnpackStats,
    };
    use crate::bindings::scheme_host::storage_scheme::types::{Part, PartStats};
    use crate::bindings::scheme_host::storage_scheme::host;
    use crate::bindings::scheme_host::storage_scheme::types::{ConfigFile, LogLevel};
    use crate::credentials::{HUAWEICLOUD_CREDENTIALS_ID, OBSUTIL_CONFIG_ID};
    use scheme_plugin_kit::env::HostEnv;
    use crate::ops;
    use crate::settings::{ENV_VARS, HUAWEICLOUD_SDK_CREDENTIALS_FILE, OBS_CONFIG_FILE};
    use crate::uri::{ObsUri, SCHEME};

    struct ObsPlugin;

    fn to_wit_error(e: scheme_plugin_kit::Error) -> SchemeError {
        e.into()
    }

    fn download_stats(s: ops::DownloadStats) -> DownloadStats {
        host::log(
            LogLevel::Debug,
            &format!(
                "downloaded {} bytes in {} reads, {} retries, credentials: {}",
                s.bytes_downloaded,
                s.reads,
                s.retries,
                s.credential_source.unwrap_or("none (anonymous)")
            ),
        );
        DownloadStats {
            bytes_downloaded: s.bytes_downloaded,
            object_size: s.object_size,
            retries: s.retries,
            verified: s.verified,
            download_ms: s.download_ms,
        }
    }

    /// Runs `f` with the plugin's means inside the host: its environment, `wasi:http`, real
    /// sleeps, the host's limits and the `progress` import.
    fn with_call<R>(l: Limits, f: impl FnOnce(&mut ops::Call<'_, WasiTransport, HostSleeper>) -> R) -> R {
        let (mut transport, mut sleeper, mut report) = (WasiTransport, HostSleeper, progress);
        let limits = l.into();
        let env = HostEnv { read_config_file: host::read_config_file };
        f(&mut ops::Call { env: &env, transport: &mut transport, sleeper: &mut sleeper, limits: &limits, progress: &mut report })
    }

    /// Every unpack checks its bytes with the host's native CRC-32.
    fn use_host_checksums() {
        scheme_plugin_kit::archive::checksum::use_native_crc32(|crc, bytes| host::crc32(crc, bytes));
    }

    fn progress(phase: ops::Phase, done: u64, total: Option<u64>, entries: u64) {
        host::progress(phase.into(), done, total, entries);
    }

    fn unpack_stats(s: ops::UnpackStats) -> UnpackStats {
        UnpackStats {
            download: download_stats(s.download),
            files: s.files,
            directories: s.directories,
            bytes_written: s.bytes_written,
            executables: s.executables,
            unpack_ms: s.unpack_ms,
        }
    }

    impl PartsGuest for ObsPlugin {
        fn download_and_unpack_part(uri: String, target: String, scratch: String, l: Limits, part: Part) -> Result<PartStats, SchemeError> {
            use_host_checksums();
            let u = ObsUri::parse(&uri).map_err(to_wit_error)?;
            let part = ops::Part { index: part.index, count: part.count };
            let o = with_call(l, |c| ops::download_and_unpack_part(c, &u, Path::new(&target), Path::new(&scratch), part)).map_err(to_wit_error)?;
            Ok(PartStats { split: o.split, object_version: o.object_version, stats: unpack_stats(o.stats) })
        }
    }

    impl Guest for ObsPlugin {
        fn info() -> PluginInfo {
            PluginInfo {
                name: "obs".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                schemes: vec![SCHEME.into()],
                env_vars: ENV_VARS.iter().map(|v| v.to_string()).collect(),
                config_files: vec![
                    ConfigFile { id: OBSUTIL_CONFIG_ID.into(), default_path: "~/.obsutilconfig".into(), path_env: Some(OBS_CONFIG_FILE.into()) },
                    ConfigFile {
                        id: HUAWEICLOUD_CREDENTIALS_ID.into(),
                        default_path: "~/.huaweicloud/credentials".into(),
                        path_env: Some(HUAWEICLOUD_SDK_CREDENTIALS_FILE.into()),
                    },
                ],
                network_hosts: ops::network_hosts(),
            }
        }

        fn parse_uri(uri: String) -> Result<PackageRef, SchemeError> {
            let u = ObsUri::parse(&uri).map_err(to_wit_error)?;
            Ok(PackageRef {
                package_name: u.package_name(),
                display: u.display(),
                scheme: SCHEME.into(),
                extension: u.extension.into(),
                format: u.format.into(),
                uri: u.uri,
            })
        }

        fn download_and_unpack(uri: String, target: String, scratch: String, l: Limits) -> Result<UnpackStats, SchemeError> {
            use_host_checksums();
            let u = ObsUri::parse(&uri).map_err(to_wit_error)?;
            let s = with_call(l, |c| ops::download_and_unpack(c, &u, Path::new(&target), Path::new(&scratch))).map_err(to_wit_error)?;
            Ok(unpack_stats(s))
        }

        fn download(uri: String, file: String, l: Limits) -> Result<DownloadStats, SchemeError> {
            let u = ObsUri::parse(&uri).map_err(to_wit_error)?;
            with_call(l, |c| ops::download_to_file(c, &u, Path::new(&file)))
                .map(download_stats)
                .map_err(to_wit_error)
        }
    }

    crate::bindings::export!(ObsPlugin with_types_in crate::bindings);
}
