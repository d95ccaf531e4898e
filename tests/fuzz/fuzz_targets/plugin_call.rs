#![no_main]

use std::path::PathBuf;
use std::sync::Mutex;

use scheme_host_fuzz::plugin_call::{required_env, Harness};

static HARNESS: Mutex<Option<Harness>> = Mutex::new(None);

/// The plugin `cargo test` builds (tests/build.rs); `SCHEME_HOST_FUZZ_OBS_WASM` overrides.
fn obs_wasm() -> PathBuf {
    std::env::var_os("SCHEME_HOST_FUZZ_OBS_WASM").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/wasm-plugins/wasm32-wasip2/release/obs_plugin.wasm")
    })
}

libfuzzer_sys::fuzz_target!(
    init: {
        let root = tempfile::Builder::new().prefix("scheme-host-fuzz").tempdir().unwrap().keep();
        let home = root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        for (k, v) in required_env(&home) {
            // SAFETY: libFuzzer runs `init` on the main thread before the harness starts any
            // thread, so nothing reads the environment concurrently.
            unsafe { std::env::set_var(k, v) };
        }
        *HARNESS.lock().unwrap() = Some(Harness::new(&obs_wasm(), &home));
    },
    |data: &[u8]| {
        HARNESS.lock().unwrap().as_mut().expect("initialised").check(data);
    }
);
