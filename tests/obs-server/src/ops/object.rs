//! Object GET/HEAD (ranges, conditions, checksums, modifier faults), PUT and DELETE.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CONNECTION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_MATCH,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE, LAST_MODIFIED, RANGE,
};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

use super::read_payload;
use crate::auth::V4Verified;
use crate::body::{ObjectStream, ResponseBody};
use crate::conn::ConnControl;
use crate::faults::{FaultRequest, ObjectPlan};
use crate::obs_error::ObsError;
use crate::protocol::Protocol;
use crate::query::Query;
use crate::range::{self, RangeOutcome};
use crate::respond::Exchange;
use crate::state::State;
use crate::store::{StoreError, StoredObject};

/// Largest single padding header of the `huge_headers` fault.
const PADDING_HEADER_BYTES: usize = 8 * 1024;

/// Query parameters that override response headers on GET/HEAD.
const RESPONSE_OVERRIDES: &[(&str, &str)] = &[
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

pub struct ObjectRequest<'a> {
    pub state: &'a State,
    pub ex: &'a Exchange,
    pub method: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    pub query: &'a Query,
    pub headers: &'a HeaderMap,
    pub protocol: Protocol,
    /// Signature V4 requests: what the upload body must satisfy.
    pub v4: Option<&'a V4Verified>,
}

fn lookup(req: &ObjectRequest<'_>) -> Result<Arc<StoredObject>, ObsError> {
    match req.state.store.get(req.bucket, req.key) {
        Err(StoreError::NoSuchBucket) => Err(ObsError::no_such_bucket(req.bucket)),
        Err(StoreError::BucketExists) | Ok(None) => Err(ObsError::no_such_key(req.key)),
        Ok(Some(obj)) => Ok(obj),
    }
}

/// GET and HEAD. `applied` collects the names of the modifier faults used.
pub fn get(
    req: &ObjectRequest<'_>,
    ctl: &Arc<ConnControl>,
    applied: &mut Vec<String>,
) -> Response<ResponseBody> {
    let ex = req.ex;
    let obj = match lookup(req) {
        Ok(obj) => obj,
        Err(e) => return ex.error(&e),
    };
    if let Some(version) = req.query.get("versionId") {
        // Versioning is off: only the "null" version (the current object) exists.
        if version != "null" {
            return ex.error(
                &ObsError::new(
                    StatusCode::NOT_FOUND,
                    "NoSuchVersion",
                    "The specified version does not exist.",
                )
                .with_extra("VersionId", version),
            );
        }
    }
    let range_header = req.headers.get(RANGE).and_then(|v| v.to_str().ok());
    let plan = req.state.faults.take_object(
        &FaultRequest {
            method: req.method,
            bucket: req.bucket,
            key: Some(req.key),
            has_range: range_header.is_some(),
        },
        !ex.is_head,
    );
    applied.extend(plan.applied.iter().map(|s| s.to_string()));

    let etag = effective_etag(&obj, &plan);
    if let Some(status) = failed_condition(req.headers, &etag, obj.last_modified) {
        if status == StatusCode::NOT_MODIFIED {
            let builder = ex
                .builder(status)
                .header(ETAG, etag.as_str())
                .header(LAST_MODIFIED, httpdate::fmt_http_date(obj.last_modified));
            return ex.finish(builder, ResponseBody::Empty);
        }
        return ex.error(&ObsError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        ));
    }

    let total = obj.len();
    let outcome = if plan.ignore_range {
        RangeOutcome::Full
    } else {
        range::resolve(range_header, total)
    };
    let (status, span) = match outcome {
        RangeOutcome::Full => (StatusCode::OK, 0..total),
        RangeOutcome::Partial(span) => (StatusCode::PARTIAL_CONTENT, span),
        RangeOutcome::Unsatisfiable => {
            let mut resp = ex.error(
                &ObsError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "InvalidRange",
                    "The requested range is not satisfiable",
                )
                .with_extra("RangeRequested", range_header.unwrap_or_default())
                .with_extra("ActualObjectSize", total.to_string()),
            );
            resp.headers_mut().insert(
                CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{total}")).expect("ascii"),
            );
            return resp;
        }
    };

    let mut builder = ex
        .builder(status)
        .header(CONTENT_TYPE, obj.content_type.as_str())
        .header(CONTENT_LENGTH, span.end - span.start)
        .header(ETAG, etag.as_str())
        .header(LAST_MODIFIED, httpdate::fmt_http_date(obj.last_modified))
        .header(ACCEPT_RANGES, "bytes");
    if status == StatusCode::PARTIAL_CONTENT {
        builder = builder.header(
            CONTENT_RANGE,
            format!("bytes {}-{}/{total}", span.start, span.end - 1),
        );
    }
    for (name, value) in &obj.metadata {
        builder = builder.header(metadata_header(name, req.protocol), value.as_str());
    }
    // S3 sends the upload's checksum only to clients that ask, and only for the whole object.
    if req.protocol == Protocol::S3
        && status == StatusCode::OK
        && checksum_mode_enabled(req.headers)
        && let Some(checksum) = &obj.checksum
    {
        builder = builder.header(checksum.algorithm.header_name(), checksum.value.as_str());
    }
    if (req.state.crc64_enabled() && req.protocol == Protocol::Obs) || plan.wrong_crc64 {
        let crc = if plan.wrong_crc64 {
            obj.crc64() ^ 0x0123_4567_89AB_CDEF
        } else {
            obj.crc64()
        };
        builder = builder.header("x-obs-checksum-crc64ecma", crc.to_string());
    }
    if let Some(bytes) = plan.huge_headers {
        builder = add_padding_headers(builder, bytes);
    }
    let mut body_faults = plan.body.clone();
    body_faults.throttle_bytes_per_sec =
        match (body_faults.throttle_bytes_per_sec, req.state.throttle()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    if body_faults.extra_bytes.is_some() {
        // The stray bytes would otherwise be parsed as the next response on this connection.
        builder = builder.header(CONNECTION, "close");
    }
    let body = if ex.is_head {
        ResponseBody::Empty
    } else {
        let data = obj.data.slice(span.start as usize..span.end as usize);
        ResponseBody::Object(ObjectStream::new(
            data,
            req.state.config.frame_bytes,
            body_faults,
            Arc::clone(ctl),
        ))
    };
    let mut resp = ex.finish(builder, body);
    apply_response_overrides(resp.headers_mut(), req.query);
    resp
}

