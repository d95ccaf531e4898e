//! The access key a request claims, read without verifying anything: the rate limiter counts
//! requests per client before (and whether or not) they authenticate.

use http::HeaderMap;

use crate::query::Query;

pub fn claimed_access_key<'a>(headers: &'a HeaderMap, query: &'a Query) -> Option<&'a str> {
    if let Some(value) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = value.trim().split_once(' ')?;
        let ak = if scheme.starts_with("AWS4-") {
            rest.split(',')
                .find_map(|part| part.trim().strip_prefix("Credential="))
                .and_then(|c| c.split('/').next())
        } else {
            rest.trim().split_once(':').map(|(ak, _)| ak)
        };
        return ak.map(str::trim).filter(|ak| !ak.is_empty());
    }
    query
        .get("X-Amz-Credential")
        .and_then(|c| c.split('/').next())
        .or_else(|| query.get("AccessKeyId"))
        .or_else(|| query.get("AWSAccessKeyId"))
        .filter(|ak| !ak.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn header(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn every_auth_form() {
        let none = Query::default();
        assert_eq!(
            claimed_access_key(&header("OBS AK1:sig"), &none),
            Some("AK1")
        );
        assert_eq!(
            claimed_access_key(&header("AWS AK2:sig"), &none),
            Some("AK2")
        );
        assert_eq!(
            claimed_access_key(
                &header(
                    "AWS4-HMAC-SHA256 Credential=AK3/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x"
                ),
                &none
            ),
            Some("AK3")
        );
        let v4 = Query::parse(Some(
            "X-Amz-Credential=AK4%2F20130524%2Fr%2Fs3%2Faws4_request",
        ));
        assert_eq!(claimed_access_key(&HeaderMap::new(), &v4), Some("AK4"));
        let obs = Query::parse(Some("AccessKeyId=AK5&Signature=s"));
        assert_eq!(claimed_access_key(&HeaderMap::new(), &obs), Some("AK5"));
        let aws = Query::parse(Some("AWSAccessKeyId=AK6&Signature=s"));
        assert_eq!(claimed_access_key(&HeaderMap::new(), &aws), Some("AK6"));
        assert_eq!(claimed_access_key(&HeaderMap::new(), &none), None);
        assert_eq!(claimed_access_key(&header("OBS nocolon"), &none), None);
        assert_eq!(claimed_access_key(&header("garbage"), &none), None);
        assert_eq!(claimed_access_key(&header("OBS :sig"), &none), None);
    }
}
