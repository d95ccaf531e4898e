//! Multipart uploads (the same API in OBS and S3): uploads in progress with their parts, the
//! `CompleteMultipartUpload` document, and the checks completion makes before it assembles
//! the object.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use http::{Method, StatusCode};
use md5::{Digest, Md5};
use quick_xml::events::Event;
use serde::Serialize;

use crate::checksum::{Checksum, ChecksumAlgorithm};
use crate::obs_error::ObsError;
use crate::query::Query;

/// Highest part number S3 and OBS accept.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// Which multipart operation a request on an object is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `POST ?uploads`
    Initiate,
    /// `PUT ?partNumber=N&uploadId=ID`
    UploadPart {
        upload_id: String,
        part_number: String,
    },
    /// `POST ?uploadId=ID`
    Complete { upload_id: String },
    /// `DELETE ?uploadId=ID`
    Abort { upload_id: String },
}

/// `None` for requests that are not one of the four operations (listing parts or uploads
/// among them, which this server does not implement).
pub fn classify(method: &Method, query: &Query) -> Option<Operation> {
    let upload_id = query.get("uploadId").map(str::to_string);
    match (method, upload_id, query.get("partNumber")) {
        (&Method::POST, None, None) if query.has("uploads") => Some(Operation::Initiate),
        (&Method::PUT, Some(upload_id), Some(part)) => Some(Operation::UploadPart {
            upload_id,
            part_number: part.to_string(),
        }),
        (&Method::POST, Some(upload_id), None) => Some(Operation::Complete { upload_id }),
        (&Method::DELETE, Some(upload_id), None) => Some(Operation::Abort { upload_id }),
        _ => None,
    }
}

pub fn parse_part_number(text: &str) -> Result<u32, ObsError> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| {
            ObsError::invalid_argument(format!(
                "Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"
            ))
            .with_extra("ArgumentName", "partNumber")
            .with_extra("ArgumentValue", text)
        })
}

#[derive(Debug, Clone)]
pub struct Part {
    pub data: Bytes,
    pub md5: [u8; 16],
    pub checksum: Option<Checksum>,
}

impl Part {
    pub fn new(data: Bytes, checksum: Option<Checksum>) -> Self {
        Part {
            md5: Md5::digest(&data).into(),
            data,
            checksum,
        }
    }

    pub fn etag(&self) -> String {
        format!("\"{}\"", hex::encode(self.md5))
    }
}

/// An upload in progress.
#[derive(Debug, Clone)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub content_type: Option<String>,
    pub metadata: Vec<(String, String)>,
    /// `x-amz-checksum-algorithm` of the initiation, echoed back.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub initiated: SystemTime,
    pub parts: BTreeMap<u32, Part>,
}

/// An upload in progress, for the admin API and tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadSummary {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub parts: Vec<u32>,
    pub bytes: u64,
}

/// One `<Part>` of a `CompleteMultipartUpload` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedPart {
    pub number: u32,
    pub etag: String,
    /// `ChecksumCRC32` and the like, as (header name, value).
    pub checksums: Vec<(ChecksumAlgorithm, String)>,
}

/// What completion hands to the store.
#[derive(Debug)]
pub struct Completed {
    pub data: Bytes,
    /// MD5 of the concatenated part MD5s: the `"<hex>-<parts>"` ETag.
    pub etag_digest: [u8; 16],
    pub parts: u32,
    pub content_type: Option<String>,
    pub metadata: Vec<(String, String)>,
}

pub fn no_such_upload(upload_id: &str) -> ObsError {
    ObsError::new(
        StatusCode::NOT_FOUND,
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may \
         have been aborted or completed.",
    )
    .with_extra("UploadId", upload_id)
}

fn invalid_part(number: u32) -> ObsError {
    ObsError::new(
        StatusCode::BAD_REQUEST,
        "InvalidPart",
        "One or more of the specified parts could not be found. The part may not have been \
         uploaded, or the specified entity tag may not match the part's entity tag.",
    )
    .with_extra("PartNumber", number.to_string())
}

