//! Catalogue cases about formats: zip features, things that are not archives at all, and
//! tar variants.

use std::io::Write;

use super::cases_content::noise;
use super::raw_tar::{gzip, xz, Tar, CHAR_DEVICE, DIRECTORY, FIFO, GNU_SPARSE, REGULAR};
use super::raw_zip::differentials::{differentials, Verdict};
use super::raw_zip::{zip, zip_with, Entry, Options, FLAG_ENCRYPTED, FLAG_UTF8};
use super::{accepts, fails, Accepted, Case, Family};

const UNSAFE: &str = "unsafe-archive";
const INTEGRITY: &str = "integrity";
const UNSUPPORTED: &str = "unsupported";

fn z(name: &'static str, family: Family, about: &'static str, entries: &[Entry], expect: super::Expect) -> Case {
    Case { name, family, ext: ".zip", bytes: zip(entries), expect, about }
}

fn raw(name: &'static str, family: Family, ext: &'static str, about: &'static str, bytes: Vec<u8>, expect: super::Expect) -> Case {
    Case { name, family, ext, bytes, expect, about }
}

const OBS_XML_ERROR: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>0000018F2A1B</RequestId><HostId>x</HostId><Key>pkg.zip</Key></Error>";
const HTML_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>\n";

/// A zip made by the zip crate's own writer with bzip2 and deflate entries.
fn methods_zip() -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, method) in [("bz.py", zip::CompressionMethod::Bzip2), ("df.py", zip::CompressionMethod::Deflated), ("st.py", zip::CompressionMethod::Stored)] {
        w.start_file(name, SimpleFileOptions::default().compression_method(method).unix_permissions(0o644)).unwrap();
        w.write_all(&b"print('methods')\n".repeat(50)).unwrap();
    }
    w.finish().unwrap().into_inner()
}

