//! `cargo xtask <command>`: the project's build orchestration.
//!
//! - `dist`: a self-contained `dist/` (host binary, plugins, the platform wheel and sdist).
//! - `dist-aarch64`: `dist` plus the aarch64 wheel, cross-built and smoke-tested under
//!   qemu-user (see `dist_aarch64.rs`; long, so not part of `test`).
//! - `sdist-check`: builds the wheel from `dist/`'s sdist with pip and cargo and compares it
//!   with the shipped one (see `sdist_check.rs`; compiles wasmtime again, so not part of `test`).
//! - `test`: every test: Rust suites, the official-SDK interop, real Ray end to end.
//! - `demo`: the main job on the embedded default (a local OBS-compatible server).
//! - `bench`: side-by-side download + unpack benchmark (see `bench.rs`).

mod bench;
mod demo;
mod build;
mod dist_aarch64;
mod elf_needs;
mod prereq;
mod qemu_smoke;
mod ray_versions;
mod sdist_check;
mod util;
mod wheel_compare;
mod wheel_tag;

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use util::{cargo, run, workspace};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("dist") => dist().map(|_| ()),
        Some("dist-aarch64") => dist_aarch64::run(&args[1..]),
        Some("sdist-check") => sdist_check::run(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("demo") => demo::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        _ => bail!("usage: cargo xtask <dist|dist-aarch64|sdist-check|test|demo|bench> [options]\n  dist-aarch64 [--no-build]   also the aarch64 wheel, smoke-tested under qemu-user (--no-build: add it to an existing dist/)\n  sdist-check [--sdist FILE]   builds dist/'s sdist (or FILE) with `pip wheel` and compares the wheel with the shipped one (compiles wasmtime again: not part of `test`)\n  test --no-ray   skip the real-Ray end-to-end tests\n  test --ray X.Y.Z   run the Ray tests on that release of requirements/ray-versions.txt only\n  demo --no-ray   stop after the CLI, without the Ray job\n  bench [--runs N] [--corpus S,L,T] [--quick] [--no-build] [--out DIR] [--tools a,b] [--baseline BIN]"),
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
/// dist/share/scheme-host/plugins/{obs,s3}.wasm (the layout the binary looks for)
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
    for (package, scheme) in SHIPPED_PLUGINS {
        std::fs::copy(util::wasm_plugin(package), share.join(format!("plugins/{scheme}.wasm")))?;
    }
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
    stage_python_sources(dist)?;
    let py = workspace().join("host/python");
    let python = prereq::venv_python()?;
    for what in [&["build", "--release"][..], &["sdist"][..]] {
        run(std::process::Command::new(&python)
            .current_dir(&py)
            .args(["-m", "maturin"])
            .args(what)
            .arg("--out")
            .arg(dist.join("python")))?;
    }
    // maturin chose the tag from the binary's glibc symbol versions; read them out of the
    // finished wheel once more, so a wrong tag never leaves this machine.
    for wheel in wheels(&dist.join("python")) {
        println!("{}", wheel_tag::verify(&wheel, "scheme-host")?);
    }
    Ok(())
}

