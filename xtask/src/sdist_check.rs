//! `cargo xtask sdist-check`: the sdist in `dist/python/` builds the shipped wheel from
//! source, as `pip install ray_scheme_host-<v>.tar.gz` does on a platform we ship no binary
//! for.
//!
//! In a fresh venv with the pinned build requirements, `pip wheel --no-deps <sdist>` builds
//! through maturin's PEP 517 backend, which runs cargo. The result is compared with the
//! shipped wheel of this machine's CPU entry by entry (`wheel_compare`): the same names,
//! the same bytes for everything but the compiled binary (and the lines that describe it).
//! The binary must still keep the shipped wheel's platform-tag promise (`wheel_tag`), and
//! after `pip install` into a second fresh venv it must list both shipped schemes from the
//! wheel's own plugins, approved by the wheel's own approvals, with no variable set.
//!
//! Not part of `cargo xtask test`: it compiles wasmtime once more, in its own target
//! directory (`target/sdist-check`, kept: later runs rebuild the workspace crates only).

use crate::{prereq, util, wheel_compare, wheel_tag};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const BINARY: &str = "scheme-host";
const DIST_NAME: &str = "ray_scheme_host";
/// The host's system config (host/src/config.rs), read when no variable names another.
const SYSTEM_CONFIG: &str = "/etc/scheme-host/config.toml";

