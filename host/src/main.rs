use clap::{Parser, Subcommand};
use scheme_host::config::Config;
use scheme_host::output::{human_bytes, print_json_err, print_json_ok, BarProgress, UploadBar};
use scheme_host::upload::{PackRequest, UploadOutcome, UploadProgress};
use scheme_host::sandbox::{watchdog, ProgressSink};
use scheme_host::{Host, HostError};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

/// Fetches remote packages through sandboxed storage-scheme plugins (WASI components),
/// with Ray's semantics: one lock per package, one top-level directory stripped, and a
/// destination that either is complete or does not exist.
#[derive(Parser)]
#[command(name = "scheme-host", version)]
struct Cli {
    /// Directory of plugins (`*.wasm`) [env: SCHEME_HOST_PLUGIN_DIR; config: plugin-dir; default: <exe>/../share/scheme-host/plugins]
    #[arg(long, global = true)]
    plugin_dir: Option<PathBuf>,
    /// Operator configuration file [env: SCHEME_HOST_CONFIG; default: /etc/scheme-host/config.toml]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Print exactly one JSON object on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Download an archive and unpack it into DEST (reused if DEST already exists).
    DownloadAndUnpack {
        uri: String,
        dest: PathBuf,
        /// Replace DEST if it exists.
        #[arg(long)]
        overwrite: bool,
        /// Plugin instances that unpack the package together, each on its own share of the
        /// archive [env: SCHEME_HOST_UNPACK_PARTS; config: unpack-parts; default: one per CPU, at most 4]
        #[arg(long)]
        parts: Option<u32>,
    },
    /// Download the object as one file (e.g. a `.whl`).
    Download {
        uri: String,
        file: PathBuf,
        #[arg(long)]
        overwrite: bool,
    },
    /// Upload FILE as is to URI (e.g. a `.whl` for `py_modules`), replacing what is there.
    Upload { file: PathBuf, uri: String },
    /// Pack DIR as Ray packs a local working_dir (.gitignore, .rayignore, excludes, Ray's
    /// default skips; one top-level directory) and upload it as URI-PREFIX/_ray_pkg_<hash>.zip,
    /// named by its content: nothing is sent when that package is already there. Prints the URI.
    PackAndUpload {
        dir: PathBuf,
        #[arg(value_name = "URI-PREFIX")]
        prefix: String,
        /// A pattern to leave out, with the meaning of Ray's runtime_env `excludes`
        /// (gitwildmatch, relative to DIR); repeatable.
        #[arg(long = "exclude", value_name = "PATTERN")]
        excludes: Vec<String>,
        /// Keep DIR's own name as a directory in the package, as Ray packs `py_modules`
        /// directories, so `import <DIR name>` works where it is unpacked.
        #[arg(long)]
        include_parent_dir: bool,
    },
    /// Validate a URI and print Ray's package name for it.
    ParseUri { uri: String },
    /// List installed plugins, the schemes they handle, and what each asks for and is granted.
    Schemes,
    /// Compile every installed plugin into the cache now (a node's setup runs this, so the
    /// first job does not pay for it).
    Precompile,
    /// Approve what an installed plugin asks for beyond the defaults (IP addresses,
    /// loopback, config files outside the home), bound to the plugin file's sha256, by
    /// recording it in the config [--config, $SCHEME_HOST_CONFIG, or /etc/scheme-host/config.toml].
    Trust {
        /// The plugin's name, as `scheme-host schemes` shows it.
        name: String,
    },
}

/// glibc gives each thread that allocates an arena of its own (up to eight per core), and
/// each arena keeps what was freed in it. A call runs a dozen threads (runtime, packer,
/// part reader, blocking pool); two arenas held 5 MiB less at the peak of a 532 MB
/// pack-and-upload (64.4 -> 59 MiB), in the same time. Set before any thread starts.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: only this thread exists yet; mallopt sets an allocator tunable.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() {
    limit_malloc_arenas();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let json = cli.json;
    let report: fn(&HostError) = if json { print_json_err } else { print_text_err };
    watchdog::report_with(report);
    let outcome = runtime.block_on(run(cli));
    // From here this thread ends the process; a watchdog that is already ending it for a
    // plugin stuck past its deadline keeps the claim, and this outcome is never printed.
    let _exit = watchdog::claim_exit();
    let code = match outcome {
        Ok(()) => 0,
        Err(e) => {
            report(&e);
            scheme_host::error::exit_code(e.kind)
        }
    };
    // Dropping the runtime could wait on a plugin's stalled connection; we are done.
    std::process::exit(code);
}

fn print_text_err(e: &HostError) {
    eprintln!("error[{}]: {}", e.kind, e.message);
    if let Some(code) = &e.store_code {
        eprintln!("  store code: {code}");
    }
    if let Some(id) = &e.request_id {
        eprintln!("  request id: {id}");
    }
}

fn progress_sink(json: bool) -> Box<dyn ProgressSink> {
    if !json && std::io::stderr().is_terminal() {
        Box::new(BarProgress::new())
    } else {
        Box::new(())
    }
}

