//! Request authentication: `OBS`/`AWS` header signatures, both presigned-URL forms, security
//! tokens and the clock-skew rule; AWS Signature V4 requests go to [`sigv4`].

pub mod claimed;
pub mod sigv4;
pub mod string_to_sign;

use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};
use serde::Serialize;

use crate::clock::unix_secs;
use crate::config::Credential;
use crate::obs_error::ObsError;
use crate::protocol::Protocol;
use crate::query::Query;
pub use sigv4::V4Verified;
pub use string_to_sign::{Flavor, SignInput, sign, string_to_sign, verify};

/// How a request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    Anonymous,
    /// `Authorization: OBS AK:sig`
    HeaderObs,
    /// `Authorization: AWS AK:sig`
    HeaderAws,
    /// `?AccessKeyId=&Expires=&Signature=`
    PresignedObs,
    /// `?AWSAccessKeyId=&Expires=&Signature=`
    PresignedAws,
    /// `Authorization: AWS4-HMAC-SHA256 ...` (S3)
    HeaderV4,
    /// `?X-Amz-Algorithm=AWS4-HMAC-SHA256&...` (S3)
    PresignedV4,
}

/// The outcome of a successful authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub kind: AuthKind,
    /// Signature V4 only: what the body must still satisfy.
    pub v4: Option<V4Verified>,
}

impl From<AuthKind> for Authenticated {
    fn from(kind: AuthKind) -> Self {
        Authenticated { kind, v4: None }
    }
}

/// Everything authentication looks at.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    pub method: &'a str,
    pub headers: &'a HeaderMap,
    pub query: &'a Query,
    /// The V2 resource `/<bucket>/<raw key>`.
    pub canonical_resource: &'a str,
    /// The path exactly as sent (Signature V4 signs it, not the V2 resource).
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    pub now: SystemTime,
    pub max_skew: Duration,
    /// Signature V4 only: the region credential scopes must name (`None`: any).
    pub region: Option<&'a str>,
}

/// Verifies the request's credentials; `AuthKind::Anonymous` when it carries none.
pub fn authenticate(
    req: &AuthRequest<'_>,
    credentials: &[Credential],
) -> Result<Authenticated, ObsError> {
    if Protocol::detect(req.headers, req.query) == Protocol::S3 {
        let verified = sigv4::verify(
            &sigv4::V4Request {
                method: req.method,
                raw_path: req.raw_path,
                raw_query: req.raw_query,
                query: req.query,
                headers: req.headers,
                now: req.now,
                max_skew: req.max_skew,
                region: req.region,
            },
            credentials,
        )?;
        return Ok(Authenticated {
            kind: verified.kind,
            v4: Some(verified),
        });
    }
    authenticate_v2(req, credentials).map(Authenticated::from)
}

/// `OBS`/`AWS` header signatures and their presigned forms.
fn authenticate_v2(
    req: &AuthRequest<'_>,
    credentials: &[Credential],
) -> Result<AuthKind, ObsError> {
    let header = req.headers.get(http::header::AUTHORIZATION);
    let presigned_ak = req
        .query
        .get("AccessKeyId")
        .map(|ak| (Flavor::Obs, ak))
        .or_else(|| req.query.get("AWSAccessKeyId").map(|ak| (Flavor::Aws, ak)));
    match (header, presigned_ak) {
        (None, None) => Ok(AuthKind::Anonymous),
        (Some(_), Some(_)) => Err(ObsError::invalid_argument(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
             Signature query string parameter or the Authorization header should be specified",
        )),
        (Some(value), None) => {
            let value = value.to_str().map_err(|_| {
                ObsError::access_denied("The Authorization header is not valid text")
            })?;
            verify_header(req, credentials, value)
        }
        (None, Some((flavor, ak))) => verify_presigned(req, credentials, flavor, ak),
    }
}

