//! What other zip readers make of the archives of `zipcraft::differentials`: CPython's
//! `zipfile` (list, then read every member), Info-ZIP `unzip -l` and `unzip -t`, the zip
//! crate's `ZipArchive` (what a Rust tool built on it lists) and its streaming reader
//! `read_zipfile_from_stream` (what readers that walk local headers see). These are oracles,
//! recorded as assertions, not dependencies of the product: they show that every archive
//! the kit refuses is read two ways by tools a reviewer might use, and that no two of them
//! list different files for the look-alikes the kit accepts.
//!
//! Recorded with CPython 3.11 and UnZip 6.00 (Debian). A reader that is absent is skipped
//! with a printed reason; a version that reads an archive differently fails the test, whose
//! table then needs the new reading.

use std::io::{Cursor, Read};
use std::path::Path;
use std::process::Command;

use zipcraft::differentials::{differentials, Verdict};

/// One reader's view: the names it lists (after reading every member), or its refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reading {
    Lists(Vec<String>),
    Refuses(String),
}

/// What each reader does with one archive. Refusals are matched by prefix.
struct Seen {
    name: &'static str,
    python: &'static str,
    /// `unzip -l`: exit status and the names listed.
    unzip_list: (i32, &'static [&'static str]),
    /// `unzip -t`: exit status (0 fine, 1 warnings, 2 and up errors).
    unzip_test: i32,
    zip_crate: &'static str,
    zip_stream: &'static str,
}

