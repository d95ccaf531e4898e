//! OBS operations: object GET/HEAD/PUT/DELETE, bucket HEAD/PUT, and fault answers.

pub mod bucket;
pub mod faulted;
pub mod multipart;
pub mod object;

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Body;

use crate::auth::sigv4::{Payload, V4Verified, payload::check_sha256};
use crate::checksum::{self, Checksum, ChecksumAlgorithm};
use crate::obs_error::ObsError;

/// Reads a request body of at most `limit` bytes into one buffer, sized up front from
/// Content-Length so a large upload is not reallocated on the way.
pub async fn read_body<B>(body: B, declared: Option<u64>, limit: u64) -> Result<Bytes, ObsError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let mut body = body;
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ObsError::new(
                StatusCode::BAD_REQUEST,
                "IncompleteBody",
                format!("the request body could not be read: {e}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if buf.len() as u64 + data.len() as u64 > limit {
                return Err(too_large(limit));
            }
            buf.extend_from_slice(&data);
        }
    }
    if declared.is_some_and(|n| n != buf.len() as u64) {
        return Err(ObsError::new(
            StatusCode::BAD_REQUEST,
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header",
        ));
    }
    Ok(buf.freeze())
}

/// An upload body after the signature's promises about it were checked.
#[derive(Debug)]
pub struct Received {
    pub data: Bytes,
    /// The one `x-amz-checksum-*` of the upload (header or aws-chunked trailer), verified.
    pub checksum: Option<Checksum>,
}

/// Framing added by aws-chunked around `limit` bytes of data: a chunk header of up to ~90
/// bytes (size and signature) per chunk of at least 8 KiB, plus trailers.
fn encoded_limit(limit: u64) -> u64 {
    limit.saturating_add(limit / 64).saturating_add(64 * 1024)
}

/// Reads an upload body and holds it to what the request promised: the SHA-256 a Signature
/// V4 signed, the chunk signatures of an aws-chunked body (decoded here), and any
/// `x-amz-checksum-*` header or trailer.
pub async fn read_payload<B>(
    body: B,
    headers: &http::HeaderMap,
    v4: Option<&V4Verified>,
    limit: u64,
) -> Result<Received, ObsError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let declared = match headers.get(http::header::CONTENT_LENGTH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| ObsError::invalid_argument("Content-Length is not a number"))?,
        ),
    };
    let header_checksum = checksum::from_headers(headers)?;
    let (data, trailer_checksum) = match v4.map(|v| (&v.payload, v)) {
        None | Some((Payload::Unsigned, _)) => (read_body(body, declared, limit).await?, None),
        Some((Payload::Sha256(expected), _)) => {
            let data = read_body(body, declared, limit).await?;
            check_sha256(expected, &data)?;
            (data, None)
        }
        Some((Payload::Streaming(kind), verified)) => {
            let raw = read_body(body, declared, encoded_limit(limit)).await?;
            let decoded = crate::aws_chunked::decode(&raw, *kind, &verified.chain)?;
            check_decoded_length(headers, decoded.data.len())?;
            if decoded.data.len() as u64 > limit {
                return Err(too_large(limit));
            }
            let mut trailer = None;
            for (name, value) in &decoded.trailers {
                if let Some(algorithm) = ChecksumAlgorithm::from_header_name(name) {
                    if trailer.is_some() {
                        return Err(ObsError::invalid_argument(
                            "The aws-chunked trailer carries more than one checksum",
                        ));
                    }
                    trailer = Some(Checksum::new(algorithm, value)?);
                }
            }
            (decoded.data, trailer)
        }
    };
    let checksum = match (header_checksum, trailer_checksum) {
        (Some(_), Some(_)) => {
            return Err(ObsError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
            ));
        }
        (a, b) => a.or(b),
    };
    if let Some(c) = &checksum {
        c.verify(&data)?;
    }
    Ok(Received { data, checksum })
}

/// An aws-chunked body must decode to `x-amz-decoded-content-length` bytes.
fn check_decoded_length(headers: &http::HeaderMap, actual: usize) -> Result<(), ObsError> {
    let declared = headers
        .get("x-amz-decoded-content-length")
        .ok_or_else(|| {
            ObsError::new(
                StatusCode::LENGTH_REQUIRED,
                "MissingContentLength",
                "An aws-chunked upload must carry x-amz-decoded-content-length.",
            )
        })?
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            ObsError::invalid_argument("x-amz-decoded-content-length is not a number")
        })?;
    if declared != actual as u64 {
        return Err(ObsError::new(
            StatusCode::BAD_REQUEST,
            "IncompleteBody",
            format!(
                "The aws-chunked body decodes to {actual} bytes, x-amz-decoded-content-length says {declared}"
            ),
        ));
    }
    Ok(())
}

