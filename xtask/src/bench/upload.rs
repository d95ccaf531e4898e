//! The upload table: the way up. Each corpus's tree is packed and put into OBS side by side,
//! round after round:
//!
//! - `pack-and-upload`: `scheme-host pack-and-upload TREE obs://bench/upload/<corpus>/r<N>/`
//!   (warm, precompiled plugin), a fresh prefix every round so it really uploads; then the same
//!   command again at once (`pack-and-upload-again`): the package is already there under its
//!   content-addressed name, so it only packs the plan, hashes and asks (`uploaded: false`).
//! - `zip-sdk`: what users do today: `zipfile` over `os.walk` into a temporary file, then the
//!   official OBS SDK's `uploadFile` with its defaults (`bench/upload_path.py`).
//! - `ray-pack`: Ray 2.60's own client side of `ray job submit --working-dir` (hash, package,
//!   the zip read as the request body), without a cluster: nothing is sent.
//!
//! The trees are the corpora's zips unpacked once onto the output directory (tmpfs). Every
//! round gets its own `obs-server`, so uploaded objects do not pile up in its memory, and its
//! own temporary directory (TMPDIR of the Python rows) on the same tmpfs. Every sample is
//! checked: the file count against the corpus, and the uploaded object's size on the server.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::corpus::Corpus;
use super::measure;
use super::{Setup, BUCKET};

#[derive(Debug, Clone, Copy)]
pub struct UploadTool {
    pub id: &'static str,
    pub label: &'static str,
}

/// The rows, in table order. `pack-and-upload-again` runs right after `pack-and-upload`, on
/// what that one uploaded, so `--tools` names the pair by the first id.
pub const TOOLS: &[UploadTool] = &[
    UploadTool { id: "pack-and-upload", label: "scheme-host pack-and-upload, first upload (warm)" },
    UploadTool { id: "pack-and-upload-again", label: "scheme-host pack-and-upload, already there (content-addressed no-op)" },
    UploadTool { id: "zip-sdk", label: "Python zipfile (deflate) + OBS SDK uploadFile (defaults)" },
    UploadTool { id: "ray-pack", label: "Ray 2.60 client packing for `ray job submit` (no upload)" },
];

/// The ids `--tools` accepts for this table.
pub const SELECTABLE: &[&str] = &["pack-and-upload", "zip-sdk", "ray-pack"];

/// The row every other is compared with: what users do today.
pub const REFERENCE: &str = "zip-sdk";

/// One measured run of one row on one corpus.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Process start to exit.
    pub wall_s: f64,
    /// The work alone: scheme-host's own `total_ms`, or the Python call without interpreter
    /// start and imports.
    pub call_s: f64,
    pub cpu_s: f64,
    pub maxrss_kib: u64,
    /// RSS of a Python row before its call (interpreter and imports).
    pub rss_before_kib: Option<u64>,
    /// The package's size.
    pub package_bytes: u64,
    /// What went to the store: the package, or nothing (no-op, Ray without a cluster).
    pub sent_bytes: u64,
    pub reported: Value,
}

/// What the table runs: which rows, on which trees, with which Pythons.
pub struct Plan {
    pub corpora: Vec<Corpus>,
    pub pack: bool,
    /// Python with the OBS SDK (`zip-sdk`).
    pub sdk_python: Option<PathBuf>,
    /// Python with Ray 2.60 (`ray-pack`).
    pub ray_python: Option<PathBuf>,
}

impl Plan {
    pub fn tools(&self) -> Vec<&'static str> {
        let mut t = Vec::new();
        if self.pack {
            t.extend(["pack-and-upload", "pack-and-upload-again"]);
        }
        if self.sdk_python.is_some() {
            t.push("zip-sdk");
        }
        if self.ray_python.is_some() {
            t.push("ray-pack");
        }
        t
    }
}

/// The corpora whose trees differ: `L-stored` holds the same files as `L`, so it runs only
/// when `L` does not.
pub fn distinct_trees(corpora: &[Corpus]) -> Vec<Corpus> {
    let has_l = corpora.iter().any(|c| c.id == "L");
    corpora.iter().filter(|c| !(c.id == "L-stored" && has_l)).cloned().collect()
}

