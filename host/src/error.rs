//! The host's error type: either a plugin's typed `scheme-error`, or a failure of the host
//! itself (configuration, plugin loading, sandbox limits, publishing the result).

use serde::Serialize;
use std::fmt;

/// One set of names across WIT (`error-kind`), Rust and the JSON `kind` field. The last
/// four are the host's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
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
    /// No plugin handles the scheme, or a plugin could not be loaded.
    Plugin,
    /// The operator's configuration or the command line is wrong.
    Config,
    /// The plugin broke a sandbox rule (memory, deadline, trap).
    Sandbox,
    /// Writing the result on the host failed (disk full, permissions).
    Publish,
}

impl ErrorKind {
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

    /// Exit status of the CLI for this kind: scripts can tell "fix the URI" from "retry".
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Config => 2,
            ErrorKind::InvalidUri => 3,
            ErrorKind::NotFound => 4,
            ErrorKind::AccessDenied | ErrorKind::BadCredentials => 5,
            ErrorKind::Network => 6,
            ErrorKind::Integrity | ErrorKind::UnsafeArchive => 7,
            ErrorKind::LimitExceeded | ErrorKind::Sandbox => 8,
            _ => 1,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct HostError {
    pub kind: ErrorKind,
    pub message: String,
    pub store_code: Option<String>,
    pub request_id: Option<String>,
    pub http_status: Option<u16>,
}

impl HostError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        HostError { kind, message: message.into(), store_code: None, request_id: None, http_status: None }
    }
    pub fn config(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, m)
    }
    pub fn plugin(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Plugin, m)
    }
    pub fn sandbox(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Sandbox, m)
    }
    pub fn publish(what: impl fmt::Display, e: std::io::Error) -> Self {
        let detail = match e.raw_os_error() {
            Some(28) => "no space left on device".to_string(),
            Some(30) => "read-only file system".to_string(),
            Some(13) | Some(1) => "permission denied".to_string(),
            _ => e.to_string(),
        };
        Self::new(ErrorKind::Publish, format!("{what}: {detail}"))
    }
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl From<crate::bindings::types::SchemeError> for HostError {
    fn from(e: crate::bindings::types::SchemeError) -> Self {
        use crate::bindings::types::ErrorKind as W;
        let kind = match e.kind {
            W::InvalidUri => ErrorKind::InvalidUri,
            W::NotFound => ErrorKind::NotFound,
            W::AccessDenied => ErrorKind::AccessDenied,
            W::BadCredentials => ErrorKind::BadCredentials,
            W::Network => ErrorKind::Network,
            W::Integrity => ErrorKind::Integrity,
            W::UnsafeArchive => ErrorKind::UnsafeArchive,
            W::LimitExceeded => ErrorKind::LimitExceeded,
            W::Unsupported => ErrorKind::Unsupported,
            W::Internal => ErrorKind::Internal,
        };
        // Plugin text is untrusted: keep terminals and logs safe.
        HostError {
            kind,
            message: crate::text::escape(&e.message),
            store_code: e.store_code.map(|s| crate::text::escape(&s)),
            request_id: e.request_id.map(|s| crate::text::escape(&s)),
            http_status: e.http_status,
        }
    }
}

pub type Result<T, E = HostError> = std::result::Result<T, E>;
