//! Deadlines for plugin calls, kept by a thread instead of checks compiled into plugins.
//!
//! wasmtime's epoch interruption compiles a check of a counter into every loop head and
//! function entry of a plugin. On inflate that is about a fifth of the instructions run
//! (callgrind on corpus T's entries: 660 M per pass with it, 536 M without) and 6 to 11 %
//! of an unpack's wall time (corpora L and S). Plugins are compiled without it; every call
//! into one is armed here instead, for the call's deadline:
//!
//! - a call waiting in a host call ends at its deadline through the async timeout of
//!   `Instance::run`, with the usual typed error and cleanup, and disarms;
//! - a call still running its own code cannot be stopped from outside the wasm. At the
//!   deadline plus a grace this thread ends the process: it stops the call's writes (its
//!   meter refuses every create and write from then on), removes what the process
//!   registered in [`crate::leftovers`] (staging directories, lock files), reports the
//!   error through the reporter the command installed, and exits with the sandbox error's
//!   exit code.
//!
//! scheme-host runs one call per process (the CLI, which the Python integration runs), so
//! ending the process loses no other work. A plugin stuck in plugin code during an upload
//! leaves its multipart upload open (nothing is left that could run its abort); the
//! error names it.

use super::meter::WriteMeter;
use crate::error::HostError;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

/// How long past its deadline a call may take to come back through the async timeout
/// before the process is ended.
pub const GRACE: Duration = Duration::from_secs(1);

/// The longest the thread sleeps between looks, so a dropped watchdog's thread ends.
const MAX_NAP: Duration = Duration::from_secs(1);

/// "plugin P exceeded the Ns deadline during WHAT": the one wording for both ways a call
/// can overrun.
pub fn deadline_message(plugin: &str, deadline: Duration, what: &str) -> String {
    let limit = if deadline.subsec_nanos() == 0 { format!("{}s", deadline.as_secs()) } else { format!("{:.2}s", deadline.as_secs_f64()) };
    format!("plugin {plugin} exceeded the {limit} deadline during {what}")
}

struct Call {
    /// Deadline plus grace: when the process is ended if the call is still armed.
    due: Instant,
    plugin: String,
    what: String,
    deadline: Duration,
    meter: Arc<WriteMeter>,
}

type OnExpiry = Box<dyn Fn(HostError) + Send + Sync>;

pub struct Watchdog {
    calls: Mutex<BTreeMap<u64, Call>>,
    next_id: AtomicU64,
    changed: Condvar,
    grace: Duration,
    /// Called on the watchdog's thread with the armed calls locked, so no call can
    /// disarm while the process is being ended. The process's handler does not return.
    on_expiry: OnExpiry,
}

/// One armed call; dropping it disarms the call.
#[must_use = "the call is disarmed when this is dropped"]
pub struct Armed {
    watchdog: Arc<Watchdog>,
    id: u64,
}

impl Drop for Armed {
    fn drop(&mut self) {
        self.watchdog.calls().remove(&self.id);
    }
}

impl Watchdog {
    /// A watchdog whose thread calls `on_expiry` for a call still armed `grace` after its
    /// deadline.
    pub fn start(grace: Duration, on_expiry: OnExpiry) -> Arc<Watchdog> {
        let dog = Arc::new(Watchdog { calls: Mutex::new(BTreeMap::new()), next_id: AtomicU64::new(0), changed: Condvar::new(), grace, on_expiry });
        let weak = Arc::downgrade(&dog);
        std::thread::Builder::new().name("deadline-watchdog".into()).spawn(move || watch(weak)).expect("spawn the deadline watchdog thread");
        dog
    }

    fn calls(&self) -> MutexGuard<'_, BTreeMap<u64, Call>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arms one call of `plugin` (`what`: the export, as error messages name it).
    pub fn arm(self: &Arc<Self>, plugin: &str, what: &str, deadline: Duration, meter: Arc<WriteMeter>) -> Armed {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // A deadline past what an Instant can hold is no deadline: nothing to watch.
        if let Some(due) = Instant::now().checked_add(deadline).and_then(|d| d.checked_add(self.grace)) {
            let call = Call { due, plugin: plugin.to_string(), what: what.to_string(), deadline, meter };
            self.calls().insert(id, call);
            self.changed.notify_one();
        }
        Armed { watchdog: self.clone(), id }
    }

