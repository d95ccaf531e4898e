//! One package unpacked by several plugin instances at once (the optional `parts` export).
//!
//! Each instance is a fresh sandbox on the same staging tree; it streams its own byte range
//! of the archive and writes its own entries. Instances run as separate tokio tasks, so on a
//! multi-threaded runtime inflating and writing use every worker. The host publishes only
//! if every part succeeded and all of them read the same version of the object.

use crate::bindings::types;
use crate::error::{ErrorKind, HostError, Result};
use crate::sandbox::{Instance, ProgressSink};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::task::JoinSet;

/// What every part is called with; `scratch` is per part.
pub struct PartCall {
    pub uri: String,
    pub target: String,
    pub limits: types::Limits,
}

/// The parts' work together.
pub struct Merged {
    pub stats: types::UnpackStats,
    /// Whether the plugin split the package (false: part 0 did it all).
    pub split: bool,
}

#[derive(Default, Clone, Copy)]
struct PartProgress {
    downloaded: u64,
    download_total: Option<u64>,
    unpacked: u64,
    entries: u64,
}

struct Shared {
    inner: Box<dyn ProgressSink>,
    parts: Vec<PartProgress>,
}

/// Forwards one part's reports as the sum over all parts, so the caller sees one package.
struct PartSink {
    index: usize,
    shared: Arc<Mutex<Shared>>,
}

impl ProgressSink for PartSink {
    fn throttled(&mut self, wait: std::time::Duration, so_far: crate::sandbox::throttle::ThrottleReport) {
        self.shared.lock().unwrap_or_else(|p| p.into_inner()).inner.throttled(wait, so_far);
    }

    fn report(&mut self, phase: types::Phase, done: u64, total: Option<u64>, entries: u64) {
        let mut s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let p = &mut s.parts[self.index];
        match phase {
            types::Phase::Download => (p.downloaded, p.download_total) = (done, total),
            types::Phase::Unpack => (p.unpacked, p.entries) = (done, entries),
        }
        let parts = &s.parts;
        let (done, total, entries) = match phase {
            // A part that has not announced a size counts what it has so far: an idle part
            // (package not split) never will, and the bar's length only grows.
            types::Phase::Download => (
                parts.iter().map(|p| p.downloaded).sum(),
                parts.iter().any(|p| p.download_total.is_some()).then(|| parts.iter().map(|p| p.download_total.unwrap_or(p.downloaded)).sum()),
                0,
            ),
            types::Phase::Unpack => (parts.iter().map(|p| p.unpacked).sum(), None, parts.iter().map(|p| p.entries).sum()),
        };
        s.inner.report(phase, done, total, entries);
    }
}

/// One progress sink per part, all feeding `inner`.
pub fn sinks(inner: Box<dyn ProgressSink>, count: usize) -> Vec<Box<dyn ProgressSink>> {
    let shared = Arc::new(Mutex::new(Shared { inner, parts: vec![PartProgress::default(); count] }));
    (0..count).map(|index| Box::new(PartSink { index, shared: shared.clone() }) as Box<dyn ProgressSink>).collect()
}

/// Runs instance `i` on part `i` of `instances.len()`, each with scratch directory
/// `scratch[i]` (guest path; `staging` is its host directory, for error details). The first
/// failure cancels the other parts and is returned once they have stopped.
pub async fn run(instances: Vec<Instance>, call: PartCall, scratch: Vec<String>, staging: PathBuf) -> Result<Merged> {
    let count = instances.len() as u32;
    let call = Arc::new(call);
    let mut tasks = JoinSet::new();
    for ((index, mut inst), scratch) in (0u32..).zip(instances).zip(scratch) {
        let call = call.clone();
        tasks.spawn(async move {
            let part = types::Part { index, count };
            let r = inst.run_part(&call.uri, &call.target, &scratch, call.limits, part).await;
            (index, inst, r)
        });
    }
    let mut done = Vec::with_capacity(count as usize);
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        let error = match joined {
            Ok((index, _, Ok(Ok(stats)))) => {
                done.push((index, stats));
                continue;
            }
            Ok((_, inst, Ok(Err(e)))) => inst.explain(inst.scheme_error(e), &staging),
            Ok((_, _, Err(e))) => e,
            Err(e) => HostError::new(ErrorKind::Internal, format!("a part of the unpack stopped unexpectedly: {e}")),
        };
        failure = Some(error);
        tasks.abort_all();
        // Every part must have stopped writing before the caller removes the staging tree.
        while tasks.join_next().await.is_some() {}
        break;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    done.sort_by_key(|(i, _)| *i);
    merge(&call.uri, done.into_iter().map(|(_, s)| s).collect())
}

