//! State shared by every connection of one server.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::faults::Faults;
use crate::multipart::Uploads;
use crate::rate_limit::{RateLimit, RateLimiter};
use crate::request_log::{RequestIds, RequestLog};
use crate::store::Store;

#[derive(Debug)]
pub struct State {
    pub config: ServerConfig,
    pub store: Store,
    pub faults: Faults,
    pub log: RequestLog,
    pub ids: RequestIds,
    pub clock: Clock,
    pub limiter: RateLimiter,
    /// Multipart uploads in progress (kept by `reset`, like objects).
    pub uploads: Uploads,
    crc64: AtomicBool,
    // 0 means unthrottled.
    throttle: AtomicU64,
}

impl State {
    pub fn new(config: ServerConfig) -> Self {
        let store = Store::default();
        for bucket in &config.buckets {
            store.ensure_bucket(&bucket.name, bucket.public_read);
        }
        State {
            store,
            faults: Faults::default(),
            log: RequestLog::new(config.request_log_capacity),
            ids: RequestIds::default(),
            clock: crate::clock::Clock::new(config.clock),
            limiter: RateLimiter::new(config.rate_limit),
            uploads: Uploads::default(),
            crc64: AtomicBool::new(config.crc64),
            throttle: AtomicU64::new(config.throttle_bytes_per_sec.unwrap_or(0)),
            config,
        }
    }

    pub fn crc64_enabled(&self) -> bool {
        self.crc64.load(Ordering::Relaxed)
    }

    pub fn set_crc64(&self, enabled: bool) {
        self.crc64.store(enabled, Ordering::Relaxed);
    }

    pub fn throttle(&self) -> Option<u64> {
        match self.throttle.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        }
    }

    pub fn set_throttle(&self, bytes_per_sec: Option<u64>) {
        self.throttle
            .store(bytes_per_sec.unwrap_or(0), Ordering::Relaxed);
    }
}

/// What was stored by a seeding call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectInfo {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// Quoted MD5 hex, as sent in `ETag`.
    pub etag: String,
}

/// Run-time switches readable and writable through the admin API.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Settings {
    pub crc64: bool,
    pub throttle_bytes_per_sec: Option<u64>,
    pub clock: crate::clock::ClockSetting,
    /// Request rate limit; `None`: off (and absent from the JSON, which older readers
    /// compare whole).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

impl State {
    /// Stores an object without going through HTTP, creating a private bucket if needed.
    pub fn seed_object(
        &self,
        bucket: &str,
        key: &str,
        data: bytes::Bytes,
        content_type: Option<String>,
    ) -> Result<ObjectInfo, crate::error::ServerError> {
        use crate::error::ServerError;
        if !crate::addressing::is_valid_bucket_name(bucket) {
            return Err(ServerError::InvalidBucketName(bucket.to_string()));
        }
        if key.is_empty() || key.len() > crate::addressing::MAX_KEY_BYTES {
            return Err(ServerError::InvalidKey(format!(
                "a key must have 1 to {} bytes, this one has {}",
                crate::addressing::MAX_KEY_BYTES,
                key.len()
            )));
        }
        // An existing bucket keeps its public-read flag.
        let _ = self.store.create_bucket(bucket, false);
        let object =
            crate::store::StoredObject::new(data, content_type, Vec::new(), self.clock.now());
        let stored = self
            .store
            .put(bucket, key, object)
            .map_err(|_| ServerError::InvalidBucketName(bucket.to_string()))?;
        Ok(ObjectInfo {
            bucket: bucket.to_string(),
            key: key.to_string(),
            size: stored.len(),
            etag: stored.etag(),
        })
    }

    pub fn settings(&self) -> Settings {
        Settings {
            crc64: self.crc64_enabled(),
            throttle_bytes_per_sec: self.throttle(),
            clock: self.clock.setting(),
            rate_limit: self.limiter.limit(),
        }
    }

    /// Clears faults, the request log, counters and rate statistics, and restores the
    /// configured switches (a configured rate limit starts again with a full bucket).
    /// Buckets and objects stay.
    pub fn reset(&self) {
        self.faults.clear();
        self.log.clear();
        self.limiter.set(self.config.rate_limit);
        self.limiter.clear_stats();
        self.set_crc64(self.config.crc64);
        self.set_throttle(self.config.throttle_bytes_per_sec);
        self.clock.set(self.config.clock);
    }
}
