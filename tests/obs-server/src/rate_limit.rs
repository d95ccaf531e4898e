//! Request rate limiting: one token bucket for the whole server (off by default). A request
//! that finds the bucket empty is answered 503 `SlowDown`, as OBS and S3 do under load.
//!
//! The bucket reads no clock itself: callers pass `now`, so the unit tests drive it with
//! made-up instants and the server with `tokio::time::Instant` (which paused-time tests
//! control as well).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Requests per second and burst. JSON:
/// `{"requests_per_sec": 5.0, "burst": 10, "retry_after_secs": 1}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained rate at which the bucket refills; fractions allowed (0.5 = one every 2 s).
    pub requests_per_sec: f64,
    /// Bucket size: requests allowed back to back after a quiet period.
    pub burst: u32,
    /// `Retry-After` on throttled answers; `None` sends none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl RateLimit {
    pub fn new(requests_per_sec: f64, burst: u32) -> Self {
        RateLimit {
            requests_per_sec,
            burst,
            retry_after_secs: None,
        }
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn validate(&self) -> Result<(), String> {
        if !self.requests_per_sec.is_finite() || self.requests_per_sec <= 0.0 {
            return Err(format!(
                "rate limit requests_per_sec must be a positive number, got {}",
                self.requests_per_sec
            ));
        }
        if self.burst == 0 {
            return Err("rate limit burst must be at least 1".into());
        }
        Ok(())
    }
}

/// A token bucket: holds up to `burst` tokens, refills at `requests_per_sec`, and every
/// admitted request takes one.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: &RateLimit, now: Instant) -> Self {
        TokenBucket {
            rate: limit.requests_per_sec,
            capacity: f64::from(limit.burst),
            tokens: f64::from(limit.burst),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        // An instant earlier than the last one (callers racing) refills nothing.
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = self.last.max(now);
    }

    /// Takes a token if one is there.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        // Refill arithmetic in floating point can land a hair below a whole token.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }

    /// How long until the next token, from `now`.
    pub fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.rate)
        }
    }
}

/// Served and throttled requests of one client or of the whole server. "Served" means the
/// limiter let the request through (its answer may still be an error).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RateCount {
    pub served: u64,
    pub throttled: u64,
}

impl RateCount {
    fn add(&mut self, throttled: bool) {
        if throttled {
            self.throttled += 1;
        } else {
            self.served += 1;
        }
    }
}

/// Counts since start-up or the last reset, kept whether or not a limit is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RateStats {
    #[serde(flatten)]
    pub total: RateCount,
    /// By the access key the request claims (before verification), `anonymous` without one.
    pub by_access_key: BTreeMap<String, RateCount>,
    /// By the client's IP address.
    pub by_peer: BTreeMap<String, RateCount>,
}

/// Who sent a request, for the statistics.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub access_key: Option<&'a str>,
    pub peer_ip: &'a str,
}

pub const ANONYMOUS: &str = "anonymous";

/// The limiter's verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Served,
    Throttled { retry_after_secs: Option<u64> },
}

#[derive(Debug, Default)]
struct Inner {
    limit: Option<RateLimit>,
    bucket: Option<TokenBucket>,
    stats: RateStats,
}

/// The server's limiter: the configured limit, its bucket and the statistics.
#[derive(Debug, Default)]
pub struct RateLimiter {
    inner: Mutex<Inner>,
}

impl RateLimiter {
    pub fn new(limit: Option<RateLimit>) -> Self {
        let limiter = RateLimiter::default();
        limiter.set(limit);
        limiter
    }

    /// Replaces the limit; a new limit starts with a full bucket.
    pub fn set(&self, limit: Option<RateLimit>) {
        let mut inner = self.inner.lock().expect("rate limiter lock poisoned");
        inner.bucket = limit.as_ref().map(|l| TokenBucket::new(l, Instant::now()));
        inner.limit = limit;
    }

    pub fn limit(&self) -> Option<RateLimit> {
        self.inner.lock().expect("rate limiter lock poisoned").limit
    }

    /// Decides on one request at `now` and counts it.
    pub fn admit(&self, now: Instant, client: Client<'_>) -> Admission {
        let mut inner = self.inner.lock().expect("rate limiter lock poisoned");
        let inner = &mut *inner;
        let admitted = inner.bucket.as_mut().is_none_or(|b| b.try_take(now));
        let verdict = match (admitted, &inner.limit) {
            (false, Some(limit)) => Admission::Throttled {
                retry_after_secs: limit.retry_after_secs,
            },
            _ => Admission::Served,
        };
        let throttled = verdict != Admission::Served;
        let stats = &mut inner.stats;
        stats.total.add(throttled);
        stats
            .by_access_key
            .entry(client.access_key.unwrap_or(ANONYMOUS).to_string())
            .or_default()
            .add(throttled);
        stats
            .by_peer
            .entry(client.peer_ip.to_string())
            .or_default()
            .add(throttled);
        verdict
    }