/// Sums the parts, refusing a tree assembled from different versions of the object.
fn merge(uri: &str, parts: Vec<types::PartStats>) -> Result<Merged> {
    let split = parts.iter().any(|p| p.split);
    if split {
        let first = parts[0].object_version.as_deref();
        let agree = parts.iter().all(|p| p.split && p.object_version.is_some() && p.object_version.as_deref() == first);
        if !agree {
            let seen: Vec<String> = parts
                .iter()
                .map(|p| format!("{}{}", p.object_version.as_deref().unwrap_or("(none)"), if p.split { "" } else { " unsplit" }))
                .collect();
            return Err(HostError::new(
                ErrorKind::Integrity,
                format!(
                    "{} changed while its {} parts were being downloaded (versions seen: {}); nothing was published, try again",
                    scheme_contract::text::escape(uri),
                    parts.len(),
                    seen.join(", ")
                ),
            ));
        }
    } else if let Some(p) = parts.iter().skip(1).find(|p| p.stats.files + p.stats.directories > 0) {
        return Err(HostError::sandbox(format!(
            "a plugin part that did not split the package still wrote {} entries",
            p.stats.files + p.stats.directories
        )));
    }
    let mut parts = parts.into_iter();
    let mut total = parts.next().ok_or_else(|| HostError::new(ErrorKind::Internal, "no parts ran"))?.stats;
    for p in parts {
        let (s, d) = (p.stats, &mut total.download);
        d.bytes_downloaded += s.download.bytes_downloaded;
        d.retries += s.download.retries;
        d.object_size = d.object_size.max(s.download.object_size);
        d.download_ms = d.download_ms.max(s.download.download_ms);
        if d.verified != s.download.verified && split {
            d.verified = None;
        }
        total.files += s.files;
        total.directories += s.directories;
        total.bytes_written += s.bytes_written;
        total.executables.extend(s.executables);
        total.unpack_ms = total.unpack_ms.max(s.unpack_ms);
    }
    Ok(Merged { stats: total, split })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(split: bool, version: Option<&str>, files: u64) -> types::PartStats {
        types::PartStats {
            split,
            object_version: version.map(String::from),
            stats: types::UnpackStats {
                download: types::DownloadStats {
                    bytes_downloaded: 10,
                    object_size: 100,
                    retries: 1,
                    verified: Some("zip-crc32".into()),
                    download_ms: files,
                },
                files,
                directories: 1,
                bytes_written: files * 3,
                executables: vec![format!("bin/{files}")],
                unpack_ms: files,
            },
        }
    }

    #[test]
    fn split_parts_are_summed() {
        let m = merge("obs://b/k.zip", vec![part(true, Some("e1"), 2), part(true, Some("e1"), 5)]).unwrap();
        assert!(m.split);
        assert_eq!((m.stats.files, m.stats.directories, m.stats.bytes_written), (7, 2, 21));
        assert_eq!(m.stats.download.bytes_downloaded, 20);
        assert_eq!(m.stats.download.retries, 2);
        assert_eq!(m.stats.download.verified.as_deref(), Some("zip-crc32"));
        assert_eq!(m.stats.executables, ["bin/2", "bin/5"]);
        assert_eq!(m.stats.unpack_ms, 5);
    }

    #[test]
    fn different_versions_or_disagreement_are_refused() {
        for parts in [
            vec![part(true, Some("e1"), 2), part(true, Some("e2"), 5)],
            vec![part(true, Some("e1"), 2), part(false, Some("e1"), 0)],
            vec![part(true, None, 2), part(true, None, 5)],
        ] {
            let e = merge("obs://b/k.zip", parts).err().expect("refused");
            assert_eq!(e.kind, ErrorKind::Integrity, "{}", e.message);
            assert!(e.message.contains("changed while"), "{}", e.message);
        }
    }

    #[test]
    fn an_unsplit_package_is_part_zeros() {
        let mut idle = part(false, None, 0);
        idle.stats.directories = 0;
        let m = merge("obs://b/k.tar.gz", vec![part(false, None, 4), idle]).unwrap();
        assert!(!m.split);
        assert_eq!(m.stats.files, 4);
        assert_eq!(m.stats.download.bytes_downloaded, 20, "the idle part's fetch is counted");
        let e = merge("obs://b/k.zip", vec![part(false, None, 4), part(false, None, 1)]).err().expect("refused");
        assert_eq!(e.kind, ErrorKind::Sandbox);
    }
}
