//! Generated bindings for the `storage-scheme-upload` world (with the kit's conversions).

scheme_plugin_kit::plugin_bindings!("../../wit", "scheme-host:storage-scheme/storage-scheme-upload");
