//! S3's additional object checksums (`x-amz-checksum-crc32`, `-crc32c`, `-crc64nvme`, `-sha1`,
//! `-sha256`): base64 of the big-endian digest, verified on upload, kept with the object and
//! sent back on GET/HEAD when the client asks with `x-amz-checksum-mode: ENABLED`.

use base64::Engine;
use http::{HeaderMap, StatusCode};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::obs_error::ObsError;

const CRC32: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISO_HDLC);
const CRC32C: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);
const CRC64NVME: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_NVME);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

pub const ALL: [ChecksumAlgorithm; 5] = [
    ChecksumAlgorithm::Crc32,
    ChecksumAlgorithm::Crc32c,
    ChecksumAlgorithm::Crc64Nvme,
    ChecksumAlgorithm::Sha1,
    ChecksumAlgorithm::Sha256,
];

impl ChecksumAlgorithm {
    /// The name S3 uses in `x-amz-sdk-checksum-algorithm` and messages.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    pub fn from_header_name(name: &str) -> Option<Self> {
        ALL.into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name.trim()))
    }

    fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64Nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }

    /// Base64 of the digest of `data`.
    pub fn compute(self, data: &[u8]) -> String {
        let digest: Vec<u8> = match self {
            ChecksumAlgorithm::Crc32 => CRC32.checksum(data).to_be_bytes().to_vec(),
            ChecksumAlgorithm::Crc32c => CRC32C.checksum(data).to_be_bytes().to_vec(),
            ChecksumAlgorithm::Crc64Nvme => CRC64NVME.checksum(data).to_be_bytes().to_vec(),
            ChecksumAlgorithm::Sha1 => Sha1::digest(data).to_vec(),
            ChecksumAlgorithm::Sha256 => Sha256::digest(data).to_vec(),
        };
        base64::engine::general_purpose::STANDARD.encode(digest)
    }
}

/// A checksum as the client sent it (base64).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    pub value: String,
}

impl Checksum {
    /// Checks the value's shape (base64 of the right length).
    pub fn new(algorithm: ChecksumAlgorithm, value: &str) -> Result<Self, ObsError> {
        let value = value.trim();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()
            .filter(|d| d.len() == algorithm.digest_len());
        if decoded.is_none() {
            return Err(ObsError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                format!("Value for {} header is invalid.", algorithm.header_name()),
            ));
        }
        Ok(Checksum {
            algorithm,
            value: value.to_string(),
        })
    }

    /// Fails with `BadDigest` when `data` has another digest.
    pub fn verify(&self, data: &[u8]) -> Result<(), ObsError> {
        if self.algorithm.compute(data) == self.value {
            return Ok(());
        }
        Err(ObsError::new(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            format!(
                "The {} you specified did not match the calculated checksum.",
                self.algorithm.name()
            ),
        ))
    }
}

/// The one `x-amz-checksum-*` header of an upload, if any.
pub fn from_headers(headers: &HeaderMap) -> Result<Option<Checksum>, ObsError> {
    let mut found = ALL
        .into_iter()
        .filter_map(|a| headers.get(a.header_name()).map(|v| (a, v)));
    let Some((algorithm, value)) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(ObsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        ));
    }
    let text = value.to_str().unwrap_or_default();
    Checksum::new(algorithm, text).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn catalogue_check_values() {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let data = b"123456789";
        assert_eq!(
            ChecksumAlgorithm::Crc32.compute(data),
            b64(&0xCBF4_3926u32.to_be_bytes())
        );
        assert_eq!(
            ChecksumAlgorithm::Crc32c.compute(data),
            b64(&0xE306_9283u32.to_be_bytes())
        );
        assert_eq!(
            ChecksumAlgorithm::Crc64Nvme.compute(data),
            b64(&0xAE8B_1486_0A79_9888u64.to_be_bytes())
        );
        // S3's documented example values for the empty body and "hello".
        assert_eq!(ChecksumAlgorithm::Crc32.compute(b""), "AAAAAA==");
        assert_eq!(
            ChecksumAlgorithm::Sha256.compute(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            ChecksumAlgorithm::Sha1.compute(b"hello"),
            "qvTGHdzF6KLavt4PO0gs2a6pQ00="
        );
    }

    #[test]
    fn header_parsing_and_verification() {
        let mut h = HeaderMap::new();
        assert_eq!(from_headers(&h).unwrap(), None);
        h.insert("x-amz-checksum-crc32", HeaderValue::from_static("NhCmhg=="));
        let c = from_headers(&h).unwrap().unwrap();
        assert_eq!(c.algorithm, ChecksumAlgorithm::Crc32);
        assert!(c.verify(b"hello").is_ok());
        assert_eq!(c.verify(b"hellO").unwrap_err().code, "BadDigest");
        h.insert("x-amz-checksum-sha256", HeaderValue::from_static("x"));
        assert_eq!(from_headers(&h).unwrap_err().code, "InvalidRequest");
        h.remove("x-amz-checksum-sha256");
        h.insert("x-amz-checksum-crc32", HeaderValue::from_static("AAAA"));
        assert_eq!(from_headers(&h).unwrap_err().code, "InvalidRequest");
        assert_eq!(
            ChecksumAlgorithm::from_header_name("X-Amz-Checksum-CRC64NVME"),
            Some(ChecksumAlgorithm::Crc64Nvme)
        );
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-md5"),
            None
        );
    }
}
