//! Fixed vectors: the worked examples of the S3 Signature V4 documentation, and session-token
//! requests signed by botocore 1.44.18 (`S3SigV4Auth` / `S3SigV4QueryAuth`, clock pinned to
//! 2013-05-24T00:00:00Z).

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, StatusCode};

use super::*;
use crate::auth::sigv4::canonical::EMPTY_SHA256;

const AK: &str = "AKIAIOSFODNN7EXAMPLE";
const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "FQoGZXIvYXdzE+token/with=special";
const HOST: &str = "examplebucket.s3.amazonaws.com";
/// 2013-05-24T00:00:00Z.
const SIGNED_AT: u64 = 1_369_353_600;

const GET_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
     SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
     Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

const PRESIGNED: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
     &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
     &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
     &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

const TOKEN_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
     SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, \
     Signature=f22332f6cc30a0857018c52371942c81cde59f4bbe444d5dfc01e604fd81dba6";

const TOKEN_PRESIGNED: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
     &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
     &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
     &X-Amz-Security-Token=FQoGZXIvYXdzE%2Btoken%2Fwith%3Dspecial\
     &X-Amz-Signature=d379c4640aea9245c605d002e4ca836ad75a6607ee7389b7e84bda4d04998586";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn get_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("host", HOST),
        ("range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY_SHA256),
        ("x-amz-date", "20130524T000000Z"),
        ("authorization", GET_AUTH),
    ]
}

fn token_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("host", HOST),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-security-token", TOKEN),
        ("x-amz-content-sha256", EMPTY_SHA256),
        ("authorization", TOKEN_AUTH),
    ]
}

struct Case<'a> {
    headers: Vec<(&'a str, &'a str)>,
    query: &'a str,
    now: u64,
    creds: Vec<Credential>,
    region: Option<&'a str>,
}

impl<'a> Case<'a> {
    fn header(headers: Vec<(&'a str, &'a str)>) -> Self {
        Case {
            headers,
            query: "",
            now: SIGNED_AT + 60,
            creds: vec![Credential::new(AK, SK)],
            region: None,
        }
    }

    fn presigned(query: &'a str) -> Self {
        Case {
            headers: vec![("host", HOST)],
            query,
            ..Case::header(Vec::new())
        }
    }

    fn at(mut self, now: u64) -> Self {
        self.now = now;
        self
    }

    fn creds(mut self, creds: Vec<Credential>) -> Self {
        self.creds = creds;
        self
    }

    fn run(&self) -> Result<V4Verified, ObsError> {
        let h = headers(&self.headers);
        let q = Query::parse(Some(self.query));
        verify(
            &V4Request {
                method: "GET",
                raw_path: "/test.txt",
                raw_query: (!self.query.is_empty()).then_some(self.query),
                query: &q,
                headers: &h,
                now: UNIX_EPOCH + Duration::from_secs(self.now),
                max_skew: Duration::from_secs(900),
                region: self.region,
            },
            &self.creds,
        )
    }

    fn code(&self) -> String {
        self.run().expect_err("request must be refused").code
    }
}

#[test]
fn documented_header_and_presigned_vectors_verify() {
    let ok = Case::header(get_headers()).run().unwrap();
    assert_eq!(ok.kind, AuthKind::HeaderV4);
    assert_eq!(ok.payload, Payload::Sha256(EMPTY_SHA256.to_string()));
    assert_eq!(
        ok.chain.seed_signature,
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
    assert_eq!(ok.chain.scope, "20130524/us-east-1/s3/aws4_request");
    let pre = Case::presigned(PRESIGNED).run().unwrap();
    assert_eq!(pre.kind, AuthKind::PresignedV4);
    assert_eq!(pre.payload, Payload::Unsigned);
    // Debug output never shows the derived key.
    assert!(!format!("{pre:?} {:?}", pre.chain).contains(&hex::encode(&pre.chain.signing_key)));
}

#[test]
fn wrong_secret_tampering_and_unknown_key() {
    let wrong = Case::header(get_headers()).creds(vec![Credential::new(AK, "not-the-secret")]);
    let e = wrong.run().unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str()),
        (StatusCode::FORBIDDEN, "SignatureDoesNotMatch")
    );
    let shown: Vec<&str> = e.extra.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        shown,
        vec!["StringToSign", "SignatureProvided", "CanonicalRequest"]
    );
    assert!(!e.extra.iter().any(|(_, v)| v.contains("not-the-secret")));

    // A changed signed header, an unsigned x-amz header, a changed path or query.
    let mut range = get_headers();
    range[1].1 = "bytes=0-10";
    assert_eq!(Case::header(range).code(), "SignatureDoesNotMatch");
    let mut extra = get_headers();
    extra.push(("x-amz-meta-sneaky", "1"));
    let e = Case::header(extra).run().unwrap_err();
    assert_eq!(e.code, "AccessDenied");
    assert!(
        e.extra
            .contains(&("HeadersNotSigned", "x-amz-meta-sneaky".to_string()))
    );
    let tampered = PRESIGNED.replace("X-Amz-Expires=86400", "X-Amz-Expires=86401");
    assert_eq!(Case::presigned(&tampered).code(), "SignatureDoesNotMatch");
    let added = format!("{PRESIGNED}&response-content-type=text%2Fhtml");
    assert_eq!(Case::presigned(&added).code(), "SignatureDoesNotMatch");

    let unknown = Case::header(get_headers()).creds(vec![Credential::new("AKOTHER", SK)]);
    let e = unknown.run().unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str()),
        (StatusCode::FORBIDDEN, "InvalidAccessKeyId")
    );
}

