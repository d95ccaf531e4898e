//! The main job on the embedded default: a local OBS-compatible server holds a sample job
//! package; `scheme-host` fetches `obs://ray-jobs/packages/demo-job.zip` through the
//! sandboxed OBS plugin exactly as a Ray node would, and the unpacked tree is shown.
//! Against real OBS only the environment changes (OBS_ENDPOINT and credentials).

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Instant;
use std::process::{Command, Stdio};

const AK: &str = "DEMOACCESSKEY0000001";
const SK: &str = "demoSecretKey000000000000000000000000001";
const URI: &str = "obs://ray-jobs/packages/demo-job.zip";

pub fn run(args: &[String]) -> Result<()> {
    let with_ray = match args {
        [] => true,
        [flag] if flag == "--no-ray" => false,
        _ => bail!("usage: cargo xtask demo [--no-ray]"),
    };
    let started = Instant::now();
    let dist = crate::dist()?;
    // Fails here, before the server starts, rather than after the CLI part.
    let python = if with_ray {
        let python = crate::prereq::venv_python()?;
        crate::prereq::ensure_ray(&python)?;
        Some(python)
    } else {
        None
    };
    let demo_started = Instant::now();
    let work = crate::util::target_dir().join("demo");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let package = work.join("demo-job.zip");
    std::fs::write(&package, sample_job()?)?;

    let server_bin = crate::util::target_dir().join("release/obs-server");
    let mut server = Command::new(&server_bin)
        .args(["--listen", "127.0.0.1:0", "--cred", &format!("{AK}:{SK}"), "--bucket", "ray-jobs", "--put"])
        .arg(format!("ray-jobs/packages/demo-job.zip={}", package.display()))
        .stdout(Stdio::piped())
        .stdin(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", server_bin.display()))?;
    let result = (|| -> Result<()> {
        let mut line = String::new();
        BufReader::new(server.stdout.take().unwrap()).read_line(&mut line)?;
        let ready: serde_json::Value = serde_json::from_str(&line).context("obs-server did not report its endpoint")?;
        let endpoint = ready["endpoint"].as_str().context("no endpoint")?.to_string();
        println!("\n1. OBS-compatible server on {endpoint}; bucket ray-jobs holds packages/demo-job.zip ({} bytes)", std::fs::metadata(&package)?.len());

        let host = dist.join("bin/scheme-host");
        let scheme_host = |cache: &str, args: &[&str]| {
            let mut c = Command::new(&host);
            c.args(args)
                .env("OBS_ENDPOINT", &endpoint)
                .env("OBS_ACCESS_KEY_ID", AK)
                .env("OBS_SECRET_ACCESS_KEY", SK)
                .env("SCHEME_HOST_CACHE_DIR", work.join(cache));
            c
        };
        // Its own cache, so the download below starts from none, as on a new node.
        let parsed = output_json(scheme_host("cache-parse-uri", &["parse-uri", URI, "--json"]))?;
        let name = parsed["package_name"].as_str().context("package_name")?;
        let dest = work.join("runtime_resources/working_dir_files").join(name.trim_end_matches(".zip"));
        let dest_s = dest.to_str().context("non-UTF-8 path")?;
        println!("   Ray's package name for {URI}: {name}");
        println!("\n$ scheme-host download-and-unpack {URI} {}", dest.display());
        let v = output_json(scheme_host("cache", &["download-and-unpack", URI, dest_s, "--json"]))?;
        println!(
            "2. cold, empty plugin cache (compiles the plugin, as a new node does): {} ms, of which plugin compile {} ms (load {} ms, plugin cache {}); {} files, {} bytes downloaded, {} bytes written",
            ms(&v, "total_ms"), v["plugin"]["compile_ms"], ms(&v, "load_ms"), v["plugin"]["cache"], v["files"], v["bytes_downloaded"], v["bytes_written"]
        );
        let v = output_json(scheme_host("cache", &["download-and-unpack", URI, dest_s, "--json", "--overwrite"]))?;
        println!(
            "3. warm, precompiled plugin, fresh download (--overwrite): {} ms (load {} / download {} / unpack {} / publish {}), plugin cache {}, {} parts",
            ms(&v, "total_ms"), ms(&v, "load_ms"), ms(&v, "download_ms"), ms(&v, "unpack_ms"), ms(&v, "publish_ms"), v["plugin"]["cache"], v["parts"]
        );
        let v = output_json(scheme_host("cache", &["download-and-unpack", URI, dest_s, "--json"]))?;
        println!("4. reused (the package is there, as Ray reuses it): {} ms, reused {}, {} bytes downloaded", ms(&v, "total_ms"), v["reused"], v["bytes_downloaded"]);
        println!("\n5. unpacked tree ({}):", dest.display());
        print_tree(&dest, &dest, 0, &mut 0)?;
        let missing = format!("{}-missing.zip", URI.trim_end_matches(".zip"));
        let out = scheme_host("cache", &["download-and-unpack", &missing, work.join("missing").to_str().unwrap(), "--json"]).output()?;
        let failure: serde_json::Value = serde_json::from_slice(&out.stdout).context("the failing call printed no JSON")?;
        if failure["ok"] != false || failure["error"]["store_code"] != "NoSuchKey" {
            bail!("a missing object should fail with NoSuchKey; scheme-host said {failure} (exit {})", out.status);
        }
        println!("\n6. a missing object fails with the store's code (exit {}): {}", out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).trim());
        println!("\nCLI part done in {:.1} s.", demo_started.elapsed().as_secs_f64());
        if let Some(python) = &python {
            ray_job(python, &dist, &endpoint)?;
        }
        Ok(())
    })();
    drop(server.stdin.take());
    let _ = server.kill();
    let _ = server.wait();
    result?;
    eprintln!("xtask: demo finished in {:.0} s ({:.0} s after the build)", started.elapsed().as_secs_f64(), demo_started.elapsed().as_secs_f64());
    Ok(())
}