const SEEN: &[Seen] = &[
    Seen { name: "eocd-hidden-in-comment", python: "refuses BadZipFile: Bad magic number for central directory", unzip_list: (3, &[]), unzip_test: 3, zip_crate: "lists hidden.py", zip_stream: "lists a.py hidden.py" },
    Seen { name: "eocd-after-comment", python: "refuses BadZipFile: Bad magic number for central directory", unzip_list: (3, &[]), unzip_test: 3, zip_crate: "lists hidden.py", zip_stream: "lists a.py hidden.py" },
    Seen { name: "eocd-empty-in-comment", python: "lists", unzip_list: (1, &[]), unzip_test: 1, zip_crate: "lists", zip_stream: "lists a.py" },
    Seen { name: "two-end-records", python: "lists b.py", unzip_list: (1, &["b.py"]), unzip_test: 1, zip_crate: "lists b.py", zip_stream: "lists a.py" },
    Seen { name: "zip64-count-disagrees", python: "lists a.py b.py", unzip_list: (3, &[]), unzip_test: 3, zip_crate: "refuses", zip_stream: "lists a.py b.py" },
    Seen { name: "zip64-offset-disagrees", python: "refuses BadZipFile: Bad magic number for file header", unzip_list: (3, &[]), unzip_test: 3, zip_crate: "refuses", zip_stream: "lists a.py b.py" },
    Seen { name: "zip64-locator-wrong", python: "lists a.py b.py", unzip_list: (0, &["a.py", "b.py"]), unzip_test: 0, zip_crate: "refuses", zip_stream: "lists a.py b.py" },
    Seen { name: "directory-holds-more", python: "lists a.py b.py", unzip_list: (3, &[]), unzip_test: 3, zip_crate: "lists a.py", zip_stream: "lists a.py b.py" },
    Seen { name: "directory-size-wrong", python: "refuses BadZipFile: Bad magic number for central directory", unzip_list: (2, &["a.py", "b.py"]), unzip_test: 2, zip_crate: "lists a.py b.py", zip_stream: "lists a.py b.py" },
    Seen { name: "local-name-differs", python: "refuses BadZipFile: File name in directory 'a.py' and header b'evil.py' differ", unzip_list: (0, &["a.py", "b.py"]), unzip_test: 1, zip_crate: "lists a.py b.py", zip_stream: "lists evil.py b.py" },
    Seen { name: "local-method-differs", python: "lists a.py", unzip_list: (0, &["a.py"]), unzip_test: 2, zip_crate: "lists a.py", zip_stream: "refuses" },
    Seen { name: "local-flags-differ", python: "refuses BadZipFile: File name in directory", unzip_list: (0, &["café.py"]), unzip_test: 1, zip_crate: "lists café.py", zip_stream: "lists café.py" },
    Seen { name: "local-crc-differs", python: "lists a.py", unzip_list: (0, &["a.py"]), unzip_test: 2, zip_crate: "lists a.py", zip_stream: "refuses" },
    Seen { name: "local-size-differs", python: "lists a.py b.py", unzip_list: (0, &["a.py", "b.py"]), unzip_test: 2, zip_crate: "lists a.py b.py", zip_stream: "refuses" },
    Seen { name: "descriptor-differs", python: "lists a.py b.py", unzip_list: (0, &["a.py", "b.py"]), unzip_test: 0, zip_crate: "lists a.py b.py", zip_stream: "refuses" },
    Seen { name: "descriptor-missing", python: "lists a.py", unzip_list: (0, &["a.py"]), unzip_test: 12, zip_crate: "lists a.py", zip_stream: "refuses" },
    Seen { name: "local-header-runs-into-next", python: "refuses EOFError", unzip_list: (0, &["a.py", "b.py"]), unzip_test: 12, zip_crate: "refuses", zip_stream: "refuses" },
    Seen { name: "unlisted-local-header", python: "lists a.py b.py", unzip_list: (0, &["a.py", "b.py"]), unzip_test: 0, zip_crate: "lists a.py b.py", zip_stream: "lists a.py hidden.py b.py" },
    Seen { name: "unicode-path-renames", python: "lists a.py b.py", unzip_list: (0, &["evil.py", "b.py"]), unzip_test: 0, zip_crate: "lists evil.py b.py", zip_stream: "lists evil.py b.py" },
    Seen { name: "unicode-path-renames-locally", python: "lists a.py b.py", unzip_list: (0, &["a.py", "b.py"]), unzip_test: 1, zip_crate: "lists a.py b.py", zip_stream: "lists evil.py b.py" },
    Seen { name: "unicode-path-same-name", python: "lists a.py", unzip_list: (0, &["a.py"]), unzip_test: 0, zip_crate: "lists a.py", zip_stream: "lists a.py" },
    Seen { name: "unicode-path-stale", python: "lists a.py", unzip_list: (0, &["a.py"]), unzip_test: 0, zip_crate: "lists a.py", zip_stream: "lists a.py" },
    Seen { name: "comment-names-end-signature", python: "refuses BadZipFile: File is not a zip file", unzip_list: (0, &["a.py"]), unzip_test: 0, zip_crate: "lists a.py", zip_stream: "lists a.py" },
    Seen { name: "comment-end-signature-junk", python: "refuses BadZipFile: Bad offset for central directory", unzip_list: (3, &[]), unzip_test: 3, zip_crate: "lists a.py", zip_stream: "lists a.py" },
    Seen { name: "prepended-stub-with-signatures", python: "lists a.py b.py", unzip_list: (1, &["a.py", "b.py"]), unzip_test: 1, zip_crate: "lists a.py b.py", zip_stream: "refuses" },
    Seen { name: "stored-zip-at-the-end", python: "lists a.py inner.zip", unzip_list: (0, &["a.py", "inner.zip"]), unzip_test: 0, zip_crate: "lists a.py inner.zip", zip_stream: "lists a.py inner.zip" },
    Seen { name: "data-descriptor-unsigned", python: "lists a.py b.py", unzip_list: (0, &["a.py", "b.py"]), unzip_test: 0, zip_crate: "lists a.py b.py", zip_stream: "refuses" },
    Seen { name: "data-descriptor-zip64", python: "lists a.py b.py", unzip_list: (0, &["a.py", "b.py"]), unzip_test: 0, zip_crate: "lists a.py b.py", zip_stream: "refuses" },
    Seen { name: "zip64-end-sentinels", python: "lists a.py b.py", unzip_list: (0, &["a.py", "b.py"]), unzip_test: 0, zip_crate: "lists a.py b.py", zip_stream: "lists a.py b.py" },
    Seen { name: "zip64-end-real-values", python: "lists a.py b.py", unzip_list: (0, &["a.py", "b.py"]), unzip_test: 0, zip_crate: "lists a.py b.py", zip_stream: "lists a.py b.py" },
    Seen { name: "zip64-end-prepended", python: "lists a.py b.py", unzip_list: (1, &["a.py", "b.py"]), unzip_test: 1, zip_crate: "lists a.py b.py", zip_stream: "refuses" },
];

fn shown(r: &Reading) -> String {
    match r {
        Reading::Lists(names) if names.is_empty() => "lists".into(),
        Reading::Lists(names) => format!("lists {}", names.join(" ")),
        Reading::Refuses(why) => format!("refuses {why}"),
    }
}

fn zip_crate(bytes: &[u8]) -> Reading {
    let mut z = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(z) => z,
        Err(e) => return Reading::Refuses(e.to_string()),
    };
    let mut names = Vec::new();
    for i in 0..z.len() {
        let mut f = match z.by_index(i) {
            Ok(f) => f,
            Err(e) => return Reading::Refuses(e.to_string()),
        };
        names.push(f.name().map(|n| n.into_owned()).unwrap_or_default());
        if let Err(e) = f.read_to_end(&mut Vec::new()) {
            return Reading::Refuses(e.to_string());
        }
    }
    Reading::Lists(names)
}

fn zip_stream(bytes: &[u8]) -> Reading {
    let mut r = Cursor::new(bytes);
    let mut names = Vec::new();
    loop {
        match zip::read::read_zipfile_from_stream(&mut r) {
            Ok(Some(mut f)) => {
                names.push(f.name().map(|n| n.into_owned()).unwrap_or_default());
                if let Err(e) = f.read_to_end(&mut Vec::new()) {
                    return Reading::Refuses(e.to_string());
                }
            }
            Ok(None) => return Reading::Lists(names),
            Err(e) => return Reading::Refuses(e.to_string()),
        }
    }
}

