//! `cargo xtask <command>`: the project's build orchestration.
//!
//! - `dist`: a self-contained `dist/` (host binary, plugins, Ray integration wheel).
//! - `test`: every test: Rust suites, the official-SDK interop, real Ray end to end.
//! - `demo`: the main job on the embedded default (a local OBS-compatible server).
//! - `bench`: side-by-side download + unpack benchmark (see `bench.rs`).

mod bench;
mod demo;
mod build;
mod prereq;
mod util;

use anyhow::{bail, Result};
use std::path::PathBuf;
use util::{cargo, run, workspace};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("dist") => dist().map(|_| ()),
        Some("test") => test(&args[1..]),
        Some("demo") => demo::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        _ => bail!("usage: cargo xtask <dist|test|demo|bench> [options]\n  test --no-ray   skip the real-Ray end-to-end tests\n  demo --no-ray   stop after the CLI, without the Ray job\n  bench [--runs N] [--corpus S,L,T] [--quick] [--no-build] [--out DIR] [--tools a,b] [--baseline BIN]"),
    }
}

/// Builds the release host, the plugins and the Ray wheel into `dist/`.
pub fn dist() -> Result<PathBuf> {
    build::build_workspace()?;
    assemble_dist()
}

/// Copies already-built artifacts into `dist/`.
fn assemble_dist() -> Result<PathBuf> {
    let ws = workspace();
    let target = util::target_dir();
    let dist = ws.join("dist");
    let _ = std::fs::remove_dir_all(&dist);
    for d in ["bin", "plugins", "python"] {
        std::fs::create_dir_all(dist.join(d))?;
    }
    std::fs::copy(target.join("release/scheme-host"), dist.join("bin/scheme-host"))?;
    // Symbols are a third of the binary; nodes don't need them. Best effort: binutils may
    // be missing, and an unstripped binary works the same.
    let _ = std::process::Command::new("strip").arg(dist.join("bin/scheme-host")).status();
    std::fs::copy(util::wasm_plugin("obs-plugin"), dist.join("plugins/obs.wasm"))?;
    ship_approvals(&dist)?;
    let py = ws.join("host/python");
    if py.join("pyproject.toml").is_file() {
        let python = prereq::venv_python()?;
        run(std::process::Command::new(&python)
            .args(["-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w"])
            .arg(dist.join("python"))
            .arg(&py))?;
    }
    println!("dist ready: {}", dist.display());
    for entry in walk(&dist) {
        let size = std::fs::metadata(&entry)?.len();
        println!("  {:>12} bytes  {}", size, entry.strip_prefix(&ws)?.display());
    }
    Ok(dist)
}

/// Records, with the shipped binary itself, the approvals of the shipped plugins (the OBS
/// plugin asks for the ECS metadata service, an IP address) beside the binary, where the
/// host reads them: a node installed from `dist/` needs no operator step, and a plugin
/// file that differs from the shipped one gets nothing beyond the defaults.
fn ship_approvals(dist: &std::path::Path) -> Result<()> {
    let approvals = dist.join("share/scheme-host/approvals.toml");
    std::fs::create_dir_all(approvals.parent().unwrap())?;
    let cache = util::target_dir().join("dist-trust-cache");
    for plugin in ["obs"] {
        let out = std::process::Command::new(dist.join("bin/scheme-host"))
            .arg("--plugin-dir")
            .arg(dist.join("plugins"))
            .arg("--config")
            .arg(&approvals)
            .args(["--json", "trust", plugin])
            .env("SCHEME_HOST_CACHE_DIR", &cache)
            .env_remove("SCHEME_HOST_PLUGIN_DIR")
            .env_remove("SCHEME_HOST_CONFIG")
            .output()?;
        if !out.status.success() {
            bail!("scheme-host trust {plugin} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        }
    }
    Ok(())
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// Every test, in the order that fails fastest.
fn test(args: &[String]) -> Result<()> {
    let no_ray = args.iter().any(|a| a == "--no-ray");
    let ws = workspace();
    // Rust: unit tests of every crate, then the host's suite against the real binary.
    build::build_workspace()?;
    run(cargo().args(["test", "--release", "--workspace"]))?;
    let python = prereq::venv_python()?;
    if !no_ray {
        prereq::ensure_ray(&python)?;
    }
    let mut reqs = vec![ws.join("tests/python/requirements.txt")];
    if !no_ray {
        reqs.push(ws.join("tests/ray/requirements.txt"));
    }
    prereq::pip_install(&python, &reqs, true)?;
    // The test build produced the host, the server and the plugins: package those exact
    // binaries rather than building again with another feature selection.
    let dist = assemble_dist()?;
    let target = util::target_dir();
    let mut suites = vec!["tests/python"];
    if !no_ray {
        // The Ray package's unit tests import Ray too.
        suites.extend(["host/python/tests", "tests/ray"]);
    }
    for suite in suites {
        run(std::process::Command::new(&python)
            .current_dir(&ws)
            .args(["-m", "pytest", "-x", "-q", suite])
            .env("SCHEME_HOST_BIN", dist.join("bin/scheme-host"))
            .env("SCHEME_HOST_PLUGIN_DIR", dist.join("plugins"))
            .env("OBS_SERVER_BIN", target.join("release/obs-server"))
            .env("SCHEME_HOST_DIST", &dist))?;
    }
    println!("all tests passed");
    Ok(())
}
