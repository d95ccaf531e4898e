//! Atomicity and concurrency: many processes on one package, `kill -9` at chosen and random
//! moments, a full disk, a read-only parent. DEST either does not exist or is complete, the
//! next call recovers, and errors are clear and clean up after themselves.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use obs_server::{Fault, FaultRule};
use scheme_host_tests::hostile::raw_zip::{zip, Entry};
use scheme_host_tests::obs::ObsFixture;
use scheme_host_tests::{listing, tree, Env};

use crate::catalogue::{obs_env, symlinks_under};

const BUCKET: &str = "ray-jobs";

/// Many small files (a wide unpack window) and one large one (a wide download window).
fn wide_package() -> (Vec<u8>, Vec<String>) {
    let mut entries = Vec::new();
    let mut expected = vec!["big.bin".to_string(), "src/".to_string()];
    for i in 0..1500 {
        let name = format!("pkg/src/m{i:04}.py");
        entries.push(Entry::deflated(&name, format!("VALUE = {i}\n").repeat(20).as_bytes()));
        expected.push(format!("src/m{i:04}.py"));
    }
    let blob: Vec<u8> = (0..1_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8).collect();
    entries.push(Entry::stored("pkg/big.bin", &blob));
    expected.sort();
    (zip(&entries), expected)
}

fn spawn_unpack(e: &Env, uri: &str, dest: &Path) -> Child {
    e.command(&["download-and-unpack", uri, dest.to_str().unwrap(), "--json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn json_of(out: std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn eight_processes_on_one_uri_download_once_and_all_succeed() {
    let fx = ObsFixture::start();
    let (pkg, expected) = wide_package();
    fx.put(BUCKET, "conc/eight.zip", pkg);
    // Slow enough that all eight overlap the one download.
    fx.server.set_fault(FaultRule::new(BUCKET, "conc/eight.zip", Fault::Throttle { bytes_per_sec: 4 << 20 })).unwrap();
    let e = obs_env(&fx);
    let parent = e.out("eight");
    std::fs::create_dir(&parent).unwrap();
    let dest = parent.join("pkg");
    let children: Vec<Child> = (0..8).map(|_| spawn_unpack(&e, "obs://ray-jobs/conc/eight.zip", &dest)).collect();
    let results: Vec<serde_json::Value> = children.into_iter().map(|c| json_of(c.wait_with_output().unwrap())).collect();
    for v in &results {
        assert_eq!(v["ok"], true, "{v:#}");
    }
    let fresh = results.iter().filter(|v| v["reused"] == false).count();
    assert_eq!(fresh, 1, "exactly one process downloads; the others reuse its result");
    let counter = fx.server.counter(BUCKET, Some("conc/eight.zip"));
    assert_eq!(counter.by_method.get("GET").copied(), Some(1), "{counter:?}");
    assert_eq!(listing(&parent), ["pkg"]);
    assert_eq!(tree(&dest), expected);
}

/// Where a killed run was when it died.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// The object file exists and is growing.
    Download,
    /// Files appear in the staging tree.
    Unpack,
    /// A fraction of a full run's duration, whatever phase that is.
    Time(f64),
}

fn staging_dirs(parent: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(parent).map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.file_name().unwrap().to_string_lossy().contains("scheme-host-staging")).collect()).unwrap_or_default()
}

fn reached(parent: &Path, moment: Moment, started: Instant, full_run: Duration) -> bool {
    match moment {
        Moment::Time(f) => started.elapsed() >= full_run.mul_f64(f),
        Moment::Download => staging_dirs(parent).iter().any(|s| std::fs::metadata(s.join("scratch/object")).is_ok_and(|m| m.len() > 100_000)),
        Moment::Unpack => staging_dirs(parent).iter().any(|s| {
            std::fs::read_dir(s.join("tree/pkg/src")).is_ok_and(|rd| rd.count() > 200)
        }),
    }
}

