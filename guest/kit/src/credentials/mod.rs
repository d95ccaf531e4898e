//! What store plugins share about credentials: the rule for a key pair read from two named
//! values, what may be shown of credentials, and the metadata-service end of every chain (a
//! process-wide cache of temporary credentials, and the pieces the clouds' link-local
//! metadata protocols have in common). Which sources a chain holds, in which order, and what
//! a cloud's metadata service answers stay in each plugin.

mod cache;
mod keys;
pub mod metadata;

#[cfg(any(test, feature = "testing"))]
pub use cache::Isolated;
pub use cache::{MetadataCache, Resolved};
pub use keys::{key_pair, redacted_debug, KeyMaterial, REFRESH_MARGIN};