fn verify_header(
    req: &AuthRequest<'_>,
    credentials: &[Credential],
    value: &str,
) -> Result<AuthKind, ObsError> {
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
    let (flavor, kind) = match scheme {
        "OBS" => (Flavor::Obs, AuthKind::HeaderObs),
        "AWS" => (Flavor::Aws, AuthKind::HeaderAws),
        _ => {
            return Err(ObsError::new(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "Unsupported Authorization Type",
            ));
        }
    };
    let (ak, signature) = rest.trim().split_once(':').ok_or_else(|| {
        ObsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Authorization header is invalid -- one and only one ':' is expected",
        )
    })?;
    let cred = find_credential(credentials, ak)?;
    check_date(req, flavor)?;
    let sts = string_to_sign(&SignInput {
        flavor,
        method: req.method,
        headers: req.headers,
        expires: None,
        canonical_resource: req.canonical_resource,
        query: req.query,
    });
    check_signature(cred, &sts, signature)?;
    check_token(cred, flavor, req)?;
    Ok(kind)
}

fn verify_presigned(
    req: &AuthRequest<'_>,
    credentials: &[Credential],
    flavor: Flavor,
    ak: &str,
) -> Result<AuthKind, ObsError> {
    let signature = req.query.get("Signature").ok_or_else(|| {
        ObsError::access_denied("Query-string authentication requires the Signature parameter")
    })?;
    let expires_text = req.query.get("Expires").ok_or_else(|| {
        ObsError::access_denied("Query-string authentication requires the Expires parameter")
    })?;
    let expires: i64 = expires_text
        .parse()
        .map_err(|_| ObsError::access_denied("The Expires parameter is not a number of seconds"))?;
    let cred = find_credential(credentials, ak)?;
    let now = unix_secs(req.now);
    if now > expires {
        return Err(ObsError::access_denied("Request has expired")
            .with_extra("Expires", expires.to_string())
            .with_extra("ServerTime", now.to_string()));
    }
    let sts = string_to_sign(&SignInput {
        flavor,
        method: req.method,
        headers: req.headers,
        expires: Some(expires_text),
        canonical_resource: req.canonical_resource,
        query: req.query,
    });
    check_signature(cred, &sts, signature)?;
    check_token(cred, flavor, req)?;
    Ok(match flavor {
        Flavor::Obs => AuthKind::PresignedObs,
        Flavor::Aws => AuthKind::PresignedAws,
    })
}

fn find_credential<'c>(
    credentials: &'c [Credential],
    ak: &str,
) -> Result<&'c Credential, ObsError> {
    credentials
        .iter()
        .find(|c| c.access_key == ak)
        .ok_or_else(ObsError::invalid_access_key)
}

/// The signed date must be within `max_skew` of the server clock.
fn check_date(req: &AuthRequest<'_>, flavor: Flavor) -> Result<(), ObsError> {
    let raw = req
        .headers
        .get(flavor.date_header())
        .or_else(|| req.headers.get(http::header::DATE))
        .ok_or_else(|| ObsError::access_denied("Request must carry a Date or x-obs-date header"))?;
    let date = raw
        .to_str()
        .ok()
        .and_then(|s| httpdate::parse_http_date(s.trim()).ok())
        .ok_or_else(|| ObsError::access_denied("The request date is not a valid HTTP date"))?;
    let skew = match req.now.duration_since(date) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    if skew > req.max_skew {
        return Err(ObsError::new(
            StatusCode::FORBIDDEN,
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
        )
        .with_extra("RequestTime", httpdate::fmt_http_date(date))
        .with_extra("ServerTime", httpdate::fmt_http_date(req.now))
        .with_extra(
            "MaxAllowedSkewMilliseconds",
            req.max_skew.as_millis().to_string(),
        ));
    }
    Ok(())
}

fn check_signature(cred: &Credential, sts: &str, provided: &str) -> Result<(), ObsError> {
    if verify(&cred.secret_key, sts, provided) {
        return Ok(());
    }
    // The StringToSign helps whoever debugs a client; the token in it is a secret.
    let shown = match &cred.security_token {
        Some(token) if !token.is_empty() => sts.replace(token.as_str(), "******"),
        _ => sts.to_string(),
    };
    Err(ObsError::signature_mismatch()
        .with_extra("StringToSign", shown)
        .with_extra("SignatureProvided", provided))
}

