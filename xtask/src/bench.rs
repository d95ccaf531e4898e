//! `cargo xtask bench`: side-by-side download + unpack benchmark on one loopback OBS server.
//!
//! ```text
//! cargo xtask bench [--runs N] [--corpus S,L,T] [--quick] [--no-build] [--out DIR] [--tools a,b] [--baseline BIN]
//!                   [--burst 8,32,64 | --no-burst] [--no-upload]
//! ```
//! `--quick` is two runs without Ray's own function (its reproduction and plain Python still
//! run) unless `--tools` names one of Ray's rows; `--tools` keeps only the named rows (ids
//! below), e.g. while tuning one of them.
//! `--baseline BIN` adds another scheme-host binary (say, a build of the previous commit),
//! one instance, timed in the same runs, and a table of this build against it.
//! Builds the release host, the wasm plugin and the native twin, generates (or reuses) the
//! corpora under `target/bench-corpora/`, starts `obs-server` with every corpus in one
//! public-read bucket (it answers S3 requests for the same bucket and keys too), then, run after run, lets each tool fetch and unpack each corpus into
//! a fresh directory on tmpfs (`/dev/shm`). Results go to `target/bench/results.json` and
//! `target/bench/results.md`. It prints figures and never fails on timing.
//!
//! Tools (one row each):
//! - `scheme-host`: `scheme-host download-and-unpack obs://bench/<corpus>.zip` with the wasm
//!   plugin, warm (precompiled in the host's cache), as many parts as the host picks by
//!   default (one instance per CPU, large zips only); process wall time.
//! - `scheme-host-s3`: the same for `s3://bench/<corpus>.zip` with the s3 plugin, over the
//!   server's S3 API (`AWS_ENDPOINT_URL_S3`, path-style as for any IP endpoint), warm.
//! - `scheme-host-1`: the same with `--parts 1`: one instance, the like-for-like twin of
//!   `native`.
//! - `native`: the same plugin code (`obs_plugin::ops::download_and_unpack`) built natively
//!   over a plain TCP transport (`bench/native-unpack`); process wall time.
//! - `ray-fn`: Ray 2.60's own `download_and_unpack_package` from the project venv (if `ray`
//!   imports), `ray-repro`: its reproduction in `bench/ray_path.py`; both over http from the
//!   same server, timed around the call (a Ray agent is a long-lived process).
//! - `ray-fn-s3`: Ray's own function for the `s3://` URI: boto3 + smart_open, pointed at the
//!   server only through the environment (`AWS_ENDPOINT_URL_S3`, keys, region), as a user
//!   would. Ray's Python is the newest `.venv-ray-<minor>` with Ray in it, else `.venv`;
//!   boto3 and smart_open are installed into it from `bench/requirements-s3.txt` when missing.
//! - `plain-python`: the plainest Python a user writes, `bench/plain_python.py` (standard
//!   library only, same Python, no Ray): `urllib.request.urlopen(url).read()` into memory,
//!   then `zipfile.ZipFile(io.BytesIO(data)).extractall(dest)`, over http from the same
//!   server, timed around the call like Ray's rows. Runs with `--quick` too.
//! - `unzip`: Info-ZIP `unzip` on the local zip (no download).
//! - `native-local`: the plugin's extractor natively on the local zip (no download).
//! - limits: `curl` to /dev/null (curl's own total time), one-core inflate in memory, and
//!   writing the same tree without inflating (both timed inside `native-unpack`).
//!
//! The ratios per corpus (`report.rs`) put scheme-host against Ray's path, plain Python and
//! `native`, give µs per file for one instance and for `native`, and two limits: `limit_s`,
//! max(download, native unpack alone), and `two_core_limit_s`, max(download, (inflate +
//! write) / 2): the same work split perfectly over two cores.
//!
//! Then the upload table (`upload.rs`, `--no-upload` skips it): each corpus's tree (L-stored
//! only without L: same files) packed and put into OBS side by side: `scheme-host
//! pack-and-upload` (first upload, then the content-addressed no-op), a user's Python
//! `zipfile` + the OBS SDK's `uploadFile`, and Ray 2.60's own client packing for `ray job
//! submit` (no cluster, so no upload). `--quick` leaves Ray's row out unless `--tools` names
//! `ray-pack`; `--tools` takes `pack-and-upload`, `zip-sdk` and `ray-pack` too.
//!
//! Then the burst table (`burst.rs`): N scheme-host processes at once against a second
//! server that throttles past a fixed rate, as at a cluster start.

