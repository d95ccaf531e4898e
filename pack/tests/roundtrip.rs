//! Pack, then unpack with three readers (the `zip` crate, the scheme plugins' extractor, and
//! the plugins' streaming extractor), and compare with the tree: contents, exec bits,
//! symlinks, empty directories. Also determinism and the packer's refusals.

mod support;

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use scheme_pack::{EntryKind, Error, Packer, Rules};
use scheme_plugin_kit::Limits;
use scheme_plugin_kit::archive::ExtractStats;
use scheme_plugin_kit::archive::zipstream::{Prepared, Tail, ZipStream, prepare};
use scheme_plugin_kit::http::Sink;
use support::{Node, build, exec, expect, file, noise, read_zip, snapshot, stripped, text};

fn pack(dir: &Path, threads: usize) -> (scheme_pack::PackSummary, Vec<u8>) {
    let mut out = Vec::new();
    let summary = Packer::new(dir).threads(threads).pack_to(&mut out).unwrap();
    assert_eq!(summary.bytes_out, out.len() as u64);
    (summary, out)
}

/// The plugins' file-based extractor, followed by what the host does with its result: set
/// the exec bits it reports and strip the top directory (as [`stripped`] checks). Returns
/// the unpacked tree.
fn kit_unzip(bytes: &[u8], dest: &Path) -> std::path::PathBuf {
    fs::create_dir_all(dest).unwrap();
    let stats = scheme_plugin_kit::archive::extract_zip(
        std::io::Cursor::new(bytes),
        dest,
        &Limits::default(),
        &mut |_, _| {},
    )
    .unwrap_or_else(|e| panic!("the plugin extractor refused the package: {e}"));
    host_finish(dest, &stats, bytes)
}

fn host_finish(dest: &Path, stats: &ExtractStats, bytes: &[u8]) -> std::path::PathBuf {
    for path in &stats.executables {
        fs::set_permissions(dest.join(path), fs::Permissions::from_mode(0o755)).unwrap();
    }
    stripped(dest, &read_zip(bytes).0)
}

/// The plugins' streaming extractor, fed the object's tail first and then its body in
/// pieces, as during a download; the unpacked tree.
fn kit_stream(bytes: &[u8], dest: &Path) -> std::path::PathBuf {
    fs::create_dir_all(dest).unwrap();
    let limits = Limits::default();
    let total = bytes.len() as u64;
    let mut start = total.saturating_sub(4096);
    let plan = loop {
        let tail = Tail {
            bytes: &bytes[start as usize..],
            start,
            total,
        };
        match prepare(&tail, &limits).unwrap() {
            Prepared::Plan(p) => break p,
            Prepared::NeedFrom(at) => start = at,
            Prepared::NotStreamable(why) => panic!("not streamable: {why}"),
        }
    };
    let body_end = plan.body_end() as usize;
    let mut progress = |_, _| {};
    let mut s = ZipStream::new(plan, dest, &limits, &mut progress).unwrap();
    for piece in bytes[..body_end].chunks(100_003) {
        if s.write_chunk(piece).is_err() {
            panic!("streaming refused the package: {:?}", s.take_error());
        }
    }
    s.finish().unwrap();
    let stats = s.finish_extract().unwrap();
    host_finish(dest, &stats, bytes)
}

fn sample_tree() -> Vec<(&'static str, Node)> {
    vec![
        ("main.py", file(b"import pkg\nprint(pkg.f())\n")),
        ("run.sh", exec(b"#!/bin/sh\nexec python main.py\n")),
        ("empty.txt", file(b"")),
        ("pkg/__init__.py", file(&text(5000, 1))),
        ("pkg/sub/mod.py", file(&text(300, 2))),
        // Several chunks: streamed with a data descriptor, compressed in parallel.
        ("data/big.txt", file(&text(2 * 1024 * 1024 + 17, 3))),
        ("data/random.bin", file(&noise(1024 * 1024 + 5, 4))),
        ("data/exactly_one_chunk", exec(&text(1024 * 1024, 5))),
        ("data/zeros", file(&vec![0u8; 1024 * 1024 + 1])),
        ("empty_dir", Node::Dir),
        ("nested/a/b/empty", Node::Dir),
        ("links/to_file", Node::Link("../main.py".into())),
        ("links/to_dir", Node::Link("../pkg".into())),
        ("links/dangling", Node::Link("missing".into())),
        ("caf\u{e9}/\u{65e5}\u{672c}.txt", file("unicode".as_bytes())),
    ]
}