pub(super) fn cases() -> Vec<Case> {
    use Family::*;
    let py = b"print('ok')\n";
    let mut descriptor = Entry::deflated("d.py", &b"descriptor\n".repeat(30));
    descriptor.descriptor = true;
    let long_name = format!("pkg/{}/m.py", "long".repeat(40));
    let long_tree = format!("{}/", &long_name[4..long_name.len() - 5]);
    let tar_text = b"x = 1\n".repeat(100);
    let mut concatenated = gzip(&Tar::new().file("pkg/a.py", b"a").unfinished());
    concatenated.extend_from_slice(&gzip(&Tar::new().file("pkg/b.py", b"b").finish()));
    let trailing = {
        let mut t = Tar::new().file("a.py", b"a").finish();
        // Low-entropy noise: compresses a little, so the ratio limit stays out of the way.
        t.extend(noise(17 << 20, 7).into_iter().map(|b| b & 0x0f));
        gzip(&t)
    };
    let mut garbage_mtime = Tar::new().file("a.py", b"a").finish();
    garbage_mtime[136..148].copy_from_slice(b"zzzzzzzzzzz\0");
    // Recompute the header checksum over the garbage.
    garbage_mtime[148..156].fill(b' ');
    let sum: u32 = garbage_mtime[..512].iter().map(|&b| u32::from(b)).sum();
    garbage_mtime[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());

    let mut cases = vec![
        // ---------------------------------------------------------------- zip format
        z("encrypted-entry", Format, "ZipCrypto-flagged entry", &[Entry { flags: FLAG_ENCRYPTED, ..Entry::stored("a.py", &noise(64, 3)) }], fails(UNSUPPORTED, "encrypted")),
        z("method-xz", Format, "compression method 95 (XZ)", &[Entry { method: 95, ..Entry::stored("a.py", py) }], fails(UNSUPPORTED, "method 95")),
        z("method-zstd", Format, "compression method 93 (zstd)", &[Entry { method: 93, ..Entry::stored("a.py", py) }], fails(UNSUPPORTED, "method 93")),
        z("method-unknown", Format, "compression method 42", &[Entry { method: 42, ..Entry::stored("a.py", py) }], fails(UNSUPPORTED, "method 42")),
        raw(
            "multi-disk",
            Format,
            ".zip",
            "end record says disk 1 of a split archive",
            zip_with(&[Entry::stored("a.py", py)], &Options { disk: 1, cd_disk: 1, ..Options::default() }),
            fails(UNSUPPORTED, "unsupported zip archive"),
        ),
        z("zip64-valid", Format, "ZIP64 size fields, honest", &[Entry { zip64: true, ..Entry::deflated("a.py", &b"z64\n".repeat(100)) }], accepts(Accepted::tree(&["a.py"]).content("a.py", &b"z64\n".repeat(100)))),
        z("data-descriptor", Format, "sizes and CRC in a data descriptor after the data", &[descriptor], accepts(Accepted::tree(&["d.py"]).content("d.py", &b"descriptor\n".repeat(30)))),
        raw("empty-archive", Format, ".zip", "an end record and nothing else", zip(&[]), accepts(Accepted::tree(&[]))),
        z(
            "invalid-timestamps",
            Format,
            "DOS date and time fields all ones (month 15, hour 31)",
            &[Entry { date: 0xffff, time: 0xffff, ..Entry::stored("a.py", py) }],
            accepts(Accepted::tree(&["a.py"])),
        ),
        z(
            "setuid-setgid-sticky",
            Format,
            "modes 4755, 2755, 1755 and 6644: special bits dropped, execute kept",
            &[
                Entry::stored("bin/suid", b"#!/bin/sh\n").mode(0o104755),
                Entry::stored("bin/sgid", b"#!/bin/sh\n").mode(0o102755),
                Entry::stored("bin/sticky", b"#!/bin/sh\n").mode(0o101755),
                Entry::stored("data.txt", b"d").mode(0o106644),
            ],
            accepts(Accepted::tree(&["bin/", "bin/sgid", "bin/sticky", "bin/suid", "data.txt"]).executables(&["bin/sgid", "bin/sticky", "bin/suid"])),
        ),
        z(
            "mode-000",
            Format,
            "a file and a directory with mode 000",
            &[Entry::stored("locked.txt", b"l").mode(0o100000), Entry::dir("closed/").mode(0o040000), Entry::stored("closed/in.txt", b"i").mode(0o100000)],
            accepts(Accepted::tree(&["closed/", "closed/in.txt", "locked.txt"]).content("locked.txt", b"l").content("closed/in.txt", b"i")),
        ),
        raw(
            "prepended-data",
            Format,
            ".zip",
            "a `#!` stub before the archive (self-extractor style)",
            zip_with(&[Entry::stored("a.py", py)], &Options { prefix: b"#!/bin/sh\nexec python3 -m zipapp \"$0\"\n".to_vec(), ..Options::default() }),
            accepts(Accepted::tree(&["a.py"]).content("a.py", py)),
        ),
        z(
            "cp437-name",
            Format,
            "name bytes `caf\\x82.py` without the UTF-8 flag: decoded as CP437",
            &[Entry::stored("x", b"c").raw_name(b"caf\x82.py")],
            accepts(Accepted::tree(&["caf\u{e9}.py"])),
        ),
        z(
            "bad-utf8-flagged",
            Format,
            "name bytes that are not UTF-8 with the UTF-8 flag set",
            &[Entry { flags: FLAG_UTF8, ..Entry::stored("x", b"c").raw_name(b"caf\xff.py") }],
            fails(UNSAFE, "not valid UTF-8"),
        ),
        z("fifo-entry", Format, "a fifo (mode 010644)", &[Entry::stored("p", b"").mode(0o010644)], fails(UNSAFE, "fifo")),
        z("device-entry", Format, "a character device (mode 020644)", &[Entry::stored("dev", b"").mode(0o020644)], fails(UNSAFE, "character device")),
        raw("methods-valid", Format, ".zip", "bzip2, deflate and stored entries from the zip crate's writer", methods_zip(), accepts(Accepted::tree(&["bz.py", "df.py", "st.py"]).content("bz.py", &b"print('methods')\n".repeat(50)))),
        // ---------------------------------------------------------------- not an archive
        raw("obs-xml-error-as-zip", NotAZip, ".zip", "an OBS XML error document saved as the object", OBS_XML_ERROR.as_bytes().to_vec(), fails(INTEGRITY, "it starts with \"<?xml version")),
        raw("html-page-as-zip", NotAZip, ".zip", "a proxy's HTML page saved as the object", HTML_PAGE.as_bytes().to_vec(), fails(INTEGRITY, "it starts with \"<!DOCTYPE html>")),
        raw("obs-xml-error-as-tar-gz", NotAZip, ".tar.gz", "an OBS XML error document as .tar.gz", OBS_XML_ERROR.as_bytes().to_vec(), fails(INTEGRITY, "not a tar.gz archive")),
        raw("html-page-as-tar-xz", NotAZip, ".tar.xz", "an HTML page as .tar.xz", HTML_PAGE.as_bytes().to_vec(), fails(INTEGRITY, "not a tar.xz archive")),
        raw("empty-object-zip", NotAZip, ".zip", "an empty object as .zip", Vec::new(), fails(INTEGRITY, "empty")),
        raw("empty-object-tar-gz", NotAZip, ".tar.gz", "an empty object as .tar.gz", Vec::new(), fails(INTEGRITY, "empty")),
        raw("gzip-but-not-tar", NotAZip, ".tar.gz", "valid gzip around plain text", gzip(b"this is not a tar archive, just text that goes on and on for more than a block"), fails(INTEGRITY, "corrupt tar.gz archive")),
        // ---------------------------------------------------------------- tar variants
        raw("tar-dotdot", TarVariants, ".tar.gz", "tar: `../evil.py`", gzip(&Tar::new().file("../evil.py", b"pwned").finish()), fails(UNSAFE, "`..` component")),
        raw("tar-absolute", TarVariants, ".tar.gz", "tar: `/tmp/evil.py`", gzip(&Tar::new().file("/tmp/evil.py", b"pwned").finish()), fails(UNSAFE, "absolute path")),
        raw("tar-char-device", TarVariants, ".tar.gz", "tar: a character device", gzip(&Tar::new().raw(b"null", CHAR_DEVICE, b"", 0o666, 0, b"").finish()), fails(UNSAFE, "device file")),
        raw("tar-fifo", TarVariants, ".tar.gz", "tar: a fifo", gzip(&Tar::new().raw(b"pipe", FIFO, b"", 0o666, 0, b"").finish()), fails(UNSAFE, "fifo")),
        raw("tar-gnu-sparse", TarVariants, ".tar.gz", "tar: a GNU sparse file", gzip(&Tar::new().raw(b"sparse", GNU_SPARSE, b"", 0o644, 0, b"").finish()), fails(UNSUPPORTED, "sparse")),
        raw(
            "tar-pax-size-mismatch",
            TarVariants,
            ".tar.gz",
            "tar: pax `size` differing from the header",
            gzip(&Tar::new().pax(&[("size", "999")]).file("a.py", b"a").finish()),
            fails(UNSUPPORTED, "pax size"),
        ),
        raw(
            "tar-dir-with-data",
            TarVariants,
            ".tar.gz",
            "tar: a directory entry carrying 512 bytes",
            gzip(&Tar::new().raw(b"d/", DIRECTORY, b"", 0o755, 512, &[b'x'; 512]).finish()),
            fails(INTEGRITY, "carries 512 bytes"),
        ),
        raw(
            "tar-trailing-data",
            TarVariants,
            ".tar.gz",
            "tar: 17 MiB after the end marker",
            trailing,
            fails(INTEGRITY, "follow the end of the tar archive"),
        ),
        raw(
            "tar-pax-long-name",
            TarVariants,
            ".tar.gz",
            "tar: a 170-byte name in a pax header",
            gzip(&Tar::new().pax(&[("path", &long_name)]).file("ignored", b"m").finish()),
            accepts(Accepted::tree(&[&long_tree, &long_name[4..]]).content(&long_name[4..], b"m")),
        ),
        raw(
            "tar-gnu-long-name",
            TarVariants,
            ".tar.gz",
            "tar: a 170-byte name in a GNU long-name record",
            gzip(&Tar::new().gnu_long_name(&long_name).file("ignored", b"m").finish()),
            accepts(Accepted::tree(&[&long_tree, &long_name[4..]])),
        ),
        raw(
            "tar-xz-valid",
            TarVariants,
            ".tar.xz",
            "tar.xz with an executable",
            xz(&Tar::new().dir("pkg/").file("pkg/a.py", &tar_text).file_mode("pkg/run.sh", 0o755, b"#!/bin/sh\n").finish()),
            accepts(Accepted::tree(&["a.py", "run.sh"]).executables(&["run.sh"]).content("a.py", &tar_text)),
        ),
        raw("tar-concatenated-gzip", TarVariants, ".tar.gz", "tar split over two gzip members", concatenated, accepts(Accepted::tree(&["a.py", "b.py"]))),
        raw(
            "tar-setuid",
            TarVariants,
            ".tar.gz",
            "tar: mode 4755",
            gzip(&Tar::new().file_mode("tool", 0o4755, b"#!/bin/sh\n").file("x", b"x").finish()),
            accepts(Accepted::tree(&["tool", "x"]).executables(&["tool"])),
        ),
        raw("tar-garbage-mtime", TarVariants, ".tar.gz", "tar: an mtime field that is not octal", gzip(&garbage_mtime), accepts(Accepted::tree(&["a.py"]))),
        raw(
            "tar-root-entry",
            TarVariants,
            ".tar.gz",
            "tar: `./` root entry as written by `tar -C dir .`",
            gzip(&Tar::new().dir("./").file("./a.py", b"a").raw(b"./b", REGULAR, b"", 0o644, 1, b"b").finish()),
            accepts(Accepted::tree(&["a.py", "b"])),
        ),
    ];
    cases.extend(differential_cases());
    cases
}

/// Archives that honest readers read differently (refused) and their look-alikes
/// (accepted), as the kit's own tests use them: see `zipcraft::differentials`.
fn differential_cases() -> Vec<Case> {
    differentials()
        .into_iter()
        .map(|d| {
            let expect = match d.verdict {
                Verdict::Refused(says) => fails(UNSAFE, says),
                Verdict::Accepted(files) => {
                    let mut paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
                    paths.sort();
                    accepts(files.iter().fold(Accepted::tree(&paths), |a, (p, data)| a.content(p, data)))
                }
            };
            raw(d.name, Family::Format, ".zip", d.about, d.bytes, expect)
        })
        .collect()
}