mod burst;
mod corpus;
mod measure;
mod report;
mod upload;
mod upload_report;

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::util::{cargo, run as run_cmd, target_dir, workspace};
use corpus::Corpus;
use measure::Sample;

const AK: &str = "BENCHACCESSKEY000001";
const SK: &str = "benchSecretKey00000000000000000000000001";
const BUCKET: &str = "bench";

struct Options {
    runs: usize,
    corpora: Vec<&'static str>,
    quick: bool,
    build: bool,
    out: PathBuf,
    tools: Option<Vec<String>>,
    /// Another scheme-host binary timed beside this one (`--baseline`), one instance.
    baseline: Option<PathBuf>,
    /// Node counts of the burst table; empty with `--no-burst`.
    burst: Vec<usize>,
    /// The upload table; off with `--no-upload`.
    upload: bool,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        runs: 5,
        corpora: corpus::ALL.to_vec(),
        quick: false,
        build: true,
        out: PathBuf::from("/dev/shm/scheme-host-bench"),
        tools: None,
        baseline: None,
        burst: burst::DEFAULT_SIZES.to_vec(),
        upload: true,
    };
    let mut runs = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--runs" => runs = Some(value("--runs")?.parse().context("--runs takes a number")?),
            "--corpus" => o.corpora = corpus::select(value("--corpus")?)?,
            "--quick" => o.quick = true,
            "--no-build" => o.build = false,
            "--out" => o.out = PathBuf::from(value("--out")?),
            "--baseline" => o.baseline = Some(PathBuf::from(value("--baseline")?)),
            "--no-burst" => o.burst.clear(),
            "--no-upload" => o.upload = false,
            "--burst" => {
                o.burst = value("--burst")?.split(',').map(|n| n.trim().parse::<usize>().ok().filter(|&n| n > 0)).collect::<Option<_>>().context("--burst takes node counts, e.g. 8,32,64")?;
            }
            "--tools" => {
                let ids: Vec<String> = value("--tools")?.split(',').map(|t| t.trim().to_string()).collect();
                let known = || TOOLS.iter().map(|t| t.id).chain(upload::SELECTABLE.iter().copied());
                if let Some(bad) = ids.iter().find(|id| !known().any(|t| t == id.as_str())) {
                    bail!("unknown tool {bad:?}; tools are {}", known().collect::<Vec<_>>().join(", "));
                }
                o.tools = Some(ids);
            }
            other => bail!("unknown option {other:?}\nusage: cargo xtask bench [--runs N] [--corpus S,L,T] [--quick] [--no-build] [--out DIR] [--tools a,b] [--baseline BIN] [--burst 8,32,64 | --no-burst] [--no-upload]"),
        }
    }
    o.runs = runs.unwrap_or(if o.quick { 2 } else { 5 }).max(1);
    Ok(o)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Download and unpack, end to end.
    EndToEnd,
    /// Unpack a local file.
    Local,
    /// A machine limit.
    Limit,
}

#[derive(Debug, Clone, Copy)]
pub struct Tool {
    pub id: &'static str,
    pub label: &'static str,
    pub kind: Kind,
}

