//! A fixed set of part buffers, reused from part to part. The host then never holds more
//! than that many parts, whatever the relative speeds of reading (or packing) and sending,
//! and each buffer is allocated once: freeing and allocating a part-sized buffer per part
//! left the allocator holding several parts' worth more than were alive.

use std::ops::Deref;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

#[derive(Clone)]
pub struct PartBuffers {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    freed: Condvar,
    capacity: usize,
}

struct State {
    free: Vec<Vec<u8>>,
    /// Buffers that may still be allocated.
    unmade: usize,
    closed: bool,
}

impl PartBuffers {
    /// `count` buffers (at least one) of `capacity` bytes each, allocated on first use.
    pub fn new(count: usize, capacity: usize) -> PartBuffers {
        let state = State { free: Vec::new(), unmade: count.max(1), closed: false };
        PartBuffers { shared: Arc::new(Shared { state: Mutex::new(state), freed: Condvar::new(), capacity }) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned lock still holds sound state.
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An empty buffer: a free one, a new one while fewer than `count` exist, else the next
    /// one given back. Blocks the calling thread; none once the set is closed.
    pub fn take(&self) -> Option<Vec<u8>> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return None;
            }
            if let Some(buf) = state.free.pop() {
                return Some(buf);
            }
            if state.unmade > 0 {
                state.unmade -= 1;
                return Some(Vec::with_capacity(self.shared.capacity));
            }
            state = self.shared.freed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Wraps a filled buffer so that it comes back here when dropped.
    pub fn part(&self, bytes: Vec<u8>) -> Part {
        Part { bytes, home: self.clone() }
    }

    /// Wakes and refuses every taker: nobody will give a buffer back any more.
    pub fn close(&self) {
        self.lock().closed = true;
        self.shared.freed.notify_all();
    }

    fn give(&self, mut buf: Vec<u8>) {
        buf.clear();
        self.lock().free.push(buf);
        self.shared.freed.notify_one();
    }
}

/// The bytes of one part; its buffer goes back to its set when the part is dropped.
pub struct Part {
    bytes: Vec<u8>,
    home: PartBuffers,
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Part({} bytes)", self.bytes.len())
    }
}

impl Deref for Part {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        self.home.give(std::mem::take(&mut self.bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn no_more_than_count_buffers_exist_and_given_back_ones_are_reused() {
        let set = PartBuffers::new(2, 16);
        let a = set.take().unwrap();
        let b = set.take().unwrap();
        assert_eq!(a.capacity(), 16);
        let addr = b.as_ptr() as usize;
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let set = set.clone();
            std::thread::spawn(move || tx.send(set.take().map(|v| (v.as_ptr() as usize, v.len()))).unwrap())
        };
        // Both buffers are out: the third taker waits.
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
        let mut filled = b;
        filled.extend_from_slice(b"part");
        drop(set.part(filled));
        // It gets the same allocation back, emptied.
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Some((addr, 0)));
        waiter.join().unwrap();
        drop(a);
    }

    #[test]
    fn closing_wakes_a_waiting_taker_with_nothing() {
        let set = PartBuffers::new(1, 8);
        let held = set.take().unwrap();
        let waiter = {
            let set = set.clone();
            std::thread::spawn(move || set.take())
        };
        std::thread::sleep(Duration::from_millis(50));
        set.close();
        assert!(waiter.join().unwrap().is_none());
        drop(held);
    }
}