/// The Python that runs the user's script: one that imports the OBS SDK (`.venv`, where
/// `cargo xtask test` installs it, or the bench's own), else the bench's with the SDK
/// installed from `bench/requirements-upload.txt`.
pub fn find_sdk_python(ws: &Path, bench_python: Option<&Path>) -> Option<PathBuf> {
    const CHECK: &str = "import obs";
    let venv = ws.join(".venv/bin/python");
    let candidates = [venv.is_file().then_some(venv.as_path()), bench_python];
    if let Some(p) = candidates.into_iter().flatten().find(|p| super::python_imports(p, CHECK)) {
        return Some(p.to_path_buf());
    }
    let python = bench_python?;
    eprintln!("bench: installing the OBS SDK (bench/requirements-upload.txt) into {}", python.display());
    if let Err(e) = crate::prereq::pip_install(python, &[ws.join("bench/requirements-upload.txt")], true) {
        eprintln!("bench: {e:#}");
        return None;
    }
    super::python_imports(python, CHECK).then(|| python.to_path_buf())
}

/// Ray's client for `ray job submit`, which only `ray[default]` installs.
pub fn ray_client_importable(python: &Path) -> bool {
    super::python_imports(python, "import ray.dashboard.modules.job.sdk")
}

/// Unpacks each corpus once under `out/upload-src/<id>/` and returns its one top-level
/// directory, the working_dir every row packs; checks it holds the corpus's files. The bench's
/// native unpacker does it in its own process: a child's peak RSS as the kernel reports it
/// starts from this process's peak, which an in-process unzip of 500 MB would raise for every
/// row measured after it.
pub fn prepare_trees(setup: &Setup, corpora: &[Corpus], out: &Path) -> Result<Vec<PathBuf>> {
    corpora
        .iter()
        .map(|c| {
            let root = out.join("upload-src").join(c.id);
            let _ = std::fs::remove_dir_all(&root);
            let mut unpack = Command::new(&setup.native_bin);
            unpack.arg("unpack").arg(&c.zip).arg(&root);
            measure::run(&mut unpack).with_context(|| format!("unpacking corpus {} into {}", c.id, root.display()))?;
            let mut tops = std::fs::read_dir(&root)?.collect::<std::io::Result<Vec<_>>>()?;
            let (Some(top), true) = (tops.pop(), tops.is_empty()) else { bail!("corpus {} has no single top-level directory", c.id) };
            let files = count_files(&top.path())?;
            if files != c.files {
                bail!("corpus {} unpacked into {} files, expected {}", c.id, files, c.files);
            }
            Ok(top.path())
        })
        .collect()
}

fn count_files(dir: &Path) -> Result<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        n += if e.file_type()?.is_dir() { count_files(&e.path())? } else { 1 };
    }
    Ok(n)
}

