//! The packer against Ray 2.60 itself: for each tree, the list of files and empty
//! directories (with exec bits) Ray's own packing produces (`tests/ray_pack.py`) must equal
//! the plan's; and Ray's own unpacking of our zip must give back the tree.
//!
//! Python with Ray 2.60.0: `<repo>/.venv/bin/python` first (what `cargo xtask` sets up), then
//! `$PYTHON`. Without one the tests say so on stderr and skip; with
//! `SCHEME_PACK_REQUIRE_RAY=1` they fail instead.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use scheme_pack::{Error, Packer, Rules};
use serde_json::{Value, json};
use support::{Node, build, exec, file, snapshot, text};

const RAY_VERSION: &str = "2.60.0";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ray_pack.py")
}

/// The Python to use, or why there is none.
fn ray_python() -> Result<PathBuf, String> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let mut candidates = Vec::new();
    if venv.exists() {
        candidates.push(venv);
    }
    if let Some(p) = std::env::var_os("PYTHON") {
        candidates.push(PathBuf::from(p));
    }
    if candidates.is_empty() {
        return Err("no <repo>/.venv/bin/python and no PYTHON set".to_string());
    }
    let mut reasons = Vec::new();
    for python in candidates {
        match Command::new(&python)
            .args(["-c", "import ray; print(ray.__version__)"])
            .output()
        {
            Ok(o) if o.status.success() => {
                let version = String::from_utf8_lossy(&o.stdout).trim().to_string();
                if version == RAY_VERSION {
                    return Ok(python);
                }
                reasons.push(format!(
                    "{} has Ray {version}, not {RAY_VERSION}",
                    python.display()
                ));
            }
            Ok(_) => reasons.push(format!("{} cannot import ray", python.display())),
            Err(e) => reasons.push(format!("{} does not run: {e}", python.display())),
        }
    }
    Err(reasons.join("; "))
}

/// The Python, or `None` after saying why on the real stderr (not captured by the test
/// harness, so a skip is always visible).
fn ray_or_skip(test: &str) -> Option<PathBuf> {
    match ray_python() {
        Ok(p) => Some(p),
        Err(why) if std::env::var("SCHEME_PACK_REQUIRE_RAY").as_deref() == Ok("1") => {
            panic!("SCHEME_PACK_REQUIRE_RAY=1 but {why}")
        }
        Err(why) => {
            let msg = format!("SKIPPED {test}: no Python with Ray {RAY_VERSION} ({why})\n");
            let _ = std::io::stderr().write_all(msg.as_bytes());
            None
        }
    }
}

fn batch(python: &Path, requests: &[Value]) -> Vec<Value> {
    let mut child = Command::new(python)
        .arg(script())
        .arg("batch")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_vec(requests).unwrap().as_slice())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ray_pack.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `path` -> (is an empty directory, exec bit; false for directories).
type Listing = BTreeMap<String, (bool, bool)>;

fn ray_listing(result: &Value) -> Result<Listing, String> {
    if let Some(e) = result.get("error") {
        return Err(e.as_str().unwrap_or_default().to_string());
    }
    assert_eq!(result["ray"], RAY_VERSION);
    Ok(result["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let dir = e["dir"].as_bool().unwrap();
            (
                e["path"].as_str().unwrap().to_string(),
                (dir, !dir && e["exec"].as_bool().unwrap()),
            )
        })
        .collect())
}

fn our_listing(dir: &Path, excludes: &[&str], env: &[(&str, &str)]) -> Result<Listing, Error> {
    let rules = Rules::default().with_env(|name| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    });
    let plan = Packer::new(dir)
        .rules(rules)
        .exclude(excludes.iter().copied())
        .threads(2)
        .plan()?;
    Ok(plan
        .entries()
        .iter()
        .map(|e| {
            let v = match e.kind {
                scheme_pack::EntryKind::File { executable, .. } => (false, executable),
                scheme_pack::EntryKind::EmptyDir => (true, false),
                scheme_pack::EntryKind::Symlink { .. } => panic!("no symlinks in these trees"),
            };
            (e.path.clone(), v)
        })
        .collect())
}

struct Case {
    name: &'static str,
    tree: Vec<(&'static str, Node)>,
    excludes: Vec<&'static str>,
    env: Vec<(&'static str, &'static str)>,
    /// Paths both must pack (a check that the case exercises what it claims).
    packed: Vec<&'static str>,
    /// Paths both must leave out.
    left_out: Vec<&'static str>,
}

fn case(name: &'static str, tree: Vec<(&'static str, Node)>) -> Case {
    Case {
        name,
        tree,
        excludes: vec![],
        env: vec![],
        packed: vec![],
        left_out: vec![],
    }
}

