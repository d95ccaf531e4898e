//! WIT `limits`: what a plugin is asked to enforce while it streams (the host enforces the
//! same ones itself on what the plugin writes), with the defaults both sides use.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_download_bytes: u64,
    pub max_unpacked_bytes: u64,
    pub max_entries: u64,
    /// Largest uncompressed/compressed ratio of one entry.
    pub max_compression_ratio: u64,
    pub max_path_bytes: u32,
    pub max_path_depth: u32,
}

impl Default for Limits {
    /// Generous for real job code, finite for everything else.
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
