//! Runs one command and measures it: wall time around the child, and the child's peak RSS
//! and CPU time from `wait4` (the kernel's accounting for exactly that process).

use anyhow::{bail, Context, Result};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Instant;

#[repr(C)]
#[derive(Default)]
struct Timeval {
    tv_sec: i64,
    tv_usec: i64,
}

/// `struct rusage` on 64-bit Linux.
#[repr(C)]
#[derive(Default)]
struct Rusage {
    ru_utime: Timeval,
    ru_stime: Timeval,
    ru_maxrss: i64,
    rest: [i64; 13],
}

unsafe extern "C" {
    fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut Rusage) -> i32;
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub wall_s: f64,
    pub cpu_s: f64,
    pub maxrss_kib: u64,
    pub stdout: String,
}

/// Runs `cmd` to completion; fails (with its stderr) when it exits non-zero.
pub fn run(cmd: &mut Command) -> Result<Sample> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("cannot start {cmd:?}"))?;
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut stdout = String::new();
    out.read_to_string(&mut stdout)?;
    let mut status = 0i32;
    let mut usage = Rusage::default();
    // SAFETY: `child` was spawned by us and not waited for; wait4 writes into the two
    // out-parameters, which live for the call. The Child is never waited on afterwards.
    let pid = unsafe { wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall_s = started.elapsed().as_secs_f64();
    if pid < 0 {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    let stderr = err_reader.join().unwrap_or_default();
    // WIFEXITED && WEXITSTATUS == 0
    if status & 0x7f != 0 || (status >> 8) & 0xff != 0 {
        bail!("{cmd:?} failed (wait status {status:#x})\nstdout: {}\nstderr: {}", stdout.trim(), stderr.trim());
    }
    let secs = |t: &Timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Sample { wall_s, cpu_s: secs(&usage.ru_utime) + secs(&usage.ru_stime), maxrss_kib: usage.ru_maxrss.max(0) as u64, stdout })
}

/// The last line of stdout that parses as a JSON object.
pub fn json_line(s: &Sample) -> Result<serde_json::Value> {
    s.stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok().filter(|v| v.is_object()))
        .with_context(|| format!("no JSON line in output: {}", s.stdout.trim()))
}

/// Median and spread of a set of values.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn stats(values: &[f64]) -> Option<Stats> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Some(Stats { median, min: v[0], max: v[n - 1] })
}