#[test]
fn every_reader_gets_the_tree_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    let tree = sample_tree();
    build(&dir, &tree);
    let (summary, bytes) = pack(&dir, 4);
    let want = expect(&tree);

    let (top, got) = read_zip(&bytes);
    assert_eq!(format!("{top}.zip"), summary.name);
    assert_eq!(got, want);
    assert_eq!(summary.files, 10);
    assert_eq!(summary.symlinks, 3);
    assert_eq!(summary.empty_dirs, 2);
    // Zeros are padded up to the unpacker's ratio limit, not stored.
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
    let zeros = z.by_name(&format!("{top}/data/zeros")).unwrap();
    let (size, packed) = (zeros.size(), zeros.compressed_size());
    assert!(
        size <= packed * 1000 && packed < 4 * size / 1000,
        "{size} bytes from {packed}"
    );
    drop(zeros);

    assert_eq!(snapshot(&kit_unzip(&bytes, &tmp.path().join("kit"))), want);
    assert_eq!(
        snapshot(&kit_stream(&bytes, &tmp.path().join("stream"))),
        want
    );
}

#[test]
fn a_single_inner_directory_survives_the_strip() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    let tree = vec![("src/app/main.py", file(b"print(1)\n"))];
    build(&dir, &tree);
    let (_, bytes) = pack(&dir, 2);
    assert_eq!(
        snapshot(&kit_unzip(&bytes, &tmp.path().join("out"))),
        expect(&tree)
    );
}

#[test]
fn an_empty_directory_packs_to_the_top_directory_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    fs::create_dir(&dir).unwrap();
    let (summary, bytes) = pack(&dir, 2);
    let (_, got) = read_zip(&bytes);
    assert!(got.is_empty());
    assert_eq!(summary.files, 0);
    assert!(snapshot(&kit_unzip(&bytes, &tmp.path().join("out"))).is_empty());
}

#[test]
fn bytes_and_name_depend_only_on_content() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    build(&dir, &sample_tree());
    let (s1, b1) = pack(&dir, 1);
    let (s4, b4) = pack(&dir, 4);
    assert_eq!(b1, b4, "thread count does not change the bytes");
    assert_eq!(s1, s4);

    // Same content elsewhere, with other timestamps: same bytes.
    let other = tmp.path().join("elsewhere");
    build(&other, &sample_tree());
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    fs::File::options()
        .write(true)
        .open(other.join("main.py"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let (s_other, b_other) = pack(&other, 3);
    assert_eq!(b_other, b1);
    assert_eq!(s_other.name, s1.name);

    // An exec bit is content.
    fs::set_permissions(other.join("main.py"), fs::Permissions::from_mode(0o755)).unwrap();
    assert_ne!(pack(&other, 2).0.name, s1.name);
    fs::set_permissions(other.join("main.py"), fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(pack(&other, 2).0.name, s1.name);
    // So is one byte.
    let mut data = fs::read(other.join("data/big.txt")).unwrap();
    data[2_000_000] ^= 1;
    fs::write(other.join("data/big.txt"), data).unwrap();
    assert_ne!(pack(&other, 2).0.name, s1.name);
}

#[test]
fn the_plan_names_what_is_packed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    build(
        &dir,
        &[
            ("a.py", file(b"a")),
            ("x.log", file(b"log")),
            ("__pycache__/a.pyc", file(b"pyc")),
            (".git/HEAD", file(b"ref")),
        ],
    );
    let plan = Packer::new(&dir).exclude(["*.log"]).plan().unwrap();
    let paths: Vec<&str> = plan.entries().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["a.py"]);
    assert_eq!(
        plan.entries()[0].kind,
        EntryKind::File {
            size: 1,
            executable: false
        }
    );
    assert_eq!((plan.files(), plan.bytes_in()), (1, 1));
    let summary = plan.pack_to(std::io::sink()).unwrap();
    assert_eq!(summary.name, plan.name());
    assert!(plan.name().starts_with("_ray_pkg_") && plan.name().ends_with(".zip"));
    assert_eq!(
        plan.name(),
        scheme_pack::plan(&dir, ["*.log"]).unwrap().name()
    );
    // With Ray's defaults switched off, .git and __pycache__ come in.
    let rules = Rules::default()
        .with_env(|v| (v == scheme_pack::ENV_OVERRIDE_DEFAULT_EXCLUDES).then(String::new));
    let all = Packer::new(&dir).rules(rules).plan().unwrap();
    assert_eq!(all.entries().len(), 4);
}

