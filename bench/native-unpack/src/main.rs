//! `native-unpack`: the plugin's code built natively, and the probes that measure this
//! machine's limits, for `cargo xtask bench`.
//!
//! ```text
//! native-unpack fetch-unpack URI DEST   # obs_plugin::ops::download_and_unpack over TCP (OBS_* env)
//! native-unpack unpack ZIP DEST         # scheme_plugin_kit::archive::extract_zip from a local file
//! native-unpack inflate ZIP             # inflate (and CRC) every entry in memory, one core, no writes
//! native-unpack write-tree ZIP DEST     # write the archive's tree (same names and sizes), no inflate
//! ```
//! Each prints one JSON line; `work_ms` is the timed part (loading the input excluded).

mod probes;
mod transport;

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use obs_plugin::env::Env;
use obs_plugin::settings::ENV_VARS;
use scheme_plugin_kit::retry::Sleeper;
use scheme_plugin_kit::Limits;

/// The process environment, restricted to what the plugin declares (as the host does).
struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        ENV_VARS.contains(&name).then(|| std::env::var(name).ok()).flatten()
    }
    fn config_file(&self, _id: &str) -> Option<Vec<u8>> {
        None
    }
    fn now(&self) -> std::time::SystemTime {
        std::time::SystemTime::now()
    }
}

struct ThreadSleeper(u64);

impl Sleeper for ThreadSleeper {
    fn sleep(&mut self, d: std::time::Duration) {
        std::thread::sleep(d);
    }
    fn random_u64(&mut self) -> u64 {
        // xorshift64*: jitter only needs to differ between attempts.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).context("missing argument (see the usage in src/main.rs)");
    let started = Instant::now();
    let report = match arg(0)? {
        "fetch-unpack" => fetch_unpack(arg(1)?, Path::new(arg(2)?))?,
        "unpack" => {
            let file = std::fs::File::open(arg(1)?).with_context(|| format!("opening {}", arg(1).unwrap()))?;
            std::fs::create_dir_all(arg(2)?)?;
            let s = scheme_plugin_kit::archive::extract_zip(file, Path::new(arg(2)?), &Limits::default(), &mut |_, _| {})
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            serde_json::json!({"files": s.files, "bytes": s.bytes_written, "work_ms": ms(started)})
        }
        "inflate" => probes::inflate(Path::new(arg(1)?))?,
        "write-tree" => probes::write_tree(Path::new(arg(1)?), Path::new(arg(2)?))?,
        other => bail!("unknown command {other:?}"),
    };
    println!("{report}");
    Ok(())
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn fetch_unpack(uri: &str, dest: &Path) -> Result<serde_json::Value> {
    let started = Instant::now();
    let target = dest.join("tree");
    let scratch = dest.join("scratch");
    std::fs::create_dir_all(&target)?;
    std::fs::create_dir_all(&scratch)?;
    let parsed = obs_plugin::uri::ObsUri::parse(uri).map_err(|e| anyhow::anyhow!("{e}"))?;
    let seed = started.elapsed().as_nanos() as u64 | 1;
    let call = &mut obs_plugin::ops::Call {
        env: &ProcessEnv,
        transport: &mut transport::TcpTransport,
        sleeper: &mut ThreadSleeper(seed),
        limits: &Limits::default(),
        progress: &mut |_, _, _, _| {},
    };
    let stats = obs_plugin::ops::download_and_unpack(call, &parsed, &target, &scratch).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(serde_json::json!({
        "files": stats.files,
        "bytes": stats.bytes_written,
        "bytes_downloaded": stats.download.bytes_downloaded,
        "verified": stats.download.verified,
        "download_ms": stats.download.download_ms,
        "unpack_ms": stats.unpack_ms,
        "work_ms": ms(started),
    }))
}
