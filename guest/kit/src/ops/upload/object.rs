//! The whole object at once: what the store holds (`stat`, one HEAD) and one PUT.

use super::digest::{check_etag, Md5Digest};
use super::session::{content_type, Session};
use super::{ObjectInfo, UploadRemote};
use crate::http::{refusal, Method, RequestBody, Transport, Verdict};
use crate::ops::{scrubbed, Call};
use crate::retry::Sleeper;
use crate::{Error, Result};

/// What the store holds at `remote`: one HEAD, retried; `None` when there is nothing.
pub fn stat<R: UploadRemote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R) -> Result<Option<ObjectInfo>> {
    let r = Session::open(remote, call.env, call.transport).and_then(|mut s| head(&mut s, call));
    scrubbed(remote, call.env, r.map_err(|e| e.context(format!("looking up {}", remote.display()))))
}

/// Stores `bytes` as the whole object, with their `Content-MD5`; the answer's ETag, when
/// the store says it is an MD5, must be theirs.
pub fn put_object<R: UploadRemote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, bytes: RequestBody) -> Result<ObjectInfo> {
    let r = put(call, remote, bytes);
    scrubbed(remote, call.env, r.map_err(|e| e.context(format!("uploading {}", remote.display()))))
}

fn put<R: UploadRemote, T: Transport, Z: Sleeper>(call: &mut Call<'_, T, Z>, remote: &R, bytes: RequestBody) -> Result<ObjectInfo> {
    let size = bytes.len() as u64;
    let most = remote.upload_limits().max_single_put;
    if size > most {
        return Err(Error::limit(format!("{size} bytes are more than the {most} the store accepts in one PUT: upload in parts")));
    }
    let md5 = Md5Digest::of(bytes.as_slice());
    let mut s = Session::open(remote, call.env, call.transport)?;
    let mut req = s.request(Method::Put, &[]);
    req.set_header("Content-Type", content_type(remote.format()));
    req.set_header("Content-MD5", md5.content_md5());
    let req = req.with_body(bytes);
    let answer = s.send(call, &req, |a, store, _| match a.head.status {
        200 => {
            let etag = a.head.headers.get("etag").map(str::to_string);
            match check_etag(etag.as_deref(), store.etag_is_md5(&a.head.headers), &md5) {
                Ok(verified) => Verdict::Done((etag, verified)),
                Err(e) => Verdict::Fail(e.with_status(200)),
            }
        }
        _ => refusal(store, a),
    })?;
    let (etag, verified) = answer.value;
    Ok(ObjectInfo { size, etag, verified: verified.map(str::to_string), retries: answer.retries })
}

/// One HEAD of the object. A 404 is no object, unless the store says the bucket is what is
/// missing: then an upload could not succeed either.
pub(super) fn head<T: Transport, Z: Sleeper>(s: &mut Session<'_>, call: &mut Call<'_, T, Z>) -> Result<Option<ObjectInfo>> {
    let req = s.request(Method::Head, &[]);
    let answer = s.send(call, &req, |a, store, _| match a.head.status {
        200 => match a.head.headers.content_length() {
            Some(size) => Verdict::Done(Some((size, a.head.headers.get("etag").map(str::to_string)))),
            None => Verdict::Fail(Error::network("the store answered a HEAD without a usable Content-Length").with_status(200)),
        },
        404 => match refusal::<_, ()>(store, a) {
            Verdict::Fail(e) | Verdict::Retry(e) if e.store_code.as_deref() == Some("NoSuchBucket") => Verdict::Fail(e),
            _ => Verdict::Done(None),
        },
        _ => refusal(store, a),
    })?;
    Ok(answer.value.map(|(size, etag)| ObjectInfo { size, etag, verified: None, retries: answer.retries }))
}
