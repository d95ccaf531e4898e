//! Builds every plugin the tests load (the OBS plugin and the test plugins) for
//! `wasm32-wasip2`, so `cargo test` needs no manual step. A separate target directory
//! keeps this nested cargo off the outer build's lock.

use std::path::PathBuf;
use std::process::Command;

const PLUGINS: &[(&str, &str)] = &[
    ("obs-plugin", "OBS_PLUGIN_WASM"),
    ("s3-plugin", "S3_PLUGIN_WASM"),
    ("fixture-plugin", "FIXTURE_PLUGIN_WASM"),
    ("hostile-plugin", "HOSTILE_PLUGIN_WASM"),
    ("future-plugin", "FUTURE_PLUGIN_WASM"),
    ("legacy-plugin", "LEGACY_PLUGIN_WASM"),
];

fn main() {
    let tests_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = tests_dir.parent().unwrap().to_path_buf();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("target"));
    let target_dir = if target_dir.is_absolute() { target_dir } else { workspace.join(target_dir) };
    let wasm_dir = target_dir.join("wasm-plugins");

    for watched in ["wit", "guest", "tests/plugins", "Cargo.lock", ".cargo/config.toml"] {
        println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&wasm_dir);
    for (package, _) in PLUGINS {
        cmd.args(["-p", package]);
    }
    // Flags meant for the host build must not leak into the wasm build.
    for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "RUSTC_WORKSPACE_WRAPPER", "CARGO_PRIMARY_PACKAGE"] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo to build the wasm plugins");
    assert!(status.success(), "building the wasm plugins failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`)");

    for (package, var) in PLUGINS {
        let file = wasm_dir.join("wasm32-wasip2/release").join(format!("{}.wasm", package.replace('-', "_")));
        assert!(file.is_file(), "missing {}", file.display());
        println!("cargo:rustc-env={var}={}", file.display());
    }
}