fn upload_progress(json: bool) -> Arc<dyn UploadProgress> {
    if !json && std::io::stderr().is_terminal() {
        Arc::new(UploadBar::new())
    } else {
        Arc::new(())
    }
}

fn print_upload(out: &UploadOutcome, json: bool) {
    if json {
        print_json_ok(out);
        return;
    }
    let files = out.files.map(|n| format!("{n} files, ")).unwrap_or_default();
    if out.uploaded {
        eprintln!(
            "uploaded {files}{} in {} part(s) in {:.2}s",
            human_bytes(out.bytes),
            out.parts,
            out.timings_ms.total_ms as f64 / 1000.0
        );
    } else {
        eprintln!("already there ({files}{}): nothing uploaded", human_bytes(out.bytes));
    }
    println!("{}", out.uri);
}

async fn run(cli: Cli) -> Result<(), HostError> {
    // `trust` may be what creates the config file.
    let creating = matches!(cli.command, Command::Trust { .. }) && !Config::writable_path(cli.config.as_deref()).exists();
    let config = if creating { Config::with_shipped(Config::default())? } else { Config::load_with_shipped(cli.config.as_deref())? };
    let mut host = Host::new(config, cli.plugin_dir.as_deref())?;
    let json = cli.json;
    match cli.command {
        Command::DownloadAndUnpack { uri, dest, overwrite, parts } => {
            if let Some(n) = parts {
                host.set_unpack_parts(n)?;
            }
            let out = host.download_and_unpack(&uri, &dest, overwrite, progress_sink(json)).await?;
            if json {
                print_json_ok(&out);
            } else {
                if out.reused {
                    eprintln!("reused existing {}", out.path.display());
                } else {
                    eprintln!(
                        "unpacked {} files ({}) from {} downloaded in {:.2}s",
                        out.files,
                        human_bytes(out.bytes_written),
                        human_bytes(out.bytes_downloaded),
                        out.timings_ms.total_ms as f64 / 1000.0
                    );
                }
                println!("{}", out.path.display());
            }
        }
        Command::Download { uri, file, overwrite } => {
            let out = host.download(&uri, &file, overwrite, progress_sink(json)).await?;
            if json {
                print_json_ok(&out);
            } else {
                eprintln!("downloaded {} in {:.2}s", human_bytes(out.bytes_downloaded), out.timings_ms.total_ms as f64 / 1000.0);
                println!("{}", out.path.display());
            }
        }
        Command::Upload { file, uri } => {
            let out = host.upload(&file, &uri, upload_progress(json)).await?;
            print_upload(&out, json);
        }
        Command::PackAndUpload { dir, prefix, excludes, include_parent_dir } => {
            let request = PackRequest { dir: &dir, prefix: &prefix, excludes, include_parent_dir };
            let out = host.pack_and_upload(request, upload_progress(json)).await?;
            print_upload(&out, json);
        }
        Command::ParseUri { uri } => {
            let out = host.parse_uri(&uri).await?;
            if json {
                print_json_ok(&out);
            } else {
                println!("{}\t{}\t{}", out.package_name, out.format, out.display);
            }
        }
        Command::Schemes => {
            let out = host.schemes().await?;
            if json {
                print_json_ok(&out);
            } else {
                for p in &out.plugins {
                    println!("{}\t{} {}\t{}", p.schemes.join(","), p.name, p.version, p.path.display());
                    println!("  granted network: {}", p.granted.network_hosts.join(", "));
                    if !p.granted.config_files.is_empty() {
                        println!("  granted config files: {}", p.granted.config_files.join(", "));
                    }
                    for w in &p.withheld {
                        println!("  withheld (needs `scheme-host trust {}`): {w}", p.name);
                    }
                }
                for b in &out.broken {
                    eprintln!("broken plugin {}: {}", b.path.display(), b.error);
                }
            }
        }
        Command::Precompile => {
            let out = host.precompile().await?;
            if json {
                print_json_ok(&out);
            } else {
                for p in &out.plugins {
                    let ms = p.compile_ms.map_or("cached".to_string(), |ms| format!("compiled in {ms} ms"));
                    println!("{} {}: {ms} ({})", p.name, p.version, p.path.display());
                }
                for b in &out.broken {
                    eprintln!("broken plugin {}: {}", b.path.display(), b.error);
                }
            }
            if !out.broken.is_empty() {
                return Err(HostError::plugin(format!("{} plugin file(s) in {} could not be compiled", out.broken.len(), out.plugin_dir.display())));
            }
        }
        Command::Trust { name } => {
            let target = Config::writable_path(cli.config.as_deref());
            let out = host.trust(&name, &target).await?;
            if json {
                print_json_ok(&out);
            } else {
                println!("plugin {} {} at {} (sha256 {})", out.plugin, out.version, out.path.display(), out.sha256);
                match &out.config {
                    None => println!("asks for nothing beyond the defaults; nothing to approve"),
                    Some(config) => {
                        println!("approved, beyond the defaults:");
                        for n in &out.approved {
                            println!("  {n}");
                        }
                        println!("recorded in {} as [approvals.{}]; a changed plugin file needs approving again", config.display(), out.plugin);
                    }
                }
            }
        }
    }
    Ok(())
}
