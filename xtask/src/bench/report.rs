//! Turns the measured runs into `results.json` (every sample, summaries, ratios, targets)
//! and a Markdown table.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use super::corpus::Corpus;
use super::measure::stats;
use super::{Kind, Record, TOOLS};

pub fn machine() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo").lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("").trim().to_string();
    let cmd = |c: &str, a: &[&str]| std::process::Command::new(c).args(a).output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": cpu,
        "kernel": cmd("uname", &["-r"]),
        "date_utc": cmd("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "load_avg_at_end": read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

fn summary(c: &Corpus, kind: Kind, id: &str, recs: &[Record]) -> Value {
    let walls: Vec<f64> = recs.iter().map(|r| r.wall_s).collect();
    let cpus: Vec<f64> = recs.iter().map(|r| r.cpu_s).collect();
    let Some(w) = stats(&walls) else { return Value::Null };
    let bytes = if id == "curl" { c.zip_bytes } else { c.uncompressed };
    let counts_files = kind != Kind::Limit || id == "write";
    let mut v = json!({
        "wall_s": {"median": w.median, "min": w.min, "max": w.max},
        "mb_per_s": bytes as f64 / 1e6 / w.median,
        "files_per_s": if counts_files { json!(c.files as f64 / w.median) } else { Value::Null },
        "peak_rss_mib": recs.iter().map(|r| r.maxrss_kib).max().unwrap_or(0) as f64 / 1024.0,
        "cpu_s_median": stats(&cpus).map(|s| s.median),
        "samples": recs.iter().map(|r| json!({"wall_s": r.wall_s, "cpu_s": r.cpu_s, "maxrss_kib": r.maxrss_kib, "reported": r.extra})).collect::<Vec<_>>(),
    });
    if id.starts_with("scheme-host") {
        // Host overhead: the process's wall time minus the plugin's own download + unpack time.
        let overheads: Vec<f64> = recs
            .iter()
            .filter_map(|r| {
                let t = &r.extra["timings_ms"];
                Some(r.wall_s * 1000.0 - t["download_ms"].as_f64()? - t["unpack_ms"].as_f64()?)
            })
            .collect();
        if let Some(o) = stats(&overheads) {
            v["host_overhead_ms"] = json!({"median": o.median, "min": o.min, "max": o.max});
        }
    }
    if id.starts_with("ray-") || id == "plain-python" {
        let before: Vec<f64> = recs.iter().filter_map(|r| r.extra["rss_before_kib"].as_f64()).collect();
        v["rss_before_call_mib"] = json!(stats(&before).map(|s| s.median / 1024.0));
    }
    v
}

fn median(summaries: &BTreeMap<String, Value>, id: &str) -> Option<f64> {
    summaries.get(id)?["wall_s"]["median"].as_f64()
}

/// A wall time spread over the corpus's files, in microseconds: what each file costs a row,
/// comparable across corpora of different sizes.
fn us_per_file(wall_s: Option<f64>, files: u64) -> Option<f64> {
    Some(wall_s? * 1e6 / files.max(1) as f64)
}

/// The fastest two cores could fetch and unpack the corpus: the download, or the tree's CPU
/// work (inflating in memory plus writing the tree without inflating, each measured on one
/// core) split perfectly over both, whichever is longer. The download overlaps the rest, as
/// the streaming unpack does. Without the inflate or write probe there is no such limit;
/// without curl's row the CPU half stands alone (loopback downloads are short beside it).
fn two_core_limit(download: Option<f64>, inflate: Option<f64>, write: Option<f64>) -> Option<f64> {
    let cpu = (inflate? + write?) / 2.0;
    Some(download.map_or(cpu, |d| d.max(cpu)))
}

pub fn build(corpora: &[Corpus], results: &BTreeMap<&'static str, BTreeMap<&'static str, Vec<Record>>>, runs: usize, out: &Path, machine: Value) -> Value {
    let mut per_corpus = serde_json::Map::new();
    let mut ratios = serde_json::Map::new();
    let mut targets = Vec::new();
    for c in corpora {
        let Some(by_tool) = results.get(c.id) else { continue };
        let mut summaries = BTreeMap::new();
        for t in TOOLS {
            if let Some(recs) = by_tool.get(t.id) {
                let mut s = summary(c, t.kind, t.id, recs);
                s["label"] = json!(t.label);
                summaries.insert(t.id.to_string(), s);
            }
        }
        let us = median(&summaries, "scheme-host");
        let native = median(&summaries, "native");
        let (ray_id, ray) = match median(&summaries, "ray-fn") {
            Some(r) => ("ray-fn", Some(r)),
            None => ("ray-repro", median(&summaries, "ray-repro")),
        };
        let download = median(&summaries, "curl");
        let unpack_alone = median(&summaries, "native-local");
        let limit = match (download, unpack_alone) {
            (Some(d), Some(u)) => Some(d.max(u)),
            (d, u) => d.or(u),
        };
        let two_core = two_core_limit(download, median(&summaries, "inflate"), median(&summaries, "write"));
        let div = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
        let r = json!({
            "ray_row": ray_id,
            "speedup_vs_ray": div(ray, us),
            "speedup_vs_ray_repro": div(median(&summaries, "ray-repro"), us),
            "speedup_vs_plain_python": div(median(&summaries, "plain-python"), us),
            "us_over_native": div(us, native),
            "one_instance_over_native": div(median(&summaries, "scheme-host-1"), native),
            "one_instance_us_per_file": us_per_file(median(&summaries, "scheme-host-1"), c.files),
            "native_us_per_file": us_per_file(native, c.files),
            "parts_speedup": div(median(&summaries, "scheme-host-1"), us),
            "one_instance_over_baseline": div(median(&summaries, "scheme-host-1"), median(&summaries, "baseline-1")),
            "one_instance_minus_baseline_us_per_file": us_per_file(median(&summaries, "scheme-host-1").zip(median(&summaries, "baseline-1")).map(|(a, b)| a - b), c.files),
            "limit_s": limit,
            "limit_is": match (download, unpack_alone) { (Some(d), Some(u)) if d >= u => "download", (Some(_), Some(_)) => "native unpack", _ => "n/a" },
            "us_over_limit": div(us, limit),
            "two_core_limit_s": two_core,
            "us_over_two_core_limit": div(us, two_core),
            "us_minus_native_ms": us.zip(native).map(|(a, b)| (a - b) * 1000.0),
            "s3_speedup_vs_ray_s3": div(median(&summaries, "ray-fn-s3"), median(&summaries, "scheme-host-s3")),
            "s3_over_obs": div(median(&summaries, "scheme-host-s3"), us),
            "ray_s3_over_ray_http": div(median(&summaries, "ray-fn-s3"), median(&summaries, "ray-fn")),
        });
        let peak = summaries.get("scheme-host").and_then(|s| s["peak_rss_mib"].as_f64());
        let mut target = |name: &str, value: Option<f64>, want: &str, threshold: f64| {
            let met = value.map(|v| if want == ">=" { v >= threshold } else { v < threshold || (want == "<=" && v <= threshold) });
            targets.push(json!({"corpus": c.id, "target": name, "value": value, "want": format!("{want} {threshold}"), "met": met}));
        };
        target("speedup vs Ray's path", r["speedup_vs_ray"].as_f64(), ">=", 3.0);
        if c.id != "T" {
            target("wasm / native", r["us_over_native"].as_f64(), "<=", 1.3);
        }
        if matches!(c.id, "S" | "T") {
            target("one instance / native", r["one_instance_over_native"].as_f64(), "<=", 1.3);
        }
        target("speedup vs plain Python", r["speedup_vs_plain_python"].as_f64(), ">=", 3.0);
        if c.id.starts_with('L') {
            target("wall / max(download, native unpack)", r["us_over_limit"].as_f64(), "<=", 1.5);
        }
        if c.id == "S" {
            target("wall / two-core limit", r["us_over_two_core_limit"].as_f64(), "<=", 1.5);
        }
        target("peak RSS MiB", peak, "<", 64.0);
        if summaries.contains_key("scheme-host-s3") {
            target("s3: speedup vs Ray's s3 path", r["s3_speedup_vs_ray_s3"].as_f64(), ">=", 3.0);
            target("s3: peak RSS MiB", summaries["scheme-host-s3"]["peak_rss_mib"].as_f64(), "<", 64.0);
        }
        if c.id == "T" {
            let overhead = summaries.get("scheme-host").and_then(|s| s["host_overhead_ms"]["median"].as_f64());
            target("host overhead ms (warm call)", overhead, "<", 20.0);
        }
        ratios.insert(c.id.into(), r);
        per_corpus.insert(c.id.into(), json!({"files": c.files, "uncompressed_bytes": c.uncompressed, "zip_bytes": c.zip_bytes, "tools": summaries}));
    }
    json!({
        "command": "cargo xtask bench",
        "runs": runs,
        "output_dir": out.display().to_string(),
        "machine": machine,
        "corpora": per_corpus,
        "ratios": ratios,
        "targets": targets,
    })
}

/// A number of a results document with `digits` decimals, or a dash when it is missing.
pub(super) fn f(v: &Value, digits: usize) -> String {
    match v.as_f64() {
        Some(x) => format!("{x:.digits$}"),
        None => "–".into(),
    }
}

/// Both `s3://` rows side by side per corpus, with the same corpus over `obs://` and Ray's
/// http path for scale: what moving a package from one scheme to the other costs each side.
fn s3_table(doc: &Value) -> String {
    let mut s = String::from(
        "\n### s3: scheme-host vs Ray's own s3 path\n\n| corpus | scheme-host s3 wall s | peak RSS MiB | Ray s3 wall s | peak RSS MiB (before call) | speedup | scheme-host s3 / obs | Ray s3 / http |\n|---|---|---|---|---|---|---|---|\n",
    );
    let (Some(corpora), Some(ratios)) = (doc["corpora"].as_object(), doc["ratios"].as_object()) else { return s };
    for (id, c) in corpora {
        let (us, ray, r) = (&c["tools"]["scheme-host-s3"], &c["tools"]["ray-fn-s3"], &ratios[id]);
        let _ = writeln!(
            s,
            "| {id} | {} | {} | {} | {} ({}) | {}x | {} | {} |",
            f(&us["wall_s"]["median"], 3),
            f(&us["peak_rss_mib"], 1),
            f(&ray["wall_s"]["median"], 3),
            f(&ray["peak_rss_mib"], 1),
            f(&ray["rss_before_call_mib"], 0),
            f(&r["s3_speedup_vs_ray_s3"], 2),
            f(&r["s3_over_obs"], 2),
            f(&r["ray_s3_over_ray_http"], 2)
        );
    }
    s
}

pub fn markdown(doc: &Value) -> String {
    let mut s = String::new();
    let m = &doc["machine"];
    let _ = writeln!(
        s,
        "Benchmark: `{}`, {} runs, output on `{}`; {} CPUs ({}), kernel {}, {}; load average at the end {}.\n",
        doc["command"].as_str().unwrap_or(""),
        doc["runs"],
        doc["output_dir"].as_str().unwrap_or(""),
        m["cpus"],
        m["cpu_model"].as_str().unwrap_or(""),
        m["kernel"].as_str().unwrap_or(""),
        m["date_utc"].as_str().unwrap_or(""),
        m["load_avg_at_end"].as_str().unwrap_or("")
    );
    // Only the upload table was asked for (`--tools` naming its rows alone).
    let Some(corpora) = doc["corpora"].as_object().filter(|c| !c.is_empty()) else { return s };
    for (id, c) in corpora {
        let _ = writeln!(
            s,
            "### Corpus {id}: {} files, {:.1} MB unpacked, {:.1} MB zip\n",
            c["files"],
            c["uncompressed_bytes"].as_f64().unwrap_or(0.0) / 1e6,
            c["zip_bytes"].as_f64().unwrap_or(0.0) / 1e6
        );
        s.push_str("| tool | wall s (median) | spread (min–max) | MB/s | files/s | peak RSS MiB | CPU s |\n|---|---|---|---|---|---|---|\n");
        for t in TOOLS {
            let Some(v) = c["tools"].get(t.id) else { continue };
            let w = &v["wall_s"];
            let _ = writeln!(
                s,
                "| {} | {} | {}–{} | {} | {} | {} | {} |",
                t.label,
                f(&w["median"], 3),
                f(&w["min"], 3),
                f(&w["max"], 3),
                f(&v["mb_per_s"], 0),
                f(&v["files_per_s"], 0),
                f(&v["peak_rss_mib"], 1),
                f(&v["cpu_s_median"], 2)
            );
        }
        for id in ["scheme-host", "scheme-host-s3", "scheme-host-1", "baseline-1"] {
            if let Some(o) = c["tools"][id].get("host_overhead_ms") {
                let _ = writeln!(s, "\n`{id}` overhead beyond the plugin's own download + unpack time: {} ms median ({}–{}).", f(&o["median"], 1), f(&o["min"], 1), f(&o["max"], 1));
            }
        }
        if let Some(v) = c["tools"].get("ray-fn").or_else(|| c["tools"].get("ray-repro")) {
            let _ = writeln!(s, "\nRay's path: Python process RSS before the call {} MiB (interpreter and imports), so its growth is the peak minus that.", f(&v["rss_before_call_mib"], 0));
        }
        if let Some(v) = c["tools"].get("plain-python") {
            let _ = writeln!(s, "\nPlain Python: RSS before the call {} MiB; it holds the whole zip in memory.", f(&v["rss_before_call_mib"], 0));
        }
        if let Some(v) = c["tools"].get("ray-fn-s3") {
            let _ = writeln!(s, "\nRay's s3 path: RSS before the call {} MiB (with boto3 and smart_open imported).", f(&v["rss_before_call_mib"], 0));
        }
        s.push('\n');
    }
    s.push_str("### Ratios (same run)\n\n| corpus | speedup vs Ray's path | vs the reproduction | vs plain Python | wasm / native | one instance / native | µs/file one instance / native | parts speedup | wasm − native ms | limit s (which) | wall / limit | two-core limit s / wall ÷ it |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    if let Some(ratios) = doc["ratios"].as_object() {
        for (id, r) in ratios {
            let _ = writeln!(
                s,
                "| {id} | {}x | {}x | {}x | {} | {} | {} / {} | {}x | {} | {} ({}) | {} | {} / {} |",
                f(&r["speedup_vs_ray"], 2),
                f(&r["speedup_vs_ray_repro"], 2),
                f(&r["speedup_vs_plain_python"], 2),
                f(&r["us_over_native"], 2),
                f(&r["one_instance_over_native"], 2),
                f(&r["one_instance_us_per_file"], 0),
                f(&r["native_us_per_file"], 0),
                f(&r["parts_speedup"], 2),
                f(&r["us_minus_native_ms"], 0),
                f(&r["limit_s"], 3),
                r["limit_is"].as_str().unwrap_or(""),
                f(&r["us_over_limit"], 2),
                f(&r["two_core_limit_s"], 3),
                f(&r["us_over_two_core_limit"], 2)
            );
        }
    }
    if corpora.values().any(|c| !c["tools"]["scheme-host-s3"].is_null() || !c["tools"]["ray-fn-s3"].is_null()) {
        s.push_str(&s3_table(doc));
    }
    if let Some(ratios) = doc["ratios"].as_object().filter(|r| r.values().any(|r| !r["one_instance_over_baseline"].is_null())) {
        s.push_str("\n### This build against the baseline (`--baseline`), one instance each\n\n| corpus | this / baseline | difference per file µs |\n|---|---|---|\n");
        for (id, r) in ratios {
            let _ = writeln!(s, "| {id} | {} | {} |", f(&r["one_instance_over_baseline"], 3), f(&r["one_instance_minus_baseline_us_per_file"], 2));
        }
    }
    s.push_str("\n### Targets\n\n");
    s.push_str(&targets_table(doc));
    s
}

/// `doc["targets"]` as a Markdown table: the issue's targets, printed and never asserted.
pub(super) fn targets_table(doc: &Value) -> String {
    let mut s = String::from("| corpus | target | value | wanted | met |\n|---|---|---|---|---|\n");
    for t in doc["targets"].as_array().into_iter().flatten() {
        let met = match t["met"].as_bool() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "n/a",
        };
        let _ = writeln!(s, "| {} | {} | {} | {} | {met} |", t["corpus"].as_str().unwrap_or(""), t["target"].as_str().unwrap_or(""), f(&t["value"], 2), t["want"].as_str().unwrap_or(""));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn corpus(id: &'static str, files: u64) -> Corpus {
        Corpus { id, zip: PathBuf::from(format!("{id}.zip")), files, uncompressed: 200_000_000, zip_bytes: 50_000_000 }
    }

    fn rec(wall_s: f64) -> Record {
        Record { wall_s, cpu_s: wall_s, maxrss_kib: 30 * 1024, extra: Value::Null }
    }

    /// Three runs per row; the first value of each is the median.
    fn results(id: &'static str, rows: &[(&'static str, f64)]) -> BTreeMap<&'static str, BTreeMap<&'static str, Vec<Record>>> {
        let by_tool = rows.iter().map(|&(tool, median)| (tool, vec![rec(median * 1.1), rec(median), rec(median * 0.95)])).collect();
        BTreeMap::from([(id, by_tool)])
    }

    fn close(v: &Value, want: f64) -> bool {
        v.as_f64().is_some_and(|x| (x - want).abs() < 1e-9)
    }

    fn target<'a>(doc: &'a Value, corpus: &str, name: &str) -> Option<&'a Value> {
        doc["targets"].as_array().unwrap().iter().find(|t| t["corpus"] == corpus && t["target"] == name)
    }

    const S_ROWS: &[(&str, f64)] = &[
        ("scheme-host", 0.92),
        ("scheme-host-1", 1.62),
        ("native", 1.06),
        ("plain-python", 4.6),
        ("native-local", 0.96),
        ("curl", 0.02),
        ("inflate", 0.8),
        ("write", 0.6),
    ];

    #[test]
    fn two_core_limit_halves_the_cpu_work_unless_the_download_is_longer() {
        assert_eq!(two_core_limit(Some(0.02), Some(0.8), Some(0.6)), Some(0.7));
        assert_eq!(two_core_limit(Some(0.9), Some(0.8), Some(0.6)), Some(0.9));
        assert_eq!(two_core_limit(None, Some(0.8), Some(0.6)), Some(0.7));
        assert_eq!(two_core_limit(Some(0.02), None, Some(0.6)), None);
        assert_eq!(two_core_limit(Some(0.02), Some(0.8), None), None);
    }

    #[test]
    fn us_per_file_spreads_the_wall_over_the_files() {
        assert!(us_per_file(Some(1.62), 20_000).is_some_and(|v| (v - 81.0).abs() < 1e-9));
        assert_eq!(us_per_file(None, 20_000), None);
        // An empty corpus is not a division by zero.
        assert_eq!(us_per_file(Some(0.5), 0), Some(500_000.0));
    }

    #[test]
    fn ratios_carry_per_file_costs_plain_python_and_the_two_core_limit() {
        let doc = build(&[corpus("S", 20_000)], &results("S", S_ROWS), 3, Path::new("/dev/shm/x"), json!({}));
        let r = &doc["ratios"]["S"];
        assert!(close(&r["one_instance_us_per_file"], 81.0), "{r}");
        assert!(close(&r["native_us_per_file"], 53.0), "{r}");
        assert!(close(&r["speedup_vs_plain_python"], 4.6 / 0.92), "{r}");
        assert!(close(&r["two_core_limit_s"], 0.7), "{r}");
        assert!(close(&r["us_over_two_core_limit"], 0.92 / 0.7), "{r}");
        // The one-core limit is unchanged: max(download, native unpack alone).
        assert!(close(&r["limit_s"], 0.96), "{r}");
        let md = markdown(&doc);
        assert!(md.contains("| 81 / 53 |"), "{md}");
        assert!(md.contains("| 0.700 / 1.31 |"), "{md}");
        assert!(md.contains("| 5.00x |"), "{md}");
        assert!(md.contains("| plain Python: urllib into memory + zipfile.extractall | 4.600 |"), "{md}");
    }

    #[test]
    fn targets_on_s_include_the_new_ones_and_keep_the_old() {
        let doc = build(&[corpus("S", 20_000)], &results("S", S_ROWS), 3, Path::new("/dev/shm/x"), json!({}));
        let one = target(&doc, "S", "one instance / native").expect("one instance target on S");
        assert_eq!((one["want"].as_str(), one["met"].as_bool()), (Some("<= 1.3"), Some(false)));
        let plain = target(&doc, "S", "speedup vs plain Python").expect("plain Python target");
        assert_eq!((plain["want"].as_str(), plain["met"].as_bool()), (Some(">= 3"), Some(true)));
        let two = target(&doc, "S", "wall / two-core limit").expect("two-core target on S");
        assert_eq!((two["want"].as_str(), two["met"].as_bool()), (Some("<= 1.5"), Some(true)));
        for kept in ["speedup vs Ray's path", "wasm / native", "peak RSS MiB"] {
            assert!(target(&doc, "S", kept).is_some(), "{kept} is gone");
        }
    }

    #[test]
    fn targets_on_t_and_l_pick_their_own() {
        let t_rows: Vec<_> = S_ROWS.iter().map(|&(id, w)| (id, w / 20.0)).collect();
        let doc = build(&[corpus("T", 1_000)], &results("T", &t_rows), 3, Path::new("/dev/shm/x"), json!({}));
        assert!(target(&doc, "T", "one instance / native").is_some());
        assert!(target(&doc, "T", "speedup vs plain Python").is_some());
        assert!(target(&doc, "T", "wall / two-core limit").is_none());
        assert!(target(&doc, "T", "wasm / native").is_none());

        let doc = build(&[corpus("L", 13)], &results("L", S_ROWS), 3, Path::new("/dev/shm/x"), json!({}));
        assert!(target(&doc, "L", "one instance / native").is_none());
        assert!(target(&doc, "L", "wall / two-core limit").is_none());
        assert!(target(&doc, "L", "wasm / native").is_some());
        assert!(target(&doc, "L", "speedup vs plain Python").is_some());
    }

    #[test]
    fn without_plain_python_or_probes_the_columns_stay_empty() {
        let rows: Vec<_> = S_ROWS.iter().copied().filter(|(id, _)| !matches!(*id, "plain-python" | "write")).collect();
        let doc = build(&[corpus("S", 20_000)], &results("S", &rows), 3, Path::new("/dev/shm/x"), json!({}));
        let r = &doc["ratios"]["S"];
        assert!(r["speedup_vs_plain_python"].is_null() && r["two_core_limit_s"].is_null() && r["us_over_two_core_limit"].is_null(), "{r}");
        assert_eq!(target(&doc, "S", "speedup vs plain Python").unwrap()["met"], Value::Null);
        assert!(markdown(&doc).contains("| – / – |"));
    }
}
