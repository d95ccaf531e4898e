//! The upload table's part of `results.json` (every sample, summaries, ratios against what
//! users do today, the targets) and its Markdown.

use serde_json::{json, Value};
use std::fmt::Write;

use super::corpus::Corpus;
use super::measure::stats;
use super::report::{f, targets_table};
use super::upload::{Sample, REFERENCE, TOOLS};

/// Issue 15: pack-and-upload at least this many times faster than zipfile + SDK.
pub const TARGET_SPEEDUP: f64 = 3.0;
/// Issue 15: pack-and-upload's peak RSS below this.
pub const TARGET_RSS_MIB: f64 = 64.0;

fn summary(samples: &[&Sample]) -> Value {
    let pick = |f: fn(&Sample) -> f64| samples.iter().map(|s| f(s)).collect::<Vec<_>>();
    let Some(w) = stats(&pick(|s| s.wall_s)) else { return Value::Null };
    let before: Vec<f64> = samples.iter().filter_map(|s| s.rss_before_kib).map(|k| k as f64).collect();
    json!({
        "wall_s": {"median": w.median, "min": w.min, "max": w.max},
        "call_s_median": stats(&pick(|s| s.call_s)).map(|s| s.median),
        "cpu_s_median": stats(&pick(|s| s.cpu_s)).map(|s| s.median),
        "peak_rss_mib": samples.iter().map(|s| s.maxrss_kib).max().unwrap_or(0) as f64 / 1024.0,
        "rss_before_call_mib": stats(&before).map(|s| s.median / 1024.0),
        "package_bytes": stats(&pick(|s| s.package_bytes as f64)).map(|s| s.median),
        "sent_bytes": stats(&pick(|s| s.sent_bytes as f64)).map(|s| s.median),
        "samples": samples.iter().map(|s| json!({
            "wall_s": s.wall_s, "call_s": s.call_s, "cpu_s": s.cpu_s, "maxrss_kib": s.maxrss_kib,
            "rss_before_kib": s.rss_before_kib, "package_bytes": s.package_bytes, "sent_bytes": s.sent_bytes,
            "reported": s.reported,
        })).collect::<Vec<_>>(),
    })
}

/// `samples` are (corpus id, row id, sample), in any order.
pub fn build(corpora: &[Corpus], samples: &[(String, String, Sample)], runs: usize) -> Value {
    let mut per_corpus = serde_json::Map::new();
    let mut targets = Vec::new();
    for c in corpora {
        let mut tools = serde_json::Map::new();
        for t in TOOLS {
            let mine: Vec<&Sample> = samples.iter().filter(|(cid, tid, _)| cid == c.id && tid == t.id).map(|(_, _, s)| s).collect();
            if mine.is_empty() {
                continue;
            }
            let mut s = summary(&mine);
            s["label"] = json!(t.label);
            tools.insert(t.id.into(), s);
        }
        if tools.is_empty() {
            continue;
        }
        let reference = tools.get(REFERENCE).map(|r| (r["wall_s"]["median"].as_f64(), r["call_s_median"].as_f64()));
        for s in tools.values_mut() {
            let (wall, call) = (s["wall_s"]["median"].as_f64(), s["call_s_median"].as_f64());
            let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).filter(|(_, b)| *b > 0.0).map(|(a, b)| a / b);
            s["speedup_vs_reference"] = json!(reference.and_then(|(w, _)| ratio(w, wall)));
            s["call_speedup_vs_reference"] = json!(reference.and_then(|(_, k)| ratio(k, call)));
        }
        if let Some(us) = tools.get("pack-and-upload") {
            let mut target = |name: &str, value: Option<f64>, want: &str, threshold: f64| {
                let met = value.map(|v| if want == ">=" { v >= threshold } else { v < threshold });
                targets.push(json!({"corpus": c.id, "target": name, "value": value, "want": format!("{want} {threshold}"), "met": met}));
            };
            target("pack-and-upload speedup vs zipfile + SDK (wall)", us["speedup_vs_reference"].as_f64(), ">=", TARGET_SPEEDUP);
            target("pack-and-upload peak RSS MiB", us["peak_rss_mib"].as_f64(), "<", TARGET_RSS_MIB);
        }
        per_corpus.insert(c.id.into(), json!({"files": c.files, "uncompressed_bytes": c.uncompressed, "tools": tools}));
    }
    json!({"runs": runs, "reference": REFERENCE, "corpora": per_corpus, "targets": targets})
}

fn megabytes(v: &Value) -> String {
    v.as_f64().map_or_else(|| "–".into(), |b| format!("{:.1} MB", b / 1e6))
}

