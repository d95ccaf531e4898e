//! Prerequisites every xtask command makes sure of itself, each time it needs them: a fresh
//! machine has only rustup's toolchain and a system Python, and no command may depend on
//! what an earlier one happened to install.

use crate::ray_versions::RayRelease;
use crate::util::{run, workspace};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const WASM_TARGET: &str = "wasm32-wasip2";

/// The `wasm32-wasip2` standard library for the toolchain cargo runs with.
pub fn ensure_wasm_target() -> Result<()> {
    ensure_target(WASM_TARGET, "plugins are built for it")
}

/// The standard library of Rust target `target` for the toolchain cargo runs with.
///
/// rustup installs the targets that `rust-toolchain.toml` lists only when it installs the
/// toolchain itself; a pre-installed or linked toolchain, or one on a machine with
/// automatic installs turned off, never gets them. So this asks the compiler where its
/// sysroot is and adds the target when its library is not there.
pub fn ensure_target(target: &str, why: &str) -> Result<()> {
    let sysroot = rustc_sysroot()?;
    if has_target(&sysroot, target) {
        return Ok(());
    }
    let toolchain = active_toolchain();
    let Some(toolchain) = toolchain else {
        bail!(
            "the {target} target is not installed for the Rust toolchain at {} and rustup is not available to add it.\n\
             Install it with the tool that installed this toolchain, or install rustup and run:\n  rustup target add {target}",
            sysroot.display()
        );
    };
    eprintln!("xtask: adding the {target} target to toolchain {toolchain} ({why})");
    run(Command::new("rustup").args(["target", "add", target, "--toolchain", &toolchain]))
        .with_context(|| format!("could not add the target; run it yourself: rustup target add {target} --toolchain {toolchain}"))?;
    if !has_target(&rustc_sysroot()?, target) {
        bail!("rustup reported success but {} still has no {target} library; run: rustup target add {target} --toolchain {toolchain}", sysroot.display());
    }
    Ok(())
}

fn rustc_sysroot() -> Result<PathBuf> {
    // Inside `cargo xtask`, the rustup proxy has set RUSTUP_TOOLCHAIN, so this is the
    // same rustc that cargo uses for the workspace.
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .current_dir(workspace())
        .args(["--print", "sysroot"])
        .output()
        .with_context(|| format!("cannot run {rustc}"))?;
    if !out.status.success() {
        bail!("{rustc} --print sysroot failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()))
}

fn has_target(sysroot: &Path, target: &str) -> bool {
    let lib = sysroot.join("lib/rustlib").join(target).join("lib");
    std::fs::read_dir(&lib)
        .map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with("libstd-")))
        .unwrap_or(false)
}

