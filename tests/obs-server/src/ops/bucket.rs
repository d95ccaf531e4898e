//! Bucket-level operations: HEAD (exists?), PUT (create), and the `apiversion` probe.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, LOCATION};
use http::{HeaderMap, Response, StatusCode};

use super::read_payload;
use crate::auth::V4Verified;
use crate::body::ResponseBody;
use crate::obs_error::ObsError;
use crate::protocol::Protocol;
use crate::respond::Exchange;
use crate::state::State;
use crate::store::StoreError;

/// Largest CreateBucketConfiguration body accepted.
const MAX_CREATE_BODY: u64 = 64 * 1024;

/// `HEAD /?apiversion` (or on a bucket): the SDK's unsigned signature negotiation.
pub fn api_version(state: &State, ex: &Exchange, bucket: Option<&str>) -> Response<ResponseBody> {
    if let Some(bucket) = bucket
        && state.store.bucket_public_read(bucket).is_none()
    {
        return ex.error(&ObsError::no_such_bucket(bucket));
    }
    let builder = ex
        .builder(StatusCode::OK)
        .header("x-obs-api", "3.0")
        .header(CONTENT_LENGTH, 0);
    ex.finish(builder, ResponseBody::Empty)
}

/// Region named in S3's bucket answers when none is configured.
const DEFAULT_S3_REGION: &str = "us-east-1";

pub fn head(state: &State, ex: &Exchange, bucket: &str) -> Response<ResponseBody> {
    if state.store.bucket_public_read(bucket).is_none() {
        return ex.error(&ObsError::no_such_bucket(bucket));
    }
    let builder = match ex.protocol {
        Protocol::Obs => ex
            .builder(StatusCode::OK)
            .header("x-obs-bucket-location", "local")
            .header("x-obs-version", "3.0"),
        Protocol::S3 => ex.builder(StatusCode::OK).header(
            "x-amz-bucket-region",
            state
                .config
                .s3_region
                .as_deref()
                .unwrap_or(DEFAULT_S3_REGION),
        ),
    };
    ex.finish(builder.header(CONTENT_LENGTH, 0), ResponseBody::Empty)
}

/// PUT bucket. A `public-read` canned ACL (`x-obs-acl` or `x-amz-acl`) makes it public.
pub async fn create<B>(
    state: &State,
    ex: &Exchange,
    bucket: &str,
    headers: &HeaderMap,
    v4: Option<&V4Verified>,
    body: B,
) -> Response<ResponseBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    // The optional CreateBucketConfiguration (location) has no meaning for an in-memory store,
    // but it must be consumed so the connection stays usable, and match what was signed.
    if let Err(e) = read_payload(body, headers, v4, MAX_CREATE_BODY).await {
        return ex.error(&e);
    }
    let acl = headers
        .get("x-obs-acl")
        .or_else(|| headers.get("x-amz-acl"))
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let public_read = matches!(acl, Some("public-read") | Some("public-read-write"));
    match state.store.create_bucket(bucket, public_read) {
        Ok(()) => {
            let builder = ex.builder(StatusCode::OK).header(LOCATION, format!("/{bucket}")).header(CONTENT_LENGTH, 0);
            ex.finish(builder, ResponseBody::Empty)
        }
        Err(StoreError::BucketExists) => ex.error(
            &ObsError::new(
                StatusCode::CONFLICT,
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.",
            )
            .with_extra("BucketName", bucket),
        ),
        Err(StoreError::NoSuchBucket) => ex.error(&ObsError::no_such_bucket(bucket)),
    }
}