pub fn markdown(doc: &Value) -> String {
    let mut s = format!(
        "\n## Upload: pack a working_dir and put it into OBS\n\n\
         Each corpus's tree, unpacked once on tmpfs, packed and uploaded to a fresh loopback `obs-server` \
         every round; {} runs, medians; temporary files on the same tmpfs. Wall: process start to exit. \
         In the call: scheme-host's own `total_ms`, or the Python call without interpreter start and imports. \
         Peak RSS from `wait4` (Python rows: RSS before the call in brackets). \
         `zipfile + SDK`: `zipfile` (ZIP_DEFLATED) over `os.walk` into a temporary file, then esdk-obs-python's \
         `uploadFile` (9 MiB parts, one thread: its defaults) (`bench/upload_path.py`). \
         Ray's row is Ray 2.60's client side of `ray job submit --working-dir` (the content hash twice, \
         `create_package`, the zip read whole as the request body) with no cluster to send it to: no GCS upload, \
         so it is packing only, and its bytes are the body it would send.\n\n\
         | corpus | row | wall s (median) | spread (min–max) | in the call s | peak RSS MiB (before call) | CPU s | package | sent | speedup vs zipfile + SDK: wall (in the call) |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        doc["runs"]
    );
    let Some(corpora) = doc["corpora"].as_object() else { return s };
    for (id, c) in corpora {
        for t in TOOLS {
            let Some(v) = c["tools"].get(t.id) else { continue };
            let before = if v["rss_before_call_mib"].is_null() { String::new() } else { format!(" ({})", f(&v["rss_before_call_mib"], 0)) };
            let sent = if t.id == "ray-pack" { "not sent".to_string() } else { megabytes(&v["sent_bytes"]) };
            let _ = writeln!(
                s,
                "| {id} ({} files) | {} | {} | {}–{} | {} | {}{before} | {} | {} | {sent} | {} |",
                c["files"],
                t.label,
                f(&v["wall_s"]["median"], 3),
                f(&v["wall_s"]["min"], 3),
                f(&v["wall_s"]["max"], 3),
                f(&v["call_s_median"], 3),
                f(&v["peak_rss_mib"], 1),
                f(&v["cpu_s_median"], 2),
                megabytes(&v["package_bytes"]),
                if t.id == REFERENCE { "1.00x".to_string() } else { format!("{}x ({}x)", f(&v["speedup_vs_reference"], 2), f(&v["call_speedup_vs_reference"], 2)) }
            );
        }
    }
    s.push_str("\nTargets of issue 15 (printed, not asserted):\n\n");
    s.push_str(&targets_table(doc));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn sample(wall_s: f64, maxrss_mib: u64, bytes: u64, sent: bool) -> Sample {
        Sample {
            wall_s,
            call_s: wall_s / 2.0,
            cpu_s: wall_s,
            maxrss_kib: maxrss_mib * 1024,
            rss_before_kib: None,
            package_bytes: bytes,
            sent_bytes: if sent { bytes } else { 0 },
            reported: Value::Null,
        }
    }

    fn corpus() -> Corpus {
        Corpus { id: "S", zip: PathBuf::from("S.zip"), files: 20_000, uncompressed: 200_000_000, zip_bytes: 50_000_000 }
    }

    fn samples() -> Vec<(String, String, Sample)> {
        let row = |id: &str, s: Sample| ("S".to_string(), id.to_string(), s);
        vec![
            row("pack-and-upload", sample(1.0, 40, 50, true)),
            row("pack-and-upload", sample(3.0, 70, 50, true)),
            row("pack-and-upload", sample(2.0, 30, 50, true)),
            row("pack-and-upload-again", sample(0.1, 20, 50, false)),
            row("zip-sdk", sample(8.0, 60, 52, true)),
            row("zip-sdk", sample(10.0, 61, 52, true)),
        ]
    }

    #[test]
    fn ratios_are_against_zipfile_and_sdk_medians() {
        let doc = build(&[corpus()], &samples(), 3);
        let tools = &doc["corpora"]["S"]["tools"];
        assert_eq!(tools["pack-and-upload"]["wall_s"]["median"], 2.0);
        assert_eq!(tools["zip-sdk"]["wall_s"]["median"], 9.0);
        assert_eq!(tools["pack-and-upload"]["speedup_vs_reference"], 4.5);
        assert_eq!(tools["pack-and-upload-again"]["speedup_vs_reference"], 90.0);
        assert_eq!(tools["pack-and-upload"]["peak_rss_mib"], 70.0);
        assert_eq!(tools["pack-and-upload-again"]["sent_bytes"], 0.0);
        assert!(tools.get("ray-pack").is_none());
    }

    #[test]
    fn targets_say_which_are_met() {
        let doc = build(&[corpus()], &samples(), 3);
        let t = doc["targets"].as_array().unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!((t[0]["value"].as_f64(), t[0]["met"].as_bool()), (Some(4.5), Some(true)));
        assert_eq!((t[1]["value"].as_f64(), t[1]["met"].as_bool()), (Some(70.0), Some(false)));
        let md = markdown(&doc);
        assert!(md.contains("| S | pack-and-upload peak RSS MiB | 70.00 | < 64 | **no** |"), "{md}");
        assert!(md.contains("| 4.50x (4.50x) |"), "{md}");
    }

    #[test]
    fn without_the_reference_there_is_no_ratio() {
        let only_us: Vec<_> = samples().into_iter().filter(|(_, id, _)| id != "zip-sdk").collect();
        let doc = build(&[corpus()], &only_us, 3);
        assert!(doc["corpora"]["S"]["tools"]["pack-and-upload"]["speedup_vs_reference"].is_null());
        assert_eq!(doc["targets"][0]["met"], Value::Null);
        assert!(markdown(&doc).contains("| n/a |"));
    }
}
