//! Catalogue cases about names: paths, links, structure.

use super::raw_tar::{gzip, Tar, HARD_LINK};
use super::raw_zip::{zip, Entry};
use super::{accepts, fails, Accepted, Case, Family};

const UNSAFE: &str = "unsafe-archive";
const LIMIT: &str = "limit-exceeded";

fn z(name: &'static str, family: Family, about: &'static str, entries: &[Entry], expect: super::Expect) -> Case {
    Case { name, family, ext: ".zip", bytes: zip(entries), expect, about }
}

fn tgz(name: &'static str, family: Family, about: &'static str, tar: Vec<u8>, expect: super::Expect) -> Case {
    Case { name, family, ext: ".tar.gz", bytes: gzip(&tar), expect, about }
}

fn ok_py() -> Entry {
    Entry::deflated("ok.py", b"print('ok')\n")
}

pub(super) fn cases() -> Vec<Case> {
    use Family::*;
    let long_component = format!("a/{}", "x".repeat(300));
    let long_path = format!("{}/f.py", vec!["p".repeat(200); 25].join("/"));
    let deep = format!("{}f.py", "d/".repeat(100));
    vec![
        // ---------------------------------------------------------------- paths
        z("dotdot-traversal", Paths, "`../evil.py` beside a good file", &[ok_py(), Entry::stored("../evil.py", b"pwned")], fails(UNSAFE, "`..` component")),
        z("dotdot-deep", Paths, "`pkg/../../../../tmp/evil.py`", &[Entry::stored("pkg/../../../../tmp/evil.py", b"pwned")], fails(UNSAFE, "`..` component")),
        z("dotdot-stays-inside", Paths, "`a/../b.py` would stay inside: refused anyway", &[Entry::stored("a/../b.py", b"x")], fails(UNSAFE, "`..` component")),
        z("absolute-path", Paths, "`/tmp/evil.py`", &[Entry::stored("/tmp/evil.py", b"pwned")], fails(UNSAFE, "absolute path")),
        z("backslash-traversal", Paths, "`..\\..\\evil.py`", &[Entry::stored("..\\..\\evil.py", b"pwned")], fails(UNSAFE, "backslash")),
        z("drive-letter", Paths, "`C:/evil.py`", &[Entry::stored("C:/evil.py", b"pwned")], fails(UNSAFE, "drive letter")),
        z("drive-relative", Paths, "`c:evil.py` (drive-relative)", &[Entry::stored("c:evil.py", b"pwned")], fails(UNSAFE, "drive letter")),
        z("unc-path", Paths, "`\\\\server\\share\\evil.py`", &[Entry::stored("\\\\server\\share\\evil.py", b"pwned")], fails(UNSAFE, "backslash")),
        z("escaping-directory-entry", Paths, "directory entry `../outside/`", &[Entry::dir("../outside/"), ok_py()], fails(UNSAFE, "`..` component")),
        z("nul-in-name", Paths, "`ok.py\\0/../../evil`", &[Entry::stored("x", b"x").raw_name(b"ok.py\0/../../evil")], fails(UNSAFE, "NUL")),
        z("empty-name", Paths, "an entry named ``", &[ok_py(), Entry::stored("x", b"x").raw_name(b"")], fails(UNSAFE, "empty name")),
        z("dot-name", Paths, "an entry named `.`", &[Entry::stored(".", b"x")], fails(UNSAFE, "target directory itself")),
        z("long-component", Paths, "a 300-byte path component", &[Entry::stored(&long_component, b"x")], fails(UNSAFE, "longer than 255 bytes")),
        z("long-path", Paths, "a 5 KB name (limit 4096)", &[Entry::stored(&long_path, b"x")], fails(LIMIT, "more than the limit of 4096")),
        z("deep-nesting", Paths, "101 levels deep (limit 64)", &[Entry::stored(&deep, b"x")], fails(LIMIT, "levels deep")),
        z(
            "harmless-dot-forms",
            Paths,
            "`./a//b.py` and `./c.py`: `.` and empty components dropped",
            &[Entry::stored("./a//b.py", b"b"), Entry::stored("./c.py", b"c")],
            accepts(Accepted::tree(&["a/", "a/b.py", "c.py"]).content("a/b.py", b"b")),
        ),
        // ---------------------------------------------------------------- links
        z(
            "symlink-out-then-write-relative",
            Links,
            "`l -> ../../../tmp`, then `l/evil.py` written through it",
            &[Entry::symlink("l", "../../../tmp"), Entry::stored("l/evil.py", b"pwned")],
            fails(UNSAFE, "also has as a symlink"),
        ),
        z(
            "symlink-out-then-write-absolute",
            Links,
            "`l -> /tmp`, then `l/evil.py`",
            &[Entry::symlink("l", "/tmp"), Entry::stored("l/evil.py", b"pwned")],
            fails(UNSAFE, "also has as a symlink"),
        ),
        z(
            "symlink-out-then-write-reversed",
            Links,
            "`l/evil.py` first, then `l -> /tmp`",
            &[Entry::stored("l/evil.py", b"pwned"), Entry::symlink("l", "/tmp")],
            fails(UNSAFE, "both as a symlink and as a directory"),
        ),
        z("symlink-out-relative", Links, "`l -> ../../etc/passwd`", &[ok_py(), Entry::symlink("l", "../../etc/passwd")], fails(UNSAFE, "points outside")),
        z("symlink-out-absolute", Links, "`l -> /etc/passwd`", &[ok_py(), Entry::symlink("l", "/etc/passwd")], fails(UNSAFE, "absolute path")),
        z("symlink-backslash", Links, "`l -> ..\\..\\x`", &[ok_py(), Entry::symlink("l", "..\\..\\x")], fails(UNSAFE, "backslash")),
        z(
            "symlink-escapes-stripped-top",
            Links,
            "`pkg/l -> ../x`: inside the archive, outside once `pkg/` is stripped",
            &[Entry::stored("pkg/x", b"x"), Entry::symlink("pkg/l", "../x")],
            fails(UNSAFE, "top-level directory"),
        ),
        z(
            "symlink-through-symlink",
            Links,
            "`a/l2 -> l1/../../etc` where `a/l1` is itself a link",
            &[Entry::symlink("a/l1", "../b"), Entry::dir("b/"), Entry::symlink("a/l2", "l1/../../etc")],
            fails(UNSAFE, "walks through another symlink"),
        ),
        z(
            "symlink-inside",
            Links,
            "`lib/libx.so -> libx.so.1`: a link that stays inside is kept",
            &[Entry::stored("lib/libx.so.1", b"ELF"), Entry::symlink("lib/libx.so", "libx.so.1"), ok_py()],
            accepts(Accepted::tree(&["lib/", "lib/libx.so.1", "lib/libx.so@", "ok.py"]).link("lib/libx.so", "libx.so.1")),
        ),
        z(
            "symlink-inside-stripped",
            Links,
            "`pkg/alias -> data` under a stripped top-level directory",
            &[Entry::stored("pkg/data/x.txt", b"x"), Entry::symlink("pkg/alias", "data")],
            accepts(Accepted::tree(&["alias@", "data/", "data/x.txt"]).link("alias", "data")),
        ),
        z(
            "symlink-inner-dotdot",
            Links,
            "`a/l -> ../b/../c.py`: `..` after a name, resolving inside",
            &[Entry::stored("b/x", b"x"), Entry::stored("c.py", b"c"), Entry::symlink("a/l", "../b/../c.py")],
            fails(UNSAFE, "`..` after a name"),
        ),
        z(
            "symlink-loop",
            Links,
            "`a -> b`, `b -> a`: a dangling loop inside the tree",
            &[Entry::symlink("a", "b"), Entry::symlink("b", "a")],
            accepts(Accepted::tree(&["a@", "b@"]).link("a", "b").link("b", "a")),
        ),
        tgz(
            "tar-symlink-out-then-write",
            Links,
            "tar: `l -> /tmp`, then `l/evil.py`",
            Tar::new().symlink("l", "/tmp").file("l/evil.py", b"pwned").finish(),
            fails(UNSAFE, "also has as a symlink"),
        ),
        tgz(
            "tar-symlink-out",
            Links,
            "tar: `pkg/l -> ../../etc/passwd`",
            Tar::new().file("pkg/a.py", b"a").symlink("pkg/l", "../../etc/passwd").finish(),
            fails(UNSAFE, "outside"),
        ),
        tgz(
            "tar-hard-link",
            Links,
            "tar: hard link to `/etc/passwd`",
            Tar::new().file("a.py", b"a").raw(b"h", HARD_LINK, b"/etc/passwd", 0o644, 0, b"").finish(),
            fails(UNSAFE, "hard link"),
        ),
        tgz(
            "tar-symlink-inside",
            Links,
            "tar: `pkg/l -> a.py`",
            Tar::new().file("pkg/a.py", b"a").symlink("pkg/l", "a.py").finish(),
            accepts(Accepted::tree(&["a.py", "l@"]).link("l", "a.py")),
        ),
        // ---------------------------------------------------------------- structure
        z("duplicate-names", Structure, "`a.py` twice", &[Entry::stored("a.py", b"1"), Entry::stored("a.py", b"2")], fails(UNSAFE, "more than once")),
        z(
            "duplicate-after-normalising",
            Structure,
            "`pkg/./a.py` and `pkg/a.py`",
            &[Entry::stored("pkg/./a.py", b"1"), Entry::stored("pkg/a.py", b"2")],
            fails(UNSAFE, "more than one entry"),
        ),
        z(
            "duplicate-unicode-nfc",
            Structure,
            "`café.py` precomposed and decomposed",
            &[Entry::stored("caf\u{e9}.py", b"1"), Entry::stored("cafe\u{301}.py", b"2")],
            fails(UNSAFE, "NFC"),
        ),
        z("file-then-dir", Structure, "file `a`, then `a/b.py`", &[Entry::stored("a", b"1"), Entry::stored("a/b.py", b"2")], fails(UNSAFE, "lies below")),
        z("dir-then-file", Structure, "directory `a/`, then file `a`", &[Entry::dir("a/"), Entry::stored("a", b"2")], fails(UNSAFE, "more than one entry")),
        z(
            "case-collision",
            Structure,
            "`A.py` and `a.py`: distinct on a case-sensitive filesystem",
            &[Entry::stored("A.py", b"upper"), Entry::stored("a.py", b"lower")],
            accepts(Accepted::tree(&["A.py", "a.py"]).content("A.py", b"upper").content("a.py", b"lower")),
        ),
        Case {
            name: "too-many-entries-declared",
            family: Structure,
            ext: ".zip",
            bytes: super::raw_zip::zip_with(&[ok_py()], &super::raw_zip::Options { zip64_count: Some(5_000_000), ..Default::default() }),
            expect: fails(LIMIT, "5000000 entries"),
            about: "ZIP64 end record declaring 5 million entries (limit 1 million), refused before parsing",
        },
        z(
            "macosx-metadata",
            Structure,
            "`__MACOSX/` resource forks are skipped",
            &[Entry::stored("pkg/a.py", b"a"), Entry::stored("__MACOSX/pkg/._a.py", b"junk")],
            accepts(Accepted::tree(&["a.py"])),
        ),
        tgz("tar-file-then-dir", Structure, "tar: file `a`, then `a/b`", Tar::new().file("a", b"1").file("a/b", b"2").finish(), fails(UNSAFE, "lies below")),
        tgz("tar-duplicate", Structure, "tar: `a.py` twice", Tar::new().file("a.py", b"1").file("a.py", b"2").finish(), fails(UNSAFE, "more than one entry")),
    ]
}
