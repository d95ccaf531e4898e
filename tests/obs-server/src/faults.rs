//! Switchable faults: rules matched per bucket/key/method, applied a number of times or
//! forever.
//!
//! Two kinds of fault exist. A *terminal* fault replaces the answer (an error status, a
//! redirect, an error page served as the object); the first matching one wins and only it is
//! consumed. *Modifiers* change a normal object answer (headers, body delivery, pacing); all
//! matching modifiers apply together, and each is consumed only when an object answer is
//! actually sent, so a 404 or 403 never eats a `reset` meant for a download.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One fault. JSON: `{"kind": "<name>", ...fields}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Any OBS XML error.
    Error {
        status: u16,
        code: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
    /// 503 `SlowDown`.
    SlowDown {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
    /// 500 `InternalError`.
    InternalError,
    /// 502 with an HTML page, as a proxy in front of OBS sends it.
    BadGateway,
    /// 504 with an HTML page.
    GatewayTimeout,
    /// 301/302/307 with `Location`.
    Redirect {
        #[serde(default = "default_redirect_status")]
        status: u16,
        location: String,
    },
    /// Serves `body` (an XML error, an HTML page) as if it were the object.
    ErrorPage {
        #[serde(default = "default_ok_status")]
        status: u16,
        content_type: String,
        body: String,
    },
    /// Shifts the server clock for the request: signature skew check and `Date` header.
    DateSkew { secs: i64 },
    /// Adds this many bytes of extra response headers.
    HugeHeaders { bytes: usize },
    /// `x-obs-checksum-crc64ecma` that does not match the body (sent even when CRC-64 is off).
    WrongCrc64,
    /// An `ETag` that is not the body's MD5.
    WrongEtag,
    /// Answers a Range request with 200 and the whole object.
    IgnoreRange,
    /// Range requests see a different ETag (the object "changed"), so `If-Match` fails.
    ChangeEtagOnResume,
    /// Sends only `bytes` bytes of the body, then closes (Content-Length stays full).
    ShortBody { bytes: u64 },
    /// Sends `extra_bytes` bytes past Content-Length, then closes.
    LongBody { extra_bytes: u64 },
    /// Resets the connection (TCP RST) after `after_bytes` body bytes. Like the other body
    /// faults it needs a body longer than its offset; a shorter body is sent whole.
    Reset { after_bytes: u64 },
    /// Pauses the body for `millis` after `after_bytes` bytes.
    Stall { after_bytes: u64, millis: u64 },
    /// Paces the body to `bytes_per_sec`.
    Throttle { bytes_per_sec: u64 },
}

fn default_redirect_status() -> u16 {
    307
}

fn default_ok_status() -> u16 {
    200
}

impl Fault {
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Error { .. } => "error",
            Fault::SlowDown { .. } => "slow_down",
            Fault::InternalError => "internal_error",
            Fault::BadGateway => "bad_gateway",
            Fault::GatewayTimeout => "gateway_timeout",
            Fault::Redirect { .. } => "redirect",
            Fault::ErrorPage { .. } => "error_page",
            Fault::DateSkew { .. } => "date_skew",
            Fault::HugeHeaders { .. } => "huge_headers",
            Fault::WrongCrc64 => "wrong_crc64",
            Fault::WrongEtag => "wrong_etag",
            Fault::IgnoreRange => "ignore_range",
            Fault::ChangeEtagOnResume => "change_etag_on_resume",
            Fault::ShortBody { .. } => "short_body",
            Fault::LongBody { .. } => "long_body",
            Fault::Reset { .. } => "reset",
            Fault::Stall { .. } => "stall",
            Fault::Throttle { .. } => "throttle",
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Fault::Error { .. }
                | Fault::SlowDown { .. }
                | Fault::InternalError
                | Fault::BadGateway
                | Fault::GatewayTimeout
                | Fault::Redirect { .. }
                | Fault::ErrorPage { .. }
        )
    }

    fn touches_body(&self) -> bool {
        matches!(
            self,
            Fault::ShortBody { .. }
                | Fault::LongBody { .. }
                | Fault::Reset { .. }
                | Fault::Stall { .. }
                | Fault::Throttle { .. }
        )
    }

    fn needs_range(&self) -> bool {
        matches!(self, Fault::IgnoreRange | Fault::ChangeEtagOnResume)
    }

    /// Rejects values that cannot be sent on the wire.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Fault::Error { status, code, .. } => {
                if !(400..=599).contains(status) {
                    return Err(format!("error status {status} must be 400-599"));
                }
                if code.is_empty() {
                    return Err("error code must not be empty".into());
                }
            }
            Fault::Redirect { status, location } => {
                if ![301, 302, 303, 307, 308].contains(status) {
                    return Err(format!(
                        "redirect status {status} must be 301, 302, 303, 307 or 308"
                    ));
                }
                if http::HeaderValue::from_str(location).is_err() {
                    return Err("redirect location is not a valid header value".into());
                }
            }
            Fault::ErrorPage {
                status,
                content_type,
                ..
            } => {
                if http::StatusCode::from_u16(*status).is_err() || *status < 200 {
                    return Err(format!(
                        "error page status {status} is not a final HTTP status"
                    ));
                }
                if http::HeaderValue::from_str(content_type).is_err() {
                    return Err("content_type is not a valid header value".into());
                }
            }
            Fault::Throttle { bytes_per_sec: 0 } => {
                return Err("throttle must be at least 1 byte/s".into());
            }
            Fault::HugeHeaders { bytes } if *bytes > 64 * 1024 * 1024 => {
                return Err("huge_headers is capped at 64 MiB".into());
            }
            _ => {}
        }
        Ok(())
    }
}

