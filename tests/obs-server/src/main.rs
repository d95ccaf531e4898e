//! `obs-server`: runs the OBS-compatible test server and prints one JSON line once listening:
//! `{"endpoint":"http://127.0.0.1:PORT","port":PORT,"admin":"http://127.0.0.1:PORT/__admin"}`
//! (`https://` with `--tls-cert`/`--tls-key`).
//!
//! It serves until SIGINT/SIGTERM, or until its standard input reaches end-of-file when stdin
//! is a pipe or socket (so a parent that dies takes the server with it; a terminal or
//! `/dev/null` stdin is not watched, and `--ignore-stdin` turns the watch off).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use obs_server::{
    ClockSetting, Credential, ObsServer, RateLimit, ServerConfig, ServerError, TlsIdentity,
};

#[derive(Debug, Parser)]
#[command(
    name = "obs-server",
    about = "In-memory Huawei OBS-compatible server with switchable faults"
)]
struct Cli {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Domain for virtual-hosted addressing (`<bucket>.<domain>`); repeatable.
    #[arg(long = "domain")]
    domains: Vec<String>,
    /// Credentials `AK:SK[:TOKEN]` (a token makes them temporary); repeatable.
    #[arg(long = "cred")]
    creds: Vec<String>,
    /// Private bucket to create; repeatable.
    #[arg(long = "bucket")]
    buckets: Vec<String>,
    /// Public-read bucket to create (anonymous GET/HEAD allowed); repeatable.
    #[arg(long = "public-bucket")]
    public_buckets: Vec<String>,
    /// Preload `BUCKET/KEY=LOCALFILE` (split at the last `=`); repeatable.
    #[arg(long = "put")]
    puts: Vec<String>,
    /// Send `x-obs-checksum-crc64ecma` on object GET/HEAD.
    #[arg(long)]
    crc64: bool,
    /// Pace object bodies to this many bytes per second per connection.
    #[arg(long)]
    throttle_bytes_per_sec: Option<u64>,
    /// Freeze the server clock at this Unix time (for replaying signed requests).
    #[arg(long)]
    fixed_clock: Option<i64>,
    /// Body frame size for object downloads (at least 262144).
    #[arg(long)]
    frame_bytes: Option<usize>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Smallest multipart part but the last, in bytes (default 5 MiB, as S3 and OBS).
    #[arg(long)]
    min_part_bytes: Option<u64>,
    /// Signature V4 (S3): the region credential scopes must name (default: any region).
    #[arg(long)]
    s3_region: Option<String>,
    /// Limit requests to this many per second (fractions allowed); past it, 503 SlowDown.
    #[arg(long)]
    rate_limit_rps: Option<f64>,
    /// Requests allowed back to back under --rate-limit-rps (default: the rate rounded up).
    #[arg(long, requires = "rate_limit_rps")]
    rate_limit_burst: Option<u32>,
    /// Send `Retry-After: SECS` with rate-limited answers.
    #[arg(long, requires = "rate_limit_rps")]
    rate_limit_retry_after: Option<u64>,
    /// Keep serving when stdin reaches end-of-file (a parent whose stdin is an already
    /// closed pipe would otherwise stop the server at once).
    #[arg(long)]
    ignore_stdin: bool,
}

struct Preload {
    bucket: String,
    key: String,
    file: PathBuf,
}

fn parse_put(spec: &str) -> Result<Preload, ServerError> {
    let invalid = || {
        ServerError::InvalidConfig(format!(
            "--put {spec:?} must look like BUCKET/KEY=LOCALFILE"
        ))
    };
    let (target, file) = spec.rsplit_once('=').ok_or_else(invalid)?;
    let (bucket, key) = target.split_once('/').ok_or_else(invalid)?;
    if bucket.is_empty() || key.is_empty() || file.is_empty() {
        return Err(invalid());
    }
    Ok(Preload {
        bucket: bucket.to_string(),
        key: key.to_string(),
        file: PathBuf::from(file),
    })
}