const PYTHON_READER: &str = "import sys, zipfile
try:
    z = zipfile.ZipFile(sys.argv[1])
    names = z.namelist()
    for n in names:
        z.read(n)
    print('lists ' + ' '.join(names))
except Exception as e:
    print('refuses %s: %s' % (type(e).__name__, e))
";

/// `None` when the tool cannot be started.
fn run(program: &str, args: &[&str]) -> Option<std::process::Output> {
    Command::new(program).args(args).output().ok()
}

fn python(path: &Path) -> Option<String> {
    let out = run("python3", &["-c", PYTHON_READER, path.to_str().unwrap()])?;
    assert!(out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// `unzip -l`: exit status and the names between the two dashed lines.
fn unzip_list(path: &Path) -> Option<(i32, Vec<String>)> {
    let out = run("unzip", &["-l", path.to_str().unwrap()])?;
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let dashes: Vec<usize> = lines.iter().enumerate().filter(|(_, l)| l.starts_with("---------")).map(|(i, _)| i).collect();
    let names = match dashes.as_slice() {
        [first, second, ..] => lines[first + 1..*second].iter().map(|l| l.split_whitespace().skip(3).collect::<Vec<_>>().join(" ")).collect(),
        _ => Vec::new(),
    };
    Some((out.status.code().unwrap_or(-1), names))
}

fn unzip_test(path: &Path) -> Option<i32> {
    run("unzip", &["-t", path.to_str().unwrap()]).map(|o| o.status.code().unwrap_or(-1))
}

/// Whether the readings list different files, or one lists and another refuses.
fn disagree(readings: &[Reading]) -> bool {
    let lists: Vec<&Vec<String>> = readings.iter().filter_map(|r| if let Reading::Lists(n) = r { Some(n) } else { None }).collect();
    lists.windows(2).any(|w| w[0] != w[1]) || (!lists.is_empty() && lists.len() < readings.len())
}

#[test]
fn other_readers_read_the_refused_archives_two_ways() {
    let has_python = run("python3", &["--version"]).is_some();
    let has_unzip = run("unzip", &["-v"]).is_some();
    if !has_python {
        println!("skipping the CPython oracle: python3 is not installed");
    }
    if !has_unzip {
        println!("skipping the Info-ZIP oracle: unzip is not installed (apt-get install unzip)");
    }
    let dir = tempfile::tempdir().unwrap();
    let all = differentials();
    assert_eq!(all.len(), SEEN.len(), "every variant needs its recorded readings");
    for d in all {
        let seen = SEEN.iter().find(|s| s.name == d.name).unwrap_or_else(|| panic!("no recorded readings for {}", d.name));
        let path = dir.path().join(format!("{}.zip", d.name));
        std::fs::write(&path, &d.bytes).unwrap();
        let (krate, stream) = (zip_crate(&d.bytes), zip_stream(&d.bytes));
        assert!(shown(&krate).starts_with(seen.zip_crate), "{}: the zip crate {}", d.name, shown(&krate));
        assert!(shown(&stream).starts_with(seen.zip_stream), "{}: the zip crate's stream reader {}", d.name, shown(&stream));
        let mut readings = vec![krate, stream];
        if has_python {
            let got = python(&path).unwrap();
            assert!(got.starts_with(seen.python), "{}: CPython {got}", d.name);
            readings.push(match got.strip_prefix("lists") {
                Some(names) => Reading::Lists(names.split_whitespace().map(String::from).collect()),
                None => Reading::Refuses(got),
            });
        }
        if has_unzip {
            let (status, names) = unzip_list(&path).unwrap();
            assert_eq!((status, names.as_slice()), (seen.unzip_list.0, &seen.unzip_list.1.iter().map(|s| s.to_string()).collect::<Vec<_>>()[..]), "{}: unzip -l", d.name);
            assert_eq!(unzip_test(&path).unwrap(), seen.unzip_test, "{}: unzip -t", d.name);
            // Status 2 and up: Info-ZIP reports an error (it may still list).
            readings.push(if status >= 2 { Reading::Refuses(format!("unzip -l status {status}")) } else { Reading::Lists(names) });
        }
        match d.verdict {
            // Some disagreements are only between the zip crate and CPython or Info-ZIP.
            Verdict::Refused(_) if !(has_python && has_unzip) => println!("{}: two readings not checked without every oracle", d.name),
            Verdict::Refused(_) => assert!(disagree(&readings), "{}: every reader reads it one way: {readings:?}", d.name),
            Verdict::Accepted(_) => {
                let lists: Vec<&Reading> = readings.iter().filter(|r| matches!(r, Reading::Lists(_))).collect();
                assert!(lists.windows(2).all(|w| w[0] == w[1]), "{}: readers list different files: {readings:?}", d.name);
            }
        }
    }
}