pub const TOOLS: &[Tool] = &[
    Tool { id: "scheme-host", label: "scheme-host + wasm plugin (warm, precompiled; default parts)", kind: Kind::EndToEnd },
    Tool { id: "scheme-host-s3", label: "scheme-host + s3 wasm plugin, s3:// (warm, precompiled; default parts)", kind: Kind::EndToEnd },
    Tool { id: "scheme-host-1", label: "scheme-host + wasm plugin, one instance (--parts 1)", kind: Kind::EndToEnd },
    Tool { id: "baseline-1", label: "baseline scheme-host (--baseline BIN), one instance (--parts 1)", kind: Kind::EndToEnd },
    Tool { id: "native", label: "same Rust code, native (bench/native-unpack)", kind: Kind::EndToEnd },
    Tool { id: "ray-fn", label: "Ray 2.60 download_and_unpack_package (Python)", kind: Kind::EndToEnd },
    Tool { id: "ray-fn-s3", label: "Ray 2.60 download_and_unpack_package, s3:// (boto3 + smart_open)", kind: Kind::EndToEnd },
    Tool { id: "ray-repro", label: "Ray 2.60 path, reproduced (bench/ray_path.py)", kind: Kind::EndToEnd },
    Tool { id: "plain-python", label: "plain Python: urllib into memory + zipfile.extractall", kind: Kind::EndToEnd },
    Tool { id: "unzip", label: "Info-ZIP unzip, local file", kind: Kind::Local },
    Tool { id: "native-local", label: "native unpack alone, local file", kind: Kind::Local },
    Tool { id: "curl", label: "limit: loopback download to /dev/null (curl)", kind: Kind::Limit },
    Tool { id: "inflate", label: "limit: one-core inflate in memory (zlib-rs)", kind: Kind::Limit },
    Tool { id: "write", label: "limit: write the tree without inflating", kind: Kind::Limit },
];

/// One measured run of one tool on one corpus.
#[derive(Debug, Clone)]
pub struct Record {
    /// The time that counts for this tool (see the module docs).
    pub wall_s: f64,
    pub cpu_s: f64,
    pub maxrss_kib: u64,
    /// What the tool reported about itself (scheme-host's JSON, Ray's RSS before the call).
    pub extra: serde_json::Value,
}

#[derive(Clone)]
pub struct Setup {
    pub endpoint: String,
    python: Option<PathBuf>,
    ray_fn: bool,
    /// Ray's own function can also fetch `s3://` (boto3 and smart_open import beside it).
    ray_s3: bool,
    unzip: Option<String>,
    curl: bool,
    host_bin: PathBuf,
    baseline_bin: Option<PathBuf>,
    native_bin: PathBuf,
    host_home: PathBuf,
}

