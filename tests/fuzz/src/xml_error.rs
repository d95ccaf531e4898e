//! Fuzz check: OBS error documents and the user-facing error built from any response.
//! Shared with the stable replay in guest/obs/tests.

use obs_plugin::error::{obs_error, parse_error_doc};
use scheme_plugin_kit::http::Headers;
use scheme_plugin_kit::ErrorKind;

use super::printable::assert_printable;

/// Strings a hostile server may echo back; no message may contain them.
const ACCESS_KEY: &str = "AKFUZZ00000000000001";
const TOKEN: &str = "TOKENfuzzNeverShown0001";

/// `data`: two bytes of status, one byte of flags, then the body.
pub fn check(data: &[u8]) {
    if let Some(doc) = parse_error_doc(data) {
        for f in [&doc.code, &doc.message, &doc.request_id, &doc.host_id, &doc.resource].into_iter().flatten() {
            assert!(f.chars().count() <= 512, "field longer than the cap: {} chars", f.chars().count());
            assert_eq!(f.trim(), f.as_str());
            assert!(!f.is_empty());
        }
    }
    let (status, flags, body) = match data {
        [a, b, f, rest @ ..] => (u16::from_be_bytes([*a, *b]) % 600, *f, rest),
        _ => (500, 0, data),
    };
    let mut headers = Headers::new();
    if flags & 1 != 0 {
        headers.push("x-obs-request-id", body.get(..24).unwrap_or(body).to_vec());
    }
    if flags & 2 != 0 {
        headers.push("x-obs-error-code", body.iter().rev().take(16).copied().collect::<Vec<u8>>());
    }
    let anonymous = flags & 4 != 0;
    let e = obs_error(status, &headers, body, anonymous, &[ACCESS_KEY, TOKEN]);
    assert_eq!(e.http_status, Some(status));
    for text in [Some(&e.message), e.store_code.as_ref(), e.request_id.as_ref()].into_iter().flatten() {
        assert_printable(text);
        assert!(!text.contains(ACCESS_KEY) && !text.contains(TOKEN), "a secret reached the error: {text}");
    }
    if e.store_code.is_none() {
        let want = match status {
            404 => Some(ErrorKind::NotFound),
            403 => Some(ErrorKind::AccessDenied),
            500..=599 => Some(ErrorKind::Network),
            _ => None,
        };
        if let Some(want) = want {
            assert_eq!(e.kind, want, "status {status} without a code: {}", e.message);
        }
    }
}