/// 7. A real Ray job whose working_dir is the obs:// URI, on a one-node cluster the script
/// starts and stops itself (xtask/demo/ray_job.py).
fn ray_job(python: &Path, dist: &Path, endpoint: &str) -> Result<()> {
    let wheel = std::fs::read_dir(dist.join("python"))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .context("dist/python holds no wheel")?;
    let ws = crate::util::workspace();
    let status = Command::new(python)
        .arg(ws.join("xtask/demo/ray_job.py"))
        .args(["--uri", URI, "--wheel"])
        .arg(&wheel)
        // Credentials by environment, as an operator sets them for `ray start`; never argv.
        .env("OBS_ENDPOINT", endpoint)
        .env("OBS_ACCESS_KEY_ID", AK)
        .env("OBS_SECRET_ACCESS_KEY", SK)
        .status()
        .context("cannot run the Ray part of the demo")?;
    if !status.success() {
        bail!("the Ray job part of the demo failed ({status})");
    }
    Ok(())
}

fn ms(v: &serde_json::Value, field: &str) -> String {
    v["timings_ms"][field].to_string()
}

fn output_json(mut cmd: Command) -> Result<serde_json::Value> {
    let out = cmd.output()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("scheme-host printed no JSON; stderr: {}", String::from_utf8_lossy(&out.stderr)))?;
    if v["ok"] != true {
        bail!("scheme-host failed: {v}");
    }
    Ok(v)
}

fn print_tree(root: &Path, dir: &Path, depth: usize, shown: &mut usize) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if *shown >= 25 {
            return Ok(());
        }
        *shown += 1;
        let meta = e.metadata()?;
        let rel = e.path().strip_prefix(root)?.display().to_string();
        if meta.is_dir() {
            println!("  {}{}/", "  ".repeat(depth), e.file_name().to_string_lossy());
            print_tree(root, &e.path(), depth + 1, shown)?;
        } else {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            println!("  {}{}  ({} bytes, mode {mode:o})", "  ".repeat(depth), e.file_name().to_string_lossy(), meta.len());
            let _ = rel;
        }
    }
    Ok(())
}

/// The job's entry point: what the Ray part of the demo runs with `ray job submit`.
const MAIN_PY: &str = r#"import os

import ray

from job import model

ray.init()
source = ray.get_runtime_context().runtime_env.get("working_dir")
modules, weights = ray.get(model.train.remote())
print(f"demo-job: a Ray task imported {modules} modules and read {weights} bytes of weights; code from {source}, unpacked at {os.getcwd()}")
"#;

/// Runs in a Ray worker: it sees the unpacked package too (working_dir is per job).
const MODEL_PY: &str = r#"import importlib
import os

import ray

HERE = os.path.dirname(os.path.abspath(__file__))


@ray.remote
def train():
    names = sorted(n[:-3] for n in os.listdir(os.path.join(HERE, "gen")) if n.startswith("mod_") and n.endswith(".py"))
    total = sum(importlib.import_module(f"job.gen.{n}").VALUE for n in names)
    assert total == sum(range(len(names))), total
    weights = os.path.getsize(os.path.join(HERE, "..", "data", "weights.bin"))
    return len(names), weights
"#;

/// A small but realistic job: a package directory with modules, a script and data.
fn sample_job() -> Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().unix_permissions(0o644);
    let mut file = |name: &str, body: &[u8], mode: u32| -> Result<()> {
        w.start_file(format!("demo-job/{name}"), opts.unix_permissions(mode))?;
        w.write_all(body)?;
        Ok(())
    };
    file("main.py", MAIN_PY.as_bytes(), 0o644)?;
    file("job/__init__.py", b"", 0o644)?;
    file("job/gen/__init__.py", b"", 0o644)?;
    file("job/model.py", MODEL_PY.as_bytes(), 0o644)?;
    file("scripts/run.sh", b"#!/bin/sh\nexec python main.py \"$@\"\n", 0o755)?;
    for i in 0..200 {
        let body = format!("# generated module {i}\nVALUE = {i}\n\ndef f(x):\n    return x * {i}\n").repeat(20);
        file(&format!("job/gen/mod_{i:03}.py"), body.as_bytes(), 0o644)?;
    }
    let data: Vec<u8> = (0..4u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    file("data/weights.bin", &data, 0o644)?;
    Ok(w.finish()?.into_inner())
}
