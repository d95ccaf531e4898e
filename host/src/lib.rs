//! `scheme-host`: runs storage-scheme plugins (WASI components) in a sandbox to turn a
//! remote package URI into a local directory with Ray's semantics.

pub mod atomic;
pub mod bindings;
pub mod cache;
pub mod config;
pub mod error;
pub mod leftovers;
pub mod manifest;
pub mod ops;
pub mod output;
pub mod parts;
pub mod publish;
pub mod registry;
pub mod sandbox;
pub mod trust;
pub mod upload;

pub use error::{ErrorKind, HostError, Result};
pub use ops::Host;
