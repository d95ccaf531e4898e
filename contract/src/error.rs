//! WIT `error-kind`, and the host's own kinds beside them: one set of names for WIT, Rust,
//! the CLI's JSON `kind` field and the Python integration.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum ErrorKind {
    InvalidUri,
    NotFound,
    AccessDenied,
    BadCredentials,
    Network,
    Integrity,
    UnsafeArchive,
    LimitExceeded,
    Unsupported,
    Internal,
    /// The host's own, from here on: no plugin reports these (a plugin's binding layer
    /// sends them as `internal`). No plugin handles the scheme, or one could not be loaded.
    Plugin,
    /// The operator's configuration or the command line is wrong.
    Config,
    /// The plugin broke a sandbox rule (memory, deadline, trap).
    Sandbox,
    /// Writing the result on the host failed (disk full, permissions).
    Publish,
}

impl ErrorKind {
    /// The kinds a plugin may report, in WIT order.
    pub const PLUGIN_KINDS: [ErrorKind; 10] = [
        ErrorKind::InvalidUri,
        ErrorKind::NotFound,
        ErrorKind::AccessDenied,
        ErrorKind::BadCredentials,
        ErrorKind::Network,
        ErrorKind::Integrity,
        ErrorKind::UnsafeArchive,
        ErrorKind::LimitExceeded,
        ErrorKind::Unsupported,
        ErrorKind::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidUri => "invalid-uri",
            ErrorKind::NotFound => "not-found",
            ErrorKind::AccessDenied => "access-denied",
            ErrorKind::BadCredentials => "bad-credentials",
            ErrorKind::Network => "network",
            ErrorKind::Integrity => "integrity",
            ErrorKind::UnsafeArchive => "unsafe-archive",
            ErrorKind::LimitExceeded => "limit-exceeded",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Internal => "internal",
            ErrorKind::Plugin => "plugin",
            ErrorKind::Config => "config",
            ErrorKind::Sandbox => "sandbox",
            ErrorKind::Publish => "publish",
        }
    }

    /// What a plugin may say: the host's own kinds become `internal`.
    pub fn for_plugin(self) -> ErrorKind {
        if Self::PLUGIN_KINDS.contains(&self) { self } else { ErrorKind::Internal }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_wit_names() {
        let names: Vec<&str> = ErrorKind::PLUGIN_KINDS.iter().map(|k| k.as_str()).collect();
        let wit = include_str!("../../wit/storage-scheme.wit");
        let block = &wit[wit.find("enum error-kind {").expect("error-kind in the WIT")..];
        let block = &block[..block.find('}').unwrap()];
        let declared: Vec<&str> = block
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .map(|l| l.trim_end_matches(','))
            .collect();
        assert_eq!(names, declared);
        assert_eq!(ErrorKind::Sandbox.for_plugin(), ErrorKind::Internal);
        assert_eq!(ErrorKind::NotFound.for_plugin(), ErrorKind::NotFound);
    }
}