/// Where and how often a fault applies. JSON:
/// `{"bucket": "b", "key": "k", "methods": ["GET"], "times": 2, "fault": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    pub bucket: String,
    /// `None`: every key of the bucket (and bucket-level requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// HTTP methods the rule applies to; `None` means GET only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// Applications before the rule expires; `None` means forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    pub fault: Fault,
}

impl FaultRule {
    pub fn new(bucket: impl Into<String>, key: impl Into<String>, fault: Fault) -> Self {
        FaultRule {
            bucket: bucket.into(),
            key: Some(key.into()),
            methods: None,
            times: None,
            fault,
        }
    }

    pub fn times(mut self, times: u64) -> Self {
        self.times = Some(times);
        self
    }

    pub fn methods(mut self, methods: &[&str]) -> Self {
        self.methods = Some(methods.iter().map(|m| m.to_ascii_uppercase()).collect());
        self
    }

    fn matches(&self, req: &FaultRequest<'_>) -> bool {
        let method_ok = match &self.methods {
            None => req.method == "GET",
            Some(methods) => methods.iter().any(|m| m.eq_ignore_ascii_case(req.method)),
        };
        method_ok
            && self.bucket == req.bucket
            && self.key.as_deref().is_none_or(|k| Some(k) == req.key)
    }
}

/// A rule as listed by the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultView {
    pub id: u64,
    #[serde(flatten)]
    pub rule: FaultRule,
    /// Applications left; `None` means forever.
    pub remaining: Option<u64>,
    pub applied: u64,
}

/// The request facts rules match on.
#[derive(Debug, Clone, Copy)]
pub struct FaultRequest<'a> {
    pub method: &'a str,
    pub bucket: &'a str,
    pub key: Option<&'a str>,
    pub has_range: bool,
}

/// Faults decided before authentication.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EarlyPlan {
    pub terminal: Option<Fault>,
    pub date_skew_secs: i64,
    pub applied: Vec<&'static str>,
}

/// Modifiers of one object answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectPlan {
    pub huge_headers: Option<usize>,
    pub wrong_crc64: bool,
    pub wrong_etag: bool,
    pub ignore_range: bool,
    pub change_etag_on_resume: bool,
    pub body: BodyFaults,
    pub applied: Vec<&'static str>,
}

/// How the body deviates from a clean transfer; offsets count body bytes sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyFaults {
    pub short_after: Option<u64>,
    pub extra_bytes: Option<u64>,
    pub reset_after: Option<u64>,
    pub stall: Option<(u64, Duration)>,
    pub throttle_bytes_per_sec: Option<u64>,
}

impl BodyFaults {
    pub fn is_clean(&self) -> bool {
        *self == BodyFaults::default()
    }
}

#[derive(Debug)]
struct ActiveRule {
    id: u64,
    rule: FaultRule,
    remaining: Option<u64>,
    applied: u64,
}

impl ActiveRule {
    fn live(&self) -> bool {
        self.remaining != Some(0)
    }

    fn consume(&mut self) {
        if let Some(n) = self.remaining.as_mut() {
            *n -= 1;
        }
        self.applied += 1;
    }
}

#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<ActiveRule>>,
    next_id: AtomicU64,
}

impl Faults {
    pub fn add(&self, rule: FaultRule) -> Result<u64, String> {
        rule.fault.validate()?;
        if let Some(methods) = &rule.methods
            && methods.is_empty()
        {
            return Err("methods must not be empty when given".into());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let remaining = rule.times;
        self.rules
            .lock()
            .expect("fault lock poisoned")
            .push(ActiveRule {
                id,
                rule,
                remaining,
                applied: 0,
            });
        Ok(id)
    }

    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.rules.lock().expect("fault lock poisoned");
        let before = rules.len();
        rules.retain(|r| r.id != id);
        rules.len() != before
    }

