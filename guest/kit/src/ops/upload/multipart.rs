//! A multipart upload, one store operation per call: start it, send a part, complete it
//! from the parts, or abort it. The host runs the parts on several instances at once.

use super::digest::{check_etag, multipart_etag, same_etag, Md5Digest, VERIFIED_MD5_OF_PARTS};
use super::object::head;
use super::session::{check_upload_id, content_type, Session};
use super::xml::{self, Found};
use super::{ObjectInfo, UploadRemote, UploadedPart};
use crate::http::{refusal, Method, RequestBody, SmallResponse, Store, Transport, Verdict};
use crate::ops::{scrubbed, Call};
use crate::retry::Sleeper;
use crate::store_error::parse_error_doc;
use crate::{Error, ErrorKind, Result};

const NO_SUCH_UPLOAD: &str = "NoSuchUpload";

/// Starts a multipart upload; returns the store's upload id. The object's `Content-Type` is
/// given here: the parts carry none.
pub fn begin_multipart<R: UploadRemote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R) -> Result<String> {
    let r = Session::open(remote, call.env, call.transport).and_then(|mut s| {
        let mut req = s.request(Method::Post, &[("uploads", None)]);
        req.set_header("Content-Type", content_type(remote.format()));
        // An empty body, announced: stores refuse a POST of unknown length.
        let req = req.with_body(RequestBody::default());
        s.send(call, &req, |a, store, _| match a.head.status {
            200 => match xml::upload_id(&a.body) {
                Found::Value(id) if !id.chars().any(char::is_control) => Verdict::Done(id),
                found => error_after_200(store, a).unwrap_or_else(|| Verdict::Fail(unusable(a, "an UploadId", &found))),
            },
            _ => refusal(store, a),
        })
    });
    scrubbed(remote, call.env, r.map(|a| a.value).map_err(|e| e.context(format!("starting a multipart upload of {}", remote.display()))))
}

/// Uploads part `number` (1-based) with its `Content-MD5`, retried whole from `bytes`
/// (shared, so a caller may keep them for a retry of its own without a copy).
pub fn upload_part<R: UploadRemote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, upload_id: &str, number: u32, bytes: RequestBody) -> Result<UploadedPart> {
    let r = part(call, remote, upload_id, number, bytes);
    scrubbed(remote, call.env, r.map_err(|e| e.context(format!("uploading part {number} of {}", remote.display()))))
}

fn part<R: UploadRemote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, upload_id: &str, number: u32, bytes: RequestBody) -> Result<UploadedPart> {
    check_upload_id(upload_id)?;
    let limits = remote.upload_limits();
    if number == 0 {
        return Err(Error::internal("parts are numbered from 1"));
    }
    if number > limits.max_parts {
        return Err(Error::limit(format!("the store accepts at most {} parts", limits.max_parts)));
    }
    let size = bytes.len() as u64;
    if size > limits.max_part_size {
        return Err(Error::limit(format!("{size} bytes are more than the {} the store accepts in one part", limits.max_part_size)));
    }
    let md5 = Md5Digest::of(bytes.as_slice());
    let mut s = Session::open(remote, call.env, call.transport)?;
    let n = number.to_string();
    let mut req = s.request(Method::Put, &[("partNumber", Some(&n)), ("uploadId", Some(upload_id))]);
    req.set_header("Content-MD5", md5.content_md5());
    let req = req.with_body(bytes);
    let answer = s.send(call, &req, |a, store, _| match a.head.status {
        200 => {
            let Some(etag) = a.head.headers.get("etag").filter(|e| !e.is_empty()) else {
                return Verdict::Fail(Error::network("the store accepted the part without an ETag, which completing the upload needs").with_status(200));
            };
            match check_etag(Some(etag), store.etag_is_md5(&a.head.headers), &md5) {
                Ok(_) => Verdict::Done(etag.to_string()),
                Err(e) => Verdict::Fail(e.with_status(200)),
            }
        }
        _ => refusal(store, a),
    })?;
    Ok(UploadedPart { number, size, etag: answer.value, retries: answer.retries })
}

/// How a completion ended.
enum Completion {
    /// The store answered with the object's ETag.
    Completed(String),
    /// A retry found the upload gone: an earlier attempt may have completed it and lost
    /// its answer on the way back.
    Gone(Error),
}

/// Completes the upload from `parts` (sorted here by number). The object's size is the sum
/// of the parts': no HEAD afterwards, which write-only credentials could not send. Only a
/// retry that finds the upload gone reads the object, to prove a lost answer was a success.
pub fn complete_multipart<R: UploadRemote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, upload_id: &str, parts: Vec<UploadedPart>) -> Result<ObjectInfo> {
    let r = complete(call, remote, upload_id, parts);
    scrubbed(remote, call.env, r.map_err(|e| e.context(format!("completing the upload of {}", remote.display()))))
}

