//! The hostile archive catalogue end to end: every archive of
//! `scheme_host_tests::hostile::catalogue()` is served by the OBS test server and unpacked by
//! the real binary with the real plugin, and must end exactly as the catalogue says. Also
//! the operator limits: lowering each one in the config file trips `limit-exceeded`.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::env;
use scheme_host_tests::hostile::raw_tar::{gzip, Tar};
use scheme_host_tests::hostile::raw_zip::{zip, Entry};
use scheme_host_tests::hostile::{catalogue, Accepted, Case, Expect, Family};
use scheme_host_tests::obs::ObsFixture;
use scheme_host_tests::{listing, on_two_threads, tree, wasm, Env};

/// An environment with the OBS plugin installed, pointed at `fx`, its compile cache warm.
pub(crate) fn obs_env(fx: &ObsFixture) -> Env {
    let mut e = env();
    e.install(wasm::OBS, "obs.wasm");
    fx.configure(&mut e);
    e.run(&["schemes", "--json"]).ok();
    e
}

/// Every symlink below `root`, not following links, skipping the trees in `except`.
pub(crate) fn symlinks_under(root: &Path, except: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if except.contains(&p) {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_symlink() => found.push(p),
                Ok(t) if t.is_dir() => stack.push(p),
                _ => {}
            }
        }
    }
    found
}

/// What a case did, for the table and the verdict.
struct Row {
    family: Family,
    name: &'static str,
    ext: &'static str,
    about: &'static str,
    outcome: String,
    verdict: Result<(), String>,
}

#[test]
fn every_hostile_archive_ends_as_documented() {
    let cases = catalogue();
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let mut names: Vec<_> = cases.iter().map(|c| c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");
    for f in Family::ALL {
        assert!(cases.iter().any(|c| c.family == f), "no case for family {}", f.name());
    }

    let fx = ObsFixture::start();
    for c in &cases {
        fx.put("ray-jobs", &key(c), c.bytes.clone());
    }
    let e = obs_env(&fx);
    let mut rows = on_two_threads(&cases, |c| {
        let (outcome, verdict) = run_case(&e, c);
        Row { family: c.family, name: c.name, ext: c.ext, about: c.about, outcome, verdict }
    });
    rows.sort_by_key(|r| (r.family, r.name));
    assert_eq!(listing(&e.home()), Vec::<String>::new(), "nothing may appear in HOME");
    assert_eq!(listing(&e.path("out")), names, "nothing may appear beside the cases' own directories");
    let accepted: Vec<PathBuf> = cases.iter().filter(|c| matches!(c.expect, Expect::Accept(_))).map(|c| e.out(c.name).join("pkg")).collect();
    let stray_links = symlinks_under(e.dir.path(), &accepted);
    assert!(stray_links.is_empty(), "symlinks outside accepted trees: {stray_links:?}");
    for stray in ["/tmp/evil.py", "/tmp/evil", "/etc/cron.d/x"] {
        assert!(!Path::new(stray).exists(), "{stray} was written");
    }

    let report = table(&rows);
    eprintln!("{report}");
    let _ = std::fs::write(Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-catalogue.md"), &report);
    let failures: Vec<String> = rows.iter().filter_map(|r| r.verdict.as_ref().err().map(|e| format!("{}: {e}", r.name))).collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), rows.len(), failures.join("\n"));
}

fn key(c: &Case) -> String {
    format!("catalogue/{}{}", c.name, c.ext)
}