    pub fn clear(&self) {
        self.rules.lock().expect("fault lock poisoned").clear();
    }

    pub fn list(&self) -> Vec<FaultView> {
        self.rules
            .lock()
            .expect("fault lock poisoned")
            .iter()
            .map(|r| FaultView {
                id: r.id,
                rule: r.rule.clone(),
                remaining: r.remaining,
                applied: r.applied,
            })
            .collect()
    }

    /// Consumes the first matching terminal fault and every matching `date_skew`.
    pub fn take_early(&self, req: &FaultRequest<'_>) -> EarlyPlan {
        let mut plan = EarlyPlan::default();
        let mut rules = self.rules.lock().expect("fault lock poisoned");
        for rule in rules.iter_mut().filter(|r| r.live() && r.rule.matches(req)) {
            match &rule.rule.fault {
                Fault::DateSkew { secs } => {
                    plan.date_skew_secs = plan.date_skew_secs.saturating_add(*secs);
                    plan.applied.push("date_skew");
                    rule.consume();
                }
                f if f.is_terminal() && plan.terminal.is_none() => {
                    plan.terminal = Some(f.clone());
                    plan.applied.push(f.name());
                    rule.consume();
                }
                _ => {}
            }
        }
        plan
    }

    /// Consumes every modifier that applies to an object answer. `has_body` is false for HEAD.
    pub fn take_object(&self, req: &FaultRequest<'_>, has_body: bool) -> ObjectPlan {
        let mut plan = ObjectPlan::default();
        let mut rules = self.rules.lock().expect("fault lock poisoned");
        for rule in rules.iter_mut().filter(|r| r.live() && r.rule.matches(req)) {
            let fault = &rule.rule.fault;
            if fault.is_terminal()
                || matches!(fault, Fault::DateSkew { .. })
                || (fault.touches_body() && !has_body)
                || (fault.needs_range() && !req.has_range)
            {
                continue;
            }
            match fault {
                Fault::HugeHeaders { bytes } => {
                    plan.huge_headers = Some(plan.huge_headers.unwrap_or(0) + bytes)
                }
                Fault::WrongCrc64 => plan.wrong_crc64 = true,
                Fault::WrongEtag => plan.wrong_etag = true,
                Fault::IgnoreRange => plan.ignore_range = true,
                Fault::ChangeEtagOnResume => plan.change_etag_on_resume = true,
                Fault::ShortBody { bytes } => {
                    plan.body.short_after = Some(min_opt(plan.body.short_after, *bytes))
                }
                Fault::LongBody { extra_bytes } => plan.body.extra_bytes = Some(*extra_bytes),
                Fault::Reset { after_bytes } => {
                    plan.body.reset_after = Some(min_opt(plan.body.reset_after, *after_bytes))
                }
                Fault::Stall {
                    after_bytes,
                    millis,
                } => plan.body.stall = Some((*after_bytes, Duration::from_millis(*millis))),
                Fault::Throttle { bytes_per_sec } => {
                    plan.body.throttle_bytes_per_sec =
                        Some(min_opt(plan.body.throttle_bytes_per_sec, *bytes_per_sec))
                }
                _ => continue,
            }
            plan.applied.push(fault.name());
            rule.consume();
        }
        plan
    }
}