/// User metadata in the answering protocol's prefix (OBS keeps the names as uploaded).
fn metadata_header(stored: &str, protocol: Protocol) -> String {
    match protocol {
        Protocol::Obs => stored.to_string(),
        Protocol::S3 => match stored.strip_prefix("x-obs-meta-") {
            Some(rest) => format!("{}{rest}", protocol.meta_prefix()),
            None => stored.to_string(),
        },
    }
}

fn checksum_mode_enabled(headers: &HeaderMap) -> bool {
    headers
        .get("x-amz-checksum-mode")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("ENABLED"))
}

fn effective_etag(obj: &StoredObject, plan: &ObjectPlan) -> String {
    let flip = |mask: u8| format!("\"{}\"", hex::encode(obj.md5.map(|b| b ^ mask)));
    if plan.wrong_etag {
        flip(0xFF)
    } else if plan.change_etag_on_resume {
        flip(0x5A)
    } else {
        obj.etag()
    }
}

/// `Some(412)` or `Some(304)` when a conditional header fails (RFC 9110 order).
fn failed_condition(
    headers: &HeaderMap,
    etag: &str,
    last_modified: SystemTime,
) -> Option<StatusCode> {
    let text = |name: HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let date = |name: HeaderName| text(name).and_then(|v| httpdate::parse_http_date(v.trim()).ok());
    // HTTP dates have whole seconds.
    let modified = UNIX_EPOCH
        + Duration::from_secs(
            last_modified
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        );
    if let Some(if_match) = text(IF_MATCH) {
        if !etag_list_matches(&if_match, etag) {
            return Some(StatusCode::PRECONDITION_FAILED);
        }
    } else if let Some(since) = date(IF_UNMODIFIED_SINCE)
        && modified > since
    {
        return Some(StatusCode::PRECONDITION_FAILED);
    }
    if let Some(if_none_match) = text(IF_NONE_MATCH) {
        if etag_list_matches(&if_none_match, etag) {
            return Some(StatusCode::NOT_MODIFIED);
        }
    } else if let Some(since) = date(IF_MODIFIED_SINCE)
        && modified <= since
    {
        return Some(StatusCode::NOT_MODIFIED);
    }
    None
}