/// Temporary credentials require exactly their token; permanent ones accept none.
fn check_token(cred: &Credential, flavor: Flavor, req: &AuthRequest<'_>) -> Result<(), ObsError> {
    let name = flavor.token_name();
    let sent = req
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .or_else(|| req.query.get(name));
    match (&cred.security_token, sent) {
        (None, None) => Ok(()),
        (Some(expected), Some(sent)) if constant_time_eq(expected.as_bytes(), sent.as_bytes()) => {
            Ok(())
        }
        (Some(_), None) => Err(ObsError::new(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "This access key is temporary and requires its security token",
        )),
        _ => Err(ObsError::new(
            StatusCode::FORBIDDEN,
            "InvalidToken",
            "The provided security token is malformed or otherwise invalid.",
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::time::UNIX_EPOCH;

    const AK: &str = "AKTESTEXAMPLE0000001";
    const SK: &str = "SKtestExampleSecretKey0000000000000000001";
    const TOKEN: &str = "gQpjbi1ub3J0aC00+Token/With=Special+Chars";
    const DATE: &str = "Tue, 15 Oct 2024 07:20:09 GMT";
    const NOW: u64 = 1_728_976_809;

    fn creds(token: Option<&str>) -> Vec<Credential> {
        let c = Credential::new(AK, SK);
        vec![match token {
            Some(t) => c.with_token(t),
            None => c,
        }]
    }

    fn run(
        headers: &[(&str, &str)],
        query: &str,
        now: u64,
        creds: &[Credential],
    ) -> Result<AuthKind, ObsError> {
        let mut h = HeaderMap::new();
        for (n, v) in headers {
            h.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let q = Query::parse(Some(query));
        authenticate(
            &AuthRequest {
                method: "GET",
                headers: &h,
                query: &q,
                canonical_resource: "/ray-jobs/job.zip",
                raw_path: "/ray-jobs/job.zip",
                raw_query: Some(query),
                now: UNIX_EPOCH + Duration::from_secs(now),
                max_skew: Duration::from_secs(900),
                region: None,
            },
            creds,
        )
        .map(|a| a.kind)
    }

    #[test]
    fn header_signatures_both_schemes() {
        let ok = [
            ("date", DATE),
            (
                "authorization",
                "OBS AKTESTEXAMPLE0000001:XH/xw6IBWdbYTPD7HMecyh5Pl6M=",
            ),
        ];
        assert_eq!(run(&ok, "", NOW, &creds(None)), Ok(AuthKind::HeaderObs));
        let aws = [
            ("date", DATE),
            (
                "authorization",
                "AWS AKTESTEXAMPLE0000001:XH/xw6IBWdbYTPD7HMecyh5Pl6M=",
            ),
        ];
        assert_eq!(run(&aws, "", NOW, &creds(None)), Ok(AuthKind::HeaderAws));
        assert_eq!(run(&[], "", NOW, &creds(None)), Ok(AuthKind::Anonymous));
    }

    #[test]
    fn wrong_signature_unknown_key_and_bad_scheme() {
        let bad = [
            ("date", DATE),
            (
                "authorization",
                "OBS AKTESTEXAMPLE0000001:XH/xw6IBWdbYTPD7HMecyh5Pl6N=",
            ),
        ];
        let e = run(&bad, "", NOW, &creds(None)).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::FORBIDDEN, "SignatureDoesNotMatch")
        );
        let unknown = [
            ("date", DATE),
            ("authorization", "OBS NOPE:XH/xw6IBWdbYTPD7HMecyh5Pl6M="),
        ];
        assert_eq!(
            run(&unknown, "", NOW, &creds(None)).unwrap_err().code,
            "InvalidAccessKeyId"
        );
        let v4 = [
            ("date", DATE),
            ("authorization", "AWS4-HMAC-SHA256 Credential=x"),
        ];
        assert_eq!(
            run(&v4, "", NOW, &creds(None)).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        let nocolon = [("date", DATE), ("authorization", "OBS AKONLY")];
        assert_eq!(
            run(&nocolon, "", NOW, &creds(None)).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn skew_window_is_fifteen_minutes_each_way() {
        let ok = [
            ("date", DATE),
            (
                "authorization",
                "OBS AKTESTEXAMPLE0000001:XH/xw6IBWdbYTPD7HMecyh5Pl6M=",
            ),
        ];
        assert!(run(&ok, "", NOW + 900, &creds(None)).is_ok());
        assert!(run(&ok, "", NOW - 900, &creds(None)).is_ok());
        for now in [NOW + 901, NOW - 901] {
            let e = run(&ok, "", now, &creds(None)).unwrap_err();
            assert_eq!(e.code, "RequestTimeTooSkewed");
        }
        let undated = [(
            "authorization",
            "OBS AKTESTEXAMPLE0000001:XH/xw6IBWdbYTPD7HMecyh5Pl6M=",
        )];
        assert_eq!(
            run(&undated, "", NOW, &creds(None)).unwrap_err().code,
            "AccessDenied"
        );
    }

    #[test]
    fn security_token_must_match_and_never_leaks() {
        let with_token = [
            ("date", DATE),
            ("x-obs-security-token", TOKEN),
            (
                "authorization",
                "OBS AKTESTEXAMPLE0000001:MfHVIHek1YEDCpGSy/wXgMLnchc=",
            ),
        ];
        assert_eq!(
            run(&with_token, "", NOW, &creds(Some(TOKEN))),
            Ok(AuthKind::HeaderObs)
        );
        // Token configured but a permanent-style request: refused.
        let plain = [
            ("date", DATE),
            (
                "authorization",
                "OBS AKTESTEXAMPLE0000001:XH/xw6IBWdbYTPD7HMecyh5Pl6M=",
            ),
        ];
        assert_eq!(
            run(&plain, "", NOW, &creds(Some(TOKEN))).unwrap_err().code,
            "InvalidAccessKeyId"
        );
        // Correctly signed but a token the credential does not have.
        assert_eq!(
            run(&with_token, "", NOW, &creds(Some("other")))
                .unwrap_err()
                .code,
            "InvalidToken"
        );
        assert_eq!(
            run(&with_token, "", NOW, &creds(None)).unwrap_err().code,
            "InvalidToken"
        );
        // A mismatch report shows the StringToSign with the token masked.
        let mut bad = with_token;
        bad[2].1 = "OBS AKTESTEXAMPLE0000001:AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let e = run(&bad, "", NOW, &creds(Some(TOKEN))).unwrap_err();
        let shown: String = e.extra.iter().map(|(_, v)| v.as_str()).collect();
        assert!(shown.contains("x-obs-security-token:******") && !shown.contains(TOKEN));
        assert!(!shown.contains(SK));
    }

    #[test]
    fn presigned_forms_and_expiry() {
        let obs = "Expires=1728980409&AccessKeyId=AKTESTEXAMPLE0000001&Signature=tpM73K2TyhaE%2BhTTvgNuyzaRFYY%3D";
        assert_eq!(run(&[], obs, NOW, &creds(None)), Ok(AuthKind::PresignedObs));
        let aws = "Expires=1728980409&AWSAccessKeyId=AKTESTEXAMPLE0000001&Signature=tpM73K2TyhaE%2BhTTvgNuyzaRFYY%3D";
        assert_eq!(run(&[], aws, NOW, &creds(None)), Ok(AuthKind::PresignedAws));
        // Presigned URLs ignore the skew rule but not expiry.
        assert!(run(&[], obs, 1_728_980_409, &creds(None)).is_ok());
        assert_eq!(
            run(&[], obs, 1_728_980_410, &creds(None)).unwrap_err().code,
            "AccessDenied"
        );
        let tampered = obs.replace("1728980409", "1728980408");
        assert_eq!(
            run(&[], &tampered, NOW, &creds(None)).unwrap_err().code,
            "SignatureDoesNotMatch"
        );
        let token = "x-obs-security-token=gQpjbi1ub3J0aC00%2BToken/With%3DSpecial%2BChars&Expires=1728980409\
                     &AccessKeyId=AKTESTEXAMPLE0000001&Signature=E0wEPvvaKFxwz%2B6MRzojzSD0Bjg%3D";
        assert_eq!(
            run(&[], token, NOW, &creds(Some(TOKEN))),
            Ok(AuthKind::PresignedObs)
        );
        let both = [("authorization", "OBS a:b")];
        assert_eq!(
            run(&both, obs, NOW, &creds(None)).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}