fn cases() -> Vec<Case> {
    let py = || file(b"print('hi')\n");
    vec![
        Case {
            excludes: vec!["*.tmp", "secret.txt"],
            packed: vec![".gitignore", ".rayignore", "run.sh", "pkg/sub/mod.py", "empty", "pkg/sub/.gitignore"],
            left_out: vec![
                ".git/HEAD",
                "__pycache__/a.pyc",
                "pkg/__pycache__/b.pyc",
                "venv/bin/python",
                ".venv/lib/x.py",
                "x.tmp",
                "secret.txt",
                "app.log",
                "build/out.o",
                "pkg/sub/generated.py",
                "notes.md",
            ],
            ..case(
                "nested ignore files, excludes and Ray's defaults",
                vec![
                    (".gitignore", file(b"*.log\nbuild/\n")),
                    (".rayignore", file(b"notes.md\n")),
                    ("main.py", py()),
                    ("run.sh", exec(b"#!/bin/sh\npython main.py\n")),
                    ("app.log", file(b"log")),
                    ("build/out.o", file(b"o")),
                    ("x.tmp", file(b"t")),
                    ("secret.txt", file(b"s")),
                    ("notes.md", file(b"n")),
                    ("empty", Node::Dir),
                    ("pkg/__init__.py", py()),
                    ("pkg/sub/mod.py", exec(&text(2000, 1))),
                    ("pkg/sub/.gitignore", file(b"generated.py\n")),
                    ("pkg/sub/generated.py", py()),
                    ("pkg/__pycache__/b.pyc", file(b"pyc")),
                    ("__pycache__/a.pyc", file(b"pyc")),
                    (".git/HEAD", file(b"ref: refs/heads/main\n")),
                    (".git/objects/ab/cdef", file(b"obj")),
                    ("venv/bin/python", exec(b"")),
                    (".venv/lib/x.py", py()),
                ],
            )
        },
        Case {
            packed: vec!["src/app/main.py", "src/app/run.sh"],
            ..case(
                "a single inner directory",
                vec![("src/app/main.py", py()), ("src/app/run.sh", exec(b"#!/bin/sh\n"))],
            )
        },
        Case {
            packed: vec!["build", "foo/keep.txt", "a.log_keep", "venvx/a"],
            left_out: vec!["foo/drop.txt", "a.log/x", "hidden/h.py", "venv/x"],
            excludes: vec!["!venv"],
            ..case(
                "pathspec quirks Ray inherits",
                vec![
                    // `build/` never matches the (empty) directory itself.
                    (".gitignore", file(b"build/\nfoo/\n!foo/keep.txt\n*.log\n")),
                    ("build", Node::Dir),
                    ("foo/keep.txt", file(b"k")),
                    ("foo/drop.txt", file(b"d")),
                    ("a.log/x", file(b"x")),
                    ("a.log_keep", file(b"x")),
                    // `.*` in a directory's own .rayignore matches `.`: the whole directory.
                    ("hidden/.rayignore", file(b".*\n")),
                    ("hidden/h.py", py()),
                    // A user negation cannot bring back what is below a default exclude.
                    ("venv/x", file(b"x")),
                    ("venvx/a", file(b"a")),
                ],
            )
        },
        Case {
            packed: vec!["deep/z/q.dat", "b/keep.txt", "#keep", "x/a/c/b.txt", "xy.txt", "x/anchored.txt"],
            left_out: vec![
                "#hash",
                "anchored.txt",
                "deep/q.dat",
                "ay.txt",
                "hash#",
                "spaced.txt",
                "a/b.txt",
                "a/x/y/b.txt",
                "crlf.txt",
                "b/drop.txt",
            ],
            ..case(
                "pattern forms",
                vec![
                    (
                        ".gitignore",
                        file(
                            b"#keep\n/anchored.txt\ndeep/*.dat\n[!x]y.txt\n\\#hash\nhash#\n  spaced.txt  \r\n\
                              a/**/b.txt\ncrlf.txt\r\n",
                        ),
                    ),
                    ("anchored.txt", file(b"")),
                    ("x/anchored.txt", file(b"")),
                    ("deep/q.dat", file(b"")),
                    ("deep/z/q.dat", file(b"")),
                    ("ay.txt", file(b"")),
                    ("xy.txt", file(b"")),
                    ("#hash", file(b"")),
                    ("#keep", file(b"")),
                    ("hash#", file(b"")),
                    ("spaced.txt", file(b"")),
                    ("a/b.txt", file(b"")),
                    ("a/x/y/b.txt", file(b"")),
                    ("x/a/c/b.txt", file(b"")),
                    ("crlf.txt", file(b"")),
                    // The parent's exclusion wins over a nested negation (Ray ORs the files).
                    ("b/.gitignore", file(b"!drop.txt\n")),
                    ("b/drop.txt", file(b"")),
                    ("b/keep.txt", file(b"")),
                    ("b/.rayignore", file(b"nothing\n")),
                    (".rayignore", file(b"b/drop.txt\n")),
                ],
            )
        },
        Case {
            env: vec![("RAY_RUNTIME_ENV_IGNORE_GITIGNORE", "1")],
            packed: vec!["a.log", "main.py"],
            left_out: vec!["b.tmp"],
            ..case(
                "RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1",
                vec![
                    (".gitignore", file(b"*.log\n")),
                    (".rayignore", file(b"*.tmp\n")),
                    ("a.log", file(b"")),
                    ("b.tmp", file(b"")),
                    ("main.py", py()),
                ],
            )
        },
        Case {
            env: vec![("RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES", " venv ,")],
            packed: vec![".git/HEAD", "__pycache__/a.pyc"],
            left_out: vec!["venv/a"],
            ..case(
                "RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES",
                vec![
                    (".git/HEAD", file(b"")),
                    ("__pycache__/a.pyc", file(b"")),
                    ("venv/a", file(b"")),
                ],
            )
        },
        Case {
            // `?` and `*` count characters, not bytes.
            excludes: vec!["*.bin", "\u{65e5}*/\u{8a9e}.txt", "caf?.pyc"],
            packed: vec!["caf\u{e9}.py", "\u{65e5}\u{672c}/keep.py"],
            left_out: vec!["caf\u{e9}.pyc", "\u{65e5}\u{672c}/\u{8a9e}.txt", "x.bin"],
            ..case(
                "unicode names",
                vec![
                    ("caf\u{e9}.py", py()),
                    ("caf\u{e9}.pyc", py()),
                    ("\u{65e5}\u{672c}/\u{8a9e}.txt", file(b"")),
                    ("\u{65e5}\u{672c}/keep.py", py()),
                    ("x.bin", file(b"")),
                ],
            )
        },
        Case {
            packed: vec!["d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/leaf.py"],
            left_out: vec!["d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/leaf.pyc"],
            ..case(
                "a deep tree",
                vec![
                    ("d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/leaf.py", py()),
                    ("d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/leaf.pyc", py()),
                    ("d/e/f/g/h/i/j/.gitignore", file(b"*.pyc\n")),
                ],
            )
        },
    ]
}

