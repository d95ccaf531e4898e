//! Reading the Signature V4 parameters out of an `Authorization` header or a presigned URL's
//! query, and the `YYYYMMDDTHHMMSSZ` timestamps they carry.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;

use crate::obs_error::ObsError;
use crate::protocol::V4_ALGORITHM;
use crate::query::Query;

/// Longest lifetime of a presigned URL (seven days), as S3 enforces it.
pub const MAX_PRESIGN_EXPIRES_SECS: u64 = 7 * 24 * 3600;

/// Where the signature came from; decides the error code of malformed input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Header,
    Query,
}

impl Form {
    pub fn malformed(self, detail: impl std::fmt::Display) -> ObsError {
        match self {
            Form::Header => ObsError::new(
                StatusCode::BAD_REQUEST,
                "AuthorizationHeaderMalformed",
                format!("The authorization header is malformed; {detail}"),
            ),
            Form::Query => ObsError::new(
                StatusCode::BAD_REQUEST,
                "AuthorizationQueryParametersError",
                format!("Query-string authentication is malformed; {detail}"),
            ),
        }
    }
}

/// `<date>/<region>/<service>/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub date: String,
    pub region: String,
    pub service: String,
}

impl Scope {
    pub fn text(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// The claimed signature, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V4Params {
    pub form: Form,
    pub access_key: String,
    pub scope: Scope,
    /// Lower-case, sorted, deduplicated.
    pub signed_headers: Vec<String>,
    pub signature: String,
    /// `X-Amz-Date` of a presigned URL (the header form reads its date from the headers).
    pub query_date: Option<String>,
    /// `X-Amz-Expires` of a presigned URL.
    pub expires_secs: Option<u64>,
}

/// `Authorization: AWS4-HMAC-SHA256 Credential=AK/scope, SignedHeaders=a;b, Signature=hex`.
pub fn from_header(value: &str) -> Result<V4Params, ObsError> {
    let form = Form::Header;
    let value = value.trim();
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    if algorithm != V4_ALGORITHM {
        return Err(ObsError::invalid_argument(format!(
            "Unsupported Authorization Type {algorithm:?}; only {V4_ALGORITHM} is supported"
        )));
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| form.malformed(format!("the component {part:?} has no '='")))?;
        match name.trim() {
            "Credential" => credential = Some(value.trim()),
            "SignedHeaders" => signed = Some(value.trim()),
            "Signature" => signature = Some(value.trim()),
            other => {
                return Err(form.malformed(format!("unknown component {other:?}")));
            }
        }
    }
    let missing = |what: &str| form.malformed(format!("missing {what}"));
    let (access_key, scope) =
        parse_credential(form, credential.ok_or_else(|| missing("Credential"))?)?;
    Ok(V4Params {
        form,
        access_key,
        scope,
        signed_headers: parse_signed_headers(
            form,
            signed.ok_or_else(|| missing("SignedHeaders"))?,
        )?,
        signature: signature.ok_or_else(|| missing("Signature"))?.to_string(),
        query_date: None,
        expires_secs: None,
    })
}

/// `?X-Amz-Algorithm=&X-Amz-Credential=&X-Amz-Date=&X-Amz-Expires=&X-Amz-SignedHeaders=&X-Amz-Signature=`.
pub fn from_query(query: &Query) -> Result<V4Params, ObsError> {
    let form = Form::Query;
    let names = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-Date",
        "X-Amz-SignedHeaders",
        "X-Amz-Expires",
    ];
    let values: Vec<&str> = names.iter().filter_map(|n| query.get(n)).collect();
    if values.len() != names.len() {
        return Err(ObsError::new(
            StatusCode::BAD_REQUEST,
            "AuthorizationQueryParametersError",
            "Query-string authentication version 4 requires the X-Amz-Algorithm, \
             X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
             X-Amz-Expires parameters.",
        ));
    }
    let [algorithm, credential, signature, date, signed, expires] = [
        values[0], values[1], values[2], values[3], values[4], values[5],
    ];
    if algorithm != V4_ALGORITHM {
        return Err(ObsError::new(
            StatusCode::BAD_REQUEST,
            "AuthorizationQueryParametersError",
            format!("X-Amz-Algorithm only supports \"{V4_ALGORITHM}\""),
        ));
    }
    let expires_secs = expires
        .parse::<u64>()
        .ok()
        .filter(|e| (1..=MAX_PRESIGN_EXPIRES_SECS).contains(e))
        .ok_or_else(|| {
            ObsError::new(
                StatusCode::BAD_REQUEST,
                "AuthorizationQueryParametersError",
                format!(
                    "X-Amz-Expires must be a number of seconds from 1 to \
                     {MAX_PRESIGN_EXPIRES_SECS} (a week)"
                ),
            )
        })?;
    let (access_key, scope) = parse_credential(form, credential)?;
    Ok(V4Params {
        form,
        access_key,
        scope,
        signed_headers: parse_signed_headers(form, signed)?,
        signature: signature.to_string(),
        query_date: Some(date.to_string()),
        expires_secs: Some(expires_secs),
    })
}

