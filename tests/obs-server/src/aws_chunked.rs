//! `Content-Encoding: aws-chunked` upload bodies (the `STREAMING-*` values of
//! `x-amz-content-sha256`): `<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n` chunks ending
//! with a zero-size chunk, then optional trailer lines (`x-amz-checksum-crc32:...`, and for
//! signed trailers `x-amz-trailer-signature:...`) and an empty line.
//!
//! Signed chunks chain: each chunk's signature covers the previous one, starting from the
//! request's own signature, so chunks can be neither altered, dropped nor reordered.

use bytes::{Bytes, BytesMut};
use http::StatusCode;

use crate::auth::sigv4::canonical::{EMPTY_SHA256, sha256_hex, signature, signatures_equal};
use crate::auth::sigv4::{ChunkChain, Streaming};
use crate::obs_error::ObsError;

/// The decoded body and its trailer lines (names lower-cased, signature line removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub data: Bytes,
    pub trailers: Vec<(String, String)>,
}

fn incomplete(detail: impl std::fmt::Display) -> ObsError {
    ObsError::new(
        StatusCode::BAD_REQUEST,
        "IncompleteBody",
        format!("The aws-chunked request body is malformed: {detail}"),
    )
}

fn chunk_mismatch(what: &str) -> ObsError {
    ObsError::signature_mismatch()
        .with_extra("Detail", format!("the {what} signature does not match"))
}

/// Reads one `\r\n`-terminated line starting at `*at`.
fn line<'a>(body: &'a [u8], at: &mut usize) -> Result<&'a str, ObsError> {
    let rest = &body[*at..];
    let end = rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| incomplete("a line is not terminated by CRLF"))?;
    *at += end + 2;
    std::str::from_utf8(&rest[..end]).map_err(|_| incomplete("a chunk header is not text"))
}

