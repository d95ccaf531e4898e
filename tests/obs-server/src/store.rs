//! In-memory buckets and objects. Object bodies are `Bytes`, so serving one is a reference
//! count increment and slicing, never a copy.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::SystemTime;

use bytes::Bytes;
use md5::{Digest, Md5};

pub const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

const CRC64_XZ: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_XZ);

/// CRC-64/XZ (what OBS calls crc64ecma), as sent in `x-obs-checksum-crc64ecma`.
pub fn crc64_xz(data: &[u8]) -> u64 {
    CRC64_XZ.checksum(data)
}

#[derive(Debug)]
pub struct StoredObject {
    pub data: Bytes,
    pub md5: [u8; 16],
    pub last_modified: SystemTime,
    pub content_type: String,
    /// `x-obs-meta-*` / `x-amz-meta-*` headers as received (name lower-cased, with prefix).
    pub metadata: Vec<(String, String)>,
    /// The `x-amz-checksum-*` the object was uploaded with (verified on upload).
    pub checksum: Option<crate::checksum::Checksum>,
    /// Completed multipart uploads: MD5 of the part MD5s and the part count, which make the
    /// `"<hex>-<parts>"` ETag instead of the body's MD5.
    pub multipart: Option<([u8; 16], u32)>,
    // Computed on first use: most runs never enable CRC-64 and a 500 MB object would cost a
    // noticeable fraction of a second.
    crc64: OnceLock<u64>,
}

impl StoredObject {
    pub fn new(
        data: Bytes,
        content_type: Option<String>,
        metadata: Vec<(String, String)>,
        now: SystemTime,
    ) -> Self {
        let md5: [u8; 16] = Md5::digest(&data).into();
        StoredObject {
            data,
            md5,
            last_modified: now,
            content_type: content_type.unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_string()),
            metadata,
            checksum: None,
            multipart: None,
            crc64: OnceLock::new(),
        }
    }

    pub fn with_multipart_etag(mut self, digest: [u8; 16], parts: u32) -> Self {
        self.multipart = Some((digest, parts));
        self
    }

    pub fn with_checksum(mut self, checksum: Option<crate::checksum::Checksum>) -> Self {
        self.checksum = checksum;
        self
    }

    /// Quoted lower-case hex MD5 for single-part uploads, `"<hex>-<parts>"` for multipart.
    pub fn etag(&self) -> String {
        match self.multipart {
            Some((digest, parts)) => format!("\"{}-{parts}\"", hex::encode(digest)),
            None => format!("\"{}\"", hex::encode(self.md5)),
        }
    }

    pub fn crc64(&self) -> u64 {
        *self.crc64.get_or_init(|| crc64_xz(&self.data))
    }

    pub fn len(&self) -> u64 {
        self.data.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    NoSuchBucket,
    BucketExists,
}

#[derive(Debug, Default)]
struct BucketEntry {
    public_read: bool,
    objects: HashMap<String, Arc<StoredObject>>,
}

/// Summary of one bucket for the admin API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BucketSummary {
    pub name: String,
    pub public_read: bool,
    pub objects: usize,
    pub bytes: u64,
}

#[derive(Debug, Default)]
pub struct Store {
    buckets: RwLock<HashMap<String, BucketEntry>>,
}

impl Store {
    pub fn create_bucket(&self, name: &str, public_read: bool) -> Result<(), StoreError> {
        let mut buckets = self.buckets.write().expect("store lock poisoned");
        if buckets.contains_key(name) {
            return Err(StoreError::BucketExists);
        }
        buckets.insert(
            name.to_string(),
            BucketEntry {
                public_read,
                objects: HashMap::new(),
            },
        );
        Ok(())
    }

    /// Creates the bucket or changes its public-read flag.
    pub fn ensure_bucket(&self, name: &str, public_read: bool) {
        let mut buckets = self.buckets.write().expect("store lock poisoned");
        buckets.entry(name.to_string()).or_default().public_read = public_read;
    }

