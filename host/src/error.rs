//! The host's error type: either a plugin's typed `scheme-error`, or a failure of the host
//! itself (configuration, plugin loading, sandbox limits, publishing the result).

use serde::Serialize;
use std::fmt;

pub use scheme_contract::ErrorKind;

/// Exit status of the CLI for this kind: scripts can tell "fix the URI" from "retry".
pub fn exit_code(kind: ErrorKind) -> i32 {
    match kind {
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

pub type Result<T, E = HostError> = std::result::Result<T, E>;
