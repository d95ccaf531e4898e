//! Multipart upload over HTTP, for OBS and S3 alike: initiate (`POST ?uploads`), upload part
//! (`PUT ?partNumber=&uploadId=`), complete (`POST ?uploadId=` with the part list) and abort
//! (`DELETE ?uploadId=`).

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use http::{Response, StatusCode};

use super::object::{ObjectRequest, upload_metadata};
use super::read_payload;
use crate::body::ResponseBody;
use crate::checksum;
use crate::multipart::{self, Operation, Part, Upload};
use crate::obs_error::{ObsError, push_element};
use crate::store::StoredObject;

/// Largest body of an initiation or a `CompleteMultipartUpload` document (10 000 parts with
/// checksums fit easily).
const MAX_COMPLETE_BODY: u64 = 4 * 1024 * 1024;

pub async fn handle<B>(op: Operation, req: &ObjectRequest<'_>, body: B) -> Response<ResponseBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let result = match op {
        Operation::Initiate => initiate(req, body).await,
        Operation::UploadPart {
            upload_id,
            part_number,
        } => upload_part(req, &upload_id, &part_number, body).await,
        Operation::Complete { upload_id } => complete(req, &upload_id, body).await,
        Operation::Abort { upload_id } => abort(req, &upload_id),
    };
    result.unwrap_or_else(|e| req.ex.error(&e))
}

fn xml_answer(
    req: &ObjectRequest<'_>,
    root: &str,
    fields: &[(&str, &str)],
) -> Response<ResponseBody> {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{}\">",
        req.protocol.xml_namespace()
    );
    for (name, value) in fields {
        push_element(&mut xml, name, value);
    }
    xml.push_str(&format!("</{root}>"));
    let builder = req
        .ex
        .builder(StatusCode::OK)
        .header(CONTENT_TYPE, "application/xml")
        .header(CONTENT_LENGTH, xml.len());
    req.ex.finish(builder, ResponseBody::full(xml))
}

fn require_bucket(req: &ObjectRequest<'_>) -> Result<(), ObsError> {
    match req.state.store.bucket_public_read(req.bucket) {
        Some(_) => Ok(()),
        None => Err(ObsError::no_such_bucket(req.bucket)),
    }
}

async fn initiate<B>(req: &ObjectRequest<'_>, body: B) -> Result<Response<ResponseBody>, ObsError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    require_bucket(req)?;
    // Initiation has no meaningful body, but whatever comes must be consumed (keep-alive) and
    // match what a V4 signature promised.
    read_payload(body, req.headers, req.v4, MAX_COMPLETE_BODY).await?;
    let checksum_algorithm = match req.headers.get("x-amz-checksum-algorithm") {
        None => None,
        Some(v) => {
            let name = v.to_str().unwrap_or_default().trim().to_ascii_uppercase();
            Some(
                checksum::ALL
                    .into_iter()
                    .find(|a| a.name() == name)
                    .ok_or_else(|| {
                        ObsError::invalid_argument(format!(
                            "Checksum algorithm {name:?} is not one of CRC32, CRC32C, \
                             CRC64NVME, SHA1, SHA256"
                        ))
                    })?,
            )
        }
    };
    // Request ids never repeat within a server, so the initiation's own id names the upload.
    let upload_id = req.ex.request_id.clone();
    req.state.uploads.create(
        upload_id.clone(),
        Upload {
            bucket: req.bucket.to_string(),
            key: req.key.to_string(),
            content_type: req
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            metadata: upload_metadata(req.headers),
            checksum_algorithm,
            initiated: req.ex.now,
            parts: BTreeMap::new(),
        },
    );
    let mut resp = xml_answer(
        req,
        "InitiateMultipartUploadResult",
        &[
            ("Bucket", req.bucket),
            ("Key", req.key),
            ("UploadId", &upload_id),
        ],
    );
    if let Some(algorithm) = checksum_algorithm {
        resp.headers_mut().insert(
            "x-amz-checksum-algorithm",
            http::HeaderValue::from_static(algorithm.name()),
        );
    }
    Ok(resp)
}

async fn upload_part<B>(
    req: &ObjectRequest<'_>,
    upload_id: &str,
    part_number: &str,
    body: B,
) -> Result<Response<ResponseBody>, ObsError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let number = multipart::parse_part_number(part_number)?;
    if req.headers.contains_key("x-amz-copy-source")
        || req.headers.contains_key("x-obs-copy-source")
    {
        return Err(ObsError::not_implemented("Upload part copy"));
    }
    require_bucket(req)?;
    // Refuse an unknown upload before taking in a part's worth of body.
    req.state.uploads.check(upload_id, req.bucket, req.key)?;
    let received = read_payload(body, req.headers, req.v4, req.state.config.max_put_bytes).await?;
    crate::ops::object::check_content_md5(req.headers, &received.data)?;
    let part = Part::new(received.data, received.checksum);
    let etag = part.etag();
    let checksum = part.checksum.clone();
    // An abort while the part was uploading makes this a NoSuchUpload, as in S3.
    req.state
        .uploads
        .put_part(upload_id, req.bucket, req.key, number, part)?;
    let mut builder = req
        .ex
        .builder(StatusCode::OK)
        .header(ETAG, etag)
        .header(CONTENT_LENGTH, 0);
    if let Some(c) = checksum {
        builder = builder.header(c.algorithm.header_name(), c.value);
    }
    Ok(req.ex.finish(builder, ResponseBody::Empty))
}

async fn complete<B>(
    req: &ObjectRequest<'_>,
    upload_id: &str,
    body: B,
) -> Result<Response<ResponseBody>, ObsError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    require_bucket(req)?;
    let document = read_payload(body, req.headers, req.v4, MAX_COMPLETE_BODY).await?;
    req.state.uploads.check(upload_id, req.bucket, req.key)?;
    let requested = multipart::parse_complete(&document.data)?;
    let done = req.state.uploads.complete(
        upload_id,
        req.bucket,
        req.key,
        &requested,
        req.state.config.min_part_bytes,
    )?;
    let object = StoredObject::new(done.data, done.content_type, done.metadata, req.ex.now)
        .with_multipart_etag(done.etag_digest, done.parts);
    let stored = req
        .state
        .store
        .put(req.bucket, req.key, object)
        .map_err(|_| ObsError::no_such_bucket(req.bucket))?;
    let etag = stored.etag();
    Ok(xml_answer(
        req,
        "CompleteMultipartUploadResult",
        &[
            ("Location", &req.ex.resource),
            ("Bucket", req.bucket),
            ("Key", req.key),
            ("ETag", &etag),
        ],
    ))
}

fn abort(req: &ObjectRequest<'_>, upload_id: &str) -> Result<Response<ResponseBody>, ObsError> {
    require_bucket(req)?;
    if !req.state.uploads.abort(upload_id, req.bucket, req.key) {
        return Err(multipart::no_such_upload(upload_id));
    }
    Ok(req
        .ex
        .finish(req.ex.builder(StatusCode::NO_CONTENT), ResponseBody::Empty))
}