pub fn run(args: &[String]) -> Result<()> {
    let explicit_sdist = match args {
        [] => None,
        [flag, file] if flag == "--sdist" => Some(std::path::PathBuf::from(file)),
        _ => bail!("usage: cargo xtask sdist-check [--sdist FILE]   (run `cargo xtask dist` first)\n  --sdist FILE   check this sdist instead of dist/python's, against dist/python's wheel of its version"),
    };
    // Checked before the long build: the installed binary would read this machine's
    // approvals too, and the check is that the wheel's own suffice.
    if Path::new(SYSTEM_CONFIG).exists() {
        bail!("{SYSTEM_CONFIG} exists: the installed binary would read this machine's approvals, not only the wheel's; run the check where it does not");
    }
    let started = Instant::now();
    let ws = util::workspace();
    let dist_python = ws.join("dist/python");
    let mut names: Vec<String> = std::fs::read_dir(&dist_python)
        .map(|rd| rd.flatten().filter_map(|e| e.file_name().to_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if let Some(file) = &explicit_sdist {
        let name = file.file_name().and_then(|n| n.to_str()).with_context(|| format!("{}: no UTF-8 file name", file.display()))?;
        names.retain(|n| !n.ends_with(".tar.gz"));
        names.push(name.to_string());
    }
    let (sdist_name, shipped_name) = pick(&names, std::env::consts::ARCH).with_context(|| format!("in {}: run `cargo xtask dist` first", dist_python.display()))?;
    let sdist = explicit_sdist.unwrap_or_else(|| dist_python.join(&sdist_name));
    let shipped = dist_python.join(&shipped_name);
    // The promise the shipped wheel makes, checked against its own binary first.
    let shipped_report = wheel_tag::verify(&shipped, BINARY)?;

    let work = tempfile::Builder::new().prefix("sdist-check-").tempdir().context("cannot create a temp dir")?;
    // A fresh venv's pip and setuptools are too old for this pyproject.toml: the pinned ones.
    let build_python = prereq::create_venv(&work.path().join("build-venv"))?;
    let build_reqs = ws.join("requirements/build.txt");
    prereq::pip_install(&build_python, std::slice::from_ref(&build_reqs), true)?;
    let out = work.path().join("wheel");
    let target = util::target_dir().join("sdist-check");
    let mut pip = Command::new(&build_python);
    // pip keeps a wheel it built from an sdist in its cache and would hand it back on a
    // rerun without building: --no-cache-dir.
    pip.args(["-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "--wheel-dir"])
        .arg(&out)
        .arg(&sdist)
        .env("CARGO_TARGET_DIR", &target)
        // pip installs the build backend into an isolated environment, as it does for a
        // user; the constraint makes that maturin the pinned one that built the shipped
        // wheel, so a difference is the sdist's and not a newer maturin's.
        .env("PIP_CONSTRAINT", &build_reqs);
    // The sdist carries no rust-toolchain.toml; the shipped wheel was built with this one.
    if let Some(toolchain) = prereq::active_toolchain() {
        pip.env("RUSTUP_TOOLCHAIN", toolchain);
    }
    let build_started = Instant::now();
    util::run(&mut pip)?;
    let build_secs = build_started.elapsed().as_secs_f64();
    let built = crate::wheels(&out);
    let [built] = built.as_slice() else {
        bail!("pip wrote {} wheels to {}, expected one", built.len(), out.display());
    };
    let built_name = built.file_name().and_then(|n| n.to_str()).context("non-UTF-8 wheel name")?.to_string();

    let results = wheel_compare::compare(&wheel_compare::read_wheel(&shipped)?, &wheel_compare::read_wheel(built)?, BINARY)?;

    let arch = std::env::consts::ARCH;
    let built_tag = source_build_tag(&built_name, arch)?;
    let (binary_entry, needs) = wheel_tag::binary_needs(built, BINARY)?;
    wheel_tag::check(&shipped_report.tags, &needs)
        .with_context(|| format!("{built_name}: the binary built from the sdist breaks the shipped wheel's tag"))?;

    let run_started = Instant::now();
    let run_python = prereq::create_venv(&work.path().join("run-venv"))?;
    util::run(Command::new(&run_python).args(["-m", "pip", "install", "--no-deps", "--quiet", "--disable-pip-version-check"]).arg(built))?;
    let venv = run_python.parent().and_then(Path::parent).context("venv python outside <venv>/bin")?.to_path_buf();
    let listing = installed_schemes(&venv, work.path())?;
    let run_secs = run_started.elapsed().as_secs_f64();

    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let show = |p: &Path| p.strip_prefix(&ws).unwrap_or(p).display().to_string();
    println!("\nsdist check");
    println!("  sdist           {:>10} bytes  {}", size(&sdist), show(&sdist));
    println!("  shipped wheel   {:>10} bytes  {}", size(&shipped), show(&shipped));
    println!("  built wheel     {:>10} bytes  {built_name}", size(built));
    println!("  built by `pip wheel` in {build_secs:.0} s (cargo target dir {})", show(&target));
    println!("  {} entries each, the same names:", results.len());
    for r in &results {
        let verdict = match (r.kind, r.identical) {
            (wheel_compare::Kind::Binary, _) => format!("binary: {} bytes shipped, {} built, bytes differ as expected (build paths)", r.shipped_size, r.built_size),
            (_, true) => format!("identical, sha256 {}", &r.sha256[..16]),
            (wheel_compare::Kind::Record, false) => "same but the lines of the binary, WHEEL and the SBOM".into(),
            (wheel_compare::Kind::WheelFile, false) => "same but the Tag line".into(),
            (wheel_compare::Kind::Sbom, false) => "same dependencies (serial number, timestamp, build directory differ)".into(),
            (wheel_compare::Kind::Exact, false) => unreachable!("compare() refuses a differing exact entry"),
        };
        println!("    {:<70} {verdict}", r.name);
    }
    let floor = needs.glibc_floor().map(|(a, b)| format!("glibc {a}.{b}")).unwrap_or_else(|| "no glibc version".into());
    let shipped_tags: Vec<&str> = shipped_report.tags.iter().map(|t| t.tag.as_str()).collect();
    println!(
        "  tag: the built wheel is {built_tag} (maturin's PEP 517 default for a build from source); its {binary_entry} needs {floor} at most and links {}: the shipped tag {} holds for it",
        needs.libraries.join(" "),
        shipped_tags.join(".")
    );
    println!("  installed into a fresh venv in {run_secs:.0} s; {}/bin/{BINARY} schemes:", venv.display());
    print!("{}", crate::qemu_smoke::indent(&listing));
    println!("sdist-check passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `<venv>/bin/scheme-host` as pip installed it, run with no scheme-host variable and an
/// empty home, so it must find the wheel's plugins and approvals by itself; both shipped
/// schemes checked (`--json schemes`), then the listing an operator sees.
fn installed_schemes(venv: &Path, work: &Path) -> Result<String> {
    let home = work.join("home");
    std::fs::create_dir_all(&home)?;
    let host = |args: &[&str]| {
        let mut c = Command::new(venv.join("bin").join(BINARY));
        c.args(args).env("HOME", &home);
        for var in ["SCHEME_HOST_PLUGIN_DIR", "SCHEME_HOST_CONFIG", "SCHEME_HOST_CACHE_DIR", "SCHEME_HOST_BIN", "XDG_CACHE_HOME"] {
            c.env_remove(var);
        }
        c
    };
    let (v, _) = crate::qemu_smoke::json_ok(host(&["--json", "schemes"]))?;
    crate::qemu_smoke::check_schemes(&v, &venv.join("share/scheme-host/plugins"))?;
    let out = crate::qemu_smoke::output(host(&["schemes"]))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The sdist and the shipped wheel for CPU `arch` among `dist/python`'s file names: one
/// sdist, and the one wheel of its version whose platform tags are for `arch`.
fn pick(names: &[String], arch: &str) -> Result<(String, String)> {
    let sdists: Vec<&String> = names.iter().filter(|n| n.starts_with(&format!("{DIST_NAME}-")) && n.ends_with(".tar.gz")).collect();
    let [sdist] = sdists.as_slice() else {
        bail!("expected one {DIST_NAME}-<version>.tar.gz, found {}", sdists.len());
    };
    let version = sdist.trim_start_matches(&format!("{DIST_NAME}-")).trim_end_matches(".tar.gz");
    let prefix = format!("{DIST_NAME}-{version}-");
    let wheels: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
        .filter(|n| wheel_tag::platform_tags(n).is_ok_and(|tags| tags.iter().all(|t| t.arch == arch)))
        .collect();
    let [wheel] = wheels.as_slice() else {
        bail!("expected one {prefix}*_{arch}.whl beside {sdist}, found {}", wheels.len());
    };
    Ok((sdist.to_string(), wheel.to_string()))
}

/// The platform tag of a wheel built from source on this machine: maturin's PEP 517 backend
/// passes `--compatibility off`, so it is `linux_<arch>` (installable here, not uploadable).
fn source_build_tag(wheel_file_name: &str, arch: &str) -> Result<String> {
    let stem = wheel_file_name.strip_suffix(".whl").with_context(|| format!("{wheel_file_name}: not a .whl file name"))?;
    let platform = stem.rsplit('-').next().unwrap_or_default();
    if platform != format!("linux_{arch}") {
        bail!("{wheel_file_name}: expected platform tag linux_{arch} from a build from source, found {platform}");
    }
    Ok(platform.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn picks_the_sdist_and_this_cpus_wheel() {
        let dir = names(&[
            "ray_scheme_host-0.1.0-py3-none-manylinux2014_aarch64.manylinux_2_17_aarch64.whl",
            "ray_scheme_host-0.1.0-py3-none-manylinux_2_34_x86_64.whl",
            "ray_scheme_host-0.1.0.tar.gz",
        ]);
        let (sdist, wheel) = pick(&dir, "x86_64").unwrap();
        assert_eq!(sdist, "ray_scheme_host-0.1.0.tar.gz");
        assert_eq!(wheel, "ray_scheme_host-0.1.0-py3-none-manylinux_2_34_x86_64.whl");
        let (_, wheel) = pick(&dir, "aarch64").unwrap();
        assert!(wheel.contains("aarch64"));
    }

    #[test]
    fn missing_or_mismatched_files_fail() {
        assert!(pick(&names(&["ray_scheme_host-0.1.0-py3-none-manylinux_2_34_x86_64.whl"]), "x86_64").is_err());
        assert!(pick(&names(&["ray_scheme_host-0.1.0.tar.gz"]), "x86_64").is_err());
        // A wheel of another version is not the sdist's.
        assert!(pick(&names(&["ray_scheme_host-0.2.0-py3-none-manylinux_2_34_x86_64.whl", "ray_scheme_host-0.1.0.tar.gz"]), "x86_64").is_err());
        assert!(pick(&names(&["ray_scheme_host-0.1.0.tar.gz", "ray_scheme_host-0.2.0.tar.gz"]), "x86_64").is_err());
    }

    #[test]
    fn a_build_from_source_is_tagged_for_this_machine() {
        assert_eq!(source_build_tag("ray_scheme_host-0.1.0-py3-none-linux_x86_64.whl", "x86_64").unwrap(), "linux_x86_64");
        assert!(source_build_tag("ray_scheme_host-0.1.0-py3-none-linux_aarch64.whl", "x86_64").is_err());
        assert!(source_build_tag("ray_scheme_host-0.1.0-py3-none-manylinux_2_34_x86_64.whl", "x86_64").is_err());
    }
}
