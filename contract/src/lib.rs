//! What `wit/storage-scheme.wit` defines, as plain Rust both sides build on: the host
//! (`host/`) and every plugin (through `guest/kit`). No WIT binding code lives here; each
//! side converts between these types and its generated bindings in one place (the host's
//! `bindings.rs`, the kit's `plugin_bindings!`), so a name or a default changes here once.
//! Builds natively and for wasm32-wasip2, with no dependencies but optional serde.

mod error;
mod format;
mod limits;
pub mod text;

pub use error::ErrorKind;
pub use format::PackageFormat;
pub use limits::{Limits, DEFAULT_THROTTLE_BUDGET_SECS};

/// Which half of a call a progress report is about (WIT `phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Download,
    Unpack,
}