/// Whether the plugin can upload at all: a release built before the upload side answers
/// `unsupported`, and the scheme-host rows are left out with a message instead.
pub fn pack_supported(setup: &Setup, server_bin: &Path, out: &Path) -> Result<bool> {
    let dir = out.join("upload-probe");
    let tree = dir.join("probe");
    std::fs::create_dir_all(&tree)?;
    std::fs::write(tree.join("main.py"), "print('probe')\n")?;
    let result = with_server(setup, server_bin, |s| {
        let out = pack_command(s, &tree, &format!("obs://{BUCKET}/upload/probe/")).output().context("cannot run scheme-host pack-and-upload")?;
        let v = serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null);
        if out.status.success() && v["ok"] == true {
            return Ok(true);
        }
        if v["error"]["kind"] == "unsupported" {
            eprintln!("bench: skipping pack-and-upload: the obs plugin has no upload ({}); build it with the upload side", v["error"]["message"].as_str().unwrap_or(""));
            return Ok(false);
        }
        bail!("scheme-host pack-and-upload failed on a one-file tree: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    std::fs::remove_dir_all(&dir)?;
    result
}

/// Runs `f` against a fresh, empty `obs-server`, stopped afterwards.
fn with_server<T>(setup: &Setup, server_bin: &Path, f: impl FnOnce(&Setup) -> Result<T>) -> Result<T> {
    let mut server = super::start_server_with(server_bin, &[], &[])?;
    let result = super::read_endpoint(&mut server).and_then(|endpoint| f(&Setup { endpoint, ..setup.clone() }));
    drop(server.stdin.take());
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// Every round: a fresh server, then each row once on each corpus, in an order rotated per
/// round so drift in the machine's load spreads evenly.
pub fn run(setup: &Setup, server_bin: &Path, plan: &Plan, trees: &[PathBuf], runs: usize, out: &Path) -> Result<Vec<(String, String, Sample)>> {
    // The no-op row rides with the first upload, so it is not a unit of its own.
    let units: Vec<&'static str> = plan.tools().into_iter().filter(|t| *t != "pack-and-upload-again").collect();
    let mut samples = Vec::new();
    for r in 0..runs {
        for (c, tree) in plan.corpora.iter().zip(trees) {
            let round = out.join(format!("upload-{}-{r}", c.id));
            let _ = std::fs::remove_dir_all(&round);
            std::fs::create_dir_all(&round)?;
            with_server(setup, server_bin, |s| {
                for k in 0..units.len() {
                    let unit = units[(k + r) % units.len()];
                    let measured: Vec<(&str, Sample)> = match unit {
                        "pack-and-upload" => {
                            let prefix = format!("obs://{BUCKET}/upload/{}/r{r}/", c.id);
                            let first = pack_and_upload(s, c, tree, &prefix, true)?;
                            let again = pack_and_upload(s, c, tree, &prefix, false)?;
                            if again.reported["uri"] != first.reported["uri"] {
                                bail!("the second pack-and-upload named another package: {} then {}", first.reported["uri"], again.reported["uri"]);
                            }
                            vec![("pack-and-upload", first), ("pack-and-upload-again", again)]
                        }
                        "zip-sdk" => vec![("zip-sdk", zip_sdk(s, plan.sdk_python.as_deref().expect("tools() checked it"), c, tree, r, &round)?)],
                        "ray-pack" => vec![("ray-pack", ray_pack(plan.ray_python.as_deref().expect("tools() checked it"), c, tree, &round)?)],
                        other => bail!("no runner for upload row {other}"),
                    };
                    for (id, sample) in measured {
                        eprintln!(
                            "bench: upload run {}/{runs} {:>8} {:<22} {:>8.3}s  rss {:>7.1} MiB  sent {:>6.1} MB",
                            r + 1,
                            c.id,
                            id,
                            sample.wall_s,
                            sample.maxrss_kib as f64 / 1024.0,
                            sample.sent_bytes as f64 / 1e6
                        );
                        samples.push((c.id.to_string(), id.to_string(), sample));
                    }
                }
                Ok(())
            })
            .with_context(|| format!("upload table, corpus {}, run {}", c.id, r + 1))?;
            std::fs::remove_dir_all(&round)?;
        }
    }
    Ok(samples)
}

fn pack_command(s: &Setup, tree: &Path, prefix: &str) -> Command {
    let mut cmd = Command::new(&s.host_bin);
    cmd.arg("pack-and-upload").arg(tree).arg(prefix).arg("--json");
    super::host_env(s, super::Scheme::Obs, &mut cmd);
    cmd.stdin(Stdio::null());
    cmd
}

fn pack_and_upload(s: &Setup, c: &Corpus, tree: &Path, prefix: &str, first: bool) -> Result<Sample> {
    let sample = measure::run(&mut pack_command(s, tree, prefix))?;
    let v = measure::json_line(&sample)?;
    let (package_bytes, uploaded) = check_pack_report(&v, c.files, prefix)?;
    if uploaded != first {
        bail!("pack-and-upload reported uploaded: {uploaded} on the {} call to a fresh prefix: {v}", if first { "first" } else { "second" });
    }
    if first {
        let key = v["uri"].as_str().and_then(|u| u.strip_prefix(&format!("obs://{BUCKET}/"))).context("no uri")?;
        check_stored(&s.endpoint, key, package_bytes)?;
    }
    let call_s = v["timings_ms"]["total_ms"].as_f64().context("no timings_ms.total_ms in pack-and-upload's output")? / 1000.0;
    Ok(Sample {
        wall_s: sample.wall_s,
        call_s,
        cpu_s: sample.cpu_s,
        maxrss_kib: sample.maxrss_kib,
        rss_before_kib: None,
        package_bytes,
        sent_bytes: if uploaded { package_bytes } else { 0 },
        reported: v,
    })
}

/// The package's size and whether it was sent, from `pack-and-upload --json`, after checking
/// it packed every file of the corpus under the prefix it was given.
pub fn check_pack_report(v: &Value, files: u64, prefix: &str) -> Result<(u64, bool)> {
    if v["ok"] != true {
        bail!("pack-and-upload failed: {v}");
    }
    if v["files"].as_u64() != Some(files) {
        bail!("pack-and-upload packed {} files, the corpus has {files}: {v}", v["files"]);
    }
    let uri = v["uri"].as_str().context("no uri in pack-and-upload's output")?;
    let name = uri.strip_prefix(prefix).with_context(|| format!("package {uri} is not under {prefix}"))?;
    if !(name.starts_with("_ray_pkg_") && name.ends_with(".zip") && !name.contains('/')) {
        bail!("package {uri} is not named _ray_pkg_<hash>.zip");
    }
    let bytes = v["bytes"].as_u64().filter(|&b| b > 0).context("no package size (bytes) in pack-and-upload's output")?;
    let uploaded = v["uploaded"].as_bool().context("no uploaded flag in pack-and-upload's output")?;
    Ok((bytes, uploaded))
}

fn zip_sdk(s: &Setup, python: &Path, c: &Corpus, tree: &Path, r: usize, round: &Path) -> Result<Sample> {
    let top = tree.file_name().and_then(|n| n.to_str()).context("tree without a name")?;
    let key = format!("upload/{}/r{r}/zip-sdk/{top}.zip", c.id);
    let mut cmd = Command::new(python);
    cmd.arg(crate::util::workspace().join("bench/upload_path.py"))
        .args(["--impl", "zip-sdk", "--endpoint", &s.endpoint, "--bucket", BUCKET, "--key", &key])
        .arg("--dir")
        .arg(tree)
        .env("OBS_ACCESS_KEY_ID", super::AK)
        .env("OBS_SECRET_ACCESS_KEY", super::SK)
        .env("TMPDIR", round);
    let sample = python_row(&mut cmd, c)?;
    check_stored(&s.endpoint, &key, sample.package_bytes)?;
    Ok(Sample { sent_bytes: sample.package_bytes, ..sample })
}

fn ray_pack(python: &Path, c: &Corpus, tree: &Path, round: &Path) -> Result<Sample> {
    let mut cmd = Command::new(python);
    cmd.arg(crate::util::workspace().join("bench/upload_path.py"))
        .args(["--impl", "ray-pack", "--dir"])
        .arg(tree)
        // Ray's defaults, as scheme-host (which runs with a cleared environment) applies them.
        .env_remove("RAY_RUNTIME_ENV_IGNORE_GITIGNORE")
        .env_remove("RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES")
        .env("RAY_USAGE_STATS_ENABLED", "0")
        .env("TMPDIR", round);
    python_row(&mut cmd, c)
}

/// A Python row's sample, sent nothing yet (the caller says what went to the store).
fn python_row(cmd: &mut Command, c: &Corpus) -> Result<Sample> {
    let sample = measure::run(cmd)?;
    let v = measure::json_line(&sample)?;
    if v["files"].as_u64() != Some(c.files) {
        bail!("{} packed {} files, the corpus has {}: {v}", v["impl"], v["files"], c.files);
    }
    Ok(Sample {
        wall_s: sample.wall_s,
        call_s: v["wall_s"].as_f64().context("no wall_s in upload_path.py's output")?,
        cpu_s: sample.cpu_s,
        maxrss_kib: sample.maxrss_kib,
        rss_before_kib: v["rss_before_kib"].as_u64(),
        package_bytes: v["bytes"].as_u64().filter(|&b| b > 0).context("no bytes in upload_path.py's output")?,
        sent_bytes: 0,
        reported: v,
    })
}

/// The object the row uploaded is on the server with the size the row reported (an
/// anonymous HEAD: the bench's bucket is public-read).
fn check_stored(endpoint: &str, key: &str, want: u64) -> Result<()> {
    let have = head_size(endpoint, key)?;
    if have != want {
        bail!("the server holds {have} bytes at {key}, the uploader reported {want}");
    }
    Ok(())
}

fn head_size(endpoint: &str, key: &str) -> Result<u64> {
    let authority = endpoint.strip_prefix("http://").with_context(|| format!("endpoint {endpoint} is not http://"))?;
    let mut conn = TcpStream::connect(authority).with_context(|| format!("connecting to {authority}"))?;
    write!(conn, "HEAD /{BUCKET}/{key} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n")?;
    let mut lines = BufReader::new(conn).lines();
    let status = lines.next().context("no answer to HEAD")??;
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("HEAD /{BUCKET}/{key}: {status}");
    }
    for line in lines {
        let line = line?;
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                return value.trim().parse().with_context(|| format!("bad Content-Length {value:?}"));
            }
        }
    }
    bail!("HEAD /{BUCKET}/{key}: no Content-Length")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(uri: &str, files: u64, uploaded: bool) -> Value {
        json!({"ok": true, "uri": uri, "files": files, "bytes": 1234, "uploaded": uploaded, "timings_ms": {"total_ms": 5}})
    }

    #[test]
    fn a_complete_report_gives_the_size_and_the_flag() {
        let v = report("obs://bench/upload/S/r0/_ray_pkg_0123abcd.zip", 7, true);
        assert_eq!(check_pack_report(&v, 7, "obs://bench/upload/S/r0/").unwrap(), (1234, true));
        let v = report("obs://bench/upload/S/r0/_ray_pkg_0123abcd.zip", 7, false);
        assert_eq!(check_pack_report(&v, 7, "obs://bench/upload/S/r0/").unwrap(), (1234, false));
    }

    #[test]
    fn reports_that_miss_files_or_land_elsewhere_are_refused() {
        let prefix = "obs://bench/upload/S/r0/";
        assert!(check_pack_report(&report("obs://bench/upload/S/r0/_ray_pkg_1.zip", 6, true), 7, prefix).is_err());
        assert!(check_pack_report(&report("obs://bench/upload/S/r1/_ray_pkg_1.zip", 7, true), 7, prefix).is_err());
        assert!(check_pack_report(&report("obs://bench/upload/S/r0/pkg.zip", 7, true), 7, prefix).is_err());
        assert!(check_pack_report(&json!({"ok": false, "error": {"kind": "unsupported"}}), 7, prefix).is_err());
        let mut no_flag = report("obs://bench/upload/S/r0/_ray_pkg_1.zip", 7, true);
        no_flag.as_object_mut().unwrap().remove("uploaded");
        assert!(check_pack_report(&no_flag, 7, prefix).is_err());
    }

    fn corpus(id: &'static str) -> Corpus {
        Corpus { id, zip: PathBuf::from(format!("{id}.zip")), files: 1, uncompressed: 1, zip_bytes: 1 }
    }

    #[test]
    fn l_stored_runs_only_without_l() {
        let ids = |cs: &[Corpus]| distinct_trees(cs).iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(ids(&[corpus("S"), corpus("L"), corpus("L-stored"), corpus("T")]), ["S", "L", "T"]);
        assert_eq!(ids(&[corpus("L-stored"), corpus("T")]), ["L-stored", "T"]);
    }

    #[test]
    fn the_tools_follow_what_the_plan_has() {
        let plan = |pack, sdk: bool, ray: bool| Plan { corpora: vec![], pack, sdk_python: sdk.then(|| "python3".into()), ray_python: ray.then(|| "python3".into()) };
        assert_eq!(plan(true, true, true).tools(), ["pack-and-upload", "pack-and-upload-again", "zip-sdk", "ray-pack"]);
        assert_eq!(plan(false, true, false).tools(), ["zip-sdk"]);
        for id in plan(true, true, true).tools() {
            assert!(TOOLS.iter().any(|t| t.id == id), "{id} has no label");
        }
    }

    #[test]
    fn head_reads_the_content_length() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            for answer in ["HTTP/1.1 200 OK\r\nETag: \"x\"\r\ncontent-length: 4242\r\n\r\n", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"] {
                let (mut conn, _) = listener.accept().unwrap();
                let mut request = String::new();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                // Up to the blank line that ends the head.
                while reader.read_line(&mut request).unwrap() > 2 {}
                assert!(request.starts_with("HEAD /bench/a/b.zip HTTP/1.1\r\n"), "{request}");
                conn.write_all(answer.as_bytes()).unwrap();
            }
        });
        assert_eq!(head_size(&endpoint, "a/b.zip").unwrap(), 4242);
        assert!(head_size(&endpoint, "a/b.zip").unwrap_err().to_string().contains("404"));
        server.join().unwrap();
    }
}