fn etag_list_matches(list: &str, etag: &str) -> bool {
    let bare = |s: &str| {
        s.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_string()
    };
    let want = bare(etag);
    list.split(',')
        .any(|candidate| candidate.trim() == "*" || bare(candidate) == want)
}

fn add_padding_headers(
    mut builder: http::response::Builder,
    total: usize,
) -> http::response::Builder {
    let mut left = total;
    let mut index = 0;
    while left > 0 {
        let len = left.min(PADDING_HEADER_BYTES);
        builder = builder.header(format!("x-obs-padding-{index}"), "p".repeat(len));
        left -= len;
        index += 1;
    }
    builder
}

fn apply_response_overrides(headers: &mut HeaderMap, query: &Query) {
    for (param, header) in RESPONSE_OVERRIDES {
        if let Some(value) = query.get(param).and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(*header, value);
        }
    }
}

/// PUT object: the whole body is read, checked against `Content-MD5`, the signed payload hash
/// and any `x-amz-checksum-*`, and stored.
pub async fn put<B>(req: &ObjectRequest<'_>, body: B) -> Response<ResponseBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let ex = req.ex;
    if req.state.store.bucket_public_read(req.bucket).is_none() {
        return ex.error(&ObsError::no_such_bucket(req.bucket));
    }
    if req.headers.contains_key("x-obs-copy-source")
        || req.headers.contains_key("x-amz-copy-source")
    {
        return ex.error(&ObsError::not_implemented("Copy object"));
    }
    let received =
        match read_payload(body, req.headers, req.v4, req.state.config.max_put_bytes).await {
            Ok(received) => received,
            Err(e) => return ex.error(&e),
        };
    let data = received.data;
    if let Err(e) =
        check_content_md5(req.headers, &data).and_then(|()| check_crc64(req.headers, &data))
    {
        return ex.error(&e);
    }
    let metadata = upload_metadata(req.headers);
    let content_type = req
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let object =
        StoredObject::new(data, content_type, metadata, ex.now).with_checksum(received.checksum);
    match req.state.store.put(req.bucket, req.key, object) {
        Ok(stored) => {
            let mut builder = ex
                .builder(StatusCode::OK)
                .header(ETAG, stored.etag())
                .header(CONTENT_LENGTH, 0);
            if let Some(checksum) = &stored.checksum {
                builder = builder.header(checksum.algorithm.header_name(), checksum.value.as_str());
            }
            ex.finish(builder, ResponseBody::Empty)
        }
        // The bucket was deleted while the body was uploading.
        Err(_) => ex.error(&ObsError::no_such_bucket(req.bucket)),
    }
}

/// `x-obs-meta-*` / `x-amz-meta-*` headers of an upload, names as received.
pub fn upload_metadata(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            name.as_str().starts_with("x-obs-meta-") || name.as_str().starts_with("x-amz-meta-")
        })
        .filter_map(|(name, value)| {
            Some((
                name.as_str().to_string(),
                value.to_str().ok()?.trim().to_string(),
            ))
        })
        .collect()
}

pub fn check_content_md5(headers: &HeaderMap, data: &Bytes) -> Result<(), ObsError> {
    let Some(value) = headers.get("content-md5") else {
        return Ok(());
    };
    let invalid = || {
        ObsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidDigest",
            "The Content-MD5 you specified was invalid.",
        )
    };
    let text = value.to_str().map_err(|_| invalid())?;
    let expected = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| invalid())?;
    if expected.len() != 16 {
        return Err(invalid());
    }
    use md5::Digest;
    if md5::Md5::digest(data).as_slice() != expected.as_slice() {
        return Err(ObsError::new(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    Ok(())
}

/// The SDK can attach the body's CRC-64 (`x-obs-checksum-crc64ecma`, decimal) to an upload.
fn check_crc64(headers: &HeaderMap, data: &Bytes) -> Result<(), ObsError> {
    let Some(value) = headers
        .get("x-obs-checksum-crc64ecma")
        .or_else(|| headers.get("x-amz-checksum-crc64ecma"))
    else {
        return Ok(());
    };
    let sent = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            ObsError::invalid_argument("x-obs-checksum-crc64ecma must be a decimal CRC-64/XZ value")
        })?;
    if sent != crate::store::crc64_xz(data) {
        return Err(ObsError::new(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            "The CRC-64 you specified did not match what we received.",
        ));
    }
    Ok(())
}

