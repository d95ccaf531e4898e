//! [`plugin_exports!`]: the contract's exports as every bucket-and-key store plugin writes
//! them, so a plugin names only its own parts.

/// Implements the `plugin`, `parts` and `upload` exports of the current contract and
/// exports them, for a plugin whose bindings [`plugin_bindings!`](crate::plugin_bindings)
/// generated (world `storage-scheme-upload`) in the module `bindings` names. Invoke it at
/// the crate root, for wasm targets only (the bindings exist only there); paths are resolved
/// inside a generated module, so write them from `crate::`.
///
/// - `uri`: the plugin's URI type: `parse(&str) -> Result<Self>`, `package_name()`,
///   `display()`, and the fields `uri`, `extension` and `format`.
/// - `ops`: the module with the plugin's operations, each with the kit's [`ops`](crate::ops)
///   signature over `&uri` in place of the remote: `download_and_unpack`,
///   `download_to_file`, `download_and_unpack_part`; `plan_upload`, `stat`, `put_object`,
///   `begin_multipart`, `upload_part`, `complete_multipart`, `abort_multipart` (bytes as a
///   [`RequestBody`](crate::http::RequestBody)); and `network_hosts()` for `info()`.
/// - `name`, `scheme`, `env_vars` and `config_files` (`(id, default path, path variable)`):
///   the rest of `info()`; the version is the plugin crate's own.
///
/// Every call runs with the host's environment, `wasi:http`, the bindings' `HostSleeper`
/// (throttling waits are told to the host and bounded by its budget), the host's limits
/// (upload calls have none: the default ones) and its `progress` import, and checks CRC-32s
/// with the host's native implementation.
#[macro_export]
macro_rules! plugin_exports {
    (
        bindings: $($bindings:ident)::+,
        name: $name:literal,
        scheme: $scheme:expr,
        uri: $uri:ty,
        ops: $($ops:ident)::+,
        env_vars: $env_vars:expr,
        config_files: [$(($id:expr, $default_path:expr, $path_env:expr)),* $(,)?] $(,)?
    ) => {
        mod plugin_exports {
            use ::std::path::Path;

            use $($bindings)::+::exports::scheme_host::storage_scheme::parts::Guest as PartsGuest;
            use $($bindings)::+::exports::scheme_host::storage_scheme::plugin::{
                DownloadStats, Guest, Limits, PackageRef, PluginInfo, SchemeError, UnpackStats,
            };
            use $($bindings)::+::scheme_host::storage_scheme::host;
            use $($bindings)::+::exports::scheme_host::storage_scheme::upload::{Guest as UploadGuest, ObjectInfo, UploadPlan, UploadedPart};
            use $($bindings)::+::scheme_host::storage_scheme::types::{ConfigFile, LogLevel, Part, PartStats};
            use $($bindings)::+::HostSleeper;
            use $crate::http::wasi::WasiTransport;

            struct Plugin;

            fn to_wit_error(e: $crate::Error) -> SchemeError {
                e.into()
            }

            fn download_stats(s: $crate::ops::DownloadStats) -> DownloadStats {
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

            fn unpack_stats(s: $crate::ops::UnpackStats) -> UnpackStats {
                UnpackStats {
                    download: download_stats(s.download),
                    files: s.files,
                    directories: s.directories,
                    bytes_written: s.bytes_written,
                    executables: s.executables,
                    unpack_ms: s.unpack_ms,
                }
            }

            fn progress(phase: $crate::Phase, done: u64, total: Option<u64>, entries: u64) {
                host::progress(phase.into(), done, total, entries);
            }

            /// Runs `f` with the plugin's means inside the host. The host's CRC-32 serves
            /// every call: unpacks check entries with it, and a store may send a CRC-32 of
            /// the object (S3 does).
            fn with_call<R>(l: Limits, f: impl FnOnce(&mut $crate::ops::Call<'_, WasiTransport, HostSleeper>) -> R) -> R {
                with_limits(l.into(), f)
            }

            fn with_limits<R>(limits: $crate::Limits, f: impl FnOnce(&mut $crate::ops::Call<'_, WasiTransport, HostSleeper>) -> R) -> R {
                $crate::archive::checksum::use_native_crc32(|crc, bytes| host::crc32(crc, bytes));
                let (mut transport, mut sleeper, mut report) = (WasiTransport, HostSleeper, progress);
                let env = $crate::env::HostEnv { read_config_file: host::read_config_file };
                f(&mut $crate::ops::Call { env: &env, transport: &mut transport, sleeper: &mut sleeper, limits: &limits, progress: &mut report })
            }

            fn with_upload_call<R>(f: impl FnOnce(&mut $crate::ops::Call<'_, WasiTransport, HostSleeper>) -> R) -> R {
                with_limits($crate::Limits::default(), f)
            }

            fn object_info(what: &str, i: $crate::ops::ObjectInfo) -> ObjectInfo {
                host::log(
                    LogLevel::Debug,
                    &format!("{what}: {} bytes, ETag {:?}, verified {:?}, {} retries", i.size, i.etag, i.verified, i.retries),
                );
                ObjectInfo { size: i.size, etag: i.etag, verified: i.verified, retries: i.retries }
            }

            fn parse(uri: &str) -> Result<$uri, SchemeError> {
                <$uri>::parse(uri).map_err(to_wit_error)
            }

            impl PartsGuest for Plugin {
                fn download_and_unpack_part(uri: String, target: String, scratch: String, l: Limits, part: Part) -> Result<PartStats, SchemeError> {
                    let u = parse(&uri)?;
                    let part = $crate::ops::Part { index: part.index, count: part.count };
                    let o = with_call(l, |c| $($ops)::+::download_and_unpack_part(c, &u, Path::new(&target), Path::new(&scratch), part)).map_err(to_wit_error)?;
                    Ok(PartStats { split: o.split, object_version: o.object_version, stats: unpack_stats(o.stats) })
                }
            }

            impl UploadGuest for Plugin {
                fn plan_upload(uri: String, size: u64) -> Result<UploadPlan, SchemeError> {
                    let u = parse(&uri)?;
                    let p = $($ops)::+::plan_upload(&u, size).map_err(to_wit_error)?;
                    Ok(UploadPlan { part_size: p.part_size, part_count: p.part_count })
                }

                fn stat(uri: String) -> Result<Option<ObjectInfo>, SchemeError> {
                    let u = parse(&uri)?;
                    let found = with_upload_call(|c| $($ops)::+::stat(c, &u)).map_err(to_wit_error)?;
                    Ok(found.map(|i| object_info("stat", i)))
                }

                fn put_object(uri: String, bytes: Vec<u8>) -> Result<ObjectInfo, SchemeError> {
                    let u = parse(&uri)?;
                    with_upload_call(|c| $($ops)::+::put_object(c, &u, bytes.into())).map(|i| object_info("put", i)).map_err(to_wit_error)
                }

                fn begin_multipart(uri: String) -> Result<String, SchemeError> {
                    let u = parse(&uri)?;
                    with_upload_call(|c| $($ops)::+::begin_multipart(c, &u)).map_err(to_wit_error)
                }

                fn upload_part(uri: String, upload_id: String, number: u32, bytes: Vec<u8>) -> Result<UploadedPart, SchemeError> {
                    let u = parse(&uri)?;
                    let p = with_upload_call(|c| $($ops)::+::upload_part(c, &u, &upload_id, number, bytes.into())).map_err(to_wit_error)?;
                    Ok(UploadedPart { number: p.number, size: p.size, etag: p.etag, retries: p.retries })
                }

                fn complete_multipart(uri: String, upload_id: String, parts: Vec<UploadedPart>) -> Result<ObjectInfo, SchemeError> {
                    let u = parse(&uri)?;
                    let parts = parts.into_iter().map(|p| $crate::ops::UploadedPart { number: p.number, size: p.size, etag: p.etag, retries: p.retries }).collect();
                    with_upload_call(|c| $($ops)::+::complete_multipart(c, &u, &upload_id, parts)).map(|i| object_info("completed", i)).map_err(to_wit_error)
                }

                fn abort_multipart(uri: String, upload_id: String) -> Result<(), SchemeError> {
                    let u = parse(&uri)?;
                    with_upload_call(|c| $($ops)::+::abort_multipart(c, &u, &upload_id)).map_err(to_wit_error)
                }
            }

            impl Guest for Plugin {
                fn info() -> PluginInfo {
                    PluginInfo {
                        name: $name.into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        schemes: vec![$scheme.into()],
                        env_vars: $env_vars.iter().map(|v| v.to_string()).collect(),
                        config_files: vec![$(ConfigFile { id: $id.into(), default_path: $default_path.into(), path_env: Some($path_env.into()) }),*],
                        network_hosts: $($ops)::+::network_hosts(),
                    }
                }

                fn parse_uri(uri: String) -> Result<PackageRef, SchemeError> {
                    let u = parse(&uri)?;
                    Ok(PackageRef {
                        package_name: u.package_name(),
                        display: u.display(),
                        scheme: $scheme.into(),
                        extension: u.extension.into(),
                        format: u.format.into(),
                        uri: u.uri,
                    })
                }

                fn download_and_unpack(uri: String, target: String, scratch: String, l: Limits) -> Result<UnpackStats, SchemeError> {
                    let u = parse(&uri)?;
                    let s = with_call(l, |c| $($ops)::+::download_and_unpack(c, &u, Path::new(&target), Path::new(&scratch))).map_err(to_wit_error)?;
                    Ok(unpack_stats(s))
                }

                fn download(uri: String, file: String, l: Limits) -> Result<DownloadStats, SchemeError> {
                    let u = parse(&uri)?;
                    with_call(l, |c| $($ops)::+::download_to_file(c, &u, Path::new(&file))).map(download_stats).map_err(to_wit_error)
                }
            }

            $($bindings)::+::export!(Plugin with_types_in $($bindings)::+);
        }
    };
}