    pub fn stats(&self) -> RateStats {
        self.inner
            .lock()
            .expect("rate limiter lock poisoned")
            .stats
            .clone()
    }

    pub fn clear_stats(&self) {
        self.inner.lock().expect("rate limiter lock poisoned").stats = RateStats::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn burst_then_steady_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(&RateLimit::new(10.0, 3), t0);
        // A full bucket admits the burst at once, then nothing.
        assert!((0..3).all(|_| bucket.try_take(t0)));
        assert!(!bucket.try_take(t0));
        assert_eq!(bucket.wait(t0), ms(100));
        // One token every 100 ms.
        assert!(!bucket.try_take(t0 + ms(99)));
        assert!(bucket.try_take(t0 + ms(100)));
        assert!(!bucket.try_take(t0 + ms(150)));
        assert!(bucket.try_take(t0 + ms(200)));
        // A long pause refills up to the burst, no more.
        let later = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| bucket.try_take(later)));
        assert!(!bucket.try_take(later));
    }

    #[test]
    fn admitted_count_follows_rate_times_time_plus_burst() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(&RateLimit::new(4.0, 2), t0);
        // One attempt per millisecond for 5 s: 2 (burst) + 4/s * 5 s admitted.
        let admitted = (0..=5000).filter(|i| bucket.try_take(t0 + ms(*i))).count();
        assert_eq!(admitted, 2 + 20);
    }

    #[test]
    fn fractional_rates_and_out_of_order_instants() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut bucket = TokenBucket::new(&RateLimit::new(0.5, 1), t0);
        assert!(bucket.try_take(t0));
        assert!(!bucket.try_take(t0 + ms(1999)));
        // An instant before the last one neither refills nor panics.
        assert!(!bucket.try_take(t0 - Duration::from_secs(5)));
        assert!(bucket.try_take(t0 + ms(2000)));
        assert_eq!(bucket.wait(t0 + ms(2000)), Duration::from_secs(2));
    }

    #[test]
    fn validation() {
        assert!(RateLimit::new(1.0, 1).validate().is_ok());
        for bad in [
            RateLimit::new(0.0, 1),
            RateLimit::new(-1.0, 1),
            RateLimit::new(f64::NAN, 1),
            RateLimit::new(f64::INFINITY, 1),
            RateLimit::new(1.0, 0),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let json: RateLimit =
            serde_json::from_str(r#"{"requests_per_sec": 2.5, "burst": 4}"#).unwrap();
        assert_eq!(json, RateLimit::new(2.5, 4));
        assert!(
            serde_json::from_str::<RateLimit>(r#"{"requests_per_sec": 1, "burst": 1, "x": 1}"#)
                .is_err()
        );
    }

    #[test]
    fn limiter_counts_per_client_and_in_total() {
        let limiter = RateLimiter::new(Some(RateLimit::new(1.0, 2).with_retry_after(3)));
        let now = Instant::now();
        let a = Client {
            access_key: Some("AK-A"),
            peer_ip: "127.0.0.1",
        };
        let anon = Client {
            access_key: None,
            peer_ip: "127.0.0.2",
        };
        assert_eq!(limiter.admit(now, a), Admission::Served);
        assert_eq!(limiter.admit(now, anon), Admission::Served);
        assert_eq!(
            limiter.admit(now, a),
            Admission::Throttled {
                retry_after_secs: Some(3)
            }
        );
        let stats = limiter.stats();
        assert_eq!(
            stats.total,
            RateCount {
                served: 2,
                throttled: 1
            }
        );
        assert_eq!(
            stats.by_access_key["AK-A"],
            RateCount {
                served: 1,
                throttled: 1
            }
        );
        assert_eq!(
            stats.by_access_key[ANONYMOUS],
            RateCount {
                served: 1,
                throttled: 0
            }
        );
        assert_eq!(stats.by_peer["127.0.0.2"].served, 1);
        // Turning the limit off admits everything and keeps counting.
        limiter.set(None);
        assert!((0..10).all(|_| limiter.admit(now, a) == Admission::Served));
        assert_eq!(limiter.stats().total.served, 12);
        // A new limit starts full.
        limiter.set(Some(RateLimit::new(1.0, 2)));
        assert_eq!(limiter.admit(Instant::now(), a), Admission::Served);
        limiter.clear_stats();
        assert_eq!(limiter.stats(), RateStats::default());
    }
}
