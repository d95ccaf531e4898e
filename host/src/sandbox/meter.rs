//! The write limits the host enforces, whatever the plugin does: bytes (a file counts at
//! its apparent size, so a sparse file counts at its length), entries, path depth and path
//! length, kept separately for the package tree and the scratch area of one call. Parts of
//! one call share one meter. Pure bookkeeping: `fs.rs` feeds it from the WASI filesystem.
//!
//! Paths are staging-relative, `/`-separated and lexically normalised ([`join`]); an entry
//! is known by its path. Staging starts empty on every call, so every entry in it was
//! created by this call and the ledger sees all of them.

use crate::config::Limits;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Where in staging a path lies; each area has its own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// `tree/`: what is published. Anything else in staging that is neither tree nor
    /// scratch is counted here too, so no corner of staging is unmetered.
    Tree,
    /// `scratch/`: the downloaded object or spilled tail; bounded like a download.
    Scratch,
}

impl Area {
    fn of(path: &str) -> (Area, &str) {
        let (first, rest) = path.split_once('/').unwrap_or((path, ""));
        match first {
            "tree" => (Area::Tree, rest),
            "scratch" => (Area::Scratch, rest),
            _ => (Area::Tree, path),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Area::Tree => "the package tree",
            Area::Scratch => "the scratch area",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Copy)]
struct Budget {
    bytes: u64,
    bytes_limit: &'static str,
    entries: u64,
}

/// The first write past a limit. Sticky: the call is over once one is seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitExceeded {
    pub limit: &'static str,
    pub value: u64,
    pub attempted: u64,
    pub area: Area,
    pub path: String,
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.limit {
            "max-entries" => format!("would create entry {} of {}", self.attempted, self.value),
            "max-path-depth" => format!("would create a path {} deep (limit {})", self.attempted, self.value),
            "max-path-bytes" => format!("would create a path of {} bytes (limit {})", self.attempted, self.value),
            STOPPED => "wrote after its call ran past the deadline".to_string(),
            _ => format!("would grow {} to {} bytes (limit {})", self.area.name(), self.attempted, self.value),
        };
        let path = scheme_contract::text::escape(&self.path);
        write!(f, "the host stopped the plugin at {path} in {}: it {what} ({})", self.area.name(), self.limit)
    }
}

/// The `limit` of the refusal every write meets once [`WriteMeter::stop`] was called.
const STOPPED: &str = "timeout-secs";

#[derive(Default)]
struct Totals {
    bytes: u64,
    entries: u64,
}

#[derive(Default)]
struct Ledger {
    /// Apparent size of every file created in this call, by path; directories and links
    /// are entries of size 0.
    sizes: HashMap<String, u64>,
    totals: [Totals; 2],
    exceeded: Option<LimitExceeded>,
}

pub struct WriteMeter {
    budgets: [Budget; 2],
    max_path_bytes: u64,
    max_path_depth: u64,
    ledger: Mutex<Ledger>,
    /// Whether any instance of the call asked for a symlink. Staging starts empty and
    /// `symlink-at` is the only way to make one, so while this is false the tree holds no
    /// link and publishing can skip what only links make necessary.
    symlinks: AtomicBool,
    /// Set by the deadline watchdog before it removes staging: from then on nothing is
    /// created or grown, so the removal cannot race a plugin that is still writing.
    stopped: AtomicBool,
}

/// Whether a path that [`WriteMeter::create`] admitted was new, so that a failed create
/// can be taken back with [`WriteMeter::forget`].
#[must_use]
#[derive(Debug)]
pub struct Created(bool);

