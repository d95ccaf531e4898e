//! The burst table: N nodes fetch the same package at the same moment from a store that
//! throttles past a fixed rate, as at a cluster start. For each N, with the host's default
//! parts and with `--parts 1`: the time until the last node has its package, against the
//! floor the store's rate allows (requests it served / rate), and what each node asked.
//!
//! A dedicated `obs-server` with `--rate-limit-rps` serves corpus T; its `/__admin/rate`
//! counts served and throttled requests, reset between rounds.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::corpus::Corpus;
use super::Setup;

/// The store's rate: the order of a bucket prefix's GET rate on a busy shared store, and
/// small enough that 8 nodes with parts already feel it.
pub const RATE: f64 = 20.0;
pub const DEFAULT_SIZES: &[usize] = &[8, 32, 64];

pub struct Round {
    pub nodes: usize,
    pub parts: &'static str,
    pub last_s: f64,
    pub served: u64,
    pub throttled: u64,
    pub ok: usize,
    pub failures: Vec<String>,
    pub reported_throttled: u64,
    pub retries: u64,
}

impl Round {
    fn floor_s(&self) -> f64 {
        self.served as f64 / RATE
    }
}

pub fn run(setup: &Setup, server_bin: &Path, corpus: &Corpus, sizes: &[usize], out: &Path) -> Result<Vec<Round>> {
    let mut server = super::start_server_with(server_bin, std::slice::from_ref(corpus), &["--rate-limit-rps", &RATE.to_string(), "--rate-limit-burst", &(RATE as u32).to_string()])?;
    let result = (|| {
        let endpoint = super::read_endpoint(&mut server)?;
        let setup = Setup { endpoint, ..setup.clone() };
        let mut rounds = Vec::new();
        for &n in sizes {
            for parts in ["default", "1"] {
                admin(&setup.endpoint, "POST", "reset")?;
                // A full token bucket for every round.
                std::thread::sleep(Duration::from_secs(2));
                let r = round(&setup, corpus, n, parts, out)?;
                eprintln!(
                    "bench: burst {n:>3} nodes, parts {parts:<7} last done {:>6.1}s  floor {:>5.1}s  served {:>4}  throttled {:>5}  ok {}/{n}",
                    r.last_s,
                    r.floor_s(),
                    r.served,
                    r.throttled,
                    r.ok
                );
                rounds.push(r);
            }
        }
        Ok(rounds)
    })();
    drop(server.stdin.take());
    let _ = server.kill();
    let _ = server.wait();
    result
}

fn round(setup: &Setup, corpus: &Corpus, nodes: usize, parts: &'static str, out: &Path) -> Result<Round> {
    let dir = out.join(format!("burst-{nodes}-{parts}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let started = Instant::now();
    let children: Vec<Child> = (0..nodes)
        .map(|i| {
            let mut cmd = super::scheme_host_command(setup, &setup.host_bin, super::Scheme::Obs, corpus, &dir.join(format!("node{i:03}")), (parts != "default").then_some(parts));
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
            cmd.spawn().context("cannot start scheme-host")
        })
        .collect::<Result<_>>()?;
    let mut r = Round { nodes, parts, last_s: 0.0, served: 0, throttled: 0, ok: 0, failures: Vec::new(), reported_throttled: 0, retries: 0 };
    for child in children {
        let output = child.wait_with_output()?;
        r.last_s = r.last_s.max(started.elapsed().as_secs_f64());
        let v: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        if v["ok"] == true && v["files"].as_u64() == Some(corpus.files) {
            r.ok += 1;
            r.reported_throttled += v["throttled"].as_u64().unwrap_or(0);
            r.retries += v["retries"].as_u64().unwrap_or(0);
        } else {
            let why = v["error"]["message"].as_str().map_or_else(|| String::from_utf8_lossy(&output.stderr).into_owned(), str::to_string);
            r.failures.push(why.chars().take(300).collect());
        }
    }
    let stats = admin(&setup.endpoint, "GET", "rate")?;
    let count = |k: &str| stats["total"][k].as_u64().or_else(|| stats[k].as_u64()).unwrap_or(0);
    (r.served, r.throttled) = (count("served"), count("throttled"));
    std::fs::remove_dir_all(&dir)?;
    Ok(r)
}

/// One admin call through curl (the bench already needs it for its download limit).
fn admin(endpoint: &str, method: &str, path: &str) -> Result<Value> {
    let out = Command::new("curl").args(["-s", "-f", "-X", method, &format!("{endpoint}/__admin/{path}")]).output().context("cannot run curl")?;
    if !out.status.success() {
        bail!("obs-server admin {method} {path} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap_or(Value::Null))
}

pub fn to_json(rounds: &[Round]) -> Value {
    json!({
        "rate_per_sec": RATE,
        "rounds": rounds.iter().map(|r| json!({
            "nodes": r.nodes,
            "parts": r.parts,
            "last_done_s": r.last_s,
            "floor_s": r.floor_s(),
            "served": r.served,
            "throttled": r.throttled,
            "ok": r.ok,
            "reported_throttled": r.reported_throttled,
            "retries": r.retries,
            "failures": r.failures,
        })).collect::<Vec<_>>(),
    })
}

pub fn markdown(rounds: &[Round], corpus: &Corpus) -> String {
    let mut md = format!(
        "\n## Burst: N nodes at once against a store throttling at {RATE} requests/s\n\n\
         Corpus {} ({} files). Floor: requests the store served / its rate. Per node: requests served \
         and slow-down answers received.\n\n\
         | nodes | parts | all succeeded | last done | floor | last / floor | served per node | throttled per node | other retries |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        corpus.id, corpus.files
    );
    for r in rounds {
        let n = r.nodes as f64;
        md.push_str(&format!(
            "| {} | {} | {}/{} | {:.1} s | {:.1} s | {:.2} | {:.1} | {:.1} | {} |\n",
            r.nodes,
            r.parts,
            r.ok,
            r.nodes,
            r.last_s,
            r.floor_s(),
            if r.floor_s() > 0.0 { r.last_s / r.floor_s() } else { 0.0 },
            r.served as f64 / n,
            r.throttled as f64 / n,
            r.retries
        ));
    }
    for r in rounds.iter().filter(|r| !r.failures.is_empty()) {
        md.push_str(&format!("\n{} nodes, parts {}: {} failed, first: {}\n", r.nodes, r.parts, r.failures.len(), r.failures[0]));
    }
    md
}
