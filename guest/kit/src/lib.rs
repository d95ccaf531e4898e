//! The plugin-side library every storage-scheme plugin builds on.
//!
//! Pure logic (errors, limits, archive validation and extraction, retry policy, the
//! download engine, the retried exchanges of uploads, and the operations of a
//! bucket-and-key store) compiles and is tested natively; only `http::wasi` touches WASI
//! imports. A store plugin adds its URI rules,
//! credential sources, endpoint, signing and error codes ([`ops::Remote`]), and exports it
//! all with [`plugin_bindings!`] and [`plugin_exports!`].

pub mod archive;
mod bindings;
pub mod credentials;
pub mod encode;
pub mod endpoint;
pub mod env;
pub mod error;
mod exports;
pub mod http;
pub mod ops;
pub mod retry;
pub mod settings;
pub mod store_error;
pub mod time;
pub mod uri;

pub use error::{Error, ErrorKind, Result};
pub use scheme_contract::text;
pub use scheme_contract::{convert_limits, Limits, PackageFormat, Phase};

// What `plugin_bindings!` expands to refers to these.
pub use wasip2;
pub use wit_bindgen;