impl WriteMeter {
    pub fn new(limits: &Limits) -> WriteMeter {
        WriteMeter {
            budgets: [
                Budget { bytes: limits.max_unpacked_bytes, bytes_limit: "max-unpacked-bytes", entries: limits.max_entries },
                Budget { bytes: limits.max_download_bytes, bytes_limit: "max-download-bytes", entries: limits.max_entries },
            ],
            max_path_bytes: limits.max_path_bytes.into(),
            max_path_depth: limits.max_path_depth.into(),
            ledger: Mutex::new(Ledger::default()),
            symlinks: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Recorded before the link is attempted, so a failed or interrupted attempt counts too.
    pub fn note_symlink(&self) {
        self.symlinks.store(true, Ordering::SeqCst);
    }

    /// Whether the staging tree may hold a symlink (see [`WriteMeter::note_symlink`]).
    pub fn may_hold_symlinks(&self) -> bool {
        self.symlinks.load(Ordering::SeqCst)
    }

    /// Refuses every later create and growth (see the `stopped` field).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    fn refuse_if_stopped(&self, path: &str) -> Result<(), LimitExceeded> {
        if self.stopped.load(Ordering::SeqCst) {
            return Err(LimitExceeded { limit: STOPPED, value: 0, attempted: 0, area: Area::of(path).0, path: path.into() });
        }
        Ok(())
    }

    pub fn exceeded(&self) -> Option<LimitExceeded> {
        self.ledger().exceeded.clone()
    }

    /// Admits a new entry at `path` (a file opened with create, a directory, a link),
    /// checking its depth, length and the area's entry count. An existing entry is
    /// admitted as it is.
    pub fn create(&self, path: &str) -> Result<Created, LimitExceeded> {
        self.refuse_if_stopped(path)?;
        let mut l = self.ledger();
        if let Some(e) = &l.exceeded {
            return Err(e.clone());
        }
        if l.sizes.contains_key(path) {
            return Ok(Created(false));
        }
        let (area, rel) = Area::of(path);
        if rel.is_empty() {
            // The area's own root is the host's; a plugin cannot create it anew.
            return Ok(Created(false));
        }
        let depth = rel.split('/').count() as u64;
        let entries = l.totals[area.index()].entries + 1;
        let budget = self.budgets[area.index()];
        let over = if depth > self.max_path_depth {
            Some(("max-path-depth", self.max_path_depth, depth))
        } else if rel.len() as u64 > self.max_path_bytes {
            Some(("max-path-bytes", self.max_path_bytes, rel.len() as u64))
        } else if entries > budget.entries {
            Some(("max-entries", budget.entries, entries))
        } else {
            None
        };
        if let Some((limit, value, attempted)) = over {
            return Err(l.exceed(LimitExceeded { limit, value, attempted, area, path: path.into() }));
        }
        l.totals[area.index()].entries = entries;
        l.sizes.insert(path.into(), 0);
        Ok(Created(true))
    }

    /// Takes back an entry [`WriteMeter::create`] admitted when the filesystem then
    /// refused to create it.
    pub fn forget(&self, path: &str, created: Created) {
        if created.0 {
            self.ledger().remove(path);
        }
    }

    /// Records that the file at `path` now extends to at least `end` bytes.
    pub fn grow(&self, path: &str, end: u64) -> Result<(), LimitExceeded> {
        self.refuse_if_stopped(path)?;
        let mut l = self.ledger();
        let size = l.sizes.get(path).copied().unwrap_or(0);
        if end <= size {
            return l.exceeded.clone().map_or(Ok(()), Err);
        }
        l.set_size(&self.budgets, path, size, end)
    }

    /// Records that the file at `path` was set to exactly `size` bytes (set-size, truncate).
    pub fn resize(&self, path: &str, size: u64) -> Result<(), LimitExceeded> {
        self.refuse_if_stopped(path)?;
        let mut l = self.ledger();
        let old = l.sizes.get(path).copied().unwrap_or(0);
        l.set_size(&self.budgets, path, old, size)
    }

    /// Apparent size of the file at `path` as far as this call made it.
    pub fn size(&self, path: &str) -> u64 {
        self.ledger().sizes.get(path).copied().unwrap_or(0)
    }

    pub fn remove(&self, path: &str) {
        self.ledger().remove(path);
    }

    /// Moves `from` (and, for a directory, everything below it) to `to`, checking `to` as a
    /// new entry and the receiving area's bytes.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), LimitExceeded> {
        self.refuse_if_stopped(to)?;
        let prefix = format!("{from}/");
        let moved: Vec<(String, u64)> = {
            let l = self.ledger();
            l.sizes.iter().filter(|(p, _)| *p == from || p.starts_with(&prefix)).map(|(p, s)| (p.clone(), *s)).collect()
        };
        if moved.is_empty() {
            // Not created in this call: the host's own directories, which are not the
            // plugin's to move; the filesystem refuses or the audit catches it.
            let _ = self.create(to)?;
            return Ok(());
        }
        self.remove(to);
        for (path, _) in &moved {
            self.remove(path);
        }
        for (path, size) in moved {
            let new = format!("{to}{}", &path[from.len()..]);
            let _ = self.create(&new)?;
            self.grow(&new, size)?;
        }
        Ok(())
    }
}