pub fn run(args: &[String]) -> Result<()> {
    let opts = parse(args)?;
    let ws = workspace();
    let target = target_dir();
    if opts.build {
        // The shared build (host, server, plugins), then the native twin, which shares no
        // crate with wasmtime and so costs only its own code.
        crate::build::build_workspace()?;
        run_cmd(cargo().args(["build", "--release", "-p", "native-unpack"]))?;
    }
    let corpora: Vec<Corpus> = opts.corpora.iter().map(|id| corpus::ensure(&target.join("bench-corpora"), id)).collect::<Result<_>>()?;
    for c in &corpora {
        // Into the page cache, so the local-file tools do not pay for the first read. In
        // small reads: a child's peak RSS as the kernel reports it includes its parent's
        // peak at fork time.
        let mut f = std::fs::File::open(&c.zip)?;
        std::io::copy(&mut f, &mut std::io::sink())?;
    }

    let bench_dir = target.join("bench");
    let host_home = bench_dir.join("host");
    let _ = std::fs::remove_dir_all(&host_home);
    for d in ["plugins", "cache", "home"] {
        std::fs::create_dir_all(host_home.join(d))?;
    }
    for (krate, file) in [("obs-plugin", "obs.wasm"), ("s3-plugin", "s3.wasm")] {
        std::fs::copy(crate::util::wasm_plugin(krate), host_home.join("plugins").join(file))
            .with_context(|| format!("the wasm plugin {krate} is not built (run without --no-build)"))?;
    }
    std::fs::write(host_home.join("config.toml"), "")?;

    let mut server = start_server(&target.join("release/obs-server"), &corpora)?;
    let result = (|| -> Result<()> {
        let endpoint = read_endpoint(&mut server)?;
        let python = find_python(&ws);
        let named = |id: &str| opts.tools.as_ref().is_some_and(|ids| ids.iter().any(|t| t == id));
        let ray_fn = (!opts.quick || named("ray-fn") || named("ray-fn-s3")) && python.as_deref().is_some_and(ray_importable);
        let ray_s3 = ray_fn && (opts.tools.is_none() || named("ray-fn-s3")) && python.as_deref().is_some_and(ensure_s3_modules);
        let setup = Setup {
            endpoint,
            python,
            ray_fn,
            ray_s3,
            unzip: find_unzip(),
            curl: Command::new("curl").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()),
            host_bin: target.join("release/scheme-host"),
            baseline_bin: opts.baseline.clone(),
            native_bin: target.join("release/native-unpack"),
            host_home,
        };
        print_skips(&setup);
        std::fs::create_dir_all(&opts.out)?;
        // Compile and cache the plugin, so every timed call is warm.
        let warm = opts.out.join("warmup");
        let _ = std::fs::remove_dir_all(&warm);
        std::fs::create_dir_all(&warm)?;
        let first = corpora.iter().min_by_key(|c| c.zip_bytes).expect("at least one corpus");
        scheme_host(&setup, Scheme::Obs, first, &warm.join("obs"), None)?;
        if opts.tools.as_ref().is_none_or(|ids| ids.iter().any(|id| id == "scheme-host-s3")) {
            scheme_host(&setup, Scheme::S3, first, &warm.join("s3"), None)?;
        }
        std::fs::remove_dir_all(&warm)?;

        let mut results: BTreeMap<&'static str, BTreeMap<&'static str, Vec<Record>>> = BTreeMap::new();
        let wanted = |t: &Tool| opts.tools.as_ref().is_none_or(|ids| ids.iter().any(|id| id == t.id));
        let tools: Vec<&Tool> = TOOLS.iter().filter(|t| available(&setup, t) && wanted(t)).collect();
        for r in 0..opts.runs {
            for c in &corpora {
                // Rotate the order each run so drift in the machine's load spreads evenly.
                for k in 0..tools.len() {
                    let tool = tools[(k + r) % tools.len()];
                    let dir = opts.out.join(format!("{}-{}-{r}", c.id, tool.id));
                    let _ = std::fs::remove_dir_all(&dir);
                    std::fs::create_dir_all(&dir)?;
                    let rec = measure_tool(&setup, tool, c, &dir).with_context(|| format!("{} on corpus {}", tool.id, c.id))?;
                    std::fs::remove_dir_all(&dir)?;
                    eprintln!("bench: run {}/{} {:>8} {:<13} {:>8.3}s  rss {:>7.1} MiB", r + 1, opts.runs, c.id, tool.id, rec.wall_s, rec.maxrss_kib as f64 / 1024.0);
                    results.entry(c.id).or_default().entry(tool.id).or_default().push(rec);
                }
            }
        }
        let upload = if opts.upload { upload_table(&opts, &setup, &target.join("release/obs-server"), &corpora)? } else { None };
        let burst = if opts.burst.is_empty() {
            None
        } else if !setup.curl {
            eprintln!("bench: skipping the burst table: it reads the server's counts with curl, which is not installed");
            None
        } else {
            let t = corpus::ensure(&target.join("bench-corpora"), "T")?;
            Some((burst::run(&setup, &target.join("release/obs-server"), &t, &opts.burst, &opts.out)?, t))
        };
        let machine = report::machine();
        let mut doc = report::build(&corpora, &results, opts.runs, &opts.out, machine);
        if let Some(u) = &upload {
            doc["upload"] = u.clone();
        }
        if let Some((rounds, _)) = &burst {
            doc["burst"] = burst::to_json(rounds);
        }
        std::fs::create_dir_all(&bench_dir)?;
        std::fs::write(bench_dir.join("results.json"), serde_json::to_vec_pretty(&doc)?)?;
        let mut md = report::markdown(&doc);
        if let Some(u) = &upload {
            md.push_str(&upload_report::markdown(u));
        }
        if let Some((rounds, t)) = &burst {
            md.push_str(&burst::markdown(rounds, t));
        }
        std::fs::write(bench_dir.join("results.md"), &md)?;
        println!("{md}");
        println!("written: {} and {}", bench_dir.join("results.json").display(), bench_dir.join("results.md").display());
        Ok(())
    })();
    drop(server.stdin.take());
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// The upload table's rows that are wanted and can run, measured; None when none can.
fn upload_table(opts: &Options, setup: &Setup, server_bin: &Path, corpora: &[Corpus]) -> Result<Option<serde_json::Value>> {
    let named = |id: &str| opts.tools.as_ref().is_some_and(|ids| ids.iter().any(|t| t == id));
    let wanted = |id: &str| opts.tools.is_none() || named(id);
    let sdk_python = if wanted("zip-sdk") { upload::find_sdk_python(&workspace(), setup.python.as_deref()) } else { None };
    if wanted("zip-sdk") && sdk_python.is_none() {
        eprintln!("bench: skipping zipfile + OBS SDK in the upload table: no Python imports the SDK, and there is no Python to install bench/requirements-upload.txt into or that install failed");
    }
    let ray_python = if wanted("ray-pack") && (!opts.quick || named("ray-pack")) {
        let found = setup.python.clone().filter(|p| upload::ray_client_importable(p));
        if found.is_none() {
            eprintln!("bench: skipping Ray's packing in the upload table: Ray's job client (ray[default]) does not import from the bench's Python");
        }
        found
    } else {
        if wanted("ray-pack") {
            eprintln!("bench: skipping Ray's packing in the upload table (--quick; name it with --tools ray-pack)");
        }
        None
    };
    let pack = wanted("pack-and-upload") && upload::pack_supported(setup, server_bin, &opts.out)?;
    let plan = upload::Plan { corpora: upload::distinct_trees(corpora), pack, sdk_python, ray_python };
    if plan.tools().is_empty() {
        return Ok(None);
    }
    let trees = upload::prepare_trees(setup, &plan.corpora, &opts.out)?;
    let samples = upload::run(setup, server_bin, &plan, &trees, opts.runs, &opts.out)?;
    std::fs::remove_dir_all(opts.out.join("upload-src"))?;
    Ok(Some(upload_report::build(&plan.corpora, &samples, opts.runs)))
}

