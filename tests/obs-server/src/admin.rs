//! Admin API under `/__admin` (JSON, no authentication). Only reachable path-style: a
//! virtual-hosted `/__admin/...` is an object key of that bucket.
//!
//! | method | path | body / answer |
//! |---|---|---|
//! | GET | `/health` | `{"ok": true}` |
//! | GET, PUT | `/settings` | `{"crc64": bool, "throttle_bytes_per_sec": n or null, "clock": {"mode": "system"} or {"mode": "offset", "secs": n} or {"mode": "fixed", "epoch_secs": n}, "rate_limit": {"requests_per_sec": x, "burst": n, "retry_after_secs": n?}}` (`rate_limit` absent when off; PUT `null` turns it off); PUT takes any subset |
//! | GET | `/uploads` | `{"uploads": [UploadSummary]}`: multipart uploads in progress |
//! | GET | `/rate` | `{"rate_limit": RateLimit or null, "served": n, "throttled": n, "by_access_key": {AK: {"served", "throttled"}}, "by_peer": {IP: {...}}}` |
//! | POST | `/faults` | a `FaultRule` -> 201 `{"id": n}` |
//! | GET | `/faults` | `{"faults": [FaultView]}` |
//! | DELETE | `/faults`, `/faults/{id}` | `{"removed": n}` |
//! | GET | `/requests[?bucket=&key=]` | `{"requests": [RequestRecord]}` |
//! | GET | `/counters[?bucket=&key=]` | `{"counters": [KeyCounter]}` |
//! | POST | `/reset` | clears faults, log, counters, settings; keeps objects |
//! | GET | `/buckets` | `{"buckets": [BucketSummary]}` |
//! | PUT | `/buckets/{name}` | optional `{"public_read": bool}` |
//! | GET | `/objects/{bucket}` | `{"keys": [...]}` |
//! | PUT | `/objects/{bucket}/{key}` | raw body (key percent-encoded in the path) -> `ObjectInfo` |
//! | DELETE | `/objects/{bucket}/{key}` | `{"removed": bool}` |

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::{Value, json};

use crate::body::ResponseBody;
use crate::clock::ClockSetting;
use crate::faults::FaultRule;
use crate::ops::read_body;
use crate::query::Query;
use crate::rate_limit::RateLimit;
use crate::state::State;

/// Largest JSON document accepted.
const MAX_JSON_BYTES: u64 = 1024 * 1024;

struct AdminError {
    status: StatusCode,
    message: String,
}

fn bad_request(message: impl Into<String>) -> AdminError {
    AdminError {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
    }
}

fn not_found(message: impl Into<String>) -> AdminError {
    AdminError {
        status: StatusCode::NOT_FOUND,
        message: message.into(),
    }
}

type AdminResult = Result<(StatusCode, Value), AdminError>;

pub async fn handle(
    state: &State,
    req: Request<Incoming>,
    rest: &str,
    request_id: &str,
) -> Response<ResponseBody> {
    let result = route(state, req, rest).await;
    let (status, value) = match result {
        Ok(ok) => ok,
        Err(e) => (e.status, json!({ "error": e.message })),
    };
    let body = serde_json::to_vec(&value).unwrap_or_else(|_| b"{}".to_vec());
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_LENGTH, body.len())
        .header("x-obs-request-id", request_id)
        .body(ResponseBody::full(body))
        .unwrap_or_else(|_| Response::new(ResponseBody::Empty))
}

