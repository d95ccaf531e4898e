//! What this process must remove, or say it leaves behind, if it has to end before its own
//! cleanup runs.
//!
//! Staging directories and package lock files normally go away when the values that own
//! them are dropped, and an open multipart upload is aborted. The one path that skips all
//! of that is the deadline watchdog ending the process while a plugin still runs its own
//! code (`sandbox::watchdog`); it calls [`remove_all`] first, so such a call leaves no file
//! behind, and its error names what it could not undo (an upload left open).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

enum Leftover {
    Removal(Box<dyn FnMut() + Send>),
    /// Something only the operator can undo, said in the error.
    Note(String),
}

/// Removals and notes waiting for an early end, newest last, each with the id its
/// [`Registered`] holds.
pub struct Leftovers {
    pending: Mutex<Vec<(u64, Leftover)>>,
    next_id: AtomicU64,
}

/// The process's registry.
static PROCESS: Leftovers = Leftovers::new();

/// Keeps a removal or note registered; dropping it unregisters it without running it (the
/// owner has cleaned up, or handed the path over, by then).
#[must_use = "the removal or note is unregistered when this is dropped"]
pub struct Registered {
    registry: &'static Leftovers,
    id: u64,
}

/// Registers `removal` to run if the process ends early.
pub fn register(removal: impl FnMut() + Send + 'static) -> Registered {
    PROCESS.register(removal)
}

/// Registers `text`, which says what an early end leaves for the operator to undo.
pub fn note(text: String) -> Registered {
    PROCESS.note(text)
}

/// Runs every removal registered in this process and returns the notes (see
/// [`Leftovers::remove_all`]).
pub fn remove_all() -> Vec<String> {
    PROCESS.remove_all()
}

impl Leftovers {
    pub const fn new() -> Leftovers {
        Leftovers { pending: Mutex::new(Vec::new()), next_id: AtomicU64::new(0) }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Leftover)>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn register(&'static self, removal: impl FnMut() + Send + 'static) -> Registered {
        self.add(Leftover::Removal(Box::new(removal)))
    }

    pub fn note(&'static self, text: String) -> Registered {
        self.add(Leftover::Note(text))
    }

    fn add(&'static self, leftover: Leftover) -> Registered {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.pending().push((id, leftover));
        Registered { registry: self, id }
    }

    /// Runs every registered removal, newest first (a staging directory before the lock
    /// that guards it), unregisters everything and returns the notes, oldest first.
    pub fn remove_all(&self) -> Vec<String> {
        let mut pending = std::mem::take(&mut *self.pending());
        let mut notes = Vec::new();
        while let Some((_, leftover)) = pending.pop() {
            match leftover {
                Leftover::Removal(mut removal) => removal(),
                Leftover::Note(text) => notes.push(text),
            }
        }
        notes.reverse();
        notes
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
    fn removals_run_newest_first_notes_come_back_and_dropped_ones_do_neither() {
        static REGISTRY: Leftovers = Leftovers::new();
        let ran = Arc::new(Mutex::new(Vec::new()));
        let note = |name: &'static str| {
            let ran = ran.clone();
            move || ran.lock().unwrap().push(name)
        };
        let _lock = REGISTRY.register(note("lock"));
        let kept = REGISTRY.register(note("dropped"));
        let _first = REGISTRY.note("upload 1 open".into());
        let _staging = REGISTRY.register(note("staging"));
        let _second = REGISTRY.note("upload 2 open".into());
        let closed = REGISTRY.note("upload 3 aborted".into());
        drop((kept, closed));
        assert_eq!(REGISTRY.remove_all(), ["upload 1 open", "upload 2 open"]);
        assert_eq!(*ran.lock().unwrap(), vec!["staging", "lock"]);
        assert!(REGISTRY.remove_all().is_empty());
        assert_eq!(ran.lock().unwrap().len(), 2, "a removal runs at most once");
    }
}
