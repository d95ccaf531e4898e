//! Archives that two honest zip readers read differently are refused, by the file extractor
//! and the streaming one alike (in any chunking, whole or in parts); the look-alikes that
//! every reader reads the same way are accepted by both, with the same tree.

mod archive_support;

use archive_support::*;
use scheme_plugin_kit::{Error, ErrorKind, Limits};
use zipcraft::differentials::{differentials, Differential, Verdict};

/// Looks at one way's result: its name, the sandbox it unpacked into, the outcome.
type Check<'a> = dyn FnMut(&str, &Sandbox, Result<(), Error>) + 'a;

/// Every way the kit unpacks a zip: the file extractor, the stream with a small tail (so the
/// end records arrive in more than one request) in several chunkings, and parts.
fn every_way(d: &Differential, check: &mut Check<'_>) {
    let limits = Limits::default();
    let sb = Sandbox::new();
    let r = sb.unzip(&d.bytes, &limits).map(drop);
    check("file", &sb, r);
    for (tail, chunk) in [(1 << 20, 1 << 20), (1 << 20, 1), (40, 7), (100, 4096)] {
        let sb = Sandbox::new();
        let r = stream(&sb, &d.bytes, tail, chunk, &limits).map(drop);
        check(&format!("stream tail {tail} chunk {chunk}"), &sb, r);
    }
    for count in [2, 3] {
        let sb = Sandbox::new();
        let r = stream_parts(&sb, &d.bytes, count, &limits).map(drop);
        check(&format!("{count} parts"), &sb, r);
    }
}

#[test]
fn ambiguous_archives_are_refused_everywhere() {
    let mut seen = 0;
    for d in differentials() {
        let Verdict::Refused(says) = d.verdict else { continue };
        seen += 1;
        every_way(&d, &mut |way, sb, r| {
            let e = r.expect_err(&format!("{} ({way}) must be refused", d.name));
            assert_eq!(e.kind, ErrorKind::UnsafeArchive, "{} ({way}): {e}", d.name);
            assert!(e.message.contains(says), "{} ({way}): {}", d.name, e.message);
            sb.assert_nothing_outside();
            // The file extractor checks everything before it writes; the stream checks each
            // local header as it arrives, after the entries before it (the caller removes
            // the partial target).
            if way == "file" {
                assert!(sb.tree().is_empty(), "{} ({way}) wrote {:?}", d.name, sb.tree());
            }
        });
    }
    assert!(seen >= 15, "only {seen} refused variants");
}

#[test]
fn look_alikes_are_accepted_everywhere() {
    let mut seen = 0;
    for d in differentials() {
        let Verdict::Accepted(files) = &d.verdict else { continue };
        seen += 1;
        let want: Vec<(&str, Node)> = files.iter().map(|(p, data)| (*p, file(data))).collect();
        every_way(&d, &mut |way, sb, r| {
            r.unwrap_or_else(|e| panic!("{} ({way}) must be accepted: {e}", d.name));
            assert_eq!(sb.tree(), expect_tree(&want), "{} ({way})", d.name);
            sb.assert_nothing_outside();
        });
    }
    assert!(seen >= 8, "only {seen} accepted variants");
}

#[test]
fn variant_names_are_unique() {
    let mut names: Vec<_> = differentials().iter().map(|d| d.name).collect();
    let all = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all);
}

/// The entry-count case of the hostile catalogue: a count the directory does not hold.
#[test]
fn a_count_the_directory_does_not_hold_is_refused() {
    let bytes = zip_with(&[Entry::stored("a.py", b"a"), Entry::stored("b.py", b"b")], &Options { count: Some(5), ..Options::default() });
    let d = Differential { name: "entry-count-wrong", about: "", bytes, verdict: Verdict::Refused("declares 5 entries but the central directory holds 2") };
    every_way(&d, &mut |way, _, r| {
        let e = r.expect_err(way);
        assert_eq!(e.kind, ErrorKind::UnsafeArchive, "{way}: {e}");
        assert!(e.message.contains("declares 5 entries but the central directory holds 2"), "{way}: {}", e.message);
    });
}

/// Archives made by the zip crate's own writer, seekable and streamed (which writes data
/// descriptors), read back the same way by both extractors.
#[test]
fn the_zip_crates_writer_passes_the_layout_checks() {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let content = b"def main():\n    return 0\n".repeat(300);
    let seekable = zip_of(&[("pkg/", b"", 0o755), ("pkg/main.py", &content, 0o644)]);
    let mut w = zip::ZipWriter::new_stream(Vec::new());
    for (name, method) in [("pkg/main.py", CompressionMethod::Deflated), ("pkg/raw.bin", CompressionMethod::Stored)] {
        w.start_file(name, SimpleFileOptions::default().compression_method(method)).unwrap();
        w.write_all(&content).unwrap();
    }
    let streamed = w.finish().unwrap().into_inner();
    for (name, bytes) in [("seekable", seekable), ("streamed", streamed)] {
        let d = Differential { name, about: "", bytes, verdict: Verdict::Accepted(Vec::new()) };
        let mut trees = Vec::new();
        every_way(&d, &mut |way, sb, r| {
            r.unwrap_or_else(|e| panic!("{name} ({way}): {e}"));
            trees.push(sb.tree());
        });
        assert!(trees.windows(2).all(|w| w[0] == w[1]), "{name}: the ways disagree");
        assert_eq!(trees[0].get("pkg/main.py"), Some(&file(&content)), "{name}");
    }
}