fn complete<R: UploadRemote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, upload_id: &str, mut parts: Vec<UploadedPart>) -> Result<ObjectInfo> {
    check_upload_id(upload_id)?;
    parts.sort_by_key(|p| p.number);
    if parts.is_empty() || parts.windows(2).any(|w| w[0].number == w[1].number) || parts.iter().any(|p| p.number == 0 || p.etag.is_empty()) {
        return Err(Error::internal("the part list is empty, repeats a number, or has a part without number or ETag"));
    }
    let most = remote.upload_limits().max_parts;
    if parts.len() > most as usize {
        return Err(Error::limit(format!("{} parts are more than the {most} the store accepts", parts.len())));
    }
    let expected = multipart_etag(parts.iter().map(|p| p.etag.as_str()));
    let size = parts.iter().map(|p| p.size).sum::<u64>();
    let mut s = Session::open(remote, call.env, call.transport)?;
    let mut req = s.request(Method::Post, &[("uploadId", Some(upload_id))]);
    req.set_header("Content-Type", "application/xml");
    let req = req.with_body(RequestBody::from(xml::complete_body(parts.iter().map(|p| (p.number, p.etag.as_str()))).into_bytes()));
    let answer = s.send(call, &req, |a, store, attempt| match a.head.status {
        // S3 sends its 200 before it has finished, and an error in the body if it fails.
        200 => match xml::completed_etag(&a.body) {
            Found::Value(etag) => Verdict::Done(Completion::Completed(etag)),
            found => error_after_200(store, a).unwrap_or_else(|| Verdict::Fail(unusable(a, "the completed object's ETag", &found))),
        },
        404 if attempt.is_retry() => match refusal::<_, ()>(store, a) {
            Verdict::Fail(e) | Verdict::Retry(e) if e.store_code.as_deref() == Some(NO_SUCH_UPLOAD) => Verdict::Done(Completion::Gone(e)),
            _ => refusal(store, a),
        },
        _ => refusal(store, a),
    })?;
    let verified_by = |etag: &str| match &expected {
        Some(want) if same_etag(etag, want) => Some(VERIFIED_MD5_OF_PARTS.to_string()),
        _ => None,
    };
    match answer.value {
        Completion::Completed(etag) => Ok(ObjectInfo { size, verified: verified_by(&etag), etag: Some(etag), retries: answer.retries }),
        Completion::Gone(e) => {
            let found = head(&mut s, call)?;
            // Only the object these parts make proves the lost answer was a success.
            match found.filter(|i| matches!((&i.etag, &expected), (Some(now), Some(want)) if same_etag(now, want))) {
                Some(info) => Ok(ObjectInfo { verified: info.etag.as_deref().and_then(verified_by), retries: answer.retries + info.retries, ..info }),
                None => Err(e.context("an earlier attempt's answer was lost and the object is not the one these parts make")),
            }
        }
    }
}

/// Aborts the upload so the store drops its parts. An upload the store no longer knows is
/// as good as aborted.
pub fn abort_multipart<R: UploadRemote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, upload_id: &str) -> Result<()> {
    let r = check_upload_id(upload_id).and_then(|()| Session::open(remote, call.env, call.transport)).and_then(|mut s| {
        let req = s.request(Method::Delete, &[("uploadId", Some(upload_id))]);
        s.send(call, &req, |a, store, _| match a.head.status {
            200 | 204 => Verdict::Done(()),
            404 => match refusal::<_, ()>(store, a) {
                Verdict::Fail(e) | Verdict::Retry(e) if e.store_code.as_deref() != Some(NO_SUCH_UPLOAD) => Verdict::Fail(e),
                _ => Verdict::Done(()),
            },
            _ => refusal(store, a),
        })
    });
    scrubbed(remote, call.env, r.map(|_| ()).map_err(|e| e.context(format!("aborting the upload of {}", remote.display()))))
}

/// A `200` whose body is an error document (S3 completing a multipart upload): the error,
/// retried by its code.
fn error_after_200<V>(store: &(dyn Store + '_), a: &SmallResponse) -> Option<Verdict<V>> {
    parse_error_doc(&a.body).map(|_| refusal(store, a))
}

/// A `200` without the value the operation needs.
fn unusable(a: &SmallResponse, what: &str, found: &Found) -> Error {
    let why = match found {
        Found::TooLong => format!("{what} longer than {} bytes", xml::MAX_VALUE_BYTES),
        Found::Missing | Found::Value(_) => format!("a document without {what}"),
        Found::OtherDocument if a.body.is_empty() => "an empty body".to_string(),
        Found::OtherDocument => "a body that is not the expected XML document (a proxy or a different service?)".to_string(),
    };
    Error::new(ErrorKind::Network, format!("the store answered HTTP 200 with {why}")).with_status(a.head.status)
}