fn malformed(detail: impl std::fmt::Display) -> ObsError {
    ObsError::new(
        StatusCode::BAD_REQUEST,
        "MalformedXML",
        format!(
            "The XML you provided was not well-formed or did not validate against our \
             published schema: {detail}"
        ),
    )
}

fn bare_etag(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// Uploads in progress, by upload id.
#[derive(Debug, Default)]
pub struct Uploads {
    map: Mutex<HashMap<String, Upload>>,
}

impl Uploads {
    pub fn create(&self, upload_id: String, upload: Upload) {
        self.map
            .lock()
            .expect("upload lock poisoned")
            .insert(upload_id, upload);
    }

    /// The upload, if `upload_id` exists for this bucket and key.
    pub fn check(&self, upload_id: &str, bucket: &str, key: &str) -> Result<Upload, ObsError> {
        self.map
            .lock()
            .expect("upload lock poisoned")
            .get(upload_id)
            .filter(|u| u.bucket == bucket && u.key == key)
            .cloned()
            .ok_or_else(|| no_such_upload(upload_id))
    }

    /// Stores (or replaces) a part.
    pub fn put_part(
        &self,
        upload_id: &str,
        bucket: &str,
        key: &str,
        number: u32,
        part: Part,
    ) -> Result<(), ObsError> {
        let mut map = self.map.lock().expect("upload lock poisoned");
        let upload = map
            .get_mut(upload_id)
            .filter(|u| u.bucket == bucket && u.key == key)
            .ok_or_else(|| no_such_upload(upload_id))?;
        upload.parts.insert(number, part);
        Ok(())
    }

    /// Checks the requested part list against the stored parts and, when it holds, removes
    /// the upload and assembles the object. A failed check leaves the upload as it was, so
    /// the client can retry with a corrected list.
    pub fn complete(
        &self,
        upload_id: &str,
        bucket: &str,
        key: &str,
        requested: &[RequestedPart],
        min_part_bytes: u64,
    ) -> Result<Completed, ObsError> {
        let mut map = self.map.lock().expect("upload lock poisoned");
        let upload = map
            .get(upload_id)
            .filter(|u| u.bucket == bucket && u.key == key)
            .ok_or_else(|| no_such_upload(upload_id))?;
        if requested.is_empty() {
            return Err(malformed("CompleteMultipartUpload names no Part"));
        }
        if requested.windows(2).any(|w| w[0].number >= w[1].number) {
            return Err(ObsError::new(
                StatusCode::BAD_REQUEST,
                "InvalidPartOrder",
                "The list of parts was not in ascending order. The parts list must be specified \
                 in order by part number.",
            ));
        }
        let mut chosen = Vec::with_capacity(requested.len());
        for want in requested {
            let part = upload
                .parts
                .get(&want.number)
                .filter(|p| bare_etag(&p.etag()) == bare_etag(&want.etag))
                .ok_or_else(|| invalid_part(want.number))?;
            for (algorithm, value) in &want.checksums {
                let stored = part
                    .checksum
                    .as_ref()
                    .filter(|c| c.algorithm == *algorithm)
                    .map(|c| c.value.clone())
                    .unwrap_or_else(|| algorithm.compute(&part.data));
                if stored != value.trim() {
                    return Err(invalid_part(want.number));
                }
            }
            chosen.push((want, part));
        }
        for (want, part) in &chosen[..chosen.len() - 1] {
            if (part.data.len() as u64) < min_part_bytes {
                return Err(ObsError::new(
                    StatusCode::BAD_REQUEST,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed object size.",
                )
                .with_extra("ProposedSize", part.data.len().to_string())
                .with_extra("MinSizeAllowed", min_part_bytes.to_string())
                .with_extra("PartNumber", want.number.to_string())
                .with_extra("ETag", part.etag()));
            }
        }
        let total: usize = chosen.iter().map(|(_, p)| p.data.len()).sum();
        let mut data = BytesMut::with_capacity(total);
        let mut md5s = Md5::new();
        for (_, part) in &chosen {
            data.extend_from_slice(&part.data);
            md5s.update(part.md5);
        }
        let completed = Completed {
            data: data.freeze(),
            etag_digest: md5s.finalize().into(),
            parts: chosen.len() as u32,
            content_type: upload.content_type.clone(),
            metadata: upload.metadata.clone(),
        };
        map.remove(upload_id);
        Ok(completed)
    }

    /// `true` when the upload existed (for this bucket and key) and is gone now.
    pub fn abort(&self, upload_id: &str, bucket: &str, key: &str) -> bool {
        let mut map = self.map.lock().expect("upload lock poisoned");
        let matches = map
            .get(upload_id)
            .is_some_and(|u| u.bucket == bucket && u.key == key);
        if matches {
            map.remove(upload_id);
        }
        matches
    }

    /// Uploads in progress, sorted by bucket, key, id.
    pub fn list(&self) -> Vec<UploadSummary> {
        let map = self.map.lock().expect("upload lock poisoned");
        let mut out: Vec<UploadSummary> = map
            .iter()
            .map(|(id, u)| UploadSummary {
                upload_id: id.clone(),
                bucket: u.bucket.clone(),
                key: u.key.clone(),
                parts: u.parts.keys().copied().collect(),
                bytes: u.parts.values().map(|p| p.data.len() as u64).sum(),
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.bucket, &a.key, &a.upload_id).cmp(&(&b.bucket, &b.key, &b.upload_id))
        });
        out
    }
}