fn available(s: &Setup, t: &Tool) -> bool {
    match t.id {
        "ray-fn" => s.ray_fn,
        "ray-fn-s3" => s.ray_s3,
        "ray-repro" | "plain-python" => s.python.is_some(),
        "unzip" => s.unzip.is_some(),
        "curl" => s.curl,
        "baseline-1" => s.baseline_bin.is_some(),
        _ => true,
    }
}

fn print_skips(s: &Setup) {
    if s.python.is_none() {
        eprintln!("bench: skipping Ray's path and plain Python: no python3 found (create the venv with `cargo xtask test` or set PYTHON)");
    } else if !s.ray_fn {
        eprintln!("bench: skipping Ray's own function (ray not importable from the venv, or --quick); the reproduction runs instead");
    } else if !s.ray_s3 {
        eprintln!("bench: skipping Ray's own s3:// path (not asked for, or boto3/smart_open could not be installed)");
    }
    if s.unzip.is_none() {
        eprintln!("bench: skipping Info-ZIP unzip: not installed and `apt-get install -y unzip` failed");
    }
    if !s.curl {
        eprintln!("bench: skipping the download limit: curl is not installed");
    }
}

fn start_server(bin: &Path, corpora: &[Corpus]) -> Result<Child> {
    start_server_with(bin, corpora, &[])
}

