//! Exports `scheme-host:storage-scheme/plugin@0.2.0`, a contract version this host
//! does not implement.

wit_bindgen::generate!({ path: "wit", world: "storage-scheme" });

struct Future;

impl exports::scheme_host::storage_scheme::plugin::Guest for Future {
    fn info() -> String {
        "future".into()
    }
}

export!(Future);