fn build_config(cli: &Cli) -> Result<(ServerConfig, Vec<Preload>), ServerError> {
    let mut config = ServerConfig::default()
        .with_listen(cli.listen)
        .with_throttle(cli.throttle_bytes_per_sec);
    config.crc64 = cli.crc64;
    config.domains = cli.domains.clone();
    for spec in &cli.creds {
        config = config.with_credential(Credential::parse_cli(spec)?);
    }
    for name in &cli.buckets {
        config = config.with_bucket(name);
    }
    for name in &cli.public_buckets {
        config = config.with_public_bucket(name);
    }
    if let Some(frame_bytes) = cli.frame_bytes {
        config.frame_bytes = frame_bytes;
    }
    if let Some(epoch_secs) = cli.fixed_clock {
        config = config.with_clock(ClockSetting::Fixed { epoch_secs });
    }
    if let Some(bytes) = cli.min_part_bytes {
        config = config.with_min_part_bytes(bytes);
    }
    if let Some(region) = &cli.s3_region {
        config = config.with_s3_region(region);
    }
    if let Some(rps) = cli.rate_limit_rps {
        // Default burst: one second's worth of requests, at least one.
        let burst = cli
            .rate_limit_burst
            .unwrap_or_else(|| rps.ceil().clamp(1.0, f64::from(u32::MAX)) as u32);
        let mut limit = RateLimit::new(rps, burst);
        limit.retry_after_secs = cli.rate_limit_retry_after;
        config = config.with_rate_limit(limit);
    }
    if let (Some(cert), Some(key)) = (&cli.tls_cert, &cli.tls_key) {
        config = config.with_tls(TlsIdentity::from_files(cert, key)?);
    }
    let preloads = cli
        .puts
        .iter()
        .map(|s| parse_put(s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((config, preloads))
}

/// True when stdin is a pipe or socket whose end-of-file should stop the server.
fn stdin_is_watchable() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileTypeExt;
    let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() else {
        return false;
    };
    match std::fs::File::from(fd).metadata() {
        Ok(meta) => meta.file_type().is_fifo() || meta.file_type().is_socket(),
        Err(_) => false,
    }
}

async fn stdin_closed(ignore: bool) {
    if ignore || !stdin_is_watchable() {
        return std::future::pending().await;
    }
    // Blocking reads belong on their own thread; it ends with the process.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = [0u8; 4096];
        let mut stdin = std::io::stdin().lock();
        loop {
            match std::io::Read::read(&mut stdin, &mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        let _ = tx.send(());
    });
    let _ = rx.await;
}

async fn terminated() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    term.recv().await;
}

