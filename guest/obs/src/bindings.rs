//! Generated bindings for the `storage-scheme-parts` world. The WASI interfaces map onto the
//! `wasip2` crate so the kit's HTTP transport and these bindings share one set of types.

wit_bindgen::generate!({
    path: "../../wit",
    world: "scheme-host:storage-scheme/storage-scheme-parts",
    with: {
        "wasi:http/types@0.2.12": wasip2::http::types,
        "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
    },
    pub_export_macro: true,
});
