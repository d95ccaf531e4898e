//! The plugin-side library every storage-scheme plugin builds on.
//!
//! Pure logic (errors, limits, archive validation and extraction, retry policy) compiles
//! and is tested natively; only `wasi_http` touches WASI imports.

pub mod archive;
mod bindings;
pub mod error;
pub mod http;
pub mod retry;

pub use error::{Error, ErrorKind, Result};
pub use scheme_contract::text;
pub use scheme_contract::{convert_limits, Limits, PackageFormat, Phase};

// What `plugin_bindings!` expands to refers to these.
pub use wasip2;
pub use wit_bindgen;
