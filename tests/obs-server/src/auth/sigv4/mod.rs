//! AWS Signature V4 as S3 checks it, from the raw request: the `Authorization` header and the
//! presigned-URL form, `x-amz-content-sha256` (the payload hash itself is checked once the
//! body is read, see [`payload::check_sha256`]), session tokens, clock skew and expiry.
//!
//! Checks run in S3's order: parameters, access key, scope, date and skew or expiry, headers
//! that must be signed, signature, token. A request with a bad signature and a stale date is
//! therefore told about the date, which is what a client needs to fix first.

pub mod canonical;
pub mod params;
pub mod payload;

use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};

use crate::auth::AuthKind;
use crate::config::Credential;
use crate::obs_error::ObsError;
use crate::query::Query;
use canonical::{CanonicalInput, canonical_request, signing_key, string_to_sign};
use params::{Form, V4Params, distance, format_amz_date, parse_amz_date};
pub use payload::{Payload, Streaming};

/// Everything Signature V4 looks at.
#[derive(Debug, Clone, Copy)]
pub struct V4Request<'a> {
    pub method: &'a str,
    /// The path exactly as sent (virtual-hosted: without the bucket).
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    pub query: &'a Query,
    pub headers: &'a HeaderMap,
    pub now: SystemTime,
    pub max_skew: Duration,
    /// Required region of the credential scope; `None` accepts any.
    pub region: Option<&'a str>,
}

/// What a verified request still owes: a body matching [`Payload`], and for signed
/// `aws-chunked` bodies the key and seed signature the chunk signatures chain from.
#[derive(Clone, PartialEq, Eq)]
pub struct V4Verified {
    pub kind: AuthKind,
    pub payload: Payload,
    pub chain: ChunkChain,
}

/// Inputs of the chunk signatures of `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` bodies.
#[derive(Clone, PartialEq, Eq)]
pub struct ChunkChain {
    pub signing_key: Vec<u8>,
    pub seed_signature: String,
    pub amz_date: String,
    pub scope: String,
}

// The signing key is derived from the secret: keep it out of logs and panics.
impl std::fmt::Debug for ChunkChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkChain")
            .field("signing_key", &"<redacted>")
            .field("amz_date", &self.amz_date)
            .field("scope", &self.scope)
            .finish()
    }
}

impl std::fmt::Debug for V4Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4Verified")
            .field("kind", &self.kind)
            .field("payload", &self.payload)
            .finish()
    }
}

/// Name of the session-token parameter of a presigned URL.
const QUERY_TOKEN: &str = "X-Amz-Security-Token";
const HEADER_TOKEN: &str = "x-amz-security-token";
const CONTENT_SHA256: &str = "x-amz-content-sha256";

pub fn verify(req: &V4Request<'_>, credentials: &[Credential]) -> Result<V4Verified, ObsError> {
    let header = req.headers.get(http::header::AUTHORIZATION);
    let params =
        match (header, req.query.has("X-Amz-Algorithm")) {
            (Some(_), true) => {
                return Err(ObsError::invalid_argument(
                    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
                 Signature query string parameter or the Authorization header should be specified",
                ));
            }
            (Some(value), false) => params::from_header(value.to_str().map_err(|_| {
                Form::Header.malformed("the Authorization header is not valid text")
            })?)?,
            (None, true) => params::from_query(req.query)?,
            (None, false) => {
                return Err(ObsError::access_denied(
                    "The request carries no Signature V4 parameters",
                ));
            }
        };
    let cred = super::find_credential(credentials, &params.access_key)?;
    if let Some(region) = req.region
        && params.scope.region != region
    {
        return Err(params
            .form
            .malformed(format!(
                "the region '{}' is wrong; expecting '{region}'",
                params.scope.region
            ))
            .with_extra("Region", region));
    }
    let amz_date = request_date(req, &params)?;
    check_time(req, &params, &amz_date)?;
    check_signed_headers(req, &params)?;
    let payload_text = payload_text(req, &params)?;
    let payload = Payload::parse(&payload_text)?;

    let creq = canonical_request(&CanonicalInput {
        method: req.method,
        raw_path: req.raw_path,
        raw_query: req.raw_query,
        headers: req.headers,
        signed_headers: &params.signed_headers,
        payload_hash: &payload_text,
    });
    let scope = params.scope.text();
    let sts = string_to_sign(&amz_date, &scope, &creq);
    let key = signing_key(
        &cred.secret_key,
        &params.scope.date,
        &params.scope.region,
        &params.scope.service,
    );
    let computed = canonical::signature(&key, &sts);
    if !canonical::signatures_equal(&computed, &params.signature.to_ascii_lowercase()) {
        return Err(mismatch(cred, &sts, &creq, &params.signature));
    }
    check_token(cred, req, params.form)?;
    Ok(V4Verified {
        kind: match params.form {
            Form::Header => AuthKind::HeaderV4,
            Form::Query => AuthKind::PresignedV4,
        },
        payload,
        chain: ChunkChain {
            signing_key: key,
            seed_signature: computed,
            amz_date,
            scope,
        },
    })
}