fn start_server_with(bin: &Path, corpora: &[Corpus], extra: &[&str]) -> Result<Child> {
    let mut cmd = Command::new(bin);
    cmd.args(["--listen", "127.0.0.1:0", "--cred", &format!("{AK}:{SK}"), "--public-bucket", BUCKET]).args(extra);
    for c in corpora {
        cmd.arg("--put").arg(format!("{BUCKET}/{}.zip={}", c.id, c.zip.display()));
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().with_context(|| format!("cannot start {}", bin.display()))
}

fn read_endpoint(server: &mut Child) -> Result<String> {
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("piped stdout")).read_line(&mut line)?;
    let ready: serde_json::Value = serde_json::from_str(&line).context("obs-server did not report its endpoint")?;
    Ok(ready["endpoint"].as_str().context("no endpoint in obs-server's first line")?.to_string())
}

/// Ray's Python: the venv of the newest Ray release the suite runs on (`.venv-ray-<minor>`,
/// made by `cargo xtask test`) or `.venv`, the first with Ray in it, else the first that
/// exists (the reproduction needs no Ray), else `$PYTHON` or `python3`.
fn find_python(ws: &Path) -> Option<PathBuf> {
    let newest = crate::ray_versions::read(ws).ok().and_then(|all| all.last().map(|r| r.venv_dir_name()));
    let venvs: Vec<PathBuf> = newest.into_iter().chain([".venv".to_string()]).map(|d| ws.join(d).join("bin/python")).filter(|p| p.is_file()).collect();
    if let Some(p) = venvs.iter().find(|p| ray_importable(p)).or(venvs.first()) {
        return Some(p.clone());
    }
    let base = PathBuf::from(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()));
    Command::new(&base).arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()).then_some(base)
}

fn ray_importable(python: &Path) -> bool {
    python_imports(python, "import ray._private.runtime_env.packaging")
}

