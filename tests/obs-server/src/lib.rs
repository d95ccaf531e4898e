//! An in-memory, Huawei OBS-compatible HTTP server for tests, the demo and benchmarks.
//!
//! It verifies `OBS` and `AWS` (V2) header signatures and both presigned-URL forms against the
//! raw path as sent, answers with OBS XML errors and request ids, serves objects zero-copy
//! with ranges and checksums, and injects faults switched at run time (admin API under
//! `/__admin`, see [`admin`]). Requests signed with AWS Signature V4 are S3 requests on the
//! same store ([`protocol`], [`auth::sigv4`]), and an optional token bucket answers
//! 503 `SlowDown` past a request rate ([`rate_limit`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), obs_server::ServerError> {
//! use obs_server::{Credential, Fault, FaultRule, ObsServer, ServerConfig};
//! let server = ObsServer::start(
//!     ServerConfig::default().with_domain("obs.test").with_credential(Credential::new("AK", "SK")),
//! )
//! .await?;
//! server.put_object("ray-jobs", "pkg.zip", b"PK...".to_vec())?;
//! server.set_fault(FaultRule::new("ray-jobs", "pkg.zip", Fault::SlowDown { retry_after_secs: Some(1) }).times(2))?;
//! println!("{}", server.endpoint());
//! # Ok(()) }
//! ```

pub mod addressing;
pub mod admin;
pub mod auth;
pub mod aws_chunked;
pub mod body;
pub mod checksum;
pub mod clock;
pub mod config;
pub mod conn;
pub mod error;
pub mod faults;
pub mod multipart;
pub mod obs_error;
pub mod ops;
pub mod protocol;
pub mod query;
pub mod range;
pub mod rate_limit;
pub mod request_log;
pub mod respond;
pub mod router;
pub mod server;
pub mod service;
pub mod state;
pub mod store;
pub mod tls;

pub use addressing::ADMIN_PREFIX;
pub use auth::AuthKind;
pub use clock::ClockSetting;
pub use config::{BucketSpec, Credential, ServerConfig};
pub use error::ServerError;
pub use faults::{Fault, FaultRule, FaultView};
pub use multipart::UploadSummary;
pub use protocol::Protocol;
pub use rate_limit::{RateCount, RateLimit, RateStats};
pub use request_log::{KeyCounter, RequestRecord};
pub use server::{ObsServer, ServerHandle};
pub use service::{ObsService, serve_connection};
pub use state::{ObjectInfo, Settings};
pub use store::crc64_xz;
pub use tls::TlsIdentity;
