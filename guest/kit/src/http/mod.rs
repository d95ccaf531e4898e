//! Streamed, resumable, verified HTTP download over `wasi:http`, and the retried small
//! exchanges (a PUT of bytes in memory, a POST, a DELETE, a HEAD) of uploads.
//!
//! The engines ([`download::download`], [`exchange::exchange`]) are plain Rust over the
//! [`Transport`] trait so the whole retry / resume / redirect / integrity state machine is
//! unit-tested natively with [`testing::FakeTransport`]; [`wasi::WasiTransport`] is the only
//! code that touches `wasi:http` and exists only on wasm targets.

pub mod checksum;
pub mod classify;
pub mod download;
pub mod exchange;
pub mod redirect;
pub mod sink;
pub mod small;
/// Fakes for native tests of everything built on [`Transport`]; kept out of plugins.
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod transport;
pub mod types;
#[cfg(target_family = "wasm")]
pub mod wasi;

pub use download::{download, ByteRange, DownloadOptions, DownloadOutcome, Store};
pub use sink::{FileSink, Sink, SpillSink, Spilled};
pub use small::{fetch_small, SmallResponse};
pub use transport::{Body, Transport};
pub use exchange::{exchange, refusal, Attempt, ExchangeOptions, Exchanged, Verdict};
pub use types::{Headers, Method, Request, RequestBody, ResponseHead, Scheme, Timeouts, TransportError, TransportErrorKind};