#[test]
fn kill_9_never_leaves_a_complete_looking_dest_and_the_next_call_recovers() {
    let fx = ObsFixture::start();
    let (pkg, expected) = wide_package();
    fx.put(BUCKET, "conc/kill.zip", pkg);
    fx.server.set_fault(FaultRule::new(BUCKET, "conc/kill.zip", Fault::Throttle { bytes_per_sec: 2 << 20 })).unwrap();
    let e = obs_env(&fx);
    let uri = "obs://ray-jobs/conc/kill.zip";

    let probe = e.out("probe");
    let started = Instant::now();
    let v = json_of(spawn_unpack(&e, uri, &probe).wait_with_output().unwrap());
    let full_run = started.elapsed();
    assert_eq!(v["ok"], true, "{v:#}");

    // Chosen moments first, then pseudo-random ones (seed printed for a replay).
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64 | 1;
    eprintln!("kill moments seed {seed}, full run {full_run:?}");
    let mut x = seed;
    let mut moments = vec![Moment::Download, Moment::Unpack, Moment::Download, Moment::Unpack];
    for _ in 0..4 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        moments.push(Moment::Time(0.05 + (x % 1000) as f64 / 1000.0));
    }

    let parent = e.out("killed");
    std::fs::create_dir(&parent).unwrap();
    let dest = parent.join("pkg");
    let mut left_staging = 0;
    let mut report = Vec::new();
    for moment in moments {
        let mut child = spawn_unpack(&e, uri, &dest);
        let started = Instant::now();
        while !reached(&parent, moment, started, full_run) && child.try_wait().unwrap().is_none() && started.elapsed() < full_run * 4 {
            std::thread::sleep(Duration::from_millis(2));
        }
        let finished_first = child.try_wait().unwrap().is_some();
        child.kill().unwrap();
        child.wait().unwrap();
        // DEST either does not exist or is the complete package.
        let dest_state = if dest.exists() {
            assert_eq!(tree(&dest), expected, "after kill at {moment:?}: DEST exists but is not complete");
            "complete DEST"
        } else {
            "no DEST"
        };
        assert!(symlinks_under(&parent, &[]).is_empty());
        let stale = staging_dirs(&parent).len();
        left_staging += stale;
        // The next call finishes the job (or reuses the finished one) and removes what the
        // killed process left.
        let v = json_of(spawn_unpack(&e, uri, &dest).wait_with_output().unwrap());
        assert_eq!(v["ok"], true, "recovery after a kill at {moment:?}: {v:#}");
        assert_eq!(tree(&dest), expected);
        assert_eq!(listing(&parent), ["pkg"], "after recovering from a kill at {moment:?}");
        report.push(format!("{moment:?}: {dest_state}, {stale} stale staging dir(s){}, recovered (reused: {})", if finished_first { " (had finished)" } else { "" }, v["reused"]));
        std::fs::remove_dir_all(&dest).unwrap();
    }
    eprintln!("{}", report.join("\n"));
    assert!(left_staging > 0, "no kill left a staging directory: the cleanup went untested");
}

/// A small filesystem mounted for one test, unmounted on drop.
struct Mount {
    at: PathBuf,
}

