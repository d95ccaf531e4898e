//! `cargo xtask <command>`: the project's build orchestration.
//!
//! - `dist`: a self-contained `dist/` (host binary, plugins, the platform wheel and sdist).
//! - `test`: every test: Rust suites, the official-SDK interop, real Ray end to end.
//! - `demo`: the main job on the embedded default (a local OBS-compatible server).
//! - `bench`: side-by-side download + unpack benchmark (see `bench.rs`).

mod bench;
mod demo;
mod build;
mod prereq;
mod util;

use anyhow::{bail, Context, Result};
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

/// Copies already-built artifacts into `dist/` and builds the Python packages:
///
/// ```text
/// dist/bin/scheme-host
/// dist/share/scheme-host/plugins/obs.wasm      (the layout the binary looks for)
/// dist/share/scheme-host/approvals.toml
/// dist/python/ray_scheme_host-<v>-py3-none-manylinux_<glibc>_<arch>.whl   (all of it, one pip install)
/// dist/python/ray_scheme_host-<v>.tar.gz       (the same, built from source with cargo)
/// ```
fn assemble_dist() -> Result<PathBuf> {
    let ws = workspace();
    let target = util::target_dir();
    let dist = ws.join("dist");
    let _ = std::fs::remove_dir_all(&dist);
    let share = dist.join("share/scheme-host");
    for d in [dist.join("bin"), share.join("plugins"), dist.join("python")] {
        std::fs::create_dir_all(d)?;
    }
    std::fs::copy(target.join("release/scheme-host"), dist.join("bin/scheme-host"))?;
    // Symbols are a third of the binary; nodes don't need them. Best effort: binutils may
    // be missing, and an unstripped binary works the same.
    let _ = std::process::Command::new("strip").arg(dist.join("bin/scheme-host")).status();
    std::fs::copy(util::wasm_plugin("obs-plugin"), share.join("plugins/obs.wasm"))?;
    ship_approvals(&dist)?;
    python_packages(&dist)?;
    println!("dist ready: {}", dist.display());
    for entry in walk(&dist) {
        let size = std::fs::metadata(&entry)?.len();
        println!("  {:>12} bytes  {}", size, entry.strip_prefix(&ws)?.display());
    }
    Ok(dist)
}

/// The platform wheel and the sdist, built by maturin (pinned in requirements/build.txt)
/// from host/python/pyproject.toml. The wheel's data files are what `dist/share` holds, so
/// a venv gets the same layout: `<venv>/bin/scheme-host`, `<venv>/share/scheme-host/...`.
/// maturin builds scheme-host with cargo itself; the workspace-hack crate makes that build
/// resolve the features of the shared one, so wasmtime is not compiled again.
fn python_packages(dist: &std::path::Path) -> Result<()> {
    let ws = workspace();
    let py = ws.join("host/python");
    let data = py.join("wheel-data");
    let _ = std::fs::remove_dir_all(&data);
    copy_tree(&dist.join("share"), &data.join("data/share"))?;
    // Bytecode an earlier test run left beside the sources would be packed too.
    let bytecode: std::collections::BTreeSet<PathBuf> =
        walk(&py.join("src")).into_iter().filter_map(|f| f.parent().filter(|d| d.ends_with("__pycache__")).map(PathBuf::from)).collect();
    for dir in bytecode {
        std::fs::remove_dir_all(&dir)?;
    }
    let python = prereq::venv_python()?;
    for what in [&["build", "--release"][..], &["sdist"][..]] {
        run(std::process::Command::new(&python)
            .current_dir(&py)
            .args(["-m", "maturin"])
            .args(what)
            .arg("--out")
            .arg(dist.join("python")))?;
    }
    Ok(())
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &dest)?;
        } else {
            std::fs::copy(e.path(), dest)?;
        }
    }
    Ok(())
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
            .arg(dist.join("share/scheme-host/plugins"))
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
    let wheel = walk(&dist.join("python")).into_iter().find(|p| p.extension().is_some_and(|e| e == "whl")).context("dist/python holds no wheel")?;
    for suite in suites {
        let mut pytest = std::process::Command::new(&python);
        pytest.current_dir(&ws).args(["-m", "pytest", "-x", "-q", suite]).env("OBS_SERVER_BIN", target.join("release/obs-server"));
        if suite == "tests/ray" {
            // The nodes run what the wheel installs, nothing else: as an operator's would.
            pytest.env("SCHEME_HOST_WHEEL", &wheel).env_remove("SCHEME_HOST_BIN").env_remove("SCHEME_HOST_PLUGIN_DIR");
        } else {
            pytest.env("SCHEME_HOST_BIN", dist.join("bin/scheme-host")).env("SCHEME_HOST_PLUGIN_DIR", dist.join("share/scheme-host/plugins"));
        }
        run(&mut pytest)?;
    }
    println!("all tests passed");
    Ok(())
}
