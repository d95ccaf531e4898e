//! An ordered parallel map with bounded look-ahead: `threads` workers run jobs `0..jobs`,
//! the calling thread receives the results in job order, and no worker starts a job more
//! than `window` jobs ahead of the one the caller is waiting for. Memory is therefore
//! bounded by `window` results, however many jobs there are, and the caller can write
//! results to a stream as they come.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::error::{Error, Result};

struct State<T> {
    next_job: usize,
    /// Jobs whose results the caller has taken.
    taken: usize,
    ready: BTreeMap<usize, Result<T>>,
    stop: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// A job may start (the caller took a result, or everyone must stop).
    room: Condvar,
    /// A result arrived.
    arrived: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while holding the lock; a poisoned lock still holds sound state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Stops the workers when the caller returns early, including by unwinding, so the scope
/// never waits for workers parked on a window that will not move again.
struct StopOnDrop<'a, T>(&'a Shared<T>);

impl<T> Drop for StopOnDrop<'_, T> {
    fn drop(&mut self) {
        self.0.lock().stop = true;
        self.0.room.notify_all();
    }
}

pub(crate) fn ordered<T, W, S>(
    jobs: usize,
    threads: usize,
    window: usize,
    work: W,
    mut sink: S,
) -> Result<()>
where
    T: Send,
    W: Fn(usize) -> Result<T> + Sync,
    S: FnMut(usize, T) -> Result<()>,
{
    if jobs == 0 {
        return Ok(());
    }
    let threads = threads.clamp(1, jobs);
    let window = window.max(threads);
    let shared = Shared {
        state: Mutex::new(State {
            next_job: 0,
            taken: 0,
            ready: BTreeMap::new(),
            stop: false,
        }),
        room: Condvar::new(),
        arrived: Condvar::new(),
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| worker(&shared, jobs, window, &work));
        }
        let _stop = StopOnDrop(&shared);
        for k in 0..jobs {
            let result = {
                let mut st = shared.lock();
                loop {
                    if let Some(r) = st.ready.remove(&k) {
                        st.taken = k + 1;
                        break r;
                    }
                    st = shared
                        .arrived
                        .wait(st)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            shared.room.notify_all();
            sink(k, result?)?;
        }
        Ok(())
    })
}

fn worker<T, W>(shared: &Shared<T>, jobs: usize, window: usize, work: &W)
where
    W: Fn(usize) -> Result<T>,
{
    loop {
        let job = {
            let mut st = shared.lock();
            loop {
                if st.stop || st.next_job >= jobs {
                    return;
                }
                if st.next_job < st.taken + window {
                    break;
                }
                st = shared.room.wait(st).unwrap_or_else(PoisonError::into_inner);
            }
            st.next_job += 1;
            st.next_job - 1
        };
        let result = catch_unwind(AssertUnwindSafe(|| work(job))).unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string());
            Err(Error::Worker(what))
        });
        shared.lock().ready.insert(job, result);
        shared.arrived.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_come_in_order_with_bounded_lookahead() {
        for threads in [1, 2, 5] {
            let started = AtomicUsize::new(0);
            let mut got = Vec::new();
            let mut max_ahead = 0;
            ordered(
                200,
                threads,
                4,
                |i| {
                    started.fetch_add(1, Ordering::SeqCst);
                    // Later jobs finish first, to exercise the reordering.
                    std::thread::sleep(std::time::Duration::from_micros(
                        ((200 - i) % 7) as u64 * 50,
                    ));
                    Ok(i * 2)
                },
                |k, v| {
                    max_ahead = max_ahead.max(started.load(Ordering::SeqCst) - k);
                    got.push((k, v));
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(got, (0..200).map(|i| (i, i * 2)).collect::<Vec<_>>());
            assert!(
                max_ahead <= 4.max(threads) + 1,
                "{max_ahead} jobs ahead with {threads} threads"
            );
        }
    }

    #[test]
    fn the_first_failure_in_job_order_wins_and_stops_the_rest() {
        let ran = AtomicUsize::new(0);
        let err = ordered(
            10_000,
            3,
            8,
            |i| {
                ran.fetch_add(1, Ordering::SeqCst);
                if i == 5 || i == 7 {
                    Err(Error::Worker(format!("job {i}")))
                } else {
                    Ok(())
                }
            },
            |_, ()| Ok(()),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "a packing worker failed unexpectedly: job 5"
        );
        assert!(ran.load(Ordering::SeqCst) < 100, "workers stopped early");
    }

    #[test]
    fn a_sink_error_or_a_worker_panic_stops_everything() {
        let err = ordered(1000, 2, 4, Ok, |k, _| {
            if k == 3 {
                Err(Error::Worker("sink".into()))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert!(err.to_string().contains("sink"));
        let err = ordered(
            10,
            2,
            4,
            |i| if i == 2 { panic!("boom {i}") } else { Ok(i) },
            |_, _| Ok(()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("boom 2"), "{err}");
    }
}