/// The toolchain rustup resolves for this workspace, or None without rustup.
pub(crate) fn active_toolchain() -> Option<String> {
    if let Ok(name) = std::env::var("RUSTUP_TOOLCHAIN") {
        if !name.is_empty() {
            return Some(name);
        }
    }
    let out = Command::new("rustup").current_dir(workspace()).args(["show", "active-toolchain"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    // "1.95.0-x86_64-unknown-linux-gnu (overridden by '.../rust-toolchain.toml')"
    String::from_utf8(out.stdout).ok()?.split_whitespace().next().map(str::to_string)
}

/// The project's venv (`.venv`) with the pinned build requirements installed in it.
pub fn venv_python() -> Result<PathBuf> {
    let ws = workspace();
    let python = create_venv(&ws.join(".venv"))?;
    pip_install(&python, &[ws.join("requirements/build.txt")], true)?;
    Ok(python)
}

/// The project's venv with the cross-compilation requirements (zig, for `maturin --zig`)
/// installed too. Only `dist-aarch64` asks for them: 339 MB installed that no other command needs.
pub fn cross_venv_python() -> Result<PathBuf> {
    let python = venv_python()?;
    pip_install(&python, &[workspace().join("requirements/cross.txt")], true)?;
    Ok(python)
}

/// Where Debian's `libc6-arm64-cross` puts the aarch64 glibc and dynamic loader, the prefix
/// qemu-user resolves an aarch64 binary's libraries under.
pub const AARCH64_SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// The Debian packages that run an aarch64 glibc binary on another CPU: the user-mode
/// emulator (the static build: it pulls in no host libraries) and the aarch64 glibc the
/// binary is linked against. No libgcc_s: zig links its own unwinder in statically.
const AARCH64_EMULATION_PACKAGES: &[&str] = &["qemu-user-static", "libc6-arm64-cross"];

/// qemu-user for aarch64 and the sysroot it loads the binary's libraries from.
pub struct Aarch64Emulator {
    pub qemu: PathBuf,
    pub sysroot: PathBuf,
}

/// The aarch64 emulator, installed with apt-get when it or the sysroot is missing.
pub fn aarch64_emulator() -> Result<Aarch64Emulator> {
    let find = || -> Option<Aarch64Emulator> {
        let qemu = on_path("qemu-aarch64-static").or_else(|| on_path("qemu-aarch64"))?;
        let sysroot = PathBuf::from(AARCH64_SYSROOT);
        let complete = ["lib/ld-linux-aarch64.so.1", "lib/libc.so.6"].iter().all(|f| sysroot.join(f).exists());
        complete.then_some(Aarch64Emulator { qemu, sysroot })
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    apt_install(AARCH64_EMULATION_PACKAGES, "to run the aarch64 scheme-host under qemu-user")?;
    find().with_context(|| format!("apt-get installed {} but qemu-aarch64 or {AARCH64_SYSROOT}/lib is still missing", AARCH64_EMULATION_PACKAGES.join(" ")))
}

/// Installs Debian packages (the machines this project runs on are Debian, as root).
fn apt_install(packages: &[&str], why: &str) -> Result<()> {
    let manual = format!("apt-get update && apt-get install -y --no-install-recommends {}", packages.join(" "));
    if on_path("apt-get").is_none() {
        bail!("{} are needed {why}, and this system has no apt-get to install them; install their equivalents, or on Debian/Ubuntu run as root:\n  {manual}", packages.join(", "));
    }
    eprintln!("xtask: installing {} with apt-get ({why})", packages.join(" "));
    let apt = |args: &[&str]| {
        let mut c = Command::new("apt-get");
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    // A fresh machine has no package lists yet, and old lists name versions the mirror
    // no longer has.
    run(&mut apt(&["update", "-qq"])).with_context(|| format!("apt-get update failed (installing needs root); run it yourself:\n  {manual}"))?;
    let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(packages);
    run(&mut install).with_context(|| format!("apt-get install failed (installing needs root); run it yourself:\n  {manual}"))
}

/// The first `name` on PATH that is a file.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// A venv at `venv` made by `$PYTHON` (default `python3`) unless it exists; its python.
pub(crate) fn create_venv(venv: &Path) -> Result<PathBuf> {
    let python = venv.join("bin/python");
    if !python.is_file() {
        let base = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        check_python(&base)?;
        eprintln!("xtask: creating {} with {base}", venv.display());
        run(Command::new(&base).args(["-m", "venv"]).arg(venv))
            .context("cannot create the venv; on Debian/Ubuntu install python3-venv, or set PYTHON to a Python 3.9+ with venv")?;
    }
    Ok(python)
}

/// The version of distribution `name` installed for `python`, if any.
fn installed_version(python: &Path, name: &str) -> Option<String> {
    Command::new(python)
        .args(["-c", &format!("import importlib.metadata as m; print(m.version({name:?}))")])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// The venv the real-Ray suite runs in for one release (`.venv-ray-<major>.<minor>`): that
/// Ray, installed on first use or when the list names another patch release, and the
/// suite's own requirements. pip's cache is shared, so only Ray's own wheel is new per venv.
pub fn ray_venv(release: &RayRelease) -> Result<PathBuf> {
    let ws = workspace();
    let venv = ws.join(release.venv_dir_name());
    let python = create_venv(&venv)?;
    // Out of git's sight without a repository-wide rule, as Python 3.13's venv does itself.
    let ignore = venv.join(".gitignore");
    if !ignore.is_file() {
        std::fs::write(&ignore, "*\n").with_context(|| format!("cannot write {}", ignore.display()))?;
    }
    let suite = ws.join("tests/ray/requirements.txt");
    let have = installed_version(&python, "ray");
    if have.as_deref() == Some(release.version.as_str()) {
        pip_install(&python, &[suite], true)?;
        return Ok(python);
    }
    eprintln!(
        "xtask: installing Ray {} into {} ({}; first use only, about 1 to 2 minutes)",
        release.version,
        venv.display(),
        have.map(|v| format!("found {v}")).unwrap_or_else(|| "not installed".into())
    );
    let started = std::time::Instant::now();
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "on"]).arg(release.requirement()).arg("-r").arg(&suite);
    run(&mut pip)?;
    eprintln!("xtask: Ray {} installed in {:.0} s", release.version, started.elapsed().as_secs_f64());
    Ok(python)
}

/// Ray, installed into the venv on first use (a large download, so it says so first).
pub fn ensure_ray(python: &Path) -> Result<()> {
    let reqs = workspace().join("requirements/ray.txt");
    let wanted = pinned(&reqs, "ray")?;
    let have = installed_version(python, "ray");
    if have.as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    eprintln!(
        "xtask: installing Ray {wanted} into .venv ({}; first use only, about 1 to 3 minutes)",
        have.map(|v| format!("found {v}")).unwrap_or_else(|| "not installed".into())
    );
    let started = std::time::Instant::now();
    pip_install(python, &[reqs], false)?;
    eprintln!("xtask: Ray {wanted} installed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

pub fn pip_install(python: &Path, requirements: &[PathBuf], quiet: bool) -> Result<()> {
    let mut pip = Command::new(python);
    pip.args(["-m", "pip", "install", "--disable-pip-version-check"]);
    if quiet {
        pip.arg("--quiet");
    } else {
        pip.args(["--progress-bar", "on"]);
    }
    for r in requirements {
        pip.arg("-r").arg(r);
    }
    run(&mut pip)
}

/// The version `name==X` pins in a requirements file.
fn pinned(requirements: &Path, name: &str) -> Result<String> {
    let text = std::fs::read_to_string(requirements).with_context(|| format!("cannot read {}", requirements.display()))?;
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find_map(|l| {
            let (pkg, version) = l.split_once("==")?;
            let pkg = pkg.split('[').next()?.trim();
            (pkg == name).then(|| version.trim().to_string())
        })
        .with_context(|| format!("{} pins no {name}==VERSION", requirements.display()))
}

fn check_python(base: &str) -> Result<()> {
    let out = Command::new(base)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .with_context(|| format!("cannot run {base}: install Python 3.9 or newer (3.11 is tested), or set PYTHON to one"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (major, minor) = version.split_once('.').and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?))).unwrap_or((0, 0));
    if (major, minor) < (3, 9) {
        bail!("{base} is Python {version}; the Ray integration needs 3.9 or newer (3.11 is tested): set PYTHON to one");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_reads_the_version_with_extras_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("r.txt");
        std::fs::write(&f, "# c\nray[default]==2.60.0  # tested\npytest==8\n").unwrap();
        assert_eq!(pinned(&f, "ray").unwrap(), "2.60.0");
        assert_eq!(pinned(&f, "pytest").unwrap(), "8");
        assert!(pinned(&f, "numpy").is_err());
    }

    #[test]
    fn shipped_ray_requirement_is_the_newest_tested_release() {
        let v = pinned(&workspace().join("requirements/ray.txt"), "ray").unwrap();
        let tested = crate::ray_versions::read(&workspace()).unwrap();
        assert_eq!(Some(&v), tested.last().map(|r| &r.version), "requirements/ray.txt and the last line of {}", crate::ray_versions::LIST);
    }
}
