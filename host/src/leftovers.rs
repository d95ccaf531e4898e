//! What this process must remove if it has to end before its own cleanup runs.
//!
//! Staging directories and package lock files normally go away when the values that own
//! them are dropped. The one path that skips every drop is the deadline watchdog ending
//! the process while a plugin still runs its own code (`sandbox::watchdog`); it calls
//! [`remove_all`] first, so such a call leaves nothing behind either.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

type Removal = Box<dyn FnMut() + Send>;

/// Removals waiting for an early end, newest last, each with the id its [`Registered`]
/// holds.
pub struct Leftovers {
    pending: Mutex<Vec<(u64, Removal)>>,
    next_id: AtomicU64,
}

/// The process's registry.
static PROCESS: Leftovers = Leftovers::new();

/// Keeps a removal registered; dropping it unregisters the removal without running it
/// (the owner has cleaned up, or handed the path over, by then).
#[must_use = "the removal is unregistered when this is dropped"]
pub struct Registered {
    registry: &'static Leftovers,
    id: u64,
}

/// Registers `removal` to run if the process ends early.
pub fn register(removal: impl FnMut() + Send + 'static) -> Registered {
    PROCESS.register(removal)
}

/// Runs every removal registered in this process (see [`Leftovers::remove_all`]).
pub fn remove_all() {
    PROCESS.remove_all()
}

impl Leftovers {
    pub const fn new() -> Leftovers {
        Leftovers { pending: Mutex::new(Vec::new()), next_id: AtomicU64::new(0) }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Removal)>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn register(&'static self, removal: impl FnMut() + Send + 'static) -> Registered {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.pending().push((id, Box::new(removal)));
        Registered { registry: self, id }
    }

    /// Runs every registered removal, newest first (a staging directory before the lock
    /// that guards it), and unregisters them.
    pub fn remove_all(&self) {
        let mut removals = std::mem::take(&mut *self.pending());
        while let Some((_, mut removal)) = removals.pop() {
            removal();
        }
    }
}

impl Default for Leftovers {
    fn default() -> Self {
        Leftovers::new()
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.pending().retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn removals_run_newest_first_and_dropped_ones_do_not_run() {
        static REGISTRY: Leftovers = Leftovers::new();
        let ran = Arc::new(Mutex::new(Vec::new()));
        let note = |name: &'static str| {
            let ran = ran.clone();
            move || ran.lock().unwrap().push(name)
        };
        let _lock = REGISTRY.register(note("lock"));
        let kept = REGISTRY.register(note("dropped"));
        let _staging = REGISTRY.register(note("staging"));
        drop(kept);
        REGISTRY.remove_all();
        assert_eq!(*ran.lock().unwrap(), vec!["staging", "lock"]);
        REGISTRY.remove_all();
        assert_eq!(ran.lock().unwrap().len(), 2, "a removal runs at most once");
    }
}
