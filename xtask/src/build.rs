//! Building what the commands run.

use crate::util::{cargo, run};
use anyhow::Result;

/// The one native build every command shares: the workspace's tests with their
/// dev-dependencies. A narrower `cargo build -p scheme-host` resolves other features for
/// shared crates (syn, memchr, ...) and would compile wasmtime a second time, so `dist`,
/// `demo` and `bench` build this same selection and `test` then only runs it. Its build
/// script (tests/build.rs) builds every plugin to wasm into `wasm_plugin_dir()`.
pub fn build_workspace() -> Result<()> {
    crate::prereq::ensure_wasm_target()?;
    run(cargo().args(["test", "--release", "--workspace", "--no-run"]))
}
