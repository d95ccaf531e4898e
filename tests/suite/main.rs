//! The host's integration suite: runs the real `scheme-host` binary against plugins built
//! from this workspace.

mod catalogue;
mod concurrency;
mod faults;
mod fuzz_replay;
mod grants;
mod plugins;
mod secrets;
mod obs;
mod s3;
mod sandbox;
mod throttling;
mod tls;
mod upload;

pub const BIN: &str = env!("CARGO_BIN_EXE_scheme-host");

pub fn env() -> scheme_host_tests::Env {
    scheme_host_tests::Env::new(BIN)
}
