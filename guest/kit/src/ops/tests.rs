//! Whole operations against an object served from memory with real range semantics, through
//! a store that signs nothing: the streamed zip path, parts, and what every call promises
//! (no request for a wheel, secrets scrubbed).

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;

use super::*;
use crate::env::{Env, MapEnv};
use crate::http::testing::{FakeBody, FakeSleeper};
use crate::http::{DownloadOptions, Headers, Request, ResponseHead, Scheme, Store, Timeouts, TransportError};
use crate::{ErrorKind, Limits};

const ETAG: &str = "\"v1\"";
const SECRET: &str = "SECRETtokenEchoedBack";

/// Serves one object: `Range` (suffix or span) as 206, `If-Match` checked, else 200.
struct Served {
    object: Vec<u8>,
    requests: Vec<Request>,
}

impl Transport for Served {
    type Body = FakeBody;

    fn send(&mut self, req: &Request, _: &Timeouts) -> std::result::Result<(ResponseHead, FakeBody), TransportError> {
        self.requests.push(req.clone());
        let len = self.object.len() as u64;
        let head = |status: u16, pairs: Vec<(&str, String)>| ResponseHead { status, headers: pairs.into_iter().collect::<Headers>() };
        if req.header("if-match").is_some_and(|m| m != ETAG) {
            return Ok((head(412, vec![]), FakeBody::new(vec![], None)));
        }
        let range = req.header("range").map(|r| {
            let spec = r.strip_prefix("bytes=").unwrap();
            match spec.split_once('-').unwrap() {
                ("", n) => (len.saturating_sub(n.parse().unwrap()), len - 1),
                (a, "") => (a.parse().unwrap(), len - 1),
                (a, b) => (a.parse().unwrap(), b.parse::<u64>().unwrap().min(len - 1)),
            }
        });
        Ok(match range {
            Some((start, end)) => (
                head(206, vec![("Content-Range", format!("bytes {start}-{end}/{len}")), ("Content-Length", (end - start + 1).to_string()), ("ETag", ETAG.into())]),
                FakeBody::new(vec![self.object[start as usize..=end as usize].to_vec()], None),
            ),
            None => (head(200, vec![("Content-Length", len.to_string()), ("ETag", ETAG.into())]), FakeBody::new(vec![self.object.clone()], None)),
        })
    }
}

struct Anonymous;

impl Store for Anonymous {
    fn sign(&mut self, _: &mut Request) -> Result<()> {
        Ok(())
    }
    fn parse_error(&self, status: u16, _: &Headers, _: &[u8], _: bool) -> Error {
        // A chatty store that echoes what it was sent.
        Error::new(ErrorKind::AccessDenied, format!("refused token {SECRET}")).with_status(status)
    }
}

struct Object(PackageFormat);

impl Remote for Object {
    fn display(&self) -> String {
        "bucket b, key k".into()
    }
    fn format(&self) -> PackageFormat {
        self.0
    }
    fn prepare<'a, T: Transport>(&'a self, _: &'a dyn Env, _: &mut T, limits: &crate::Limits) -> Result<Fetch<'a>> {
        let mut opts = DownloadOptions::new(Scheme::Http, "store.test", "/b/k");
        opts.max_bytes = limits.max_download_bytes;
        Ok(Fetch { opts, store: Box::new(Anonymous), credential_source: None })
    }
    fn secrets(&self, _: &dyn Env) -> Vec<String> {
        vec![SECRET.into()]
    }
}

