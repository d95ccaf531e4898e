//! Limits a plugin enforces while streaming; mirrors WIT `limits`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_download_bytes: u64,
    pub max_unpacked_bytes: u64,
    pub max_entries: u64,
    pub max_compression_ratio: u64,
    pub max_path_bytes: u32,
    pub max_path_depth: u32,
}

impl Default for Limits {
    /// Generous for real job code, finite for everything else. Keep in step with the
    /// host's defaults (`host/src/config.rs`).
    fn default() -> Self {
        Limits {
            max_download_bytes: 4 << 30,
            max_unpacked_bytes: 16 << 30,
            max_entries: 1_000_000,
            max_compression_ratio: 1_000,
            max_path_bytes: 4096,
            max_path_depth: 64,
        }
    }
}