/// Unpacks one case into `out/<case>/pkg`; returns what happened and whether it is right.
fn run_case(e: &Env, c: &Case) -> (String, Result<(), String>) {
    let parent = e.out(c.name);
    std::fs::create_dir(&parent).unwrap();
    let dest = parent.join("pkg");
    let uri = format!("obs://ray-jobs/{}", key(c));
    let r = e.run(&["download-and-unpack", &uri, dest.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = match serde_json::from_str(r.stdout.trim()) {
        Ok(v) => v,
        Err(err) => return ("no JSON".into(), Err(format!("stdout is not one JSON object ({err}): {}\nstderr: {}", r.stdout, r.stderr))),
    };
    let outcome = if v["ok"] == true { "accepted".to_string() } else { v["error"]["kind"].as_str().unwrap_or("?").to_string() };
    let verdict = (|| {
        let links = symlinks_under(&parent, std::slice::from_ref(&dest));
        if !links.is_empty() {
            return Err(format!("symlinks outside DEST: {links:?}"));
        }
        match &c.expect {
            Expect::Error { kind, mentions } => {
                if v["ok"] != false || r.status == 0 {
                    return Err(format!("expected {kind}, got {v}"));
                }
                let msg = v["error"]["message"].as_str().unwrap_or("");
                if outcome != *kind || !msg.contains(mentions) {
                    return Err(format!("expected {kind} mentioning {mentions:?}, got {outcome}: {msg}"));
                }
                let left = listing(&parent);
                if !left.is_empty() {
                    return Err(format!("left behind after the error: {left:?}"));
                }
                Ok(())
            }
            Expect::Accept(a) => {
                if v["ok"] != true {
                    return Err(format!("expected acceptance, got {}", v["error"]));
                }
                let left = listing(&parent);
                if left != ["pkg"] {
                    return Err(format!("beside DEST: {left:?}"));
                }
                check_accepted(&dest, a)
            }
        }
    })();
    (outcome, verdict)
}

fn check_accepted(dest: &Path, a: &Accepted) -> Result<(), String> {
    let got = tree(dest);
    if got != a.tree {
        return Err(format!("tree {got:?}, expected {:?}", a.tree));
    }
    for (link, target) in &a.links {
        let t = std::fs::read_link(dest.join(link)).map_err(|e| format!("{link}: {e}"))?;
        if t != Path::new(target) {
            return Err(format!("{link} -> {}, expected {target}", t.display()));
        }
    }
    for (path, data) in &a.contents {
        let got = std::fs::read(dest.join(path)).map_err(|e| format!("{path}: {e}"))?;
        if got != *data {
            return Err(format!("{path}: {} bytes differ from the {} in the archive", got.len(), data.len()));
        }
    }
    for entry in &got {
        let p = dest.join(entry.trim_end_matches(['/', '@']));
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let mode = meta.permissions().mode();
        if mode & 0o7000 != 0 {
            return Err(format!("{entry} kept special mode bits {:o}", mode & 0o7777));
        }
        if meta.is_file() {
            let exec = mode & 0o111 != 0;
            if exec != a.executables.iter().any(|x| x == entry) {
                return Err(format!("{entry} has mode {:o}", mode & 0o777));
            }
            std::fs::read(&p).map_err(|e| format!("{entry} is not readable: {e}"))?;
        }
    }
    Ok(())
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from("| family | case | format | outcome | what |\n|---|---|---|---|---|\n");
    for r in rows {
        let mark = if r.verdict.is_ok() { "" } else { " (WRONG)" };
        out.push_str(&format!("| {} | {} | {} | {}{mark} | {} |\n", r.family.name(), r.name, r.ext, r.outcome, r.about));
    }
    let mut by_family: BTreeMap<Family, BTreeMap<&str, usize>> = BTreeMap::new();
    for r in rows {
        *by_family.entry(r.family).or_default().entry(r.outcome.as_str()).or_default() += 1;
    }
    out.push_str(&format!("\n{} cases\n\n| family | cases | outcomes |\n|---|---|---|\n", rows.len()));
    for (f, outcomes) in &by_family {
        let n: usize = outcomes.values().sum();
        let list: Vec<String> = outcomes.iter().map(|(o, k)| format!("{o} {k}")).collect();
        out.push_str(&format!("| {} | {n} | {} |\n", f.name(), list.join(", ")));
    }
    out
}

// ---------------------------------------------------------------- operator limits

/// One limit lowered in the config file, an archive that passes under the defaults and
/// crosses the lowered limit, and what the message must name.
struct LimitCase {
    limit: &'static str,
    setting: &'static str,
    ext: &'static str,
    archive: Vec<u8>,
    mentions: &'static str,
}

fn limit_cases() -> Vec<LimitCase> {
    let noise: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let twenty: Vec<Entry> = (0..20).map(|i| Entry::stored(&format!("f{i:02}.py"), b"x")).collect();
    let twenty_tar = (0..20).fold(Tar::new(), |t, i| t.file(&format!("f{i:02}.py"), b"x")).finish();
    // About 40:1, above the lowered ratio and far below the default one; 2 MiB, above the
    // 1 MiB floor under which ratios are not checked.
    let sparse: Vec<u8> = (0..2u32 << 20).map(|i| if i % 100 == 0 { (i.wrapping_mul(2_654_435_761) >> 24) as u8 } else { 0 }).collect();
    vec![
        LimitCase { limit: "max-download-bytes", setting: "max-download-bytes = 10000", ext: ".zip", archive: zip(&[Entry::stored("n.bin", &noise)]), mentions: "download limit of 10000" },
        LimitCase { limit: "max-unpacked-bytes (declared)", setting: "max-unpacked-bytes = 100000", ext: ".zip", archive: zip(&[Entry::deflated("n.bin", &noise)]), mentions: "100000" },
        LimitCase { limit: "max-unpacked-bytes (streamed)", setting: "max-unpacked-bytes = 100000", ext: ".tar.gz", archive: gzip(&Tar::new().file("n.bin", &noise).finish()), mentions: "100000" },
        LimitCase { limit: "max-entries", setting: "max-entries = 10", ext: ".zip", archive: zip(&twenty), mentions: "limit of 10" },
        LimitCase { limit: "max-entries (streamed)", setting: "max-entries = 10", ext: ".tar.gz", archive: gzip(&twenty_tar), mentions: "limit of 10 entries" },
        LimitCase { limit: "max-compression-ratio", setting: "max-compression-ratio = 10", ext: ".zip", archive: zip(&[Entry::deflated("z.bin", &sparse)]), mentions: "limit of 10" },
        LimitCase {
            limit: "max-compression-ratio (streamed)",
            setting: "max-compression-ratio = 10",
            ext: ".tar.gz",
            archive: gzip(&Tar::new().file("z.bin", &sparse).finish()),
            mentions: "more than 10 times",
        },
        LimitCase { limit: "max-path-bytes", setting: "max-path-bytes = 20", ext: ".zip", archive: zip(&[Entry::stored("a-name-of-thirty-bytes-xx.py", b"x")]), mentions: "limit of 20" },
        LimitCase { limit: "max-path-depth", setting: "max-path-depth = 3", ext: ".zip", archive: zip(&[Entry::stored("a/b/c/d.py", b"x")]), mentions: "limit of 3" },
        LimitCase {
            limit: "max-path-depth (streamed)",
            setting: "max-path-depth = 3",
            ext: ".tar.gz",
            archive: gzip(&Tar::new().file("a/b/c/d.py", b"x").finish()),
            mentions: "limit of 3",
        },
    ]
}

#[test]
fn lowering_each_limit_in_the_config_trips_limit_exceeded() {
    let fx = ObsFixture::start();
    let mut e = obs_env(&fx);
    let cases = limit_cases();
    for (i, c) in cases.iter().enumerate() {
        let key = format!("limits/{i}{}", c.ext);
        fx.put("ray-jobs", &key, c.archive.clone());
        let uri = format!("obs://ray-jobs/{key}");
        let parent = e.out(&format!("limit-{i}"));
        std::fs::create_dir(&parent).unwrap();
        let dest = parent.join("pkg");

        e.write_config("");
        e.run(&["download-and-unpack", &uri, dest.to_str().unwrap(), "--json"]).ok();
        std::fs::remove_dir_all(&dest).unwrap();

        e.write_config(&format!("[limits]\n{}\n", c.setting));
        let r = e.run(&["download-and-unpack", &uri, dest.to_str().unwrap(), "--json"]);
        let err = r.err();
        assert_eq!(err["kind"], "limit-exceeded", "{}: {err:#}", c.limit);
        assert!(err["message"].as_str().unwrap().contains(c.mentions), "{}: {err:#}", c.limit);
        assert_eq!(r.status, 8, "{}", c.limit);
        assert!(listing(&parent).is_empty(), "{}: left {:?}", c.limit, listing(&parent));
    }
}
