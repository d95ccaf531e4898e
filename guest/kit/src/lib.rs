//! The plugin-side library every storage-scheme plugin builds on.
//!
//! Pure logic (errors, limits, archive validation and extraction, retry policy) compiles
//! and is tested natively; only `wasi_http` touches WASI imports.

pub mod archive;
pub mod error;
pub mod http;
pub mod limits;
pub mod retry;
pub mod text;

pub use error::{Error, ErrorKind, Result};
pub use limits::Limits;
