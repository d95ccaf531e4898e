//! Retry policy: capped exponential backoff with jitter, honouring `Retry-After`.
//!
//! Two budgets. A broken server (500, a cut connection) gets a few quick retries: more
//! would only delay the error. A busy one (503 `SlowDown`, 429) is telling us to come back
//! later, which at cluster start every node hears at once: it gets full-jitter backoff with
//! a higher cap until a time budget is spent, so a burst of nodes spreads out instead of
//! failing together.
//!
//! Pure arithmetic so the download state machine can be tested natively with a fake clock;
//! the only side effects (sleeping, random numbers) go through [`Sleeper`].

use std::time::{Duration, SystemTime};

/// How often and how patiently transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Failures in a row tolerated before giving up (the first attempt is not a retry).
    pub max_retries: u32,
    /// Hard cap on attempts for one download, whatever progress the attempts make, so a
    /// server that sends a few bytes and then hangs up cannot keep us busy forever.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each further failure.
    pub base: Duration,
    /// Ceiling of the exponential part.
    pub cap: Duration,
    /// Longest `Retry-After` we agree to wait; a larger value is a reason to give up, not
    /// to stall the job for an hour.
    pub max_retry_after: Duration,
    /// An attempt that delivered at least this many body bytes resets the failure count:
    /// a long download over a flaky link should not die after a few unrelated hiccups.
    pub progress_resets_after: u64,
    /// Total time one download may spend waiting on a throttling store.
    pub throttle_budget: Duration,
    /// Ceiling of the window the throttle delay is drawn from (full jitter: 0 to the window).
    pub throttle_base: Duration,
    pub throttle_cap: Duration,
}


impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            max_attempts: 30,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
            progress_resets_after: 8 << 20,
            throttle_budget: Duration::from_secs(scheme_contract::DEFAULT_THROTTLE_BUDGET_SECS),
            throttle_base: Duration::from_millis(500),
            throttle_cap: Duration::from_secs(20),
        }
    }
}

/// What to do after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Sleep this long, then try again.
    After(Duration),
    /// The budget is spent (or the server asked for a wait longer than we accept).
    GiveUp,
}

impl RetryPolicy {
    /// Decides after the `failures`-th consecutive transient failure (1-based), having made
    /// `attempts` attempts in total. `random` is any uniformly distributed value.
    pub fn decide(&self, failures: u32, attempts: u32, retry_after: Option<Duration>, random: u64) -> RetryDecision {
        if failures > self.max_retries || attempts >= self.max_attempts {
            return RetryDecision::GiveUp;
        }
        if retry_after.is_some_and(|ra| ra > self.max_retry_after) {
            return RetryDecision::GiveUp;
        }
        let backoff = self.backoff(failures, random);
        // The server's hint is a floor: it knows its own load better than we do.
        RetryDecision::After(match retry_after {
            Some(ra) => ra.max(backoff),
            None => backoff,
        })
    }

    /// "Equal jitter": half the exponential delay is fixed, the other half random, so
    /// clients retrying together spread out but never retry immediately.
    pub fn backoff(&self, failures: u32, random: u64) -> Duration {
        let full = doubled(self.base, failures, self.cap);
        let half_ms = (full.as_millis() / 2) as u64;
        let jitter_ms = if half_ms == 0 { 0 } else { random % (half_ms + 1) };
        Duration::from_millis(half_ms + jitter_ms)
    }
}