fn too_large(limit: u64) -> ObsError {
    ObsError::new(
        StatusCode::BAD_REQUEST,
        "EntityTooLarge",
        format!("Your proposed upload exceeds the maximum allowed object size of {limit} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    #[tokio::test]
    async fn body_limits() {
        let ok = read_body(Full::new(Bytes::from_static(b"abc")), Some(3), 10)
            .await
            .unwrap();
        assert_eq!(ok, Bytes::from_static(b"abc"));
        let big = read_body(Full::new(Bytes::from_static(b"abc")), None, 2)
            .await
            .unwrap_err();
        assert_eq!(big.code, "EntityTooLarge");
        let declared_big = read_body(Full::new(Bytes::new()), Some(11), 10)
            .await
            .unwrap_err();
        assert_eq!(declared_big.code, "EntityTooLarge");
        let mismatch = read_body(Full::new(Bytes::from_static(b"abc")), Some(4), 10)
            .await
            .unwrap_err();
        assert_eq!(mismatch.code, "IncompleteBody");
    }

    fn v4(payload: Payload) -> V4Verified {
        V4Verified {
            kind: crate::auth::AuthKind::HeaderV4,
            payload,
            chain: crate::auth::sigv4::ChunkChain {
                signing_key: vec![0; 32],
                seed_signature: String::new(),
                amz_date: "20130524T000000Z".into(),
                scope: "20130524/us-east-1/s3/aws4_request".into(),
            },
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (n, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    async fn payload(
        body: &'static [u8],
        h: &[(&str, &str)],
        v: Option<&V4Verified>,
    ) -> Result<Received, ObsError> {
        read_payload(Full::new(Bytes::from_static(body)), &headers(h), v, 1 << 20).await
    }

    // botocore 1.44.18 AwsChunkedWrapper(chunk_size=64, Crc32Checksum) over b"hello world, " * 10.
    const TRAILER_BODY: &[u8] =
        b"40\r\nhello world, hello world, hello world, hello world, hello world,\r\n\
        40\r\n hello world, hello world, hello world, hello world, hello world\r\n\
        2\r\n, \r\n0\r\nx-amz-checksum-crc32:AfkR9g==\r\n\r\n";

    #[tokio::test]
    async fn payload_promises_are_kept() {
        let streaming = v4(Payload::Streaming(
            crate::auth::sigv4::Streaming::UnsignedTrailer,
        ));
        let ok = payload(
            TRAILER_BODY,
            &[("x-amz-decoded-content-length", "130")],
            Some(&streaming),
        )
        .await
        .unwrap();
        assert_eq!(ok.data, b"hello world, ".repeat(10));
        assert_eq!(ok.checksum.unwrap().value, "AfkR9g==");
        let code = |r: Result<Received, ObsError>| r.unwrap_err().code;
        assert_eq!(
            code(
                payload(
                    TRAILER_BODY,
                    &[("x-amz-decoded-content-length", "131")],
                    Some(&streaming)
                )
                .await
            ),
            "IncompleteBody"
        );
        assert_eq!(
            code(payload(TRAILER_BODY, &[], Some(&streaming)).await),
            "MissingContentLength"
        );
        // A checksum in the header and another in the trailer.
        assert_eq!(
            code(
                payload(
                    TRAILER_BODY,
                    &[
                        ("x-amz-decoded-content-length", "130"),
                        ("x-amz-checksum-crc32", "AfkR9g==")
                    ],
                    Some(&streaming)
                )
                .await
            ),
            "InvalidRequest"
        );
        let wrong_trailer: &'static [u8] = b"1\r\na\r\n0\r\nx-amz-checksum-crc32:AfkR9g==\r\n\r\n";
        assert_eq!(
            code(
                payload(
                    wrong_trailer,
                    &[("x-amz-decoded-content-length", "1")],
                    Some(&streaming)
                )
                .await
            ),
            "BadDigest"
        );
        // The signed hash of a plain body; unsigned and V2 bodies only meet their checksums.
        let hashed = v4(Payload::Sha256(crate::auth::sigv4::canonical::sha256_hex(
            b"abc",
        )));
        assert!(payload(b"abc", &[], Some(&hashed)).await.is_ok());
        assert_eq!(
            code(payload(b"abd", &[], Some(&hashed)).await),
            "XAmzContentSHA256Mismatch"
        );
        assert!(
            payload(b"abd", &[], Some(&v4(Payload::Unsigned)))
                .await
                .is_ok()
        );
        assert_eq!(
            code(payload(b"abd", &[("x-amz-checksum-crc32", "NSRBwg==")], None).await),
            "BadDigest"
        );
        assert!(
            payload(b"abc", &[("x-amz-checksum-crc32", "NSRBwg==")], None)
                .await
                .is_ok()
        );
        assert_eq!(
            code(payload(b"abc", &[("content-length", "x")], None).await),
            "InvalidArgument"
        );
    }
}
