//! What `x-amz-content-sha256` promises about the body, and the check of a received body
//! against it.

use http::StatusCode;

use crate::obs_error::ObsError;

/// The value a presigned URL signs when the request carries no `x-amz-content-sha256`.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The body encodings of `Content-Encoding: aws-chunked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streaming {
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: chunks without signatures, a checksum trailer.
    UnsignedTrailer,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: every chunk signed.
    Signed,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and a signed trailer.
    SignedTrailer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// `UNSIGNED-PAYLOAD`: nothing to check.
    Unsigned,
    /// The body's SHA-256, lower-case hex.
    Sha256(String),
    Streaming(Streaming),
}

impl Payload {
    pub fn parse(value: &str) -> Result<Payload, ObsError> {
        let value = value.trim();
        match value {
            UNSIGNED_PAYLOAD => return Ok(Payload::Unsigned),
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => {
                return Ok(Payload::Streaming(Streaming::UnsignedTrailer));
            }
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => {
                return Ok(Payload::Streaming(Streaming::Signed));
            }
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => {
                return Ok(Payload::Streaming(Streaming::SignedTrailer));
            }
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
            | "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER" => {
                return Err(ObsError::not_implemented(
                    "Signature V4a (ECDSA) payload signing",
                ));
            }
            _ => {}
        }
        if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Payload::Sha256(value.to_ascii_lowercase()));
        }
        Err(ObsError::invalid_argument(
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, \
             STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a \
             valid sha256 value.",
        )
        .with_extra("ArgumentName", "x-amz-content-sha256")
        .with_extra("ArgumentValue", value))
    }
}

/// Fails when the body's SHA-256 is not the one the signature covered.
pub fn check_sha256(expected_hex: &str, body: &[u8]) -> Result<(), ObsError> {
    let computed = super::canonical::sha256_hex(body);
    if computed.eq_ignore_ascii_case(expected_hex) {
        return Ok(());
    }
    Err(ObsError::new(
        StatusCode::BAD_REQUEST,
        "XAmzContentSHA256Mismatch",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )
    .with_extra("ClientComputedContentSHA256", expected_hex)
    .with_extra("S3ComputedContentSHA256", computed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sigv4::canonical::EMPTY_SHA256;

    #[test]
    fn parses_every_documented_value() {
        assert_eq!(
            Payload::parse("UNSIGNED-PAYLOAD").unwrap(),
            Payload::Unsigned
        );
        assert_eq!(
            Payload::parse(&EMPTY_SHA256.to_ascii_uppercase()).unwrap(),
            Payload::Sha256(EMPTY_SHA256.to_string())
        );
        assert_eq!(
            Payload::parse("STREAMING-UNSIGNED-PAYLOAD-TRAILER").unwrap(),
            Payload::Streaming(Streaming::UnsignedTrailer)
        );
        assert_eq!(
            Payload::parse("STREAMING-AWS4-HMAC-SHA256-PAYLOAD").unwrap(),
            Payload::Streaming(Streaming::Signed)
        );
        assert_eq!(
            Payload::parse("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER").unwrap(),
            Payload::Streaming(Streaming::SignedTrailer)
        );
        assert_eq!(
            Payload::parse("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")
                .unwrap_err()
                .code,
            "NotImplemented"
        );
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(63)] {
            assert_eq!(
                Payload::parse(bad).unwrap_err().code,
                "InvalidArgument",
                "{bad}"
            );
        }
    }

    #[test]
    fn body_hash_check() {
        assert!(check_sha256(EMPTY_SHA256, b"").is_ok());
        let e = check_sha256(EMPTY_SHA256, b"x").unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::BAD_REQUEST, "XAmzContentSHA256Mismatch")
        );
        assert!(e.extra.iter().any(|(n, v)| *n == "S3ComputedContentSHA256"
            && v == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"));
    }
}