impl RetryPolicy {
    /// Decides after the `throttles`-th throttled answer of this download, having waited
    /// `waited` on throttling so far. Full jitter (anywhere from zero to the window) spreads
    /// a burst of clients best; `Retry-After` is a floor, and one past what is left of the
    /// budget ends the download at once. A drawn wait past the budget is shortened to what is
    /// left, so the last try still happens.
    pub fn decide_throttled(&self, throttles: u32, waited: Duration, retry_after: Option<Duration>, random: u64) -> RetryDecision {
        let Some(left) = self.throttle_budget.checked_sub(waited).filter(|d| !d.is_zero()) else {
            return RetryDecision::GiveUp;
        };
        // Asked to come back after the budget ends: waiting would only delay the failure.
        if retry_after.is_some_and(|ra| ra > left) {
            return RetryDecision::GiveUp;
        }
        let window = doubled(self.throttle_base, throttles, self.throttle_cap);
        let window_ms = window.as_millis() as u64;
        // A floor of a tenth of the base keeps a store that throttles forever (or a random
        // source that keeps drawing zero) from turning this into a busy loop.
        let jitter = Duration::from_millis(if window_ms == 0 { 0 } else { random % (window_ms + 1) }).max(self.throttle_base / 10);
        let wait = retry_after.map_or(jitter, |ra| ra.max(jitter));
        RetryDecision::After(wait.min(left))
    }
}

/// `base` doubled for each of the `n` (1-based) tries after the first, at most `cap`.
fn doubled(base: Duration, n: u32, cap: Duration) -> Duration {
    base.saturating_mul(1u32 << n.saturating_sub(1).min(30)).min(cap)
}

/// Parses `Retry-After`: delta-seconds or an HTTP-date (relative to `now`). Garbage means
/// no hint rather than an error: the header is advisory.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Over-long digit strings saturate; decide() then gives up on them.
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The side effects a retry loop needs.
pub trait Sleeper {
    fn sleep(&mut self, d: Duration);
    fn random_u64(&mut self) -> u64;
    /// Told before a wait of `d` because the store is throttling. In a plugin this reaches
    /// the host (contract 0.1.2), which shows it and stops opening parallel requests.
    fn throttled(&mut self, _d: Duration) {}
    /// The operator's throttle budget, when the host says one (contract 0.1.2); otherwise
    /// the policy's own.
    fn throttle_budget(&self) -> Option<Duration> {
        None
    }
}

/// Sleeps on the WASI monotonic clock and draws jitter from WASI random.
#[cfg(target_family = "wasm")]
#[derive(Debug, Default, Clone, Copy)]
pub struct WasiSleeper;

#[cfg(target_family = "wasm")]
impl Sleeper for WasiSleeper {
    fn sleep(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        wasip2::clocks::monotonic_clock::subscribe_duration(ns).block();
    }
    fn random_u64(&mut self) -> u64 {
        wasip2::random::random::get_random_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy { max_retries: 4, max_attempts: 10, ..RetryPolicy::default() }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = policy();
        // random = 0 gives the fixed half of each delay.
        assert_eq!(p.backoff(1, 0), Duration::from_millis(100));
        assert_eq!(p.backoff(2, 0), Duration::from_millis(200));
        assert_eq!(p.backoff(3, 0), Duration::from_millis(400));
        assert_eq!(p.backoff(20, 0), Duration::from_secs(5));
        assert_eq!(p.backoff(u32::MAX, 0), Duration::from_secs(5));
    }

    #[test]
    fn jitter_stays_within_the_upper_half() {
        let p = policy();
        for r in [1u64, 7, 99, 100, 101, u64::MAX] {
            let d = p.backoff(3, r);
            assert!(d >= Duration::from_millis(400) && d <= Duration::from_millis(800), "{d:?}");
        }
        assert_ne!(p.backoff(3, 1), p.backoff(3, 150));
    }

    #[test]
    fn gives_up_after_budget() {
        let p = policy();
        assert!(matches!(p.decide(4, 4, None, 0), RetryDecision::After(_)));
        assert_eq!(p.decide(5, 5, None, 0), RetryDecision::GiveUp);
        assert_eq!(p.decide(1, 10, None, 0), RetryDecision::GiveUp);
    }

