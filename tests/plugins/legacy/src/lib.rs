//! The fixture plugin built against the frozen storage-scheme 0.1.0 contract: proves a
//! plugin released before 0.1.1 (no `parts`, no `host.crc32`) still runs on this host.

wit_bindgen::generate!({
    path: "wit",
    world: "storage-scheme",
    with: {
        "wasi:http/types@0.2.12": wasip2::http::types,
        "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
    },
});

include!("../../fixture/src/plugin.rs");