/// DELETE object: 204 whether or not the key existed, as OBS does.
pub fn delete(req: &ObjectRequest<'_>) -> Response<ResponseBody> {
    match req.state.store.delete(req.bucket, req.key) {
        Ok(_) => req
            .ex
            .finish(req.ex.builder(StatusCode::NO_CONTENT), ResponseBody::Empty),
        Err(_) => req.ex.error(&ObsError::no_such_bucket(req.bucket)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_matching_forms() {
        let etag = "\"5d41402abc4b2a76b9719d911017c592\"";
        for ok in [
            etag,
            "5d41402abc4b2a76b9719d911017c592",
            "*",
            "\"x\", \"5d41402abc4b2a76b9719d911017c592\"",
            "W/\"5d41402abc4b2a76b9719d911017c592\"",
        ] {
            assert!(etag_list_matches(ok, etag), "{ok}");
        }
        assert!(!etag_list_matches("\"other\"", etag));
    }

    #[test]
    fn conditions_in_rfc_order() {
        let lm = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let etag = "\"abc\"";
        let mut h = HeaderMap::new();
        assert_eq!(failed_condition(&h, etag, lm), None);
        h.insert(IF_MATCH, HeaderValue::from_static("\"zzz\""));
        assert_eq!(
            failed_condition(&h, etag, lm),
            Some(StatusCode::PRECONDITION_FAILED)
        );
        h.insert(IF_MATCH, HeaderValue::from_static("\"abc\""));
        // If-Match passing makes If-Unmodified-Since irrelevant.
        h.insert(
            IF_UNMODIFIED_SINCE,
            HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
        );
        assert_eq!(failed_condition(&h, etag, lm), None);
        h.remove(IF_MATCH);
        assert_eq!(
            failed_condition(&h, etag, lm),
            Some(StatusCode::PRECONDITION_FAILED)
        );
        h.remove(IF_UNMODIFIED_SINCE);
        h.insert(IF_NONE_MATCH, HeaderValue::from_static("\"abc\""));
        assert_eq!(
            failed_condition(&h, etag, lm),
            Some(StatusCode::NOT_MODIFIED)
        );
        h.remove(IF_NONE_MATCH);
        h.insert(
            IF_MODIFIED_SINCE,
            HeaderValue::from_str(&httpdate::fmt_http_date(lm)).unwrap(),
        );
        assert_eq!(
            failed_condition(&h, etag, lm),
            Some(StatusCode::NOT_MODIFIED)
        );
        h.insert(
            IF_MODIFIED_SINCE,
            HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
        );
        assert_eq!(failed_condition(&h, etag, lm), None);
    }

    #[test]
    fn content_md5_checks() {
        let data = Bytes::from_static(b"hello");
        let mut h = HeaderMap::new();
        assert!(check_content_md5(&h, &data).is_ok());
        h.insert(
            "content-md5",
            HeaderValue::from_static("XUFAKrxLKna5cZ2REBfFkg=="),
        );
        assert!(check_content_md5(&h, &data).is_ok());
        h.insert(
            "content-md5",
            HeaderValue::from_static("AAAAAAAAAAAAAAAAAAAAAA=="),
        );
        assert_eq!(check_content_md5(&h, &data).unwrap_err().code, "BadDigest");
        h.insert("content-md5", HeaderValue::from_static("nope"));
        assert_eq!(
            check_content_md5(&h, &data).unwrap_err().code,
            "InvalidDigest"
        );
    }

    #[test]
    fn upload_crc64_checks() {
        let data = Bytes::from_static(b"123456789");
        let mut h = HeaderMap::new();
        assert!(check_crc64(&h, &data).is_ok());
        h.insert(
            "x-obs-checksum-crc64ecma",
            HeaderValue::from_str(&0x995D_C9BB_DF19_39FAu64.to_string()).unwrap(),
        );
        assert!(check_crc64(&h, &data).is_ok());
        h.insert("x-obs-checksum-crc64ecma", HeaderValue::from_static("1"));
        assert_eq!(check_crc64(&h, &data).unwrap_err().code, "BadDigest");
        h.insert("x-obs-checksum-crc64ecma", HeaderValue::from_static("x"));
        assert_eq!(check_crc64(&h, &data).unwrap_err().code, "InvalidArgument");
    }
}