pub fn decode(body: &[u8], kind: Streaming, chain: &ChunkChain) -> Result<Decoded, ObsError> {
    let signed = matches!(kind, Streaming::Signed | Streaming::SignedTrailer);
    let mut previous = chain.seed_signature.clone();
    let mut data = BytesMut::new();
    let mut at = 0;
    loop {
        let header = line(body, &mut at)?;
        let (size_text, extension) = header.split_once(';').unwrap_or((header, ""));
        let size = usize::from_str_radix(size_text.trim(), 16)
            .map_err(|_| incomplete(format!("bad chunk size {size_text:?}")))?;
        if body.len() - at < size {
            return Err(incomplete("a chunk is shorter than its declared size"));
        }
        let chunk = &body[at..at + size];
        at += size;
        if signed {
            let provided = extension
                .trim()
                .strip_prefix("chunk-signature=")
                .ok_or_else(|| incomplete("a chunk has no chunk-signature"))?;
            let sts = format!(
                "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{previous}\n{EMPTY_SHA256}\n{}",
                chain.amz_date,
                chain.scope,
                sha256_hex(chunk)
            );
            let expected = signature(&chain.signing_key, &sts);
            if !signatures_equal(&expected, provided.trim()) {
                return Err(chunk_mismatch("chunk"));
            }
            previous = expected;
        }
        if size == 0 {
            break;
        }
        data.extend_from_slice(chunk);
        if body.get(at..at + 2) != Some(b"\r\n") {
            return Err(incomplete("a chunk's data is not followed by CRLF"));
        }
        at += 2;
    }
    let mut trailers = Vec::new();
    let mut trailer_signature = None;
    while at < body.len() {
        let text = line(body, &mut at)?;
        if text.is_empty() {
            break;
        }
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| incomplete(format!("trailer line {text:?} has no ':'")))?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_string());
        if name == "x-amz-trailer-signature" {
            trailer_signature = Some(value);
        } else {
            trailers.push((name, value));
        }
    }
    if body[at..].iter().any(|b| !b.is_ascii_whitespace()) {
        return Err(incomplete("bytes follow the end of the body"));
    }
    if kind == Streaming::SignedTrailer {
        let provided = trailer_signature.ok_or_else(|| incomplete("the trailer is not signed"))?;
        let canonical: String = trailers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{previous}\n{}",
            chain.amz_date,
            chain.scope,
            sha256_hex(canonical.as_bytes())
        );
        if !signatures_equal(&signature(&chain.signing_key, &sts), &provided) {
            return Err(chunk_mismatch("trailer"));
        }
    }
    Ok(Decoded {
        data: data.freeze(),
        trailers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sigv4::canonical::signing_key;

    fn doc_chain() -> ChunkChain {
        // "Signature Calculations for the Authorization Header: Transferring Payload in
        // Multiple Chunks (Chunked Upload)" of the S3 documentation.
        ChunkChain {
            signing_key: signing_key(
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "20130524",
                "us-east-1",
                "s3",
            ),
            seed_signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
                .into(),
            amz_date: "20130524T000000Z".into(),
            scope: "20130524/us-east-1/s3/aws4_request".into(),
        }
    }

    fn doc_body() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(
            b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n",
        );
        body.extend(std::iter::repeat_n(b'a', 65_536));
        body.extend_from_slice(
            b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n",
        );
        body.extend(std::iter::repeat_n(b'a', 1024));
        body.extend_from_slice(
            b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n",
        );
        body
    }

    #[test]
    fn documented_signed_chunks() {
        let body = doc_body();
        // The documented Content-Length of the encoded body.
        assert_eq!(body.len(), 66_824);
        let decoded = decode(&body, Streaming::Signed, &doc_chain()).unwrap();
        assert_eq!(decoded.data.len(), 66_560);
        assert!(decoded.data.iter().all(|&b| b == b'a'));
        assert!(decoded.trailers.is_empty());
    }

    #[test]
    fn altered_dropped_or_unsigned_chunks_are_refused() {
        let mut altered = doc_body();
        altered[200] = b'b';
        assert_eq!(
            decode(&altered, Streaming::Signed, &doc_chain())
                .unwrap_err()
                .code,
            "SignatureDoesNotMatch"
        );
        let mut chain = doc_chain();
        chain.seed_signature = "0".repeat(64);
        assert_eq!(
            decode(&doc_body(), Streaming::Signed, &chain)
                .unwrap_err()
                .code,
            "SignatureDoesNotMatch"
        );
        let unsigned = b"3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(
            decode(unsigned, Streaming::Signed, &doc_chain())
                .unwrap_err()
                .code,
            "IncompleteBody"
        );
    }

    #[test]
    fn unsigned_trailer_as_botocore_writes_it() {
        // botocore 1.44.18 AwsChunkedWrapper(chunk_size=64, Crc32Checksum) over
        // b"hello world, " * 10.
        let body = b"40\r\nhello world, hello world, hello world, hello world, hello world,\r\n\
                     40\r\n hello world, hello world, hello world, hello world, hello world\r\n\
                     2\r\n, \r\n0\r\nx-amz-checksum-crc32:AfkR9g==\r\n\r\n";
        let decoded = decode(body, Streaming::UnsignedTrailer, &doc_chain()).unwrap();
        assert_eq!(decoded.data, b"hello world, ".repeat(10));
        assert_eq!(
            decoded.trailers,
            vec![("x-amz-checksum-crc32".to_string(), "AfkR9g==".to_string())]
        );
        assert_eq!(
            crate::checksum::ChecksumAlgorithm::Crc32.compute(&decoded.data),
            "AfkR9g=="
        );
    }

    #[test]
    fn signed_trailer_chains_from_the_last_chunk() {
        let chain = doc_chain();
        let sign_chunk = |prev: &str, data: &[u8]| {
            signature(
                &chain.signing_key,
                &format!(
                    "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{prev}\n{EMPTY_SHA256}\n{}",
                    chain.amz_date,
                    chain.scope,
                    sha256_hex(data)
                ),
            )
        };
        let first = sign_chunk(&chain.seed_signature, b"abc");
        let last = sign_chunk(&first, b"");
        let trailer = "x-amz-checksum-crc32:NSRBwg==\n";
        let trailer_sig = signature(
            &chain.signing_key,
            &format!(
                "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{last}\n{}",
                chain.amz_date,
                chain.scope,
                sha256_hex(trailer.as_bytes())
            ),
        );
        let body = format!(
            "3;chunk-signature={first}\r\nabc\r\n0;chunk-signature={last}\r\n\
             x-amz-checksum-crc32:NSRBwg==\r\nx-amz-trailer-signature:{trailer_sig}\r\n\r\n"
        );
        let decoded = decode(body.as_bytes(), Streaming::SignedTrailer, &chain).unwrap();
        assert_eq!(&decoded.data[..], b"abc");
        assert_eq!(decoded.trailers.len(), 1);
        let forged = body.replace("NSRBwg==", "AAAAAA==");
        assert_eq!(
            decode(forged.as_bytes(), Streaming::SignedTrailer, &chain)
                .unwrap_err()
                .code,
            "SignatureDoesNotMatch"
        );
        let unsigned = body.replace(&format!("x-amz-trailer-signature:{trailer_sig}\r\n"), "");
        assert_eq!(
            decode(unsigned.as_bytes(), Streaming::SignedTrailer, &chain)
                .unwrap_err()
                .code,
            "IncompleteBody"
        );
    }

    #[test]
    fn malformed_framing() {
        let chain = doc_chain();
        for bad in [
            &b"zz\r\nabc\r\n0\r\n\r\n"[..],
            b"5\r\nabc\r\n0\r\n\r\n",
            b"3\r\nabcX\r\n0\r\n\r\n",
            b"3\r\nabc\r\n",
            b"3\r\nabc\r\n0\r\nno-colon\r\n\r\n",
            b"0\r\n\r\ntrailing garbage",
        ] {
            assert_eq!(
                decode(bad, Streaming::UnsignedTrailer, &chain)
                    .unwrap_err()
                    .code,
                "IncompleteBody",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let empty = decode(b"0\r\n\r\n", Streaming::UnsignedTrailer, &chain).unwrap();
        assert!(empty.data.is_empty() && empty.trailers.is_empty());
    }
}