/// What maturin packs besides the binary: `dist/share` as the wheel's data files
/// (`host/python/wheel-data/data/share`), and the Python sources without stale bytecode.
fn stage_python_sources(dist: &std::path::Path) -> Result<()> {
    let py = workspace().join("host/python");
    let data = py.join("wheel-data");
    let _ = std::fs::remove_dir_all(&data);
    copy_tree(&dist.join("share"), &data.join("data/share"))?;
    // Bytecode an earlier test run left beside the sources would be packed too.
    let bytecode: std::collections::BTreeSet<PathBuf> =
        walk(&py.join("src")).into_iter().filter_map(|f| f.parent().filter(|d| d.ends_with("__pycache__")).map(PathBuf::from)).collect();
    for dir in bytecode {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

/// The wheels in `dir`, sorted.
fn wheels(dir: &std::path::Path) -> Vec<PathBuf> {
    walk(dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "whl")).collect()
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

/// The plugins `dist` ships: (cargo package, file name and scheme).
const SHIPPED_PLUGINS: &[(&str, &str)] = &[("obs-plugin", "obs"), ("s3-plugin", "s3")];

/// Records, with the shipped binary itself, the approvals of the shipped plugins (both ask
/// for their cloud's instance metadata service, an IP address) beside the binary, where the
/// host reads them: a node installed from `dist/` needs no operator step, and a plugin
/// file that differs from the shipped one gets nothing beyond the defaults.
fn ship_approvals(dist: &std::path::Path) -> Result<()> {
    let approvals = dist.join("share/scheme-host/approvals.toml");
    std::fs::create_dir_all(approvals.parent().unwrap())?;
    let cache = util::target_dir().join("dist-trust-cache");
    for (_, plugin) in SHIPPED_PLUGINS {
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

/// Every test, in the order that fails fastest. The Ray package's unit tests and the real-Ray
/// suite run once per release of requirements/ray-versions.txt, each in its own venv.
fn test(args: &[String]) -> Result<()> {
    let (no_ray, only_ray) = test_options(args)?;
    let ws = workspace();
    let releases = if no_ray { Vec::new() } else { ray_versions::select(ray_versions::read(&ws)?, only_ray.as_deref())? };
    // Rust: unit tests of every crate, then the host's suite against the real binary.
    build::build_workspace()?;
    run(cargo().args(["test", "--release", "--workspace"]))?;
    let python = prereq::venv_python()?;
    prereq::pip_install(&python, &[ws.join("tests/python/requirements.txt")], true)?;
    // The test build produced the host, the server and the plugins: package those exact
    // binaries rather than building again with another feature selection.
    let dist = assemble_dist()?;
    let target = util::target_dir();
    let pytest = |python: &std::path::Path, suite: &str| {
        let mut cmd = std::process::Command::new(python);
        cmd.current_dir(&ws).args(["-m", "pytest", "-x", "-q", suite]).env("OBS_SERVER_BIN", target.join("release/obs-server"));
        cmd.env("SCHEME_HOST_BIN", dist.join("bin/scheme-host")).env("SCHEME_HOST_PLUGIN_DIR", dist.join("share/scheme-host/plugins"));
        cmd
    };
    run(&mut pytest(&python, "tests/python"))?;
    let wheel = walk(&dist.join("python")).into_iter().find(|p| p.extension().is_some_and(|e| e == "whl")).context("dist/python holds no wheel")?;
    let mut timings = Vec::new();
    for release in &releases {
        let ray_python = prereq::ray_venv(release)?;
        let started = std::time::Instant::now();
        eprintln!("xtask: Ray {}: the Ray package's unit tests and the real-Ray suite ({})", release.version, release.venv_dir_name());
        // The package's unit tests import Ray: they check the shim against this release's modules.
        run(&mut pytest(&ray_python, "host/python/tests"))?;
        // The nodes run what the wheel installs, nothing else: as an operator's would.
        let mut real = pytest(&ray_python, "tests/ray");
        real.env("SCHEME_HOST_WHEEL", &wheel).env_remove("SCHEME_HOST_BIN").env_remove("SCHEME_HOST_PLUGIN_DIR");
        run(&mut real)?;
        if release.version == PACK_DIFFERENTIAL_RAY {
            // The packer against Ray's own packing of the same trees: required here, where
            // that Ray is installed (elsewhere the test skips and says why).
            run(cargo()
                .args(["test", "--release", "-p", "scheme-pack", "--test", "ray_differential"])
                .env("PYTHON", &ray_python)
                .env("SCHEME_PACK_REQUIRE_RAY", "1"))?;
        }
        timings.push(format!("Ray {} {:.0} s", release.version, started.elapsed().as_secs_f64()));
    }
    if !timings.is_empty() {
        println!("Ray tests: {}", timings.join(", "));
    }
    println!("all tests passed");
    Ok(())
}

/// The Ray release `pack/tests/ray_pack.py` packs with (its `packaging.py` is the reference).
const PACK_DIFFERENTIAL_RAY: &str = "2.60.0";

/// `--no-ray` and `--ray X.Y.Z`.
fn test_options(args: &[String]) -> Result<(bool, Option<String>)> {
    let mut no_ray = false;
    let mut only = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--no-ray" => no_ray = true,
            "--ray" => only = Some(rest.next().context("--ray needs a version, e.g. --ray 2.60.0")?.clone()),
            other => bail!("unknown option {other:?} for cargo xtask test (--no-ray, --ray X.Y.Z)"),
        }
    }
    if no_ray && only.is_some() {
        bail!("--no-ray and --ray exclude each other");
    }
    Ok((no_ray, only))
}