    /// `Some(public_read)` when the bucket exists.
    pub fn bucket_public_read(&self, name: &str) -> Option<bool> {
        self.buckets
            .read()
            .expect("store lock poisoned")
            .get(name)
            .map(|b| b.public_read)
    }

    pub fn put(
        &self,
        bucket: &str,
        key: &str,
        object: StoredObject,
    ) -> Result<Arc<StoredObject>, StoreError> {
        let object = Arc::new(object);
        let mut buckets = self.buckets.write().expect("store lock poisoned");
        let entry = buckets.get_mut(bucket).ok_or(StoreError::NoSuchBucket)?;
        entry.objects.insert(key.to_string(), Arc::clone(&object));
        Ok(object)
    }

    /// `Ok(None)` when the bucket exists but the key does not.
    pub fn get(&self, bucket: &str, key: &str) -> Result<Option<Arc<StoredObject>>, StoreError> {
        let buckets = self.buckets.read().expect("store lock poisoned");
        let entry = buckets.get(bucket).ok_or(StoreError::NoSuchBucket)?;
        Ok(entry.objects.get(key).cloned())
    }

    /// `Ok(true)` when an object was removed.
    pub fn delete(&self, bucket: &str, key: &str) -> Result<bool, StoreError> {
        let mut buckets = self.buckets.write().expect("store lock poisoned");
        let entry = buckets.get_mut(bucket).ok_or(StoreError::NoSuchBucket)?;
        Ok(entry.objects.remove(key).is_some())
    }

    pub fn buckets(&self) -> Vec<BucketSummary> {
        let buckets = self.buckets.read().expect("store lock poisoned");
        let mut out: Vec<BucketSummary> = buckets
            .iter()
            .map(|(name, b)| BucketSummary {
                name: name.clone(),
                public_read: b.public_read,
                objects: b.objects.len(),
                bytes: b.objects.values().map(|o| o.len()).sum(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Keys of a bucket, sorted.
    pub fn keys(&self, bucket: &str) -> Result<Vec<String>, StoreError> {
        let buckets = self.buckets.read().expect("store lock poisoned");
        let entry = buckets.get(bucket).ok_or(StoreError::NoSuchBucket)?;
        let mut keys: Vec<String> = entry.objects.keys().cloned().collect();
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_xz_check_value() {
        // The catalogue check value of CRC-64/XZ.
        assert_eq!(crc64_xz(b"123456789"), 0x995D_C9BB_DF19_39FA);
    }

    #[test]
    fn put_get_delete_and_etag() {
        let store = Store::default();
        let obj = || {
            StoredObject::new(
                Bytes::from_static(b"hello"),
                None,
                vec![],
                SystemTime::now(),
            )
        };
        assert_eq!(
            store.put("b", "k", obj()).unwrap_err(),
            StoreError::NoSuchBucket
        );
        store.create_bucket("b", false).unwrap();
        assert_eq!(
            store.create_bucket("b", true),
            Err(StoreError::BucketExists)
        );
        let put = store.put("b", "k", obj()).unwrap();
        assert_eq!(put.etag(), "\"5d41402abc4b2a76b9719d911017c592\"");
        assert_eq!(put.content_type, DEFAULT_CONTENT_TYPE);
        assert_eq!(
            store.get("b", "k").unwrap().unwrap().data,
            Bytes::from_static(b"hello")
        );
        assert!(store.get("b", "x").unwrap().is_none());
        assert_eq!(store.get("nob", "k").unwrap_err(), StoreError::NoSuchBucket);
        assert_eq!(store.bucket_public_read("b"), Some(false));
        store.ensure_bucket("b", true);
        assert_eq!(store.bucket_public_read("b"), Some(true));
        assert_eq!(store.keys("b").unwrap(), vec!["k".to_string()]);
        assert_eq!(store.buckets()[0].bytes, 5);
        assert!(store.delete("b", "k").unwrap());
        assert!(!store.delete("b", "k").unwrap());
    }
}
