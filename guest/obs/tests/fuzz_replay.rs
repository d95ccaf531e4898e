//! The OBS plugin's fuzz targets on stable: each replays its saved corpus and regression
//! inputs (tests/fuzz/corpus, tests/fuzz/regressions) and runs a bounded property test.
//! The checks are the fuzz targets' own files, included by path so both run one oracle.

#[path = "../../../tests/fuzz/src/printable.rs"]
mod printable;

#[path = "../../../tests/fuzz/src/saved.rs"]
mod saved;

#[path = "../../../tests/fuzz/src/uri.rs"]
mod uri;

#[path = "../../../tests/fuzz/src/credentials.rs"]
mod credentials;

#[path = "../../../tests/fuzz/src/xml_error.rs"]
mod xml_error;

use std::path::PathBuf;

use proptest::prelude::*;

/// Every saved input of `target`: the minimised corpus and the crashers kept as regressions.
fn saved(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    saved::saved(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fuzz"), target)
}

fn replay(target: &str, check: fn(&[u8])) {
    let inputs = saved(target);
    assert!(!inputs.is_empty(), "no saved inputs for {target}");
    for (path, data) in inputs {
        let r = std::panic::catch_unwind(|| check(&data));
        assert!(r.is_ok(), "{target}: {} fails its check", path.display());
    }
}

#[test]
fn uri_corpus_replays() {
    replay("uri", uri::check);
}

#[test]
fn credentials_corpus_replays() {
    replay("credentials", credentials::check);
}

#[test]
fn xml_error_corpus_replays() {
    replay("xml_error", xml_error::check);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn uri_properties(
        bucket in "[a-z0-9][a-z0-9.-]{1,64}|[A-Za-z0-9_.:@-]{0,10}",
        key in "[ -~]{0,30}|\\PC{0,20}|[\\x00-\\x1f\\u{202e}a-z/]{0,10}",
        ext in prop::sample::select(vec!["", ".zip", ".jar", ".tar.gz", ".tgz", ".tar.xz", ".whl", ".ZIP", ".gz"]),
        scheme in prop::sample::select(vec!["obs://", "OBS://", "obs:/", "s3://"]),
    ) {
        uri::check(format!("{scheme}{bucket}/{key}{ext}").as_bytes());
    }

    #[test]
    fn credentials_properties(
        lines in prop::collection::vec((
            prop::sample::select(vec!["ak", "sk", "token", "endpoint", "AK", "security_token", "[basic]", "[other]", "#", ";"]),
            prop::sample::select(vec!["=", " = ", ":", ""]),
            "[ -~]{0,40}|\\PC{0,12}",
        ), 0..8),
        json in "\\{\"credential\":\\{\"access\":\"[A-Z0-9 ]{0,20}\",\"secret\":\"[a-z0-9 ]{0,20}\"(,\"expires_at\":\"[0-9T:Z.-]{0,30}\")?\\}\\}",
    ) {
        let text: String = lines.iter().map(|(k, sep, v)| format!("{k}{sep}{v}\n")).collect();
        credentials::check(text.as_bytes());
        credentials::check(json.as_bytes());
    }

    #[test]
    fn xml_error_properties(
        status in any::<u16>(),
        flags in any::<u8>(),
        code in "[A-Za-z]{0,20}|AKFUZZ00000000000001",
        message in "[ -~]{0,60}|\\PC{0,20}|[\\x00-\\x1f]{0,4}TOKENfuzzNeverShown0001",
        wrap in any::<bool>(),
    ) {
        let doc = if wrap {
            format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>r-{code}</RequestId></Error>")
        } else {
            message.clone()
        };
        let mut input = status.to_be_bytes().to_vec();
        input.push(flags);
        input.extend_from_slice(doc.as_bytes());
        xml_error::check(&input);
    }
}
