//! Picks the operation for an authenticated OBS request and enforces anonymous access rules.

use std::sync::Arc;

use http::{HeaderMap, Method, Response};
use hyper::body::Incoming;

use crate::addressing::Target;
use crate::auth::string_to_sign::Flavor;
use crate::auth::{AuthKind, V4Verified};
use crate::body::ResponseBody;
use crate::conn::ConnControl;
use crate::obs_error::ObsError;
use crate::ops::{bucket, multipart, object};
use crate::query::Query;
use crate::respond::Exchange;
use crate::state::State;

/// Query parameters an object GET/HEAD understands; any other signed sub-resource (acl,
/// uploads, tagging, ...) names an operation this server does not implement.
const OBJECT_READ_PARAMS: &[&str] = &[
    "versionid",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
];

pub struct Routed<'a> {
    pub state: &'a State,
    pub ctl: &'a Arc<ConnControl>,
    pub ex: &'a Exchange,
    pub method: &'a Method,
    pub target: &'a Target,
    pub query: &'a Query,
    pub headers: &'a HeaderMap,
    pub auth: AuthKind,
    pub v4: Option<&'a V4Verified>,
}

pub async fn dispatch(
    r: Routed<'_>,
    body: Incoming,
    applied: &mut Vec<String>,
) -> Response<ResponseBody> {
    if let Err(e) = check_anonymous(&r) {
        return r.ex.error(&e);
    }
    let Some(bucket_name) = r.target.bucket.as_deref() else {
        return r.ex.error(&ObsError::not_implemented(
            "Service-level operations (ListBuckets)",
        ));
    };
    if let (Some(key), Some(op)) = (&r.target.key, crate::multipart::classify(r.method, r.query)) {
        let req = object_request(&r, bucket_name, key);
        return multipart::handle(op, &req, body).await;
    }
    if let Some(name) = unsupported_subresource(r.query, r.method) {
        return r.ex.error(&ObsError::not_implemented(&format!(
            "The '{name}' sub-resource"
        )));
    }
    match (&r.target.key, r.method) {
        (None, &Method::HEAD) => bucket::head(r.state, r.ex, bucket_name),
        (None, &Method::PUT) => {
            bucket::create(r.state, r.ex, bucket_name, r.headers, r.v4, body).await
        }
        (None, &Method::GET) => r.ex.error(&ObsError::not_implemented("ListObjects")),
        (None, &Method::DELETE) => r.ex.error(&ObsError::not_implemented("DeleteBucket")),
        (None, _) => r.ex.error(&ObsError::method_not_allowed()),
        (Some(key), m) => {
            let req = object_request(&r, bucket_name, key);
            match *m {
                Method::GET | Method::HEAD => object::get(&req, r.ctl, applied),
                Method::PUT => object::put(&req, body).await,
                Method::DELETE => object::delete(&req),
                _ => r.ex.error(&ObsError::method_not_allowed()),
            }
        }
    }
}

fn object_request<'a>(
    r: &'a Routed<'a>,
    bucket: &'a str,
    key: &'a str,
) -> object::ObjectRequest<'a> {
    object::ObjectRequest {
        state: r.state,
        ex: r.ex,
        method: r.method.as_str(),
        bucket,
        key,
        query: r.query,
        headers: r.headers,
        protocol: r.ex.protocol,
        v4: r.v4,
    }
}

/// Anonymous requests may only read from public-read buckets.
fn check_anonymous(r: &Routed<'_>) -> Result<(), ObsError> {
    if r.auth != AuthKind::Anonymous {
        return Ok(());
    }
    let Some(bucket) = r.target.bucket.as_deref() else {
        return Err(ObsError::access_denied(
            "Anonymous users cannot list buckets",
        ));
    };
    match r.state.store.bucket_public_read(bucket) {
        None => Err(ObsError::no_such_bucket(bucket)),
        Some(false) => Err(ObsError::access_denied("Access Denied")),
        Some(true) if matches!(*r.method, Method::GET | Method::HEAD) => Ok(()),
        Some(true) => Err(ObsError::access_denied(
            "Anonymous users may only read this bucket",
        )),
    }
}

fn unsupported_subresource<'q>(query: &'q Query, method: &Method) -> Option<&'q str> {
    let readable = matches!(*method, Method::GET | Method::HEAD);
    query
        .params
        .iter()
        .map(|p| p.name.as_str())
        .filter(|name| is_operation_param(name))
        .find(|name| {
            !(readable && OBJECT_READ_PARAMS.contains(&name.to_ascii_lowercase().as_str()))
        })
}

/// Signed sub-resources name operations; prefixed parameters (tokens) and presign parameters
/// do not.
fn is_operation_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with(Flavor::Obs.header_prefix())
        || lower.starts_with(Flavor::Aws.header_prefix())
    {
        return false;
    }
    crate::auth::string_to_sign::is_signed_subresource(Flavor::Obs, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subresource_classification() {
        let q = Query::parse(Some(
            "versionId=null&response-content-type=a%2Fb&x-obs-security-token=t&Expires=1",
        ));
        assert_eq!(unsupported_subresource(&q, &Method::GET), None);
        assert_eq!(unsupported_subresource(&q, &Method::PUT), Some("versionId"));
        let acl = Query::parse(Some("acl"));
        assert_eq!(unsupported_subresource(&acl, &Method::GET), Some("acl"));
        let uploads = Query::parse(Some("uploads"));
        assert_eq!(
            unsupported_subresource(&uploads, &Method::POST),
            Some("uploads")
        );
        let plain = Query::parse(Some("foo=bar"));
        assert_eq!(unsupported_subresource(&plain, &Method::PUT), None);
    }
}
