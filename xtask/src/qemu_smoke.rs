//! The aarch64 wheel's binary, run under qemu-user on this x86_64 machine: the wheel is laid
//! out as pip lays it out under an environment's prefix (`bin/scheme-host`,
//! `share/scheme-host/...`), so the binary finds the wheel's plugins and approvals by
//! itself, and then it fetches a job package through the OBS plugin from the local
//! OBS-compatible test server (the x86_64 `obs-server`, as `cargo xtask demo` runs it).
//!
//! Under emulation wasmtime's cranelift compiles the plugins to aarch64 code and qemu runs
//! that too, so this exercises the JIT, the sandbox, the network path and the unpacker of
//! the aarch64 build, only slower than a real Kunpeng node.

use crate::prereq::Aarch64Emulator;
use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const AK: &str = "SMOKEACCESSKEY000001";
const SK: &str = "smokeSecretKey00000000000000000000000001";
const BUCKET: &str = "ray-jobs";
const KEY: &str = "packages/aarch64-smoke.zip";
/// The package's single top-level directory, which Ray (and so the unpacker) strips.
const TOP: &str = "aarch64-smoke/";

pub fn run(wheel: &Path, emulator: &Aarch64Emulator, server_bin: &Path) -> Result<()> {
    let work = crate::util::target_dir().join("dist-aarch64-smoke");
    let _ = std::fs::remove_dir_all(&work);
    let prefix = work.join("prefix");
    let binary = install_layout(wheel, &prefix)?;
    // The operator's config on this machine (if any) must not decide what the wheel's
    // binary is granted: an empty one leaves the approvals shipped in the wheel.
    let config = work.join("config.toml");
    std::fs::write(&config, "")?;
    let host = |args: &[&str]| {
        let mut c = Command::new(&emulator.qemu);
        c.arg(&binary)
            .args(args)
            .env("QEMU_LD_PREFIX", &emulator.sysroot)
            .env("SCHEME_HOST_CONFIG", &config)
            .env("SCHEME_HOST_CACHE_DIR", work.join("cache"))
            .env_remove("SCHEME_HOST_PLUGIN_DIR")
            .env_remove("SCHEME_HOST_BIN");
        c
    };
    let plugin_dir = prefix.join("share/scheme-host/plugins");

    let show = |c: &Command| format!("QEMU_LD_PREFIX={} {}", emulator.sysroot.display(), describe(c));
    let cmd = host(&["--json", "schemes"]);
    println!("\n$ {}", show(&cmd));
    let (listing, secs) = json_ok(cmd)?;
    check_schemes(&listing, &plugin_dir)?;
    println!("   ok in {secs:.1} s (cold cache: both plugins compiled by cranelift to aarch64 code, under emulation)");
    let cmd = host(&["schemes"]);
    println!("$ {}", show(&cmd));
    let out = output(cmd)?;
    print!("{}", indent(&String::from_utf8_lossy(&out.stdout)));

    let package = work.join("aarch64-smoke.zip");
    let zip_bytes = sample_package()?;
    std::fs::write(&package, &zip_bytes)?;
    let mut server = Command::new(server_bin)
        .args(["--listen", "127.0.0.1:0", "--cred", &format!("{AK}:{SK}"), "--bucket", BUCKET, "--put"])
        .arg(format!("{BUCKET}/{KEY}={}", package.display()))
        .stdout(Stdio::piped())
        .stdin(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {} (set OBS_SERVER_BIN to the x86_64 obs-server)", server_bin.display()))?;
    let result = (|| -> Result<()> {
        let mut line = String::new();
        BufReader::new(server.stdout.take().context("obs-server stdout")?).read_line(&mut line)?;
        let ready: serde_json::Value = serde_json::from_str(&line).context("obs-server did not report its endpoint")?;
        let endpoint = ready["endpoint"].as_str().context("no endpoint in obs-server's first line")?.to_string();
        let uri = format!("obs://{BUCKET}/{KEY}");
        let dest = work.join("unpacked");
        let mut cmd = host(&["--json", "download-and-unpack", &uri, dest.to_str().context("non-UTF-8 path")?]);
        cmd.env("OBS_ENDPOINT", &endpoint).env("OBS_ACCESS_KEY_ID", AK).env("OBS_SECRET_ACCESS_KEY", SK);
        println!("\n$ OBS_ENDPOINT={endpoint} OBS_ACCESS_KEY_ID=... OBS_SECRET_ACCESS_KEY=... {}", show(&cmd));
        let (v, secs) = json_ok(cmd)?;
        let files = same_tree(&zip_bytes, &dest)?;
        println!(
            "   ok in {secs:.1} s: {} files, {} bytes downloaded, {} written (plugin cache {}, host-reported total {} ms); all {files} files match the package byte for byte, modes included",
            v["files"], v["bytes_downloaded"], v["bytes_written"], v["plugin"]["cache"], v["timings_ms"]["total_ms"]
        );
        if v["files"].as_u64() != Some(files as u64) {
            bail!("scheme-host reported {} files, the package holds {files}", v["files"]);
        }
        Ok(())
    })();
    drop(server.stdin.take());
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// Unpacks the wheel as an installer lays it out under a prefix: `<dist>.data/scripts/*`
/// into `bin/` (executable), `<dist>.data/data/*` into the prefix itself. The Python
/// package is not needed to run the binary and stays out. Returns `bin/scheme-host`.
fn install_layout(wheel: &Path, prefix: &Path) -> Result<PathBuf> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).with_context(|| format!("cannot open {}", wheel.display()))?)?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        let name = entry.enclosed_name().with_context(|| format!("{}: unsafe entry name {:?}", wheel.display(), entry.name().unwrap_or_default()))?;
        let mut parts = name.components();
        let Some(first) = parts.next() else { continue };
        if !first.as_os_str().to_string_lossy().ends_with(".data") || entry.is_dir() {
            continue;
        }
        let (dest, mode) = match parts.next().map(|c| c.as_os_str().to_string_lossy().into_owned()).as_deref() {
            Some("scripts") => (prefix.join("bin").join(parts.as_path()), 0o755),
            Some("data") => (prefix.join(parts.as_path()), 0o644),
            _ => continue,
        };
        std::fs::create_dir_all(dest.parent().context("entry without a parent")?)?;
        let mut body = Vec::new();
        entry.read_to_end(&mut body)?;
        std::fs::write(&dest, body).with_context(|| format!("cannot write {}", dest.display()))?;
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode))?;
    }
    let binary = prefix.join("bin/scheme-host");
    if !binary.is_file() {
        bail!("{} holds no .data/scripts/scheme-host", wheel.display());
    }
    Ok(binary)
}

