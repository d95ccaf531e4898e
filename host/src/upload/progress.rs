//! What the host shows while an upload's bytes go up.

/// What the host shows while bytes go up.
pub trait UploadProgress: Send + Sync {
    /// `done` bytes accepted by the store so far, of `total` when known.
    fn sent(&self, done: u64, total: Option<u64>);
}

impl UploadProgress for () {
    fn sent(&self, _: u64, _: Option<u64>) {}
}
