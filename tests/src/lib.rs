//! Test support for scheme-host's suite (`tests/suite`): the plugins under test built to
//! wasm by `build.rs`, an isolated environment to run the `scheme-host` binary in, and
//! archive builders.

pub mod archives;
pub mod hostile;
pub mod obs;
pub mod proxy;
pub mod recorder;
pub mod tls;

pub use proptest;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

/// Paths of the plugins `build.rs` compiled for this test build.
pub mod wasm {
    pub const OBS: &str = env!("OBS_PLUGIN_WASM");
    pub const S3: &str = env!("S3_PLUGIN_WASM");
    pub const FIXTURE: &str = env!("FIXTURE_PLUGIN_WASM");
    pub const HOSTILE: &str = env!("HOSTILE_PLUGIN_WASM");
    pub const FUTURE: &str = env!("FUTURE_PLUGIN_WASM");
    /// The fixture plugin built against the frozen 0.1.0 contract.
    pub const LEGACY: &str = env!("LEGACY_PLUGIN_WASM");
}

/// A private world for one or more `scheme-host` runs: its own HOME, plugin directory,
/// compile cache and an environment that holds only what the test puts there.
pub struct Env {
    pub dir: TempDir,
    bin: PathBuf,
    vars: Vec<(String, String)>,
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The single JSON object printed with `--json`.
    pub fn json(&self) -> serde_json::Value {
        let line = self.stdout.trim();
        assert!(!line.contains('\n'), "--json must print exactly one line, got:\n{}", self.stdout);
        serde_json::from_str(line).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    pub fn ok(&self) -> serde_json::Value {
        let v = self.json();
        assert_eq!(v["ok"], true, "expected success, got {v:#}\nstderr:\n{}", self.stderr);
        assert_eq!(self.status, 0);
        v
    }

    pub fn err(&self) -> serde_json::Value {
        let v = self.json();
        assert_eq!(v["ok"], false, "expected failure, got {v:#}");
        assert_ne!(self.status, 0);
        v["error"].clone()
    }
}

impl Env {
    pub fn new(bin: impl Into<PathBuf>) -> Env {
        let dir = tempfile::Builder::new().prefix("scheme-host-test").tempdir().unwrap();
        for sub in ["plugins", "cache", "home", "out"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        // One instance per package unless a test asks for parts (`--parts` wins over this):
        // extra parts send their own requests, which would change what tests that count
        // requests or inject one-shot faults observe.
        Env { dir, bin: bin.into(), vars: vec![("SCHEME_HOST_UNPACK_PARTS".into(), "1".into())] }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    pub fn plugins(&self) -> PathBuf {
        self.path("plugins")
    }
    pub fn cache(&self) -> PathBuf {
        self.path("cache")
    }
    pub fn home(&self) -> PathBuf {
        self.path("home")
    }
    pub fn out(&self, name: &str) -> PathBuf {
        self.path("out").join(name)
    }

    /// Copies a plugin into the plugin directory under `file_name`.
    pub fn install(&self, wasm: &str, file_name: &str) -> PathBuf {
        let to = self.plugins().join(file_name);
        // Write to a temp name then rename, as an operator's deploy would.
        let tmp = self.plugins().join(format!(".{file_name}.tmp"));
        std::fs::copy(wasm, &tmp).unwrap();
        std::fs::rename(&tmp, &to).unwrap();
        to
    }

    pub fn set(&mut self, key: &str, value: impl AsRef<str>) -> &mut Self {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.into(), value.as_ref().into()));
        self
    }

    pub fn write_config(&mut self, toml: &str) -> PathBuf {
        let p = self.path("config.toml");
        std::fs::write(&p, toml).unwrap();
        self.set("SCHEME_HOST_CONFIG", p.to_str().unwrap());
        p
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("SCHEME_HOST_PLUGIN_DIR", self.plugins())
            .env("SCHEME_HOST_CACHE_DIR", self.cache())
            .stdin(Stdio::null());
        if let Ok(log) = std::env::var("RUST_LOG") {
            cmd.env("RUST_LOG", log);
        }
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let Output { status, stdout, stderr } = self.command(args).output().expect("run scheme-host");
        Run {
            status: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

/// Every path below `root`, relative, sorted; directories end in `/`, symlinks in `@`.
pub fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let t = e.file_type().unwrap();
            if t.is_symlink() {
                out.push(format!("{rel}@"));
            } else if t.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Names in `dir` (not recursive), sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    v.sort();
    v
}

/// `f` over every item on two threads (each case runs whole `scheme-host` processes, so two
/// keep both CPUs busy), results in the items' order.
pub fn on_two_threads<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let results = std::sync::Mutex::new(Vec::with_capacity(items.len()));
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().unwrap().push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
