//! The symlink rule every oracle checks a written tree against, independently of the code
//! under test (which has its own copy in the host's link audit).

use std::path::{Component, Path};

/// A relative target whose `..` components all come first and do not climb above the root,
/// for a link `depth` directories below it.
pub fn stays_inside(target: &Path, depth: usize) -> bool {
    let mut up = 0;
    let mut descended = false;
    for c in target.components() {
        match c {
            Component::ParentDir if !descended => up += 1,
            Component::CurDir => {}
            Component::Normal(_) => descended = true,
            _ => return false,
        }
    }
    up <= depth
}
