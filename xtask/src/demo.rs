//! The main job on the embedded default: a local OBS-compatible server holds a sample job
//! package; `scheme-host` fetches `obs://ray-jobs/packages/demo-job.zip` through the
//! sandboxed OBS plugin exactly as a Ray node would, and the unpacked tree is shown.
//! Against real OBS only the environment changes (OBS_ENDPOINT and credentials).

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const AK: &str = "DEMOACCESSKEY0000001";
const SK: &str = "demoSecretKey000000000000000000000000001";
const URI: &str = "obs://ray-jobs/packages/demo-job.zip";

pub fn run() -> Result<()> {
    let dist = crate::dist()?;
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
        println!("\nOBS-compatible server on {endpoint}; bucket ray-jobs holds packages/demo-job.zip ({} bytes)", std::fs::metadata(&package)?.len());

        let host = dist.join("bin/scheme-host");
        let scheme_host = |args: &[&str]| {
            let mut c = Command::new(&host);
            c.args(args)
                .env("OBS_ENDPOINT", &endpoint)
                .env("OBS_ACCESS_KEY_ID", AK)
                .env("OBS_SECRET_ACCESS_KEY", SK)
                .env("SCHEME_HOST_CACHE_DIR", work.join("cache"));
            c
        };
        let parsed = output_json(scheme_host(&["parse-uri", URI, "--json"]))?;
        let name = parsed["package_name"].as_str().context("package_name")?;
        let dest = work.join("runtime_resources/working_dir_files").join(name.trim_end_matches(".zip"));
        println!("Ray package name for {URI}: {name}");
        println!("\n$ scheme-host download-and-unpack {URI} {}", dest.display());
        for round in ["cold (first call compiles the plugin)", "warm (package reused, as Ray does)"] {
            let v = output_json(scheme_host(&["download-and-unpack", URI, dest.to_str().unwrap(), "--json"]))?;
            let t = &v["timings_ms"];
            println!(
                "  {round}: {} files, {} bytes downloaded, {} bytes written, total {} ms (load {} / download {} / unpack {} / publish {}), plugin cache {}, reused {}",
                v["files"], v["bytes_downloaded"], v["bytes_written"], t["total_ms"], t["load_ms"], t["download_ms"], t["unpack_ms"], t["publish_ms"], v["plugin"]["cache"], v["reused"]
            );
        }
        let v = output_json(scheme_host(&["download-and-unpack", URI, dest.to_str().unwrap(), "--json", "--overwrite"]))?;
        println!("  warm, --overwrite (precompiled plugin, fresh download): total {} ms, plugin cache {}", v["timings_ms"]["total_ms"], v["plugin"]["cache"]);
        println!("\nunpacked tree ({}):", dest.display());
        print_tree(&dest, &dest, 0, &mut 0)?;
        let missing = format!("{}-missing.zip", URI.trim_end_matches(".zip"));
        let out = scheme_host(&["download-and-unpack", &missing, work.join("missing").to_str().unwrap(), "--json"]).output()?;
        println!("\nA missing object fails with the store's code: {}", String::from_utf8_lossy(&out.stdout).trim());
        Ok(())
    })();
    drop(server.stdin.take());
    let _ = server.kill();
    let _ = server.wait();
    result
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
    file("main.py", b"import ray\nfrom job import model\n\nray.init()\nprint(ray.get(model.train.remote()))\n", 0o644)?;
    file("job/__init__.py", b"", 0o644)?;
    file("job/model.py", b"import ray\n\n@ray.remote\ndef train():\n    return 'trained'\n", 0o644)?;
    file("scripts/run.sh", b"#!/bin/sh\nexec python main.py \"$@\"\n", 0o755)?;
    for i in 0..200 {
        let body = format!("# generated module {i}\nVALUE = {i}\n\ndef f(x):\n    return x * {i}\n").repeat(20);
        file(&format!("job/gen/mod_{i:03}.py"), body.as_bytes(), 0o644)?;
    }
    let data: Vec<u8> = (0..4u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    file("data/weights.bin", &data, 0o644)?;
    Ok(w.finish()?.into_inner())
}
