//! Request log, per-key counters and request ids. Admin API calls are not recorded.
//! Secrets (signatures, tokens, access keys) are redacted before anything is stored.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderMap;
use serde::Serialize;

use crate::addressing::Addressing;
use crate::auth::AuthKind;
use crate::protocol::Protocol;

const REDACTED: &str = "<redacted>";

/// Headers whose values are never stored.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "x-obs-security-token",
    "x-amz-security-token",
    "proxy-authorization",
];

/// Query parameters whose values are never stored.
const SECRET_PARAMS: &[&str] = &[
    "signature",
    "accesskeyid",
    "awsaccesskeyid",
    "x-obs-security-token",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-credential",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    pub seq: u64,
    pub request_id: String,
    pub peer: String,
    pub method: String,
    /// Raw path as sent.
    pub path: String,
    /// Raw query with secret values redacted.
    pub query: Option<String>,
    pub host: Option<String>,
    pub addressing: Option<Addressing>,
    /// The dialect of the request (from its authentication) and of the answer.
    pub protocol: Protocol,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub range: Option<String>,
    pub if_match: Option<String>,
    /// An `Authorization` header was present.
    pub has_authorization: bool,
    /// A security token came with the request (header or query).
    pub has_security_token: bool,
    /// How authentication ended; `None` when the request was answered before it.
    pub auth: Option<AuthKind>,
    /// All headers, secret values redacted.
    pub headers: Vec<(String, String)>,
    pub status: u16,
    pub error_code: Option<String>,
    pub faults: Vec<String>,
    /// Answered 503 `SlowDown` by the rate limiter.
    pub rate_limited: bool,
}