#[test]
fn a_file_changed_after_planning_fails_the_packing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    build(
        &dir,
        &[("a.py", file(b"one")), ("big", file(&text(2_500_000, 9)))],
    );
    let plan = Packer::new(&dir).plan().unwrap();
    fs::write(dir.join("a.py"), b"two").unwrap();
    let err = plan.pack_to(std::io::sink()).unwrap_err();
    assert!(matches!(err, Error::Changed { .. }), "{err}");

    let plan = Packer::new(&dir).plan().unwrap();
    let mut data = fs::read(dir.join("big")).unwrap();
    data[1_500_000] ^= 0xFF;
    fs::write(dir.join("big"), data).unwrap();
    let err = plan.pack_to(std::io::sink()).unwrap_err();
    assert!(err.to_string().contains("big"), "{err}");

    let plan = Packer::new(&dir).plan().unwrap();
    fs::remove_file(dir.join("a.py")).unwrap();
    std::os::unix::fs::symlink("big", dir.join("a.py")).unwrap();
    assert!(matches!(
        plan.pack_to(std::io::sink()),
        Err(Error::Changed { .. })
    ));
}

#[test]
fn the_packer_refuses_what_would_not_unpack() {
    let tmp = tempfile::tempdir().unwrap();
    let case = |name: &str, nodes: &[(&str, Node)]| {
        let dir = tmp.path().join(name);
        build(&dir, nodes);
        Packer::new(&dir).plan().map(|p| p.name())
    };
    let err = case("escape", &[("l", Node::Link("../outside".into()))]).unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err}");
    assert!(err.to_string().contains("outside the directory"), "{err}");
    let err = case("abs", &[("l", Node::Link("/etc/passwd".into()))]).unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err}");
    let err = case("backslash", &[("a\\b.py", file(b""))]).unwrap_err();
    assert!(matches!(err, Error::UnpackableName { .. }), "{err}");
    let err = case(
        "nfc",
        &[("caf\u{e9}", file(b"1")), ("cafe\u{301}", file(b"2"))],
    )
    .unwrap_err();
    assert!(matches!(err, Error::NfcCollision { .. }), "{err}");
    let err = case(
        "root",
        &[(".gitignore", file(b".*\n")), ("a.py", file(b""))],
    )
    .unwrap_err();
    assert!(matches!(err, Error::RootExcluded { .. }), "{err}");
    assert!(err.to_string().contains("`.*`"), "{err}");
    let err = Packer::new(tmp.path().join("nowhere")).plan().unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    let f = tmp.path().join("plain");
    fs::write(&f, b"").unwrap();
    assert!(matches!(
        Packer::new(&f).plan(),
        Err(Error::NotADirectory { .. })
    ));
}

#[test]
fn packages_the_unpacker_would_refuse_fail_at_planning() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    // 64 levels in the zip with the top directory: the default limit.
    let deep = vec!["d"; 62].join("/") + "/f.py";
    build(
        &dir,
        &[(deep.as_str(), file(b"x")), ("a.py", file(b"1234"))],
    );
    assert!(Packer::new(&dir).plan().is_ok());
    let deeper = vec!["d"; 63].join("/") + "/f.py";
    build(&dir, &[(deeper.as_str(), file(b"x"))]);
    let err = Packer::new(&dir).plan().unwrap_err();
    assert!(matches!(err, Error::OverLimit(_)), "{err}");
    assert!(err.to_string().contains("65 levels"), "{err}");
    let relaxed = scheme_pack::Limits {
        max_path_depth: 100,
        ..Default::default()
    };
    assert!(Packer::new(&dir).unpack_limits(relaxed).plan().is_ok());
    for limits in [
        scheme_pack::Limits {
            max_entries: 3,
            ..relaxed
        },
        scheme_pack::Limits {
            max_unpacked_bytes: 5,
            ..relaxed
        },
        scheme_pack::Limits {
            max_path_bytes: 80,
            ..relaxed
        },
    ] {
        let err = Packer::new(&dir).unpack_limits(limits).plan().unwrap_err();
        assert!(matches!(err, Error::OverLimit(_)), "{limits:?}: {err}");
    }
}

#[test]
fn absolute_links_inside_are_made_relative() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    build(&dir, &[("conf/app.yml", file(b"a: 1\n"))]);
    std::os::unix::fs::symlink(dir.join("conf/app.yml"), dir.join("app.yml")).unwrap();
    let (_, bytes) = pack(&dir, 2);
    let (_, got) = read_zip(&bytes);
    assert_eq!(got["app.yml"], Node::Link("conf/app.yml".into()));
    let out = kit_unzip(&bytes, &tmp.path().join("out"));
    assert_eq!(fs::read(out.join("app.yml")).unwrap(), b"a: 1\n");
}