async fn route(state: &State, req: Request<Incoming>, rest: &str) -> AdminResult {
    let method = req.method().clone();
    let query = Query::parse(req.uri().query());
    let segments: Vec<&str> = rest.trim_start_matches('/').splitn(3, '/').collect();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["health"]) => ok(json!({ "ok": true })),
        (&Method::GET, ["settings"]) => ok(to_value(state.settings())?),
        (&Method::GET, ["uploads"]) => ok(json!({ "uploads": to_value(state.uploads.list())? })),
        (&Method::GET, ["rate"]) => {
            let mut value = to_value(state.limiter.stats())?;
            value["rate_limit"] = to_value(state.limiter.limit())?;
            ok(value)
        }
        (&Method::PUT, ["settings"]) => {
            let body = json_body(req).await?;
            apply_settings(state, &body)?;
            ok(to_value(state.settings())?)
        }
        (&Method::POST, ["faults"]) => {
            let body = json_body(req).await?;
            let rule: FaultRule = serde_json::from_value(body)
                .map_err(|e| bad_request(format!("invalid fault rule: {e}")))?;
            let id = state.faults.add(rule).map_err(bad_request)?;
            Ok((StatusCode::CREATED, json!({ "id": id })))
        }
        (&Method::GET, ["faults"]) => ok(json!({ "faults": to_value(state.faults.list())? })),
        (&Method::DELETE, ["faults"]) => {
            let removed = state.faults.list().len();
            state.faults.clear();
            ok(json!({ "removed": removed }))
        }
        (&Method::DELETE, ["faults", id]) => {
            let id: u64 = id
                .parse()
                .map_err(|_| bad_request("fault id must be a number"))?;
            if state.faults.remove(id) {
                ok(json!({ "removed": 1 }))
            } else {
                Err(not_found(format!("no fault with id {id}")))
            }
        }
        (&Method::GET, ["requests"]) => {
            let records: Vec<_> = state
                .log
                .records()
                .into_iter()
                .filter(|r| {
                    query
                        .get("bucket")
                        .is_none_or(|b| r.bucket.as_deref() == Some(b))
                })
                .filter(|r| query.get("key").is_none_or(|k| r.key.as_deref() == Some(k)))
                .collect();
            ok(json!({ "requests": to_value(records)? }))
        }
        (&Method::GET, ["counters"]) => {
            let counters = match query.get("bucket") {
                Some(bucket) => vec![state.log.counter(bucket, query.get("key"))],
                None => state.log.counters(),
            };
            ok(json!({ "counters": to_value(counters)? }))
        }
        (&Method::POST, ["reset"]) => {
            state.reset();
            ok(json!({ "ok": true }))
        }
        (&Method::GET, ["buckets"]) => ok(json!({ "buckets": to_value(state.store.buckets())? })),
        (&Method::PUT, ["buckets", name]) => {
            if !crate::addressing::is_valid_bucket_name(name) {
                return Err(bad_request(format!("invalid bucket name {name:?}")));
            }
            let body = json_body_or_empty(req).await?;
            let public_read = match body.get("public_read") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(bad_request("public_read must be a boolean")),
            };
            state.store.ensure_bucket(name, public_read);
            ok(json!({ "bucket": name, "public_read": public_read }))
        }
        (&Method::GET, ["objects", bucket]) => {
            let keys = state
                .store
                .keys(bucket)
                .map_err(|_| not_found(format!("no bucket {bucket:?}")))?;
            ok(json!({ "keys": keys }))
        }
        (&Method::PUT, ["objects", bucket, raw_key]) => {
            let key = decode(raw_key)?;
            let content_type = req
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let declared = req
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.parse().ok());
            let data = read_body(req.into_body(), declared, state.config.max_put_bytes)
                .await
                .map_err(|e| bad_request(e.message))?;
            let info = state
                .seed_object(bucket, &key, data, content_type)
                .map_err(|e| bad_request(e.to_string()))?;
            ok(to_value(info)?)
        }
        (&Method::DELETE, ["objects", bucket, raw_key]) => {
            let key = decode(raw_key)?;
            let removed = state
                .store
                .delete(bucket, &key)
                .map_err(|_| not_found(format!("no bucket {bucket:?}")))?;
            ok(json!({ "removed": removed }))
        }
        _ => Err(AdminError {
            status: StatusCode::NOT_FOUND,
            message: format!("no admin endpoint {method} /__admin{rest}"),
        }),
    }
}

fn ok(value: Value) -> AdminResult {
    Ok((StatusCode::OK, value))
}

fn to_value<T: Serialize>(v: T) -> Result<Value, AdminError> {
    serde_json::to_value(v).map_err(|e| AdminError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: e.to_string(),
    })
}

fn decode(raw: &str) -> Result<String, AdminError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| bad_request("object key is not UTF-8 after percent-decoding"))
}

async fn read_all(req: Request<Incoming>) -> Result<Bytes, AdminError> {
    read_body(req.into_body(), None, MAX_JSON_BYTES)
        .await
        .map_err(|e| bad_request(e.message))
}

async fn json_body(req: Request<Incoming>) -> Result<Value, AdminError> {
    let bytes = read_all(req).await?;
    serde_json::from_slice(&bytes).map_err(|e| bad_request(format!("body is not JSON: {e}")))
}

async fn json_body_or_empty(req: Request<Incoming>) -> Result<Value, AdminError> {
    let bytes = read_all(req).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes).map_err(|e| bad_request(format!("body is not JSON: {e}")))
}

/// Applies a partial settings document; `"throttle_bytes_per_sec": null` turns pacing off,
/// `"rate_limit": null` the rate limit.
fn apply_settings(state: &State, body: &Value) -> Result<(), AdminError> {
    let obj = body
        .as_object()
        .ok_or_else(|| bad_request("settings must be a JSON object"))?;
    for key in obj.keys() {
        if !["crc64", "throttle_bytes_per_sec", "clock", "rate_limit"].contains(&key.as_str()) {
            return Err(bad_request(format!("unknown setting {key:?}")));
        }
    }
    // Validate everything before changing anything.
    let crc64 = match obj.get("crc64") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(bad_request("crc64 must be a boolean")),
    };
    let throttle = match obj.get("throttle_bytes_per_sec") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => match v.as_u64() {
            Some(n) if n > 0 => Some(Some(n)),
            _ => {
                return Err(bad_request(
                    "throttle_bytes_per_sec must be a positive integer or null",
                ));
            }
        },
    };
    let clock = match obj.get("clock") {
        None => None,
        Some(v) => Some(
            serde_json::from_value::<ClockSetting>(v.clone())
                .map_err(|e| bad_request(format!("invalid clock: {e}")))?,
        ),
    };
    let rate_limit = match obj.get("rate_limit") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => {
            let limit = serde_json::from_value::<RateLimit>(v.clone())
                .map_err(|e| bad_request(format!("invalid rate_limit: {e}")))?;
            limit.validate().map_err(bad_request)?;
            Some(Some(limit))
        }
    };
    if let Some(b) = crc64 {
        state.set_crc64(b);
    }
    if let Some(t) = throttle {
        state.set_throttle(t);
    }
    if let Some(c) = clock {
        state.clock.set(c);
    }
    if let Some(limit) = rate_limit {
        state.limiter.set(limit);
    }
    Ok(())
}