    #[test]
    fn retry_after_is_a_floor_and_has_a_ceiling() {
        let p = policy();
        assert_eq!(p.decide(1, 1, Some(Duration::from_secs(3)), 0), RetryDecision::After(Duration::from_secs(3)));
        assert_eq!(p.decide(1, 1, Some(Duration::ZERO), 0), RetryDecision::After(Duration::from_millis(100)));
        assert_eq!(p.decide(1, 1, Some(Duration::from_secs(3600)), 0), RetryDecision::GiveUp);
    }

    #[test]
    fn throttling_waits_with_full_jitter_until_the_budget_is_spent() {
        let p = RetryPolicy { throttle_budget: Duration::from_secs(60), ..RetryPolicy::default() };
        let after = |d: RetryDecision| match d {
            RetryDecision::After(d) => d,
            RetryDecision::GiveUp => panic!("gave up"),
        };
        // The window doubles from 500 ms to the 20 s cap; the delay is anywhere inside it.
        assert_eq!(after(p.decide_throttled(1, Duration::ZERO, None, 0)), Duration::from_millis(50));
        assert_eq!(after(p.decide_throttled(1, Duration::ZERO, None, 500)), Duration::from_millis(500));
        assert_eq!(after(p.decide_throttled(3, Duration::ZERO, None, 2000)), Duration::from_millis(2000));
        assert_eq!(after(p.decide_throttled(3, Duration::ZERO, None, 2001)), Duration::from_millis(50));
        assert_eq!(after(p.decide_throttled(40, Duration::ZERO, None, 20_000)), Duration::from_secs(20));
        assert!(after(p.decide_throttled(40, Duration::ZERO, None, u64::MAX)) <= Duration::from_secs(20));
        // Many throttles in a row are no reason to stop while time is left: unlike
        // `decide`, there is no count.
        assert!(matches!(p.decide_throttled(10_000, Duration::from_secs(59), None, 7), RetryDecision::After(_)));
        // What is left of the budget bounds the last wait; a spent budget ends it.
        assert_eq!(after(p.decide_throttled(40, Duration::from_secs(55), None, 20_000)), Duration::from_secs(5));
        assert_eq!(p.decide_throttled(1, Duration::from_secs(60), None, 0), RetryDecision::GiveUp);
        assert_eq!(p.decide_throttled(1, Duration::from_secs(61), None, 0), RetryDecision::GiveUp);
    }

    #[test]
    fn throttling_honours_retry_after_within_the_budget() {
        let p = RetryPolicy { throttle_budget: Duration::from_secs(60), ..RetryPolicy::default() };
        assert_eq!(p.decide_throttled(1, Duration::ZERO, Some(Duration::from_secs(7)), 0), RetryDecision::After(Duration::from_secs(7)));
        // Longer than `max_retry_after` is fine while the budget lasts; past it, waiting
        // would only delay the failure.
        let p = RetryPolicy { throttle_budget: Duration::from_secs(300), ..p };
        assert_eq!(p.decide_throttled(1, Duration::ZERO, Some(Duration::from_secs(90)), 0), RetryDecision::After(Duration::from_secs(90)));
        assert_eq!(p.decide_throttled(1, Duration::from_secs(250), Some(Duration::from_secs(90)), 0), RetryDecision::GiveUp);
        assert_eq!(p.decide_throttled(1, Duration::ZERO, Some(Duration::from_secs(3600)), 0), RetryDecision::GiveUp);
        // ...and the random part still applies when it is longer than the hint.
        assert_eq!(p.decide_throttled(2, Duration::ZERO, Some(Duration::from_millis(1)), 900), RetryDecision::After(Duration::from_millis(900)));
    }

    #[test]
    fn parses_retry_after_forms() {
        let now = httpdate::parse_http_date("Tue, 15 Oct 2024 07:20:09 GMT").unwrap();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Tue, 15 Oct 2024 07:20:19 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("Tue, 15 Oct 2024 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("99999999999999999999999", now), Some(Duration::from_secs(u64::MAX)));
    }
}
