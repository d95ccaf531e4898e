//! The one error type plugins return; it maps 1:1 onto the WIT `scheme-error`.

use std::fmt;

pub use scheme_contract::ErrorKind;

/// A typed plugin error. The message is shown to users as-is, so it must never contain a
/// credential, and attacker-chosen names in it must go through [`crate::text::escape`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// The store's own error code, e.g. `NoSuchKey`.
    pub store_code: Option<String>,
    pub request_id: Option<String>,
    pub http_status: Option<u16>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), store_code: None, request_id: None, http_status: None }
    }

    pub fn with_store(mut self, code: Option<String>, request_id: Option<String>) -> Self {
        self.store_code = code;
        self.request_id = request_id;
        self
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    /// Prefixes the message with what was being done, keeping kind and store details.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    pub fn invalid_uri(m: impl Into<String>) -> Self { Self::new(ErrorKind::InvalidUri, m) }
    pub fn unsafe_archive(m: impl Into<String>) -> Self { Self::new(ErrorKind::UnsafeArchive, m) }
    pub fn limit(m: impl Into<String>) -> Self { Self::new(ErrorKind::LimitExceeded, m) }
    pub fn integrity(m: impl Into<String>) -> Self { Self::new(ErrorKind::Integrity, m) }
    pub fn unsupported(m: impl Into<String>) -> Self { Self::new(ErrorKind::Unsupported, m) }
    pub fn bad_credentials(m: impl Into<String>) -> Self { Self::new(ErrorKind::BadCredentials, m) }
    pub fn network(m: impl Into<String>) -> Self { Self::new(ErrorKind::Network, m) }
    pub fn internal(m: impl Into<String>) -> Self { Self::new(ErrorKind::Internal, m) }

    /// Maps an I/O error on the staging directory. Disk full and permission problems get
    /// their own wording so operators see the cause, not an errno.
    pub fn io(what: impl fmt::Display, e: std::io::Error) -> Self {
        // Linux errno natively; wasi-libc numbers inside a wasm guest.
        const ENOSPC: i32 = if cfg!(target_os = "wasi") { 51 } else { 28 };
        const EDQUOT: i32 = if cfg!(target_os = "wasi") { 19 } else { 122 };
        // Direct wasi:filesystem calls report the error kind, with no errno.
        let detail = match (e.raw_os_error(), e.kind()) {
            (Some(ENOSPC), _) | (_, std::io::ErrorKind::StorageFull) => "no space left on device".to_string(),
            (Some(EDQUOT), _) | (_, std::io::ErrorKind::QuotaExceeded) => "disk quota exceeded".to_string(),
            _ => e.to_string(),
        };
        Self::internal(format!("{what}: {detail}"))
    }
}
