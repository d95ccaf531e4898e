//! The checks behind scheme-host's fuzz targets. Each module holds one target's oracle,
//! written so the stable test suites can include the same file by path and replay the saved
//! corpus on every `cargo test` (see `corpus/` and the README of this directory).

pub mod archive;
pub mod credentials;
pub mod links;
#[cfg(feature = "host")]
pub mod plugin_call;
pub mod printable;
pub mod saved;
pub mod uri;
pub mod xml_error;