/// Both shipped schemes, from the wheel's own plugin directory, approved by the wheel's
/// own approvals file, and nothing broken.
pub(crate) fn check_schemes(listing: &serde_json::Value, plugin_dir: &Path) -> Result<()> {
    let dir = listing["plugin_dir"].as_str().context("no plugin_dir in the listing")?;
    if Path::new(dir) != plugin_dir {
        bail!("the binary used plugin directory {dir}, not the wheel's {}", plugin_dir.display());
    }
    if listing["broken"].as_array().is_none_or(|b| !b.is_empty()) {
        bail!("broken plugins: {}", listing["broken"]);
    }
    let plugins = listing["plugins"].as_array().context("no plugins in the listing")?;
    for (_, scheme) in crate::SHIPPED_PLUGINS {
        let p = plugins
            .iter()
            .find(|p| p["schemes"].as_array().is_some_and(|s| s.iter().any(|s| s == scheme)))
            .with_context(|| format!("no plugin handles {scheme}://; listing: {listing}"))?;
        let path = p["path"].as_str().unwrap_or_default();
        if Path::new(path) != plugin_dir.join(format!("{scheme}.wasm")) {
            bail!("{scheme}:// is handled by {path}, not the wheel's plugin");
        }
        if p["approval"] != "approved" || p["withheld"].as_array().is_none_or(|w| !w.is_empty()) {
            bail!("the wheel's approvals did not apply to {scheme}: approval {}, withheld {}", p["approval"], p["withheld"]);
        }
    }
    Ok(())
}

/// Every file of the package against the unpacked tree (the top-level directory
/// stripped): same bytes, same executable bit. Returns the number of files.
fn same_tree(package: &[u8], dest: &Path) -> Result<usize> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(package))?;
    let mut files = 0;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name()?.into_owned();
        let rel = name.strip_prefix(TOP).with_context(|| format!("package entry {name} outside {TOP}"))?.to_string();
        let path = dest.join(&rel);
        let mut want = Vec::new();
        entry.read_to_end(&mut want)?;
        let got = std::fs::read(&path).with_context(|| format!("{rel} was not unpacked to {}", path.display()))?;
        if got != want {
            bail!("{rel}: unpacked {} bytes differ from the package's {}", got.len(), want.len());
        }
        let want_exec = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let got_exec = std::fs::metadata(&path)?.permissions().mode() & 0o111 != 0;
        if want_exec != got_exec {
            bail!("{rel}: executable bit {got_exec}, the package says {want_exec}");
        }
        files += 1;
    }
    Ok(files)
}

/// A small job package: compressible modules in nested directories (inflate runs), an
/// executable script and 1 MiB of pseudo-random, incompressible data (a real download).
fn sample_package() -> Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default();
    let mut file = |name: &str, body: &[u8], mode: u32| -> Result<()> {
        w.start_file(format!("{TOP}{name}"), opts.unix_permissions(mode))?;
        w.write_all(body)?;
        Ok(())
    };
    file("main.py", b"import job\nprint(job.VALUE)\n", 0o644)?;
    file("job/__init__.py", b"VALUE = 42\n", 0o644)?;
    for i in 0..40 {
        file(&format!("job/gen/mod_{i:02}.py"), format!("VALUE = {i}\n").repeat(50).as_bytes(), 0o644)?;
    }
    file("scripts/run.sh", b"#!/bin/sh\nexec python main.py \"$@\"\n", 0o755)?;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let data: Vec<u8> = (0..1 << 20)
        .map(|_| {
            // xorshift64: deflate finds nothing to shorten, so the zip stores 1 MiB.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    file("data/weights.bin", &data, 0o644)?;
    Ok(w.finish()?.into_inner())
}

/// Program and arguments only: the environment holds the (test) credentials.
pub(crate) fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
}

pub(crate) fn output(mut cmd: Command) -> Result<std::process::Output> {
    let out = cmd.output().with_context(|| format!("cannot start {}", describe(&cmd)))?;
    if !out.status.success() {
        bail!("{} failed ({}): {}{}", describe(&cmd), out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(out)
}

/// Runs a `--json` command; its JSON (which must say ok) and how long it took.
pub(crate) fn json_ok(cmd: Command) -> Result<(serde_json::Value, f64)> {
    let started = Instant::now();
    let out = output(cmd)?;
    let secs = started.elapsed().as_secs_f64();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| format!("no JSON on stdout; stderr: {}", String::from_utf8_lossy(&out.stderr)))?;
    if v["ok"] != true {
        bail!("scheme-host failed: {v}");
    }
    Ok((v, secs))
}

pub(crate) fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}\n")).collect()
}
