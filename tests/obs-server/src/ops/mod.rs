//! OBS operations: object GET/HEAD/PUT/DELETE, bucket HEAD/PUT, and fault answers.

pub mod bucket;
pub mod faulted;
pub mod object;

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Body;

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
}
