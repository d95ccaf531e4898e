//! The archive fuzz target on stable: replays the saved corpus and regression inputs
//! (tests/fuzz/corpus/archive, tests/fuzz/regressions/archive) and runs a bounded property
//! test. The check is the fuzz target's own file, included by path.

#[path = "../../../tests/fuzz/src/printable.rs"]
mod printable;

#[path = "../../../tests/fuzz/src/links.rs"]
mod links;

#[path = "../../../tests/fuzz/src/saved.rs"]
mod saved;

#[path = "../../../tests/fuzz/src/archive.rs"]
mod archive;

use std::path::PathBuf;

use proptest::prelude::*;

fn saved() -> Vec<(PathBuf, Vec<u8>)> {
    saved::saved(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fuzz"), "archive")
}

#[test]
fn archive_corpus_replays() {
    let inputs = saved();
    assert!(!inputs.is_empty(), "no saved archive inputs");
    for (path, data) in inputs {
        let r = std::panic::catch_unwind(|| archive::check(&data));
        assert!(r.is_ok(), "{} fails its check", path.display());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// Seeds from the corpus with a few bytes changed reach deeper than random bytes.
    #[test]
    fn mutated_corpus_inputs_keep_every_promise(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let seeds = saved();
        let mut data = seeds[pick.index(seeds.len())].1.clone();
        for (at, value) in edits {
            let i = at.index(data.len());
            // Byte 0 picks the format; keep it so the mutation lands in the archive.
            if i > 0 {
                data[i] = value;
            }
        }
        archive::check(&data);
    }

    #[test]
    fn random_bytes_keep_every_promise(mode in 0u8..4, body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let mut data = vec![mode];
        data.extend_from_slice(&body);
        archive::check(&data);
    }
}
