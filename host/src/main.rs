use clap::{Parser, Subcommand};
use scheme_host::config::Config;
use scheme_host::output::{human_bytes, print_json_err, print_json_ok, BarProgress};
use scheme_host::sandbox::ProgressSink;
use scheme_host::{Host, HostError};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Fetches remote packages through sandboxed storage-scheme plugins (WASI components),
/// with Ray's semantics: one lock per package, one top-level directory stripped, and a
/// destination that either is complete or does not exist.
#[derive(Parser)]
#[command(name = "scheme-host", version)]
struct Cli {
    /// Directory of plugins (`*.wasm`) [env: SCHEME_HOST_PLUGIN_DIR; default: <exe>/../plugins]
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
    /// Validate a URI and print Ray's package name for it.
    ParseUri { uri: String },
    /// List installed plugins and the schemes they handle.
    Schemes,
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let json = cli.json;
    let code = match runtime.block_on(run(cli)) {
        Ok(()) => 0,
        Err(e) => {
            if json {
                print_json_err(&e);
            } else {
                eprintln!("error[{}]: {}", e.kind, e.message);
                if let Some(code) = &e.store_code {
                    eprintln!("  store code: {code}");
                }
                if let Some(id) = &e.request_id {
                    eprintln!("  request id: {id}");
                }
            }
            e.kind.exit_code()
        }
    };
    // Dropping the runtime could wait on a plugin's stalled connection; we are done.
    std::process::exit(code);
}

fn progress_sink(json: bool) -> Box<dyn ProgressSink> {
    if !json && std::io::stderr().is_terminal() {
        Box::new(BarProgress::new())
    } else {
        Box::new(())
    }
}

async fn run(cli: Cli) -> Result<(), HostError> {
    let config = Config::load(cli.config.as_deref())?;
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
                }
                for b in &out.broken {
                    eprintln!("broken plugin {}: {}", b.path.display(), b.error);
                }
            }
        }
    }
    Ok(())
}
