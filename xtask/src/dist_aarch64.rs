//! `cargo xtask dist-aarch64 [--no-build]`: the aarch64 wheel (Huawei Cloud's Kunpeng
//! nodes) beside the x86_64 one in `dist/python/`.
//!
//! maturin cross-builds `scheme-host` for aarch64-unknown-linux-gnu with zig as C compiler
//! and linker (`--zig`, zig from PyPI, pinned in requirements/cross.txt): zig links against
//! glibc 2.17 symbol stubs, so the wheel is manylinux2014, the oldest glibc with an aarch64
//! port, i.e. every aarch64 Linux with glibc. The tag maturin's auditwheel check gives is
//! then checked once more against the binary (`wheel_tag`), and the binary runs under
//! qemu-user against the local OBS-compatible server (`qemu_smoke`).
//!
//! Not part of `cargo xtask test`: the cross build compiles wasmtime a second time, for
//! another CPU (43 minutes measured on 2 shared cores at nice 19; later runs reuse it).

use crate::{prereq, util};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub const TARGET: &str = "aarch64-unknown-linux-gnu";
/// PEP 599's name for glibc 2.17; maturin hands the glibc version on to zig.
const COMPATIBILITY: &str = "manylinux2014";

pub fn run(args: &[String]) -> Result<()> {
    let build_x86_64 = match args {
        [] => true,
        [flag] if flag == "--no-build" => false,
        _ => bail!("usage: cargo xtask dist-aarch64 [--no-build]\n  --no-build   add to the dist/ an earlier `cargo xtask dist` left, without building it again"),
    };
    let started = Instant::now();
    // The plugins and their approvals are the x86_64 dist's (wasm is the same on every CPU;
    // the approvals name the plugin files' sha256), and so is the test server.
    let dist = if build_x86_64 { crate::dist()? } else { existing_dist()? };
    let server_bin = std::env::var_os("OBS_SERVER_BIN").map(PathBuf::from).unwrap_or_else(|| util::target_dir().join("release/obs-server"));
    if !server_bin.is_file() {
        bail!("the test server {} is not built: run `cargo xtask dist` (or without --no-build), or set OBS_SERVER_BIN", server_bin.display());
    }
    // Every prerequisite before the long build, so a missing one fails in seconds.
    prereq::ensure_target(TARGET, "the aarch64 wheel's binary is built for it")?;
    let python = prereq::cross_venv_python()?;
    let emulator = prereq::aarch64_emulator()?;

    crate::stage_python_sources(&dist)?;
    let out = dist.join("python");
    for old in crate::wheels(&out).into_iter().filter(|w| is_aarch64_wheel(w)) {
        std::fs::remove_file(&old).with_context(|| format!("cannot remove the earlier {}", old.display()))?;
    }
    let build_started = Instant::now();
    util::run(
        Command::new(&python)
            .current_dir(util::workspace().join("host/python"))
            .args(["-m", "maturin", "build", "--release", "--target", TARGET, "--zig", "--compatibility", COMPATIBILITY])
            // Fail rather than repair: a wheel that needed bundled libraries would not be
            // the one we smoke-test and describe.
            .args(["--auditwheel", "check", "--out"])
            .arg(&out)
            // cargo-zigbuild runs `python3 -m ziglang` from PATH unless told which Python
            // has it; ours is in the venv.
            .env("CARGO_ZIGBUILD_PYTHON_PATH", &python),
    )?;
    let build_secs = build_started.elapsed().as_secs_f64();
    let wheel = crate::wheels(&out).into_iter().find(|w| is_aarch64_wheel(w)).with_context(|| format!("maturin wrote no aarch64 wheel to {}", out.display()))?;

    println!("\nplatform tags checked against the binaries:");
    for w in crate::wheels(&out) {
        println!("  {}", crate::wheel_tag::verify(&w, "scheme-host")?);
    }

    let smoke_started = Instant::now();
    println!("\nsmoke test of the aarch64 wheel under {}:", emulator.qemu.display());
    crate::qemu_smoke::run(&wheel, &emulator, &server_bin)?;
    let smoke_secs = smoke_started.elapsed().as_secs_f64();

    println!("\nwheels:");
    for w in crate::wheels(&out) {
        println!("  {:>12} bytes  {}", std::fs::metadata(&w)?.len(), w.strip_prefix(util::workspace()).unwrap_or(&w).display());
    }
    println!(
        "dist-aarch64 done in {:.0} s: aarch64 wheel built in {build_secs:.0} s, smoke test {smoke_secs:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn is_aarch64_wheel(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with("_aarch64.whl"))
}

/// The `dist/` an earlier `cargo xtask dist` assembled, checked to hold what the wheel
/// ships besides the binary.
fn existing_dist() -> Result<PathBuf> {
    let dist = util::workspace().join("dist");
    let share = dist.join("share/scheme-host");
    let needed = crate::SHIPPED_PLUGINS
        .iter()
        .map(|(_, scheme)| share.join(format!("plugins/{scheme}.wasm")))
        .chain([share.join("approvals.toml")]);
    for file in needed {
        if !file.is_file() {
            bail!("--no-build needs the dist/ of an earlier `cargo xtask dist`, and {} is missing: run `cargo xtask dist` first", file.display());
        }
    }
    Ok(dist)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_aarch64_wheels_are_replaced() {
        assert!(is_aarch64_wheel(Path::new("dist/python/ray_scheme_host-0.1.0-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl")));
        assert!(!is_aarch64_wheel(Path::new("dist/python/ray_scheme_host-0.1.0-py3-none-manylinux_2_34_x86_64.whl")));
        assert!(!is_aarch64_wheel(Path::new("dist/python/ray_scheme_host-0.1.0.tar.gz")));
    }
}