#[test]
fn odd_names_and_special_files() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    build(&dir, &[("a.py", file(b"a"))]);
    let bad = dir.join(std::ffi::OsStr::from_bytes(b"\xffname.bin"));
    fs::write(&bad, b"x").unwrap();
    let err = Packer::new(&dir).plan().unwrap_err();
    assert!(matches!(err, Error::NonUtf8Name { .. }), "{err}");
    assert!(
        err.to_string().contains("\\xff"),
        "escaped in the message: {err}"
    );
    // Excluded, it is no problem (as in Ray).
    let plan = Packer::new(&dir).exclude(["*.bin"]).plan().unwrap();
    assert_eq!(plan.entries().len(), 1);
    fs::remove_file(&bad).unwrap();

    let fifo = dir.join("pipe");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let plan = Packer::new(&dir).plan().unwrap();
    assert_eq!(plan.skipped(), ["pipe"]);
    assert_eq!(plan.entries().len(), 1);
}

/// A file past 4 GiB (sparse, so it costs no disk): ZIP64 in the local header, an 8-byte
/// data descriptor and ZIP64 central fields. Minutes in a debug build, about a minute in
/// release: `cargo test --release -p scheme-pack --test roundtrip -- --ignored`.
#[test]
#[ignore]
fn a_file_past_4_gib_is_zip64() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    build(&dir, &[("small.py", file(b"x = 1\n"))]);
    let size = (4u64 << 30) + 12_345;
    let big = fs::File::create(dir.join("big.bin")).unwrap();
    big.set_len(size).unwrap();
    use std::os::unix::fs::FileExt;
    big.write_all_at(b"marker", size - 6).unwrap();
    drop(big);
    let zip_path = tmp.path().join("out.zip");
    let summary = Packer::new(&dir)
        .pack_to(fs::File::create(&zip_path).unwrap())
        .unwrap();
    assert_eq!(summary.bytes_in, size + 6);
    assert!(
        summary.bytes_out < 8 << 20,
        "zeros compress: {}",
        summary.bytes_out
    );

    let mut z = zip::ZipArchive::new(fs::File::open(&zip_path).unwrap()).unwrap();
    let top = summary.name.trim_end_matches(".zip");
    let mut f = z.by_name(&format!("{top}/big.bin")).unwrap();
    assert_eq!(f.size(), size);
    // Reading to the end checks the CRC-32 against the central directory.
    let mut tail = [0u8; 6];
    let skipped = std::io::copy(&mut (&mut f).take(size - 6), &mut std::io::sink()).unwrap();
    assert_eq!(skipped, size - 6);
    f.read_exact(&mut tail).unwrap();
    assert_eq!(&tail, b"marker");
    assert_eq!(f.read(&mut [0u8; 1]).unwrap(), 0);
    drop(f);
    let mut small = String::new();
    z.by_name(&format!("{top}/small.py"))
        .unwrap()
        .read_to_string(&mut small)
        .unwrap();
    assert_eq!(small, "x = 1\n");

    // The plugins' extractor checks every local header and data descriptor against the
    // central directory, then writes the 4 GiB.
    let out = kit_unzip(&fs::read(&zip_path).unwrap(), &tmp.path().join("out"));
    let unpacked = fs::File::open(out.join("big.bin")).unwrap();
    assert_eq!(unpacked.metadata().unwrap().len(), size);
    let mut marker = [0u8; 6];
    unpacked.read_exact_at(&mut marker, size - 6).unwrap();
    assert_eq!(&marker, b"marker");
}

#[test]
fn the_parent_directory_is_kept_when_asked_and_changes_the_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mymod");
    build(&dir, &sample_tree());
    let (plain, _) = pack(&dir, 2);
    let mut bytes = Vec::new();
    let kept = Packer::new(&dir).include_parent_dir(true).pack_to(&mut bytes).unwrap();
    assert_ne!(plain.name, kept.name, "the two layouts must not share a name");

    // After Ray's strip of the top directory, `mymod/` holds exactly the tree.
    let out = kit_unzip(&bytes, &tmp.path().join("out"));
    let mut top: Vec<String> = fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    top.sort();
    assert_eq!(top, ["mymod"]);
    assert_eq!(snapshot(&out.join("mymod")), expect(&sample_tree()));

    // Same content under another directory name: another package.
    let other = tmp.path().join("othermod");
    build(&other, &sample_tree());
    let renamed = Packer::new(&other).include_parent_dir(true).pack_to(std::io::sink()).unwrap();
    assert_ne!(renamed.name, kept.name);
    assert_eq!(Packer::new(&other).include_parent_dir(true).plan().unwrap().parent_dir(), Some("othermod"));
}