fn min_opt(current: Option<u64>, new: u64) -> u64 {
    current.map_or(new, |c| c.min(new))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(method: &'a str, key: &'a str, has_range: bool) -> FaultRequest<'a> {
        FaultRequest {
            method,
            bucket: "b",
            key: Some(key),
            has_range,
        }
    }

    #[test]
    fn json_shape_round_trips() {
        let json = r#"{"bucket":"b","key":"k","times":2,"fault":{"kind":"slow_down","retry_after_secs":1}}"#;
        let rule: FaultRule = serde_json::from_str(json).unwrap();
        assert_eq!(
            rule.fault,
            Fault::SlowDown {
                retry_after_secs: Some(1)
            }
        );
        assert_eq!(serde_json::to_string(&rule).unwrap(), json);
        let redirect: Fault =
            serde_json::from_str(r#"{"kind":"redirect","location":"http://x/"}"#).unwrap();
        assert_eq!(
            redirect,
            Fault::Redirect {
                status: 307,
                location: "http://x/".into()
            }
        );
        assert!(serde_json::from_str::<Fault>(r#"{"kind":"reset","after":1}"#).is_err());
        assert!(serde_json::from_str::<Fault>(r#"{"kind":"nonsense"}"#).is_err());
        assert!(
            serde_json::from_str::<FaultRule>(
                r#"{"bucket":"b","fault":{"kind":"wrong_etag"},"x":1}"#
            )
            .is_err()
        );
    }

    #[test]
    fn counted_terminal_fault_expires() {
        let faults = Faults::default();
        faults
            .add(FaultRule::new("b", "k", Fault::InternalError).times(2))
            .unwrap();
        assert_eq!(
            faults.take_early(&req("GET", "k", false)).terminal,
            Some(Fault::InternalError)
        );
        assert_eq!(
            faults.take_early(&req("GET", "other", false)).terminal,
            None
        );
        assert_eq!(
            faults.take_early(&req("HEAD", "k", false)).terminal,
            None,
            "GET only by default"
        );
        assert!(
            faults
                .take_early(&req("GET", "k", false))
                .terminal
                .is_some()
        );
        assert_eq!(faults.take_early(&req("GET", "k", false)).terminal, None);
        let view = &faults.list()[0];
        assert_eq!((view.remaining, view.applied), (Some(0), 2));
    }

    #[test]
    fn first_terminal_wins_and_only_it_is_consumed() {
        let faults = Faults::default();
        faults
            .add(
                FaultRule::new(
                    "b",
                    "k",
                    Fault::SlowDown {
                        retry_after_secs: None,
                    },
                )
                .times(1),
            )
            .unwrap();
        faults
            .add(FaultRule::new("b", "k", Fault::InternalError).times(1))
            .unwrap();
        assert_eq!(
            faults.take_early(&req("GET", "k", false)).terminal,
            Some(Fault::SlowDown {
                retry_after_secs: None
            })
        );
        assert_eq!(
            faults.take_early(&req("GET", "k", false)).terminal,
            Some(Fault::InternalError)
        );
        assert_eq!(faults.take_early(&req("GET", "k", false)).terminal, None);
    }

    #[test]
    fn modifiers_combine_and_respect_range_and_body() {
        let faults = Faults::default();
        faults
            .add(
                FaultRule::new("b", "k", Fault::Reset { after_bytes: 10 })
                    .times(1)
                    .methods(&["GET", "HEAD"]),
            )
            .unwrap();
        faults
            .add(FaultRule::new("b", "k", Fault::IgnoreRange).times(1))
            .unwrap();
        faults
            .add(FaultRule::new("b", "k", Fault::WrongCrc64))
            .unwrap();
        // HEAD: no body, so the reset is not consumed.
        let head = faults.take_object(&req("HEAD", "k", false), false);
        assert!(head.body.is_clean() && !head.wrong_crc64);
        // GET without Range: reset and crc apply, ignore_range waits for a Range request.
        let get = faults.take_object(&req("GET", "k", false), true);
        assert_eq!(get.body.reset_after, Some(10));
        assert!(get.wrong_crc64 && !get.ignore_range);
        let ranged = faults.take_object(&req("GET", "k", true), true);
        assert!(ranged.ignore_range && ranged.body.reset_after.is_none() && ranged.wrong_crc64);
        assert_eq!(ranged.applied, vec!["ignore_range", "wrong_crc64"]);
    }

    #[test]
    fn bucket_wide_rule_and_removal() {
        let faults = Faults::default();
        let id = faults
            .add(FaultRule {
                bucket: "b".into(),
                key: None,
                methods: None,
                times: None,
                fault: Fault::DateSkew { secs: -3600 },
            })
            .unwrap();
        let plan = faults.take_early(&req("GET", "any", false));
        assert_eq!((plan.date_skew_secs, plan.terminal), (-3600, None));
        assert!(faults.remove(id));
        assert_eq!(
            faults.take_early(&req("GET", "any", false)).date_skew_secs,
            0
        );
        assert!(!faults.remove(id));
    }

    #[test]
    fn invalid_faults_are_refused() {
        let faults = Faults::default();
        let bad = [
            Fault::Error {
                status: 200,
                code: "X".into(),
                message: None,
                retry_after_secs: None,
            },
            Fault::Redirect {
                status: 200,
                location: "http://x".into(),
            },
            Fault::Redirect {
                status: 307,
                location: "http://x/\n".into(),
            },
            Fault::Throttle { bytes_per_sec: 0 },
            Fault::ErrorPage {
                status: 99,
                content_type: "text/html".into(),
                body: String::new(),
            },
        ];
        for f in bad {
            assert!(
                faults.add(FaultRule::new("b", "k", f.clone())).is_err(),
                "{f:?}"
            );
        }
        assert!(
            faults
                .add(FaultRule::new("b", "k", Fault::WrongEtag).methods(&[]))
                .is_err()
        );
    }
}