/// A zip of `n` stored entries of `size` incompressible bytes each.
fn zip_of(n: usize, size: usize) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut x = 0x9e37_79b9_u32;
    for i in 0..n {
        w.start_file(format!("pkg/f{i:03}.bin"), o).unwrap();
        let data: Vec<u8> = (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        w.write_all(&data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn files(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir.join("pkg")).map(|r| r.map(|e| e.unwrap().file_name().into_string().unwrap()).collect()).unwrap_or_default()
}

fn run<F: FnOnce(&mut Call<'_, Served, FakeSleeper>) -> R, R>(t: &mut Served, f: F) -> R {
    let env = MapEnv::new();
    f(&mut Call { env: &env, transport: t, sleeper: &mut FakeSleeper::default(), limits: &Limits::default(), progress: &mut |_, _, _, _| {} })
}

#[test]
fn a_large_zip_streams_from_its_end_then_its_entries() {
    let object = zip_of(6, 1 << 20);
    let mut t = Served { object: object.clone(), requests: Vec::new() };
    let dir = tempfile::tempdir().unwrap();
    let (target, scratch) = (dir.path().join("t"), dir.path().join("s"));
    fs::create_dir_all(&target).unwrap();
    fs::create_dir_all(&scratch).unwrap();
    let stats = run(&mut t, |c| download_and_unpack(c, &Object(PackageFormat::Zip), &target, &scratch)).unwrap();
    assert_eq!(files(&target).len(), 6);
    assert_eq!(stats.download.verified.as_deref(), Some(STREAM_VERIFIED));
    assert_eq!(stats.download.object_size, object.len() as u64);
    let ranges: Vec<_> = t.requests.iter().map(|r| (r.header("range").map(str::to_string), r.header("if-match").map(str::to_string))).collect();
    assert_eq!(ranges[0], (Some(format!("bytes=-{TAIL_BYTES}")), None));
    assert!(ranges[1].0.as_deref().is_some_and(|r| r.starts_with("bytes=0-")) && ranges[1].1.as_deref() == Some(ETAG), "{ranges:?}");
    assert_eq!(t.requests.len(), 2);
}

#[test]
fn parts_unpack_disjoint_shares_of_one_version() {
    let object = zip_of(8, 256 << 10);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("t");
    fs::create_dir_all(&target).unwrap();
    let mut seen = BTreeSet::new();
    for index in 0..2 {
        let scratch = dir.path().join(format!("s{index}"));
        fs::create_dir_all(&scratch).unwrap();
        let before = files(&target);
        let mut t = Served { object: object.clone(), requests: Vec::new() };
        let o = run(&mut t, |c| download_and_unpack_part(c, &Object(PackageFormat::Zip), &target, &scratch, Part { index, count: 2 })).unwrap();
        assert!(o.split, "part {index}");
        assert_eq!(o.object_version.as_deref(), Some(ETAG));
        let mine: BTreeSet<_> = files(&target).difference(&before).cloned().collect();
        assert!(!mine.is_empty() && mine.is_disjoint(&seen), "part {index}: {mine:?}");
        seen.extend(mine);
    }
    assert_eq!(seen.len(), 8);
    let mut t = Served { object, requests: Vec::new() };
    let e = run(&mut t, |c| download_and_unpack_part(c, &Object(PackageFormat::Zip), &target, dir.path(), Part { index: 2, count: 2 })).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Internal);
    assert!(t.requests.is_empty());
}

#[test]
fn a_wheel_is_refused_before_any_request_and_downloads_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Served { object: b"wheel".to_vec(), requests: Vec::new() };
    let e = run(&mut t, |c| download_and_unpack(c, &Object(PackageFormat::Wheel), dir.path(), dir.path())).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(t.requests.is_empty());
    let file = dir.path().join("w.whl");
    let st = run(&mut t, |c| download_to_file(c, &Object(PackageFormat::Wheel), &file)).unwrap();
    assert_eq!((fs::read(&file).unwrap(), st.bytes_downloaded, st.credential_source), (b"wheel".to_vec(), 5, None));
}

#[test]
fn secrets_never_leave_in_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // Every answer is a refusal whose text echoes the secret.
    struct Refusing;
    impl Transport for Refusing {
        type Body = FakeBody;
        fn send(&mut self, _: &Request, _: &Timeouts) -> std::result::Result<(ResponseHead, FakeBody), TransportError> {
            Ok((ResponseHead { status: 403, headers: Headers::new() }, FakeBody::new(vec![], None)))
        }
    }
    let env = MapEnv::new();
    for format in [PackageFormat::Zip, PackageFormat::TarGz] {
        let call = &mut Call { env: &env, transport: &mut Refusing, sleeper: &mut FakeSleeper::default(), limits: &Limits::default(), progress: &mut |_, _, _, _| {} };
        let e = download_and_unpack(call, &Object(format), dir.path(), dir.path()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::AccessDenied);
        assert!(!e.message.contains(SECRET) && e.message.contains("(redacted)") && e.message.contains("bucket b, key k"), "{}", e.message);
    }
}

#[test]
fn each_part_costs_two_requests_when_the_directory_fits_its_tail() {
    // 1,000 entries: a central directory of about 60 KB, like a job's source tree. At a
    // cluster start every request counts against the store's rate.
    let object = zip_of(1000, 1500);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("t");
    fs::create_dir_all(&target).unwrap();
    for index in 0..2 {
        let scratch = dir.path().join(format!("s{index}"));
        fs::create_dir_all(&scratch).unwrap();
        let mut t = Served { object: object.clone(), requests: Vec::new() };
        let o = run(&mut t, |c| download_and_unpack_part(c, &Object(PackageFormat::Zip), &target, &scratch, Part { index, count: 2 })).unwrap();
        assert!(o.split);
        let ranges: Vec<_> = t.requests.iter().map(|r| r.header("range").unwrap_or("").to_string()).collect();
        let tail = if index == 0 { SPLIT_ABOVE_BYTES } else { OTHER_PARTS_TAIL_BYTES };
        assert_eq!(ranges.len(), 2, "part {index}: {ranges:?}");
        assert_eq!(ranges[0], format!("bytes=-{tail}"));
        assert_eq!(t.requests[1].header("if-match"), Some(ETAG), "the share is tied to the version the tail saw");
    }
    assert_eq!(files(&target).len(), 1000);
}
