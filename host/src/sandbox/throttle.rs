//! One call's view of a throttling store, shared by its parts: how often the plugin said
//! the store asked it to slow down (`host.throttled`), how long it waited, and how many of
//! the call's instances may have a request open at once.
//!
//! Parts multiply the requests a node sends. That is right for a store with room to spare
//! and wrong for one that is already refusing: at cluster start every node bursts at once.
//! So the first throttled answer turns the call down to one instance with requests open at
//! a time; the others wait for it to finish its response. An instance never waits for
//! itself, so a plugin that keeps one body open while it asks for another cannot deadlock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Throttle {
    state: Mutex<State>,
    freed: Notify,
}

#[derive(Debug, Default)]
struct State {
    throttled: u32,
    waited: Duration,
    /// Set by the first throttled answer: one instance with requests open at a time.
    narrowed: bool,
    /// Open requests (sent, body not yet finished) by instance.
    open: HashMap<u64, usize>,
}

/// What the JSON result reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThrottleReport {
    pub throttled: u32,
    pub waited: Duration,
}

/// One open request; dropping it (when the response body ends or is dropped) lets the
/// waiting instances in.
#[derive(Debug)]
pub struct Permit {
    throttle: Arc<Throttle>,
    instance: u64,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut s = self.throttle.state.lock().unwrap();
        if let Some(n) = s.open.get_mut(&self.instance) {
            *n -= 1;
            if *n == 0 {
                s.open.remove(&self.instance);
            }
        }
        drop(s);
        self.throttle.freed.notify_waiters();
    }
}

/// A distinct id for every instance of a call (and of the process: ids are never reused).
pub fn instance_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Throttle {
    /// Records one throttled answer after which the plugin waits `wait`.
    pub fn note(&self, wait: Duration) -> ThrottleReport {
        let mut s = self.state.lock().unwrap();
        s.throttled = s.throttled.saturating_add(1);
        s.waited = s.waited.saturating_add(wait);
        s.narrowed = true;
        ThrottleReport { throttled: s.throttled, waited: s.waited }
    }

    pub fn report(&self) -> ThrottleReport {
        let s = self.state.lock().unwrap();
        ThrottleReport { throttled: s.throttled, waited: s.waited }
    }

    /// Waits until `instance` may open a request, and holds the place until the permit is
    /// dropped.
    pub async fn enter(self: &Arc<Self>, instance: u64) -> Permit {
        loop {
            // Registered before the check, so a permit dropped in between still wakes us.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.try_enter(instance) {
                return Permit { throttle: self.clone(), instance };
            }
            freed.await;
        }
    }

    fn try_enter(&self, instance: u64) -> bool {
        let mut s = self.state.lock().unwrap();
        let admitted = !s.narrowed || s.open.is_empty() || s.open.contains_key(&instance);
        if admitted {
            *s.open.entry(instance).or_default() += 1;
        }
        admitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn all_instances_run_until_the_store_throttles_then_one_at_a_time() {
        let t = Arc::new(Throttle::default());
        let a1 = t.enter(1).await;
        let b1 = t.enter(2).await;
        assert_eq!(t.report(), ThrottleReport::default());

        assert_eq!(t.note(Duration::from_millis(300)), ThrottleReport { throttled: 1, waited: Duration::from_millis(300) });
        t.note(Duration::from_millis(200));
        assert_eq!(t.report(), ThrottleReport { throttled: 2, waited: Duration::from_millis(500) });

        // Instance 1 may open more while it has one open: it never waits for itself.
        let a2 = tokio::time::timeout(Duration::from_secs(1), t.enter(1)).await.expect("no self-wait");
        drop((a1, a2));
        // Instance 3 waits while instance 2 still has its request open...
        let waiting = tokio::spawn({
            let t = t.clone();
            async move { t.enter(3).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "narrowed: one instance with requests open at a time");
        // ...and gets in when it finishes.
        drop(b1);
        let c = tokio::time::timeout(Duration::from_secs(1), waiting).await.expect("woken").unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(50), t.enter(1)).await.is_err());
        drop(c);
        let _a = tokio::time::timeout(Duration::from_secs(1), t.enter(1)).await.expect("free again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_waiters_all_get_through_one_at_a_time() {
        let t = Arc::new(Throttle::default());
        t.note(Duration::ZERO);
        let inside = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for id in 100..132 {
            let (t, inside) = (t.clone(), inside.clone());
            tasks.push(tokio::spawn(async move {
                let p = t.enter(id).await;
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two instances inside at once");
                tokio::task::yield_now().await;
                inside.fetch_sub(1, Ordering::SeqCst);
                drop(p);
            }));
        }
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(5), task).await.expect("no lost wake-up").unwrap();
        }
    }
}