fn parse_credential(form: Form, credential: &str) -> Result<(String, Scope), ObsError> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [ak, date, region, service, terminal] = parts.as_slice() else {
        return Err(form.malformed(
            "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        ));
    };
    if ak.is_empty() || region.is_empty() {
        return Err(form.malformed("the Credential has an empty access key or region"));
    }
    if *terminal != "aws4_request" {
        return Err(form.malformed(format!(
            "incorrect terminal {terminal:?}. This endpoint uses \"aws4_request\"."
        )));
    }
    if *service != "s3" {
        return Err(form.malformed(format!(
            "incorrect service {service:?}. This endpoint belongs to \"s3\"."
        )));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(form.malformed(format!("invalid credential date {date:?}")));
    }
    Ok((
        ak.to_string(),
        Scope {
            date: date.to_string(),
            region: region.to_string(),
            service: service.to_string(),
        },
    ))
}

fn parse_signed_headers(form: Form, list: &str) -> Result<Vec<String>, ObsError> {
    let mut names: Vec<String> = list
        .split(';')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err(form.malformed("SignedHeaders is empty"));
    }
    if let Some(bad) = names
        .iter()
        .find(|n| http::HeaderName::from_bytes(n.as_bytes()).is_err())
    {
        return Err(form.malformed(format!("{bad:?} is not a header name")));
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// Parses `YYYYMMDDTHHMMSSZ` (UTC).
pub fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = &text[r];
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (year, month, day) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (hour, minute, second) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(crate::clock::shift(UNIX_EPOCH, secs))
}

/// Formats a time as `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(t: SystemTime) -> String {
    let secs = crate::clock::unix_secs(t);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `later - earlier` as a signed number of seconds.
pub fn secs_between(earlier: SystemTime, later: SystemTime) -> i64 {
    match later.duration_since(earlier) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Whole-second difference, either direction.
pub fn distance(a: SystemTime, b: SystemTime) -> Duration {
    match a.duration_since(b) {
        Ok(d) => d,
        Err(e) => e.duration(),
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-calendar algorithms (days relative to 1970-01-01).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_form() {
        let p = from_header(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=x-amz-date;Host;range;x-amz-content-sha256,Signature=fe5f80f77d5fa3beca038a248ff027",
        )
        .unwrap();
        assert_eq!(p.access_key, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(p.scope.text(), "20130524/us-east-1/s3/aws4_request");
        assert_eq!(
            p.signed_headers,
            vec!["host", "range", "x-amz-content-sha256", "x-amz-date"]
        );
        assert_eq!(p.signature, "fe5f80f77d5fa3beca038a248ff027");
        assert_eq!((p.query_date, p.expires_secs), (None, None));
    }

    #[test]
    fn header_form_errors() {
        let code = |v: &str| from_header(v).unwrap_err().code;
        assert_eq!(
            code("AWS4-ECDSA-P256-SHA256 Credential=a"),
            "InvalidArgument"
        );
        assert_eq!(
            code("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=x"),
            "AuthorizationHeaderMalformed"
        );
        assert_eq!(
            code(
                "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3, SignedHeaders=host, Signature=x"
            ),
            "AuthorizationHeaderMalformed"
        );
        let wrong_service = from_header(
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x",
        )
        .unwrap_err();
        assert!(wrong_service.message.contains("incorrect service"));
        assert_eq!(
            code(
                "AWS4-HMAC-SHA256 Credential=AK/2013052/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x"
            ),
            "AuthorizationHeaderMalformed"
        );
        assert_eq!(
            code(
                "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=;, Signature=x"
            ),
            "AuthorizationHeaderMalformed"
        );
    }

    #[test]
    fn query_form() {
        let q = Query::parse(Some(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
        ));
        let p = from_query(&q).unwrap();
        assert_eq!(p.form, Form::Query);
        assert_eq!(p.access_key, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(p.query_date.as_deref(), Some("20130524T000000Z"));
        assert_eq!(p.expires_secs, Some(86_400));
        assert_eq!(p.signed_headers, vec!["host"]);
        let missing = Query::parse(Some("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=1"));
        assert_eq!(
            from_query(&missing).unwrap_err().code,
            "AuthorizationQueryParametersError"
        );
        for expires in ["0", "604801", "x", "-1"] {
            let raw = format!(
                "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20130524%2Fr%2Fs3%2Faws4_request\
                 &X-Amz-Date=20130524T000000Z&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature=s"
            );
            assert_eq!(
                from_query(&Query::parse(Some(&raw))).unwrap_err().code,
                "AuthorizationQueryParametersError",
                "{expires}"
            );
        }
    }

    #[test]
    fn amz_dates_round_trip() {
        let t = parse_amz_date("20130524T000000Z").unwrap();
        assert_eq!(crate::clock::unix_secs(t), 1_369_353_600);
        assert_eq!(format_amz_date(t), "20130524T000000Z");
        let leap = parse_amz_date("20240229T235959Z").unwrap();
        assert_eq!(crate::clock::unix_secs(leap), 1_709_251_199);
        assert_eq!(format_amz_date(leap), "20240229T235959Z");
        assert_eq!(
            format_amz_date(UNIX_EPOCH + Duration::from_secs(1_728_976_809)),
            "20241015T072009Z"
        );
        for bad in [
            "20130524T000000",
            "2013-05-24T00:00:00Z",
            "20130230T000000Z",
            "20231301T000000Z",
            "20130524T240000Z",
            "2013052XT000000Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
        assert_eq!(secs_between(t, t + Duration::from_secs(5)), 5);
        assert_eq!(secs_between(t + Duration::from_secs(5), t), -5);
        assert_eq!(
            distance(t, t + Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }
}