/// The child elements of one `<Part>` seen so far.
#[derive(Debug, Default)]
struct PartFields {
    number: Option<String>,
    etag: Option<String>,
    checksums: Vec<(ChecksumAlgorithm, String)>,
}

/// Parses `<CompleteMultipartUpload><Part><PartNumber/><ETag/>[<ChecksumCRC32/>...]</Part>...`.
/// Namespaces are ignored; unknown elements inside a part are ignored.
pub fn parse_complete(xml: &[u8]) -> Result<Vec<RequestedPart>, ObsError> {
    let text = std::str::from_utf8(xml).map_err(|_| malformed("the document is not UTF-8"))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut parts = Vec::new();
    let mut current: Option<PartFields> = None;
    let mut value = String::new();
    let mut seen_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(format!("at byte {}: {e}", reader.buffer_position())))?;
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                match (path.len(), name.as_str()) {
                    (0, "CompleteMultipartUpload") => seen_root = true,
                    (0, other) => return Err(malformed(format!("unexpected root <{other}>"))),
                    (1, "Part") => current = Some(PartFields::default()),
                    _ => {}
                }
                path.push(name);
                value.clear();
            }
            Event::Empty(e) if path.len() == 1 && e.local_name().as_ref() == b"Part" => {
                return Err(malformed("a <Part/> is empty"));
            }
            Event::Text(t) => {
                let text = t.decode().map_err(|e| malformed(e.to_string()))?;
                if path.is_empty() && !text.trim().is_empty() {
                    return Err(malformed("text outside the document element"));
                }
                value.push_str(&text);
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| malformed(e.to_string()))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| malformed(e.to_string()))?;
                        quick_xml::escape::resolve_xml_entity(&name)
                            .ok_or_else(|| malformed(format!("unknown entity &{name};")))?
                            .to_string()
                    }
                };
                value.push_str(&resolved);
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                if path.len() == 2
                    && let Some(fields) = current.as_mut()
                {
                    match name.as_str() {
                        "PartNumber" => fields.number = Some(value.trim().to_string()),
                        "ETag" => fields.etag = Some(value.trim().to_string()),
                        other => {
                            let header = format!(
                                "x-amz-{}",
                                other
                                    .to_ascii_lowercase()
                                    .replacen("checksum", "checksum-", 1)
                            );
                            if let Some(algorithm) = ChecksumAlgorithm::from_header_name(&header) {
                                fields.checksums.push((algorithm, value.trim().to_string()));
                            }
                        }
                    }
                }
                if path.len() == 1 && name == "Part" {
                    let PartFields {
                        number,
                        etag,
                        checksums,
                    } = current.take().unwrap_or_default();
                    let number = number.ok_or_else(|| malformed("a Part has no PartNumber"))?;
                    let number = parse_part_number(&number).map_err(|_| {
                        malformed(format!(
                            "PartNumber {number:?} is not 1 to {MAX_PART_NUMBER}"
                        ))
                    })?;
                    let etag = etag.ok_or_else(|| malformed("a Part has no ETag"))?;
                    parts.push(RequestedPart {
                        number,
                        etag,
                        checksums,
                    });
                }
                value.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !path.is_empty() {
        return Err(malformed("the document ends inside an element"));
    }
    if !seen_root {
        return Err(malformed("there is no CompleteMultipartUpload element"));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(parts: &[(u32, &[u8])]) -> Upload {
        Upload {
            bucket: "b".into(),
            key: "k".into(),
            content_type: Some("application/zip".into()),
            metadata: vec![("x-amz-meta-a".into(), "1".into())],
            checksum_algorithm: None,
            initiated: SystemTime::UNIX_EPOCH,
            parts: parts
                .iter()
                .map(|(n, d)| (*n, Part::new(Bytes::copy_from_slice(d), None)))
                .collect(),
        }
    }

    fn want(number: u32, data: &[u8]) -> RequestedPart {
        RequestedPart {
            number,
            etag: Part::new(Bytes::copy_from_slice(data), None).etag(),
            checksums: Vec::new(),
        }
    }

    #[test]
    fn classification() {
        let q = |s| Query::parse(Some(s));
        assert_eq!(
            classify(&Method::POST, &q("uploads")),
            Some(Operation::Initiate)
        );
        assert_eq!(
            classify(&Method::PUT, &q("partNumber=3&uploadId=u1")),
            Some(Operation::UploadPart {
                upload_id: "u1".into(),
                part_number: "3".into()
            })
        );
        assert_eq!(
            classify(&Method::POST, &q("uploadId=u1")),
            Some(Operation::Complete {
                upload_id: "u1".into()
            })
        );
        assert_eq!(
            classify(&Method::DELETE, &q("uploadId=u1")),
            Some(Operation::Abort {
                upload_id: "u1".into()
            })
        );
        // Listing parts or uploads, and plain requests, are something else.
        assert_eq!(classify(&Method::GET, &q("uploadId=u1")), None);
        assert_eq!(classify(&Method::GET, &q("uploads")), None);
        assert_eq!(classify(&Method::PUT, &q("")), None);
        assert_eq!(parse_part_number("10000").unwrap(), 10_000);
        for bad in ["0", "10001", "-1", "x", ""] {
            assert_eq!(parse_part_number(bad).unwrap_err().code, "InvalidArgument");
        }
    }

    #[test]
    fn completion_assembles_in_order_with_the_multipart_etag() {
        let uploads = Uploads::default();
        uploads.create("u1".into(), upload(&[(1, b"aaaa"), (2, b"bb"), (5, b"c")]));
        let done = uploads
            .complete("u1", "b", "k", &[want(1, b"aaaa"), want(5, b"c")], 4)
            .unwrap();
        assert_eq!(&done.data[..], b"aaaac");
        assert_eq!(done.parts, 2);
        let mut md5s = Md5::new();
        md5s.update(Md5::digest(b"aaaa"));
        md5s.update(Md5::digest(b"c"));
        assert_eq!(done.etag_digest, <[u8; 16]>::from(md5s.finalize()));
        assert_eq!(done.content_type.as_deref(), Some("application/zip"));
        // Completed uploads are gone.
        assert_eq!(
            uploads
                .complete("u1", "b", "k", &[want(1, b"aaaa")], 0)
                .unwrap_err()
                .code,
            "NoSuchUpload"
        );
    }

    #[test]
    fn completion_checks_leave_the_upload_in_place() {
        let uploads = Uploads::default();
        uploads.create("u1".into(), upload(&[(1, b"aaaa"), (2, b"bb"), (3, b"c")]));
        let code = |parts: &[RequestedPart], min| {
            uploads
                .complete("u1", "b", "k", parts, min)
                .unwrap_err()
                .code
        };
        assert_eq!(code(&[], 0), "MalformedXML");
        assert_eq!(
            code(&[want(2, b"bb"), want(1, b"aaaa")], 0),
            "InvalidPartOrder"
        );
        assert_eq!(
            code(&[want(1, b"aaaa"), want(1, b"aaaa")], 0),
            "InvalidPartOrder"
        );
        assert_eq!(code(&[want(1, b"aaab")], 0), "InvalidPart");
        assert_eq!(code(&[want(4, b"aaaa")], 0), "InvalidPart");
        // Every part but the last must reach the minimum.
        let e = uploads
            .complete(
                "u1",
                "b",
                "k",
                &[want(1, b"aaaa"), want(2, b"bb"), want(3, b"c")],
                3,
            )
            .unwrap_err();
        assert_eq!(e.code, "EntityTooSmall");
        assert!(e.extra.contains(&("PartNumber", "2".to_string())));
        let mut with_crc = want(2, b"bb");
        with_crc.checksums.push((
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32.compute(b"xx"),
        ));
        assert_eq!(code(&[with_crc.clone()], 0), "InvalidPart");
        with_crc.checksums[0].1 = ChecksumAlgorithm::Crc32.compute(b"bb");
        assert!(uploads.complete("u1", "b", "k", &[with_crc], 0).is_ok());
        // Another bucket or key cannot touch an upload.
        uploads.create("u2".into(), upload(&[(1, b"x")]));
        assert_eq!(
            uploads.check("u2", "b", "other").unwrap_err().code,
            "NoSuchUpload"
        );
        assert!(
            uploads
                .put_part("u2", "other", "k", 2, Part::new(Bytes::new(), None))
                .is_err()
        );
        assert!(!uploads.abort("u2", "b", "other"));
        assert_eq!(uploads.list()[0].parts, vec![1]);
        assert!(uploads.abort("u2", "b", "k"));
        assert!(uploads.list().is_empty());
    }

    #[test]
    fn complete_document_forms() {
        // boto3's form: a namespace, quoted ETags, checksums.
        let boto = br#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"aa11"</ETag><PartNumber>1</PartNumber><ChecksumCRC32>NhCmhg==</ChecksumCRC32></Part><Part><ETag>"bb22"</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>"#;
        let parts = parse_complete(boto).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].number, parts[0].etag.as_str()), (1, "\"aa11\""));
        assert_eq!(
            parts[0].checksums,
            vec![(ChecksumAlgorithm::Crc32, "NhCmhg==".to_string())]
        );
        // Escaped quotes, as other SDKs write them.
        let escaped = b"<CompleteMultipartUpload><Part><PartNumber>7</PartNumber><ETag>&quot;cc33&#34;</ETag></Part></CompleteMultipartUpload>";
        assert_eq!(parse_complete(escaped).unwrap()[0].etag, "\"cc33\"");
        for bad in [
            &b"<Other/>"[..],
            b"<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part>",
            b"<CompleteMultipartUpload><Part/></CompleteMultipartUpload>",
            b"not xml <",
        ] {
            assert_eq!(
                parse_complete(bad).unwrap_err().code,
                "MalformedXML",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(
            parse_complete(b"<CompleteMultipartUpload></CompleteMultipartUpload>")
                .unwrap()
                .is_empty()
        );
    }
}