impl Mount {
    /// A tmpfs of `kib` KiB (optionally read-only); else a loop-mounted ext2 image. `Err`
    /// says why neither works here.
    fn small(at: &Path, kib: u64, read_only: bool) -> Result<Mount, String> {
        std::fs::create_dir_all(at).unwrap();
        let opts = format!("size={kib}k{}", if read_only { ",ro" } else { "" });
        let tmpfs = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", &opts, "tmpfs"]).arg(at).output();
        match tmpfs {
            Ok(o) if o.status.success() => return Ok(Mount { at: at.to_path_buf() }),
            Ok(o) => eprintln!("tmpfs mount failed: {}", String::from_utf8_lossy(&o.stderr).trim()),
            Err(e) => eprintln!("cannot run mount: {e}"),
        }
        let image = at.with_extension("img");
        let steps: [&[&str]; 2] = [&["truncate", "-s", &format!("{}K", kib.max(512))], &["mkfs.ext2", "-q", "-F"]];
        for step in steps {
            let ok = std::process::Command::new(step[0]).args(&step[1..]).arg(&image).output().map(|o| o.status.success()).unwrap_or(false);
            if !ok {
                return Err(format!("neither a tmpfs nor a loop filesystem can be mounted here ({} failed)", step[0]));
            }
        }
        let mode = if read_only { "loop,ro" } else { "loop" };
        let out = std::process::Command::new("mount").args(["-o", mode]).arg(&image).arg(at).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("neither a tmpfs nor a loop filesystem can be mounted here: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Mount { at: at.to_path_buf() })
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.at).status();
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_nothing() {
    let fx = ObsFixture::start();
    // Fills the disk while downloading: 3 MB that do not compress.
    let noise: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8).collect();
    fx.put(BUCKET, "disk/download.zip", zip(&[Entry::stored("n.bin", &noise)]));
    // Fills it while unpacking: a few KB that inflate to 3 MiB.
    let sparse: Vec<u8> = (0..3u32 << 20).map(|i| if i % 97 == 0 { i as u8 } else { 0 }).collect();
    fx.put(BUCKET, "disk/unpack.zip", zip(&[Entry::deflated("s.bin", &sparse)]));
    let e = obs_env(&fx);
    let small = e.path("small");
    let mount = match Mount::small(&small, 1024, false) {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED a_full_disk_is_a_clear_error_and_leaves_nothing: {why}");
            return;
        }
    };
    for key in ["disk/download.zip", "disk/unpack.zip"] {
        let dest = mount.at.join("pkg");
        let r = e.run(&["download-and-unpack", &format!("obs://{BUCKET}/{key}"), dest.to_str().unwrap(), "--json"]);
        let err = r.err();
        assert_eq!(err["kind"], "publish", "{key}: {err:#}");
        assert!(err["message"].as_str().unwrap().contains("no space left on device"), "{key}: {err:#}");
        assert_eq!(listing(&mount.at), Vec::<String>::new(), "{key}: left on the full disk");
        let plain = e.run(&["download-and-unpack", &format!("obs://{BUCKET}/{key}"), dest.to_str().unwrap()]);
        assert!(plain.stderr.contains("no space left on device"), "{key}: {}", plain.stderr);
    }
}

#[test]
fn a_read_only_parent_is_a_clear_error_and_leaves_nothing() {
    let fx = ObsFixture::start();
    fx.put(BUCKET, "ro/p.zip", zip(&[Entry::stored("a.py", b"a")]));
    let e = obs_env(&fx);
    let ro = e.path("ro");
    // Root ignores permission bits, so a read-only mount stands in for `chmod a-w`.
    let _mount = if is_root() {
        match Mount::small(&ro, 64, true) {
            Ok(m) => Some(m),
            Err(why) => {
                eprintln!("SKIPPED a_read_only_parent_is_a_clear_error_and_leaves_nothing: {why}");
                return;
            }
        }
    } else {
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
        None
    };
    for dest in [ro.join("pkg"), ro.join("sub/pkg")] {
        let r = e.run(&["download-and-unpack", "obs://ray-jobs/ro/p.zip", dest.to_str().unwrap(), "--json"]);
        let err = r.err();
        assert_eq!(err["kind"], "publish", "{err:#}");
        let msg = err["message"].as_str().unwrap();
        assert!(msg.contains("read-only file system") || msg.contains("permission denied"), "{msg}");
        assert!(msg.contains(ro.to_str().unwrap()), "the message names the directory: {msg}");
        assert_eq!(listing(&ro), Vec::<String>::new());
    }
}

fn is_root() -> bool {
    std::process::Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}