async fn run(cli: Cli) -> Result<(), ServerError> {
    let (config, preloads) = build_config(&cli)?;
    let server = ObsServer::start(config).await?;
    for p in preloads {
        let data = std::fs::read(&p.file).map_err(|source| ServerError::ReadFile {
            path: p.file.clone(),
            source,
        })?;
        server.put_object(&p.bucket, &p.key, data)?;
    }
    let line = serde_json::json!({
        "endpoint": server.endpoint(),
        "port": server.port(),
        "admin": format!("{}{}", server.endpoint(), obs_server::ADMIN_PREFIX),
    });
    let mut stdout = std::io::stdout().lock();
    // A parent that cannot read the line cannot use the server either.
    if writeln!(stdout, "{line}")
        .and_then(|_| stdout.flush())
        .is_err()
    {
        return Ok(());
    }
    drop(stdout);
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated() => {}
        _ = stdin_closed(cli.ignore_stdin) => {}
    }
    server.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("obs-server: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("obs-server: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_spec_splits_at_first_slash_and_last_equals() {
        let p = parse_put("ray-jobs/dir/a=b.zip=/tmp/pkg.zip").unwrap();
        assert_eq!(
            (p.bucket.as_str(), p.key.as_str()),
            ("ray-jobs", "dir/a=b.zip")
        );
        assert_eq!(p.file, PathBuf::from("/tmp/pkg.zip"));
        let q = parse_put("b/k.zip=/tmp/f.zip").unwrap();
        assert_eq!(
            (q.bucket.as_str(), q.key.as_str(), q.file.to_str().unwrap()),
            ("b", "k.zip", "/tmp/f.zip")
        );
        for bad in ["nofile", "b=/f", "/k=/f", "b/=/f", "b/k="] {
            assert!(parse_put(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cli_builds_config() {
        let cli = Cli::parse_from([
            "obs-server",
            "--domain",
            "obs.test",
            "--cred",
            "AK:SK",
            "--cred",
            "AK2:SK2:TOK",
            "--bucket",
            "priv-b",
            "--public-bucket",
            "pub-b",
            "--crc64",
            "--throttle-bytes-per-sec",
            "1000",
            "--fixed-clock",
            "1700000000",
        ]);
        let (config, preloads) = build_config(&cli).unwrap();
        assert_eq!(config.domains, vec!["obs.test".to_string()]);
        assert_eq!(config.credentials.len(), 2);
        assert_eq!(config.credentials[1].security_token.as_deref(), Some("TOK"));
        assert!(config.crc64 && config.throttle_bytes_per_sec == Some(1000));
        assert_eq!(config.buckets.iter().filter(|b| b.public_read).count(), 1);
        assert_eq!(
            config.clock,
            ClockSetting::Fixed {
                epoch_secs: 1_700_000_000
            }
        );
        assert!(preloads.is_empty());
        assert!(config.tls.is_none());
        assert_eq!((config.rate_limit, config.s3_region), (None, None));
    }

    #[test]
    fn rate_limit_and_region_flags() {
        let cli = Cli::parse_from([
            "obs-server",
            "--rate-limit-rps",
            "2.5",
            "--rate-limit-retry-after",
            "1",
            "--s3-region",
            "eu-west-1",
            "--min-part-bytes",
            "1024",
        ]);
        let (config, _) = build_config(&cli).unwrap();
        assert_eq!(
            config.rate_limit,
            Some(RateLimit::new(2.5, 3).with_retry_after(1))
        );
        assert_eq!(config.s3_region.as_deref(), Some("eu-west-1"));
        assert_eq!(config.min_part_bytes, 1024);
        let burst = Cli::parse_from([
            "obs-server",
            "--rate-limit-rps",
            "10",
            "--rate-limit-burst",
            "1",
        ]);
        assert_eq!(
            build_config(&burst).unwrap().0.rate_limit,
            Some(RateLimit::new(10.0, 1))
        );
        // A burst or Retry-After without a rate is a usage error.
        assert!(Cli::try_parse_from(["obs-server", "--rate-limit-burst", "1"]).is_err());
        assert!(Cli::try_parse_from(["obs-server", "--rate-limit-retry-after", "1"]).is_err());
        // An invalid rate is refused when the server starts (ServerConfig::validate).
        let zero = Cli::parse_from(["obs-server", "--rate-limit-rps", "0"]);
        assert!(build_config(&zero).unwrap().0.validate().is_err());
    }

    #[test]
    fn tls_flags_come_in_pairs_and_read_their_files() {
        assert!(Cli::try_parse_from(["obs-server", "--tls-cert", "c.pem"]).is_err());
        assert!(Cli::try_parse_from(["obs-server", "--tls-key", "k.pem"]).is_err());
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert, "CERT PEM").unwrap();
        std::fs::write(&key, "KEY PEM").unwrap();
        let cli = Cli::parse_from([
            "obs-server",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ]);
        let (config, _) = build_config(&cli).unwrap();
        assert_eq!(config.tls, Some(TlsIdentity::new("CERT PEM", "KEY PEM")));
        let missing = Cli::parse_from([
            "obs-server",
            "--tls-cert",
            "/nonexistent/c.pem",
            "--tls-key",
            "/nonexistent/k.pem",
        ]);
        assert!(matches!(
            build_config(&missing),
            Err(ServerError::ReadFile { .. })
        ));
    }
}