impl Ledger {
    fn exceed(&mut self, e: LimitExceeded) -> LimitExceeded {
        self.exceeded.get_or_insert(e).clone()
    }

    fn remove(&mut self, path: &str) {
        if let Some(size) = self.sizes.remove(path) {
            let (area, _) = Area::of(path);
            let t = &mut self.totals[area.index()];
            t.bytes -= size;
            t.entries -= 1;
        }
    }

    fn set_size(&mut self, budgets: &[Budget; 2], path: &str, old: u64, new: u64) -> Result<(), LimitExceeded> {
        if let Some(e) = &self.exceeded {
            return Err(e.clone());
        }
        let (area, _) = Area::of(path);
        let budget = budgets[area.index()];
        let total = self.totals[area.index()].bytes - old + new;
        if total > budget.bytes {
            return Err(self.exceed(LimitExceeded { limit: budget.bytes_limit, value: budget.bytes, attempted: total, area, path: path.into() }));
        }
        self.totals[area.index()].bytes = total;
        match self.sizes.get_mut(path) {
            Some(s) => *s = new,
            None => {
                // A file this call did not create (or whose create the plugin got around):
                // still an entry, so it cannot escape the count.
                self.totals[area.index()].entries += 1;
                self.sizes.insert(path.into(), new);
            }
        }
        Ok(())
    }
}