impl RequestRecord {
    pub fn redact_headers(headers: &HeaderMap) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(name, value)| {
                let shown = if SECRET_HEADERS.contains(&name.as_str()) {
                    REDACTED.to_string()
                } else {
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                };
                (name.as_str().to_string(), shown)
            })
            .collect()
    }

    pub fn redact_query(raw: &str) -> String {
        raw.split('&')
            .map(|part| match part.split_once('=') {
                Some((name, _)) if SECRET_PARAMS.contains(&name.to_ascii_lowercase().as_str()) => {
                    format!("{name}={REDACTED}")
                }
                _ => part.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Requests seen for one bucket/key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeyCounter {
    pub bucket: String,
    /// `None` for bucket-level requests.
    pub key: Option<String>,
    pub total: u64,
    pub by_method: BTreeMap<String, u64>,
}

#[derive(Debug)]
pub struct RequestLog {
    capacity: usize,
    seq: AtomicU64,
    records: Mutex<VecDeque<RequestRecord>>,
    counters: Mutex<HashMap<(String, Option<String>), KeyCounter>>,
}

impl RequestLog {
    pub fn new(capacity: usize) -> Self {
        RequestLog {
            capacity: capacity.max(1),
            seq: AtomicU64::new(0),
            records: Mutex::new(VecDeque::new()),
            counters: Mutex::new(HashMap::new()),
        }
    }

    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn count(&self, bucket: &str, key: Option<&str>, method: &str) {
        let mut counters = self.counters.lock().expect("counter lock poisoned");
        let entry = counters
            .entry((bucket.to_string(), key.map(str::to_string)))
            .or_insert_with(|| KeyCounter {
                bucket: bucket.to_string(),
                key: key.map(str::to_string),
                ..Default::default()
            });
        entry.total += 1;
        *entry.by_method.entry(method.to_string()).or_default() += 1;
    }

    pub fn push(&self, record: RequestRecord) {
        let mut records = self.records.lock().expect("log lock poisoned");
        if records.len() == self.capacity {
            records.pop_front();
        }
        records.push_back(record);
    }

    pub fn records(&self) -> Vec<RequestRecord> {
        self.records
            .lock()
            .expect("log lock poisoned")
            .iter()
            .cloned()
            .collect()
    }

    /// Counters sorted by bucket then key.
    pub fn counters(&self) -> Vec<KeyCounter> {
        let mut out: Vec<KeyCounter> = self
            .counters
            .lock()
            .expect("counter lock poisoned")
            .values()
            .cloned()
            .collect();
        out.sort_by(|a, b| (&a.bucket, &a.key).cmp(&(&b.bucket, &b.key)));
        out
    }

    pub fn counter(&self, bucket: &str, key: Option<&str>) -> KeyCounter {
        self.counters
            .lock()
            .expect("counter lock poisoned")
            .get(&(bucket.to_string(), key.map(str::to_string)))
            .cloned()
            .unwrap_or_else(|| KeyCounter {
                bucket: bucket.to_string(),
                key: key.map(str::to_string),
                ..Default::default()
            })
    }

    pub fn clear(&self) {
        self.records.lock().expect("log lock poisoned").clear();
        self.counters.lock().expect("counter lock poisoned").clear();
    }
}

/// Unique request ids: 32 upper-case hex digits, a random per-server prefix and a counter.
#[derive(Debug)]
pub struct RequestIds {
    prefix: u64,
    counter: AtomicU64,
}

impl Default for RequestIds {
    fn default() -> Self {
        // RandomState is seeded from the OS; enough to keep ids of two servers apart.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        RequestIds {
            prefix: hasher.finish(),
            counter: AtomicU64::new(0),
        }
    }
}

impl RequestIds {
    pub fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{:016X}{:016X}", self.prefix, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn ids_are_unique_and_shaped() {
        let a = RequestIds::default();
        let b = RequestIds::default();
        let ids: std::collections::HashSet<String> = (0..1000)
            .map(|_| a.next())
            .chain((0..1000).map(|_| b.next()))
            .collect();
        assert_eq!(ids.len(), 2000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit()))
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_static("OBS AKSECRET:SIGSECRET"),
        );
        h.insert(
            "x-obs-security-token",
            HeaderValue::from_static("TOKSECRET"),
        );
        h.insert("range", HeaderValue::from_static("bytes=0-1"));
        let shown = format!("{:?}", RequestRecord::redact_headers(&h));
        assert!(!shown.contains("SECRET") && shown.contains("bytes=0-1"));
        let q = RequestRecord::redact_query(
            "AccessKeyId=AKSECRET&Expires=1&Signature=SIGSECRET&x-obs-security-token=T&versionId=v",
        );
        assert_eq!(
            q,
            "AccessKeyId=<redacted>&Expires=1&Signature=<redacted>&x-obs-security-token=<redacted>&versionId=v"
        );
        let v4 = RequestRecord::redact_query(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKSECRET%2F2013&X-Amz-Date=D\
             &X-Amz-Security-Token=TOKSECRET&X-Amz-Signature=SIGSECRET",
        );
        assert!(
            !v4.contains("SECRET") && v4.contains("X-Amz-Date=D"),
            "{v4}"
        );
    }

    #[test]
    fn bounded_log_and_counters() {
        let log = RequestLog::new(2);
        for i in 0..3 {
            log.push(RequestRecord {
                seq: i,
                request_id: String::new(),
                peer: String::new(),
                method: "GET".into(),
                path: "/".into(),
                query: None,
                host: None,
                addressing: None,
                protocol: Protocol::Obs,
                bucket: None,
                key: None,
                range: None,
                if_match: None,
                has_authorization: false,
                has_security_token: false,
                auth: None,
                headers: vec![],
                status: 200,
                error_code: None,
                faults: vec![],
                rate_limited: false,
            });
        }
        assert_eq!(
            log.records().iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![1, 2]
        );
        log.count("b", Some("k"), "GET");
        log.count("b", Some("k"), "GET");
        log.count("b", Some("k"), "HEAD");
        let c = log.counter("b", Some("k"));
        assert_eq!(
            (c.total, c.by_method["GET"], c.by_method["HEAD"]),
            (3, 2, 1)
        );
        assert_eq!(log.counter("b", None).total, 0);
        log.clear();
        assert!(log.records().is_empty() && log.counters().is_empty());
    }
}