fn python_imports(python: &Path, code: &str) -> bool {
    Command::new(python).args(["-c", code]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// boto3 and smart_open, which Ray needs for `s3://` and does not install itself: pinned
/// from `bench/requirements-s3.txt` into Ray's Python when either is missing.
fn ensure_s3_modules(python: &Path) -> bool {
    const CHECK: &str = "import boto3, smart_open.s3";
    if python_imports(python, CHECK) {
        return true;
    }
    eprintln!("bench: installing boto3 and smart_open (bench/requirements-s3.txt) into {}", python.display());
    if let Err(e) = crate::prereq::pip_install(python, &[workspace().join("bench/requirements-s3.txt")], true) {
        eprintln!("bench: {e:#}");
        return false;
    }
    python_imports(python, CHECK)
}

fn find_unzip() -> Option<String> {
    let present = || Command::new("unzip").arg("-v").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    if present() {
        return Some("unzip".into());
    }
    eprintln!("bench: Info-ZIP unzip missing; trying `apt-get install -y unzip`");
    let _ = Command::new("apt-get").args(["install", "-y", "-q", "unzip"]).status();
    present().then(|| "unzip".into())
}

/// The scheme a row fetches the corpus by; the server answers both for the same bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Obs,
    S3,
}

fn uri(c: &Corpus) -> String {
    scheme_uri(Scheme::Obs, c)
}

fn scheme_uri(scheme: Scheme, c: &Corpus) -> String {
    let prefix = match scheme {
        Scheme::Obs => "obs",
        Scheme::S3 => "s3",
    };
    format!("{prefix}://{BUCKET}/{}.zip", c.id)
}

fn http_url(s: &Setup, c: &Corpus) -> String {
    format!("{}/{BUCKET}/{}.zip", s.endpoint, c.id)
}

fn obs_env(s: &Setup, cmd: &mut Command) {
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", s.host_home.join("home"))
        .env("OBS_ENDPOINT", &s.endpoint)
        .env("OBS_ACCESS_KEY_ID", AK)
        .env("OBS_SECRET_ACCESS_KEY", SK)
        .env("OBS_METADATA_DISABLED", "true");
}

/// The AWS variables every S3 client here reads: the server as the S3 endpoint, the bench's
/// keys, a fixed region, and no instance metadata probe.
fn s3_vars(s: &Setup) -> [(&'static str, String); 6] {
    [
        ("AWS_ENDPOINT_URL_S3", s.endpoint.clone()),
        ("AWS_ENDPOINT_URL", s.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", AK.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SK.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]
}

fn s3_env(s: &Setup, cmd: &mut Command) {
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("HOME", s.host_home.join("home")).envs(s3_vars(s));
}

fn scheme_host(s: &Setup, scheme: Scheme, c: &Corpus, dest: &Path, parts: Option<&str>) -> Result<Sample> {
    scheme_host_bin(s, &s.host_bin, scheme, c, dest, parts)
}

fn scheme_host_bin(s: &Setup, bin: &Path, scheme: Scheme, c: &Corpus, dest: &Path, parts: Option<&str>) -> Result<Sample> {
    measure::run(&mut scheme_host_command(s, bin, scheme, c, dest, parts))
}

fn scheme_host_command(s: &Setup, bin: &Path, scheme: Scheme, c: &Corpus, dest: &Path, parts: Option<&str>) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["download-and-unpack", &scheme_uri(scheme, c)]).arg(dest).arg("--json");
    if let Some(n) = parts {
        cmd.args(["--parts", n]);
    }
    host_env(s, scheme, &mut cmd);
    cmd
}

/// What every scheme-host call of the bench runs with: the store's variables only, and the
/// bench's own plugins, cache and (empty) configuration.
fn host_env(s: &Setup, scheme: Scheme, cmd: &mut Command) {
    match scheme {
        Scheme::Obs => obs_env(s, cmd),
        Scheme::S3 => s3_env(s, cmd),
    }
    cmd.env("SCHEME_HOST_PLUGIN_DIR", s.host_home.join("plugins"))
        .env("SCHEME_HOST_CACHE_DIR", s.host_home.join("cache"))
        .env("SCHEME_HOST_CONFIG", s.host_home.join("config.toml"));
    if let Ok(log) = std::env::var("RUST_LOG") {
        cmd.env("RUST_LOG", log);
    }
}

fn work_ms(sample: &Sample) -> Result<(f64, serde_json::Value)> {
    let v = measure::json_line(sample)?;
    let ms = v["work_ms"].as_f64().context("no work_ms in the probe's output")?;
    Ok((ms / 1000.0, v))
}

fn measure_tool(s: &Setup, tool: &Tool, c: &Corpus, dir: &Path) -> Result<Record> {
    let (sample, wall_s, extra) = match tool.id {
        "scheme-host" | "scheme-host-s3" | "scheme-host-1" | "baseline-1" => {
            let parts = matches!(tool.id, "scheme-host-1" | "baseline-1").then_some("1");
            let bin = if tool.id == "baseline-1" { s.baseline_bin.as_deref().expect("available() checked it") } else { &s.host_bin };
            let scheme = if tool.id == "scheme-host-s3" { Scheme::S3 } else { Scheme::Obs };
            let sample = scheme_host_bin(s, bin, scheme, c, &dir.join("pkg"), parts)?;
            let v = measure::json_line(&sample)?;
            if v["ok"] != true || v["files"].as_u64() != Some(c.files) {
                bail!("scheme-host did not unpack all {} files: {v}", c.files);
            }
            let wall = sample.wall_s;
            (sample, wall, v)
        }
        "native" => {
            let mut cmd = Command::new(&s.native_bin);
            cmd.args(["fetch-unpack", &uri(c)]).arg(dir.join("pkg"));
            obs_env(s, &mut cmd);
            let sample = measure::run(&mut cmd)?;
            let v = measure::json_line(&sample)?;
            if v["files"].as_u64() != Some(c.files) {
                bail!("native-unpack did not unpack all {} files: {v}", c.files);
            }
            let wall = sample.wall_s;
            (sample, wall, v)
        }
        "ray-fn" | "ray-fn-s3" | "ray-repro" => {
            let python = s.python.as_ref().expect("available() checked python");
            let mut cmd = Command::new(python);
            let source = if tool.id == "ray-fn-s3" { scheme_uri(Scheme::S3, c) } else { http_url(s, c) };
            if tool.id == "ray-fn-s3" {
                // Only what the environment says: no profile, config file or session token of
                // the user running the bench may change which server or identity boto3 uses.
                for var in ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_REGION", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] {
                    cmd.env_remove(var);
                }
                let aws = s.host_home.join("home/.aws");
                cmd.envs(s3_vars(s)).env("AWS_CONFIG_FILE", aws.join("config")).env("AWS_SHARED_CREDENTIALS_FILE", aws.join("credentials"));
            }
            cmd.arg(workspace().join("bench/ray_path.py"))
                .args(["--uri", &source, "--impl", if tool.id == "ray-repro" { "repro" } else { "ray" }])
                .arg("--base-dir")
                .arg(dir)
                // Ray's temporary directory sits on the same filesystem as its packages
                // (/tmp/ray/...), so moving the top-level directory out is a rename there.
                .env("TMPDIR", dir)
                .env("RAY_USAGE_STATS_ENABLED", "0");
            let sample = measure::run(&mut cmd)?;
            let v = measure::json_line(&sample)?;
            if v["files"].as_u64() != Some(c.files) {
                bail!("Ray's path did not unpack all {} files: {v}", c.files);
            }
            let wall = v["wall_s"].as_f64().context("no wall_s")?;
            (sample, wall, v)
        }
        "plain-python" => {
            let python = s.python.as_ref().expect("available() checked python");
            let mut cmd = Command::new(python);
            cmd.arg(workspace().join("bench/plain_python.py")).args(["--url", &http_url(s, c)]).arg("--dest").arg(dir.join("pkg"));
            let sample = measure::run(&mut cmd)?;
            let v = measure::json_line(&sample)?;
            // zipfile.extractall drops the exec bits (the corpora's scripts come out 0644):
            // that is what this path gives its users, so only count and size are checked.
            if v["files"].as_u64() != Some(c.files) || v["bytes"].as_u64() != Some(c.uncompressed) {
                bail!("plain Python did not unpack all {} files ({} bytes): {v}", c.files, c.uncompressed);
            }
            let wall = v["wall_s"].as_f64().context("no wall_s")?;
            (sample, wall, v)
        }
        "unzip" => {
            let mut cmd = Command::new(s.unzip.as_deref().expect("available() checked unzip"));
            cmd.args(["-q", "-o"]).arg(&c.zip).arg("-d").arg(dir.join("pkg"));
            let sample = measure::run(&mut cmd)?;
            let wall = sample.wall_s;
            (sample, wall, serde_json::Value::Null)
        }
        "native-local" => {
            let mut cmd = Command::new(&s.native_bin);
            cmd.arg("unpack").arg(&c.zip).arg(dir.join("pkg"));
            let sample = measure::run(&mut cmd)?;
            let (wall, v) = work_ms(&sample)?;
            (sample, wall, v)
        }
        "curl" => {
            let mut cmd = Command::new("curl");
            cmd.args(["-s", "-f", "-o", "/dev/null", "-w", "{\"work_ms\": %{time_total}}\n", &http_url(s, c)]);
            let sample = measure::run(&mut cmd)?;
            // curl prints seconds; the field name keeps one parser for every probe.
            let v = measure::json_line(&sample)?;
            let wall = v["work_ms"].as_f64().context("curl printed no time")?;
            (sample, wall, v)
        }
        "inflate" => {
            let mut cmd = Command::new(&s.native_bin);
            cmd.arg("inflate").arg(&c.zip);
            let sample = measure::run(&mut cmd)?;
            let (wall, v) = work_ms(&sample)?;
            (sample, wall, v)
        }
        "write" => {
            let mut cmd = Command::new(&s.native_bin);
            cmd.arg("write-tree").arg(&c.zip).arg(dir.join("pkg"));
            let sample = measure::run(&mut cmd)?;
            let (wall, v) = work_ms(&sample)?;
            (sample, wall, v)
        }
        other => bail!("no runner for tool {other}"),
    };
    Ok(Record { wall_s, cpu_s: sample.cpu_s, maxrss_kib: sample.maxrss_kib, extra })
}