/// `rel` resolved against the staging-relative directory `base`, lexically: `.` and empty
/// segments dropped, `..` taking one back (never above staging, which the filesystem
/// refuses anyway).
pub fn join(base: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = if base.is_empty() { Vec::new() } else { base.split('/').collect() };
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits { max_unpacked_bytes: 100, max_download_bytes: 50, max_entries: 3, max_path_bytes: 12, max_path_depth: 3, ..Limits::default() }
    }

    #[test]
    fn join_is_lexical_and_stays_in_staging() {
        assert_eq!(join("", "tree/a/./b//c"), "tree/a/b/c");
        assert_eq!(join("tree/a", "../b"), "tree/b");
        assert_eq!(join("tree", "../../../etc"), "etc");
        assert_eq!(join("tree", ""), "tree");
    }

    #[test]
    fn bytes_count_apparent_size_per_area() {
        let m = WriteMeter::new(&limits());
        let _ = m.create("tree/a").unwrap();
        m.grow("tree/a", 60).unwrap();
        m.grow("tree/a", 30).unwrap(); // an overwrite inside the file adds nothing
        let _ = m.create("scratch/object").unwrap();
        m.grow("scratch/object", 50).unwrap(); // scratch has its own budget
        let _ = m.create("tree/b").unwrap();
        let e = m.grow("tree/b", 41).unwrap_err();
        assert_eq!((e.limit, e.value, e.attempted, e.area), ("max-unpacked-bytes", 100, 101, Area::Tree));
        assert!(e.to_string().contains("tree/b"), "{e}");
        assert_eq!(m.exceeded(), Some(e.clone()), "sticky");
        assert_eq!(m.grow("tree/c", 1).unwrap_err(), e, "nothing more once exceeded");
    }

    #[test]
    fn a_stopped_meter_refuses_every_create_and_write() {
        let m = WriteMeter::new(&limits());
        let _ = m.create("tree/a").unwrap();
        m.grow("tree/a", 10).unwrap();
        m.stop();
        let e = m.create("tree/b").unwrap_err();
        assert_eq!((e.limit, e.area), ("timeout-secs", Area::Tree));
        assert!(e.to_string().contains("past the deadline"), "{e}");
        assert_eq!(m.grow("tree/a", 5).unwrap_err().limit, "timeout-secs", "even an overwrite inside the file");
        assert!(m.resize("scratch/object", 0).is_err());
        assert!(m.rename("tree/a", "tree/c").is_err());
        assert_eq!(m.exceeded(), None, "not a limit the plugin broke");
    }

    #[test]
    fn a_sparse_file_counts_at_its_size_and_truncation_gives_back() {
        let m = WriteMeter::new(&limits());
        let _ = m.create("tree/s").unwrap();
        m.resize("tree/s", 90).unwrap();
        m.resize("tree/s", 0).unwrap();
        let _ = m.create("tree/t").unwrap();
        m.grow("tree/t", 100).unwrap();
        let e = m.resize("tree/s", 1 << 40).unwrap_err();
        assert_eq!(e.attempted, 100 + (1 << 40));
    }

    #[test]
    fn entries_depth_and_length() {
        let m = WriteMeter::new(&limits());
        assert!(m.create("tree/a/b/c/d").is_err_and(|e| e.limit == "max-path-depth" && e.attempted == 4));
        let m = WriteMeter::new(&limits());
        assert!(m.create("tree/abcdefghijklm").is_err_and(|e| e.limit == "max-path-bytes" && e.attempted == 13));
        let m = WriteMeter::new(&limits());
        for p in ["tree/a", "tree/b", "tree/c"] {
            let _ = m.create(p).unwrap();
        }
        let _ = m.create("tree/a").unwrap(); // already there: not a new entry
        let _ = m.create("tree").unwrap(); // the host's root
        let e = m.create("tree/d").unwrap_err();
        assert_eq!((e.limit, e.attempted), ("max-entries", 4));
    }

    #[test]
    fn removing_and_forgetting_free_entries() {
        let m = WriteMeter::new(&limits());
        for p in ["scratch/a", "scratch/b", "scratch/c"] {
            let _ = m.create(p).unwrap();
        }
        m.remove("scratch/a");
        let c = m.create("scratch/d").unwrap();
        m.forget("scratch/d", c);
        let _ = m.create("scratch/e").unwrap();
        assert!(m.create("scratch/f").is_err());
    }

    #[test]
    fn rename_moves_sizes_between_areas_and_checks_the_new_one() {
        let m = WriteMeter::new(&limits());
        let _ = m.create("tree/d").unwrap();
        let _ = m.create("tree/d/f").unwrap();
        m.grow("tree/d/f", 40).unwrap();
        m.rename("tree/d", "tree/e").unwrap();
        assert_eq!((m.size("tree/e/f"), m.size("tree/d/f")), (40, 0));
        let _ = m.create("scratch/o").unwrap();
        m.grow("scratch/o", 50).unwrap();
        m.rename("scratch/o", "tree/o").unwrap();
        assert_eq!(m.size("tree/o"), 50);
        let _ = m.create("scratch/p").unwrap();
        m.grow("scratch/p", 50).unwrap();
        let e = m.rename("scratch/p", "tree/p").unwrap_err();
        assert_eq!(e.limit, "max-entries");
    }

    #[test]
    fn parts_share_one_meter() {
        let m = std::sync::Arc::new(WriteMeter::new(&limits()));
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let m = m.clone();
                std::thread::spawn(move || {
                    let p = format!("tree/p{i}");
                    let _ = m.create(&p).unwrap();
                    m.grow(&p, 50)
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        let _ = m.create("tree/x").unwrap();
        assert!(m.grow("tree/x", 1).is_err(), "the two parts' 100 bytes fill the one budget");
    }
}
