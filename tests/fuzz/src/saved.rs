//! The inputs the stable replays feed back: a target's minimised corpus and every input
//! that once failed, in a stable order.

use std::path::{Path, PathBuf};

/// `(path, bytes)` of every file in `corpus/<target>` and `regressions/<target>` under
/// `fuzz_dir` (this directory's parent, as the including crate sees it).
pub fn saved(fuzz_dir: &Path, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in [fuzz_dir.join("corpus").join(target), fuzz_dir.join("regressions").join(target)] {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            out.push((e.path(), std::fs::read(e.path()).unwrap()));
        }
    }
    out.sort();
    out
}