/// The signed timestamp in `YYYYMMDDTHHMMSSZ` form: `X-Amz-Date` (query or header), else the
/// `Date` header converted.
fn request_date(req: &V4Request<'_>, params: &V4Params) -> Result<String, ObsError> {
    let text = match params.form {
        Form::Query => {
            let date = params.query_date.clone().unwrap_or_default();
            if parse_amz_date(&date).is_none() {
                return Err(ObsError::new(
                    StatusCode::BAD_REQUEST,
                    "AuthorizationQueryParametersError",
                    "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
                ));
            }
            date
        }
        Form::Header => {
            let header = |name| {
                req.headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
            };
            let parsed = match header("x-amz-date") {
                Some(amz) => parse_amz_date(amz).map(|_| amz.to_string()),
                None => header("date")
                    .and_then(|d| httpdate::parse_http_date(d).ok())
                    .map(format_amz_date),
            };
            parsed.ok_or_else(|| {
                ObsError::access_denied(
                    "AWS authentication requires a valid Date or x-amz-date header",
                )
            })?
        }
    };
    if text[..8] != params.scope.date {
        return Err(params.form.malformed(format!(
            "Invalid credential date \"{}\". This date is not the same as X-Amz-Date: \"{}\".",
            params.scope.date,
            &text[..8]
        )));
    }
    Ok(text)
}

fn check_time(req: &V4Request<'_>, params: &V4Params, amz_date: &str) -> Result<(), ObsError> {
    let signed_at = parse_amz_date(amz_date).expect("request_date returns a parsable date");
    match params.expires_secs {
        None => {
            if distance(req.now, signed_at) > req.max_skew {
                return Err(ObsError::new(
                    StatusCode::FORBIDDEN,
                    "RequestTimeTooSkewed",
                    "The difference between the request time and the current time is too large.",
                )
                .with_extra("RequestTime", amz_date)
                .with_extra("ServerTime", format_amz_date(req.now))
                .with_extra(
                    "MaxAllowedSkewMilliseconds",
                    req.max_skew.as_millis().to_string(),
                ));
            }
        }
        Some(expires) => {
            let deadline = signed_at + Duration::from_secs(expires);
            if req.now > deadline {
                return Err(ObsError::access_denied("Request has expired")
                    .with_extra("X-Amz-Expires", expires.to_string())
                    .with_extra("Expires", format_amz_date(deadline))
                    .with_extra("ServerTime", format_amz_date(req.now)));
            }
            // A URL signed in the future is a client clock problem, reported as such.
            if signed_at > req.now && distance(signed_at, req.now) > req.max_skew {
                return Err(ObsError::access_denied("Request is not valid yet")
                    .with_extra("X-Amz-Date", amz_date)
                    .with_extra("ServerTime", format_amz_date(req.now)));
            }
        }
    }
    Ok(())
}

/// `host` and every `x-amz-*` header sent must be covered by the signature (a presigned URL's
/// `x-amz-content-sha256` excepted, as it is not part of that form).
fn check_signed_headers(req: &V4Request<'_>, params: &V4Params) -> Result<(), ObsError> {
    let signed = |name: &str| params.signed_headers.iter().any(|s| s == name);
    let mut unsigned: Vec<&str> = Vec::new();
    if !signed("host") {
        unsigned.push("host");
    }
    for name in req.headers.keys().map(|n| n.as_str()) {
        let exempt = params.form == Form::Query && name == CONTENT_SHA256;
        if name.starts_with("x-amz-") && !exempt && !signed(name) && !unsigned.contains(&name) {
            unsigned.push(name);
        }
    }
    if unsigned.is_empty() {
        return Ok(());
    }
    unsigned.sort_unstable();
    Err(
        ObsError::access_denied("There were headers present in the request which were not signed")
            .with_extra("HeadersNotSigned", unsigned.join(", ")),
    )
}

/// The payload hash as signed: the header's text (required for the header form), else
/// `UNSIGNED-PAYLOAD` for a presigned URL.
fn payload_text(req: &V4Request<'_>, params: &V4Params) -> Result<String, ObsError> {
    match req.headers.get(CONTENT_SHA256) {
        Some(v) => v
            .to_str()
            .map(|s| s.trim().to_string())
            .map_err(|_| ObsError::invalid_argument("x-amz-content-sha256 is not valid text")),
        None if params.form == Form::Query => Ok(payload::UNSIGNED_PAYLOAD.to_string()),
        None => Err(ObsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Missing required header for this request: x-amz-content-sha256",
        )),
    }
}

fn mismatch(cred: &Credential, sts: &str, creq: &str, provided: &str) -> ObsError {
    // Both texts help whoever debugs a client; a session token in them is a secret, and it
    // appears raw (header) or URI-encoded (query).
    let mask = |text: &str| match &cred.security_token {
        Some(token) if !token.is_empty() => text
            .replace(token.as_str(), "******")
            .replace(&canonical::uri_encode(token.as_bytes()), "******"),
        _ => text.to_string(),
    };
    ObsError::signature_mismatch()
        .with_extra("StringToSign", mask(sts))
        .with_extra("SignatureProvided", provided)
        .with_extra("CanonicalRequest", mask(creq))
}

/// Temporary credentials require exactly their token; permanent ones accept none.
fn check_token(cred: &Credential, req: &V4Request<'_>, form: Form) -> Result<(), ObsError> {
    let from_header = req
        .headers
        .get(HEADER_TOKEN)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let sent = match form {
        Form::Header => from_header,
        Form::Query => req.query.get(QUERY_TOKEN).or(from_header),
    };
    match (&cred.security_token, sent) {
        (None, None) => Ok(()),
        (Some(expected), Some(sent)) if canonical::signatures_equal(expected.as_str(), sent) => {
            Ok(())
        }
        (Some(_), None) => Err(ObsError::new(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "This access key is temporary and requires its security token",
        )),
        _ => Err(ObsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidToken",
            "The provided token is malformed or otherwise invalid.",
        )),
    }
}

#[cfg(test)]
mod tests;