#[test]
fn file_lists_match_ray() {
    let Some(python) = ray_or_skip("file_lists_match_ray") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let cases = cases();
    let mut requests = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("case{i}"));
        build(&dir, &c.tree);
        let env: serde_json::Map<String, Value> = c
            .env
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        requests.push(json!({"op": "list", "dir": dir, "excludes": c.excludes, "env": env}));
    }
    // Special files: Ray's packing and the packer both skip a fifo, and a directory holding
    // only one disappears. (Ray's content hash, run before packing, blocks forever on a
    // fifo, so this case runs Ray's packing step alone.)
    let special = tmp.path().join("special");
    build(&special, &[("a.py", file(b""))]);
    for fifo in ["pipe", "only/pipe"] {
        fs::create_dir_all(special.join(fifo).parent().unwrap()).unwrap();
        let c = std::ffi::CString::new(special.join(fifo).to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    }
    requests.push(json!({"op": "list-without-hash", "dir": special, "excludes": [], "env": {}}));
    // A name that is not UTF-8 is fine for both once excluded.
    let odd = tmp.path().join("odd");
    build(&odd, &[("a.py", file(b""))]);
    {
        use std::os::unix::ffi::OsStrExt;
        fs::write(odd.join(std::ffi::OsStr::from_bytes(b"\xffname.bin")), b"").unwrap();
    }
    requests.push(json!({"op": "list", "dir": odd, "excludes": ["*.bin"], "env": {}}));

    let results = batch(&python, &requests);
    let mut report = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("case{i}"));
        let ray =
            ray_listing(&results[i]).unwrap_or_else(|e| panic!("{}: Ray failed: {e}", c.name));
        let ours =
            our_listing(&dir, &c.excludes, &c.env).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(
            ours, ray,
            "case `{}`: ours (left) against Ray 2.60 (right)",
            c.name
        );
        for p in &c.packed {
            assert!(
                ray.contains_key(*p),
                "case `{}`: expected `{p}` packed",
                c.name
            );
        }
        for p in &c.left_out {
            assert!(
                !ray.contains_key(*p),
                "case `{}`: expected `{p}` left out",
                c.name
            );
        }
        report.push(format!("{} ({} entries)", c.name, ray.len()));
    }
    let n = cases.len();
    let ray_special = ray_listing(&results[n]).unwrap();
    assert_eq!(our_listing(&special, &[], &[]).unwrap(), ray_special);
    assert_eq!(ray_special.keys().collect::<Vec<_>>(), ["a.py"]);
    let ray_odd = ray_listing(&results[n + 1]).unwrap();
    assert_eq!(our_listing(&odd, &["*.bin"], &[]).unwrap(), ray_odd);
    report.push(format!("fifos ({} entries)", ray_special.len()));
    report.push(format!(
        "an excluded non-UTF-8 name ({} entries)",
        ray_odd.len()
    ));
    let msg = format!(
        "ray_differential: {} trees match Ray {RAY_VERSION}: {}\n",
        n + 2,
        report.join("; ")
    );
    let _ = std::io::stderr().write_all(msg.as_bytes());
}