#[test]
fn header_form_requires_a_fresh_date_and_the_payload_header() {
    assert!(
        Case::header(get_headers())
            .at(SIGNED_AT + 900)
            .run()
            .is_ok()
    );
    assert!(
        Case::header(get_headers())
            .at(SIGNED_AT - 900)
            .run()
            .is_ok()
    );
    for now in [SIGNED_AT + 901, SIGNED_AT - 901] {
        let e = Case::header(get_headers()).at(now).run().unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::FORBIDDEN, "RequestTimeTooSkewed")
        );
        assert!(
            e.extra
                .contains(&("RequestTime", "20130524T000000Z".to_string()))
        );
    }
    let no_payload: Vec<_> = get_headers()
        .into_iter()
        .filter(|(n, _)| *n != "x-amz-content-sha256")
        .collect();
    assert_eq!(Case::header(no_payload).code(), "InvalidRequest");
    let no_date: Vec<_> = get_headers()
        .into_iter()
        .filter(|(n, _)| *n != "x-amz-date")
        .collect();
    assert_eq!(Case::header(no_date).code(), "AccessDenied");
    // A scope for another day than the signed date.
    let mut other_day = get_headers();
    other_day[3].1 = "20130525T000000Z";
    assert_eq!(
        Case::header(other_day).at(SIGNED_AT + 86_400).code(),
        "AuthorizationHeaderMalformed"
    );
}

#[test]
fn presigned_urls_expire_and_cannot_be_from_the_future() {
    assert!(
        Case::presigned(PRESIGNED)
            .at(SIGNED_AT + 86_400)
            .run()
            .is_ok()
    );
    let e = Case::presigned(PRESIGNED)
        .at(SIGNED_AT + 86_401)
        .run()
        .unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str(), e.message.as_str()),
        (StatusCode::FORBIDDEN, "AccessDenied", "Request has expired")
    );
    assert!(
        e.extra
            .contains(&("Expires", "20130525T000000Z".to_string()))
    );
    // Within the skew allowance a slightly early clock is fine; beyond it, not yet valid.
    assert!(Case::presigned(PRESIGNED).at(SIGNED_AT - 900).run().is_ok());
    let early = Case::presigned(PRESIGNED)
        .at(SIGNED_AT - 901)
        .run()
        .unwrap_err();
    assert_eq!(early.message, "Request is not valid yet");
    let both = Case {
        headers: vec![("host", HOST), ("authorization", GET_AUTH)],
        ..Case::presigned(PRESIGNED)
    };
    assert_eq!(both.code(), "InvalidArgument");
}

#[test]
fn region_is_checked_only_when_configured() {
    let mut case = Case::header(get_headers());
    case.region = Some("us-east-1");
    assert!(case.run().is_ok());
    case.region = Some("eu-west-1");
    let e = case.run().unwrap_err();
    assert_eq!(e.code, "AuthorizationHeaderMalformed");
    assert!(
        e.message
            .contains("the region 'us-east-1' is wrong; expecting 'eu-west-1'")
    );
    let mut pre = Case::presigned(PRESIGNED);
    pre.region = Some("eu-west-1");
    assert_eq!(pre.code(), "AuthorizationQueryParametersError");
}

#[test]
fn session_tokens_must_match_in_both_forms() {
    let temporary = || vec![Credential::new(AK, SK).with_token(TOKEN)];
    assert_eq!(
        Case::header(token_headers())
            .creds(temporary())
            .run()
            .unwrap()
            .kind,
        AuthKind::HeaderV4
    );
    assert_eq!(
        Case::presigned(TOKEN_PRESIGNED)
            .creds(temporary())
            .run()
            .unwrap()
            .kind,
        AuthKind::PresignedV4
    );
    // Correctly signed, but the credential has another token, or none.
    let other = vec![Credential::new(AK, SK).with_token("other")];
    let e = Case::header(token_headers())
        .creds(other.clone())
        .run()
        .unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str()),
        (StatusCode::BAD_REQUEST, "InvalidToken")
    );
    assert_eq!(
        Case::presigned(TOKEN_PRESIGNED).creds(other).code(),
        "InvalidToken"
    );
    assert_eq!(Case::header(token_headers()).code(), "InvalidToken");
    // A temporary credential used without its token.
    assert_eq!(
        Case::header(get_headers()).creds(temporary()).code(),
        "InvalidAccessKeyId"
    );
    assert_eq!(
        Case::presigned(PRESIGNED).creds(temporary()).code(),
        "InvalidAccessKeyId"
    );
    // A mismatch report masks the token in both its raw and its encoded form.
    let wrong = vec![Credential::new(AK, "wrong").with_token(TOKEN)];
    for case in [
        Case::header(token_headers()),
        Case::presigned(TOKEN_PRESIGNED),
    ] {
        let e = case.creds(wrong.clone()).run().unwrap_err();
        assert_eq!(e.code, "SignatureDoesNotMatch");
        let shown: String = e.extra.iter().map(|(_, v)| v.as_str()).collect();
        assert!(shown.contains("******"), "{shown}");
        assert!(
            !shown.contains(TOKEN) && !shown.contains("FQoGZXIvYXdzE%2Btoken"),
            "{shown}"
        );
    }
}
