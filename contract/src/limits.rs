//! WIT `limits`: what a plugin is asked to enforce while it streams (the host enforces the
//! same ones itself on what the plugin writes), with the defaults both sides use.

/// How long one download may wait in total on a store that answers "slow down", unless the
/// operator says otherwise (`limits.throttle-budget-secs`, handed over by
/// `host.throttle-budget-ms`): half of Ray's runtime_env setup timeout (600 s), so the job
/// fails with the store's code before Ray gives up on it without one.
pub const DEFAULT_THROTTLE_BUDGET_SECS: u64 = 300;

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

/// `$to { <the six limit fields> from $from, $rest }`: the one list of the fields, for the
/// generated `limits` records on both sides of the WIT and the host's config, which also
/// holds limits only the host enforces (`$rest`).
#[macro_export]
macro_rules! convert_limits {
    ($from:expr => $to:path { $($rest:tt)* }) => {{
        let l = $from;
        $to {
            max_download_bytes: l.max_download_bytes,
            max_unpacked_bytes: l.max_unpacked_bytes,
            max_entries: l.max_entries,
            max_compression_ratio: l.max_compression_ratio,
            max_path_bytes: l.max_path_bytes,
            max_path_depth: l.max_path_depth,
            $($rest)*
        }
    }};
    ($from:expr => $to:path) => {
        $crate::convert_limits!($from => $to {})
    };
}

#[cfg(test)]
mod tests {
    #[derive(Debug, PartialEq)]
    struct Wider {
        max_download_bytes: u64,
        max_unpacked_bytes: u64,
        max_entries: u64,
        max_compression_ratio: u64,
        max_path_bytes: u32,
        max_path_depth: u32,
        extra: u8,
    }

    #[test]
    fn converts_both_ways_with_extra_fields() {
        let d = super::Limits::default();
        let w = crate::convert_limits!(d => Wider { extra: 7 });
        assert_eq!((w.max_unpacked_bytes, w.max_path_depth, w.extra), (16 << 30, 64, 7));
        assert_eq!(crate::convert_limits!(w => super::Limits), d);
    }
}
