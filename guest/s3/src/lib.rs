//! The `s3://` storage-scheme plugin: objects in Amazon S3 and S3-compatible stores (MinIO,
//! Ceph, OBS's S3 API) as Ray job packages.
//!
//! What is S3's own: `uri` (Ray's package names), `profile` (the AWS CLI's files),
//! `credentials` (the AWS chain, IMDS), `endpoint` (region and addressing), `sign` (SigV4),
//! `error` (codes), `store` (checksums, the bucket's region). Everything else is the kit's.
//! All of it is plain Rust tested natively; `ops` runs whole calls against a scripted
//! transport. Only the WIT glue below is wasm-only.

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

/// Serialises tests that touch the process-wide metadata credential cache.
#[cfg(test)]
pub(crate) fn test_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(target_family = "wasm")]
mod glue {
    use std::path::Path;

    use scheme_plugin_kit::env::HostEnv;
    use scheme_plugin_kit::http::wasi::WasiTransport;
    use scheme_plugin_kit::retry::WasiSleeper;

    use crate::bindings::exports::scheme_host::storage_scheme::parts::Guest as PartsGuest;
    use crate::bindings::exports::scheme_host::storage_scheme::plugin::{
        DownloadStats, Guest, Limits, PackageRef, PluginInfo, SchemeError, UnpackStats,
    };
    use crate::bindings::scheme_host::storage_scheme::host;
    use crate::bindings::scheme_host::storage_scheme::types::{ConfigFile, LogLevel, Part, PartStats};
    use crate::ops;
    use crate::profile::{CONFIG_FILE_ID, CREDENTIALS_FILE_ID};
    use crate::settings::{AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, ENV_VARS};
    use crate::uri::{S3Uri, SCHEME};

    struct S3Plugin;

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
    fn with_call<R>(l: Limits, f: impl FnOnce(&mut ops::Call<'_, WasiTransport, WasiSleeper>) -> R) -> R {
        let (mut transport, mut sleeper, mut report) = (WasiTransport, WasiSleeper, progress);
        let limits = l.into();
        let env = HostEnv { read_config_file: host::read_config_file };
        f(&mut ops::Call { env: &env, transport: &mut transport, sleeper: &mut sleeper, limits: &limits, progress: &mut report })
    }

    /// Every unpack checks its bytes with the host's native CRC-32 (and so does S3's CRC32).
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

    impl PartsGuest for S3Plugin {
        fn download_and_unpack_part(uri: String, target: String, scratch: String, l: Limits, part: Part) -> Result<PartStats, SchemeError> {
            use_host_checksums();
            let u = S3Uri::parse(&uri).map_err(to_wit_error)?;
            let part = ops::Part { index: part.index, count: part.count };
            let o = with_call(l, |c| ops::download_and_unpack_part(c, &u, Path::new(&target), Path::new(&scratch), part)).map_err(to_wit_error)?;
            Ok(PartStats { split: o.split, object_version: o.object_version, stats: unpack_stats(o.stats) })
        }
    }

    impl Guest for S3Plugin {
        fn info() -> PluginInfo {
            PluginInfo {
                name: "s3".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                schemes: vec![SCHEME.into()],
                env_vars: ENV_VARS.iter().map(|v| v.to_string()).collect(),
                config_files: vec![
                    ConfigFile { id: CREDENTIALS_FILE_ID.into(), default_path: "~/.aws/credentials".into(), path_env: Some(AWS_SHARED_CREDENTIALS_FILE.into()) },
                    ConfigFile { id: CONFIG_FILE_ID.into(), default_path: "~/.aws/config".into(), path_env: Some(AWS_CONFIG_FILE.into()) },
                ],
                network_hosts: ops::network_hosts(),
            }
        }

        fn parse_uri(uri: String) -> Result<PackageRef, SchemeError> {
            let u = S3Uri::parse(&uri).map_err(to_wit_error)?;
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
            let u = S3Uri::parse(&uri).map_err(to_wit_error)?;
            let s = with_call(l, |c| ops::download_and_unpack(c, &u, Path::new(&target), Path::new(&scratch))).map_err(to_wit_error)?;
            Ok(unpack_stats(s))
        }

        fn download(uri: String, file: String, l: Limits) -> Result<DownloadStats, SchemeError> {
            use_host_checksums();
            let u = S3Uri::parse(&uri).map_err(to_wit_error)?;
            with_call(l, |c| ops::download_to_file(c, &u, Path::new(&file))).map(download_stats).map_err(to_wit_error)
        }
    }

    crate::bindings::export!(S3Plugin with_types_in crate::bindings);
}
