//! Errors of the library API (start-up, configuration, seeding). Protocol errors sent to
//! clients live in `obs_error`.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid bucket name {0:?}")]
    InvalidBucketName(String),
    #[error("invalid object key: {0}")]
    InvalidKey(String),
}