    /// One look: ends the first call overdue by more than the grace, or says how long
    /// until the next could be.
    fn look(&self) -> Duration {
        let calls = self.calls();
        let now = Instant::now();
        let Some(call) = calls.values().min_by_key(|c| c.due) else { return MAX_NAP };
        if now < call.due {
            return (call.due - now).min(MAX_NAP);
        }
        call.meter.stop();
        let message = format!("{}; it was still running its own code, so scheme-host ended the process", deadline_message(&call.plugin, call.deadline, &call.what));
        (self.on_expiry)(HostError::sandbox(message));
        MAX_NAP
    }
}

fn watch(weak: Weak<Watchdog>) {
    while let Some(dog) = weak.upgrade() {
        let nap = dog.look();
        let calls = dog.calls();
        // A call armed meanwhile may be due sooner; `arm` wakes us.
        let _ = dog.changed.wait_timeout(calls, nap);
    }
}

static PROCESS: OnceLock<Arc<Watchdog>> = OnceLock::new();
static REPORTER: OnceLock<fn(&HostError)> = OnceLock::new();
static EXIT: Mutex<()> = Mutex::new(());

/// Arms one call in this process's watchdog (started on first use).
pub fn arm(plugin: &str, what: &str, deadline: Duration, meter: Arc<WriteMeter>) -> Armed {
    PROCESS.get_or_init(|| Watchdog::start(GRACE, Box::new(end_process))).arm(plugin, what, deadline, meter)
}

/// How the command reports an error (JSON or text); without one, the watchdog writes one
/// line to stderr.
pub fn report_with(report: fn(&HostError)) {
    let _ = REPORTER.set(report);
}

/// Held by whoever ends the process: the command while it prints its own outcome and
/// exits, or the watchdog. The other then never gets it, so one outcome is reported.
pub fn claim_exit() -> MutexGuard<'static, ()> {
    EXIT.lock().unwrap_or_else(|p| p.into_inner())
}

fn end_process(e: HostError) {
    let _exit = claim_exit();
    // Writes that passed their check just before the meter stopped finish first, so the
    // removal below does not race a file being created.
    std::thread::sleep(Duration::from_millis(50));
    let mut e = e;
    for left in crate::leftovers::remove_all() {
        e.message.push_str("; ");
        e.message.push_str(&left);
    }
    match REPORTER.get() {
        Some(report) => report(&e),
        None => eprintln!("error[{}]: {}", e.kind, e.message),
    }
    std::process::exit(crate::error::exit_code(e.kind));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;
    use std::sync::mpsc;

    fn dog() -> (Arc<Watchdog>, mpsc::Receiver<HostError>) {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        (Watchdog::start(Duration::from_millis(50), Box::new(move |e| {
            let _ = tx.lock().unwrap().send(e);
        })), rx)
    }

    fn meter() -> Arc<WriteMeter> {
        Arc::new(WriteMeter::new(&Limits::default()))
    }

    #[test]
    fn a_call_that_returns_in_time_is_never_reported() {
        let (dog, rx) = dog();
        let m = meter();
        drop(dog.arm("p", "info", Duration::from_millis(20), m.clone()));
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        assert!(m.create("tree/a").is_ok(), "its writes were never stopped");
    }

    #[test]
    fn an_overrunning_call_is_reported_and_its_writes_stopped() {
        let (dog, rx) = dog();
        let (late, patient) = (meter(), meter());
        let _patient = dog.arm("p", "download", Duration::from_secs(3600), patient.clone());
        let started = Instant::now();
        let _late = dog.arm("p", "download-and-unpack", Duration::from_millis(100), late.clone());
        let e = rx.recv_timeout(Duration::from_secs(5)).expect("reported");
        assert!(started.elapsed() >= Duration::from_millis(150), "not before deadline + grace");
        assert_eq!(e.kind, crate::error::ErrorKind::Sandbox);
        assert!(e.message.starts_with("plugin p exceeded the 0.10s deadline during download-and-unpack;"), "{}", e.message);
        assert!(late.create("tree/a").is_err(), "the overrunning call writes nothing more");
        assert!(patient.create("tree/a").is_ok(), "a call within its deadline is left alone");
    }

    #[test]
    fn a_deadline_no_clock_can_reach_is_never_reported() {
        let (dog, rx) = dog();
        let _armed = dog.arm("p", "info", Duration::MAX, meter());
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    }

    #[test]
    fn deadline_message_names_whole_seconds_plainly() {
        assert_eq!(deadline_message("obs", Duration::from_secs(3), "parse-uri"), "plugin obs exceeded the 3s deadline during parse-uri");
    }
}