#[test]
fn deliberate_differences_from_ray() {
    let Some(python) = ray_or_skip("deliberate_differences_from_ray") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // `.*` in the top .gitignore matches the directory itself: Ray packs nothing; the packer
    // says why instead.
    let root = tmp.path().join("root");
    build(
        &root,
        &[(".gitignore", file(b".*\n")), ("main.py", file(b""))],
    );
    // A name that is not UTF-8 and not excluded: both refuse (Ray with a misleading "must be
    // an existing directory", as its hash's UnicodeEncodeError is a ValueError).
    let odd = tmp.path().join("odd");
    build(&odd, &[("a.py", file(b""))]);
    {
        use std::os::unix::ffi::OsStrExt;
        fs::write(odd.join(std::ffi::OsStr::from_bytes(b"\xffname.bin")), b"").unwrap();
    }
    let results = batch(
        &python,
        &[
            json!({"op": "list", "dir": root, "excludes": [], "env": {}}),
            json!({"op": "list", "dir": odd, "excludes": [], "env": {}}),
        ],
    );
    assert_eq!(
        ray_listing(&results[0]).unwrap(),
        Listing::new(),
        "Ray packs nothing"
    );
    assert!(matches!(
        our_listing(&root, &[], &[]),
        Err(Error::RootExcluded { .. })
    ));
    assert!(ray_listing(&results[1]).is_err());
    assert!(matches!(
        our_listing(&odd, &[], &[]),
        Err(Error::NonUtf8Name { .. })
    ));
}

#[test]
fn ray_unpacks_our_zip_to_the_tree() {
    let Some(python) = ray_or_skip("ray_unpacks_our_zip_to_the_tree") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let trees: Vec<Vec<(&str, Node)>> = vec![
        vec![
            ("main.py", file(b"print(1)\n")),
            ("run.sh", exec(b"#!/bin/sh\n")),
            ("empty", Node::Dir),
            ("pkg/a/b.py", file(&text(1_500_000, 7))),
            ("pkg/zero", file(b"")),
            // Padded deflate (see src/deflate.rs) for Python's zlib.
            ("pkg/zeros.bin", file(&vec![0u8; 3_000_000])),
        ],
        // One inner directory: Ray strips only our top directory, not this one.
        vec![
            ("src/main.py", file(b"x")),
            ("src/lib/run.sh", exec(b"#!/bin/sh\n")),
        ],
        vec![("only_dir", Node::Dir)],
    ];
    let mut requests = Vec::new();
    for (i, tree) in trees.iter().enumerate() {
        let dir = tmp.path().join(format!("tree{i}"));
        build(&dir, tree);
        let zip = tmp.path().join(format!("tree{i}.zip"));
        Packer::new(&dir)
            .threads(2)
            .pack_to(fs::File::create(&zip).unwrap())
            .unwrap();
        requests
            .push(json!({"op": "unpack", "zip": zip, "dest": tmp.path().join(format!("out{i}"))}));
    }
    let results = batch(&python, &requests);
    for (i, tree) in trees.iter().enumerate() {
        assert!(results[i].get("error").is_none(), "{}", results[i]);
        assert_eq!(
            snapshot(&tmp.path().join(format!("out{i}"))),
            support::expect(tree),
            "tree {i}"
        );
    }
}
