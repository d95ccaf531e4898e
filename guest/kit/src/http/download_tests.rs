use super::*;
use crate::http::small::ERROR_BODY_CAP;
use crate::http::testing::{FakeSleeper, FakeTransport, Reply};
use crate::http::types::TransportErrorKind;

/// Signs with a marker header, parses `CODE` bodies, reads CRC from `x-test-crc64`.
#[derive(Default)]
struct TestStore {
    signed: u32,
}

impl Store for TestStore {
    fn sign(&mut self, req: &mut Request) -> Result<()> {
        self.signed += 1;
        req.set_header("Authorization", "TEST sig");
        Ok(())
    }
    fn parse_error(&self, status: u16, _h: &Headers, body: &[u8], truncated: bool) -> Error {
        // What the engine handed over is echoed in the message for the assertions.
        let code = String::from_utf8_lossy(&body[..body.len().min(32)]).to_string();
        let kind = match status {
            404 => ErrorKind::NotFound,
            403 => ErrorKind::AccessDenied,
            _ => ErrorKind::Network,
        };
        Error::new(kind, format!("status {status} body_len={} truncated={truncated}", body.len()))
            .with_store(Some(code), Some("req-1".into()))
    }
    fn crc64(&self, h: &Headers) -> Option<u64> {
        h.get("x-test-crc64").and_then(crate::http::checksum::parse_crc64_decimal)
    }
}

fn opts() -> DownloadOptions {
    let mut o = DownloadOptions::new(Scheme::Https, "b.store.example", "/k.zip");
    o.redirect_allow = vec!["*.allowed.example".to_string()];
    o.headers = vec![("User-Agent".to_string(), "test/1".to_string())];
    o.max_bytes = 1 << 30;
    o
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn md5_etag(d: &[u8]) -> String {
    use md5::{Digest, Md5};
    format!("\"{}\"", hex::encode(Md5::digest(d)))
}

fn crc64(d: &[u8]) -> u64 {
    crc::Crc::<u64>::new(&crc::CRC_64_XZ).checksum(d)
}

struct Run {
    result: Result<DownloadOutcome>,
    out: Vec<u8>,
    t: FakeTransport,
    sleeper: FakeSleeper,
    store: TestStore,
    progress: Vec<(u64, Option<u64>)>,
}

fn run_with(replies: Vec<Reply>, o: DownloadOptions) -> Run {
    let r = run_with_sleeper(replies, o, FakeSleeper::default());
    assert!(r.t.replies.is_empty(), "unused scripted replies: {:?}", r.t.replies);
    r
}

/// Like [`run_with`], and scripted replies may be left over.
fn run_with_sleeper(replies: Vec<Reply>, o: DownloadOptions, mut sleeper: FakeSleeper) -> Run {
    let mut t = FakeTransport::new(replies);
    let mut store = TestStore::default();
    let mut out = Vec::new();
    let mut progress = Vec::new();
    let result = download(&mut t, &mut store, &mut sleeper, &o, &mut out, &mut |d, tot| progress.push((d, tot)));
    Run { result, out, t, sleeper, store, progress }
}

fn run(replies: Vec<Reply>) -> Run {
    run_with(replies, opts())
}

fn broken() -> Option<TransportError> {
    Some(TransportError::new(TransportErrorKind::Broken, "connection reset"))
}

#[test]
fn plain_download_streams_signs_and_verifies_md5() {
    let d = data(3000);
    let etag = md5_etag(&d);
    let len = d.len().to_string();
    let r = run(vec![Reply::chunked(200, &[("Content-Length", &len), ("ETag", &etag)], vec![d[..1000].to_vec(), d[1000..].to_vec()], None)]);
    let o = r.result.unwrap();
    assert_eq!(r.out, d);
    assert_eq!(o, DownloadOutcome { bytes: 3000, object_size: 3000, retries: 0, throttled: 0, throttle_wait: Duration::ZERO, verified: Some("md5-etag"), etag: Some(etag), reads: 3, range_start: None });
    let req = &r.t.requests[0];
    assert_eq!(req.url(), "https://b.store.example/k.zip");
    assert_eq!(req.header("authorization"), Some("TEST sig"));
    assert_eq!(req.header("accept-encoding"), Some("identity"));
    assert_eq!(req.header("range"), None);
    assert_eq!(req.header("user-agent"), Some("test/1"));
    assert_eq!(r.t.timeouts_seen[0], Timeouts::default());
    assert!(r.sleeper.slept.is_empty());
}

#[test]
fn md5_mismatch_is_integrity() {
    let d = data(100);
    let etag = md5_etag(b"something else");
    let r = run(vec![Reply::ok(200, &[("ETag", &etag)], &d)]);
    let e = r.result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    assert!(e.message.contains("md5-etag mismatch"), "{e}");
}

#[test]
fn crc64_is_preferred_and_checked() {
    let d = data(5000);
    let c = crc64(&d).to_string();
    let r = run(vec![Reply::ok(200, &[("x-test-crc64", &c), ("ETag", "\"00000000000000000000000000000000\"")], &d)]);
    assert_eq!(r.result.unwrap().verified, Some("crc64ecma"));
    let wrong = (crc64(&d) ^ 1).to_string();
    let r = run(vec![Reply::ok(200, &[("x-test-crc64", &wrong)], &d)]);
    assert_eq!(r.result.unwrap_err().kind, ErrorKind::Integrity);
}

#[test]
fn multipart_etag_is_not_a_digest() {
    let r = run(vec![Reply::ok(200, &[("ETag", "\"0123456789abcdef0123456789abcdef-4\"")], b"abc")]);
    assert_eq!(r.result.unwrap().verified, None);
}

#[test]
fn reads_in_large_chunks() {
    let d = data(3 << 20);
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], &d)]);
    let (_, mut body) = t.send(&Request::new(Method::Get, Scheme::Http, "h", "/"), &Timeouts::default()).unwrap();
    let mut out = Vec::new();
    let mut copy = Copy::empty();
    let mut next = 1 << 20;
    stream_body(&mut body, &mut copy, &mut out, &opts(), &mut |_, _| {}, &mut next).ok().unwrap();
    assert_eq!(body.largest_request, READ_CHUNK);
    assert_eq!(out, d);
}

#[test]
fn cut_body_resumes_with_range_and_if_match() {
    let d = data(10_000);
    let etag = md5_etag(&d);
    let len = d.len().to_string();
    let r = run(vec![
        Reply::chunked(200, &[("Content-Length", &len), ("ETag", &etag)], vec![d[..4000].to_vec()], broken()),
        Reply::ok(206, &[("Content-Range", "bytes 4000-9999/10000"), ("ETag", &etag)], &d[4000..]),
    ]);
    let o = r.result.unwrap();
    assert_eq!(r.out, d);
    assert_eq!(o.retries, 1);
    assert_eq!(o.verified, Some("md5-etag"));
    assert_eq!(o.object_size, 10_000);
    let second = &r.t.requests[1];
    assert_eq!(second.header("range"), Some("bytes=4000-"));
    assert_eq!(second.header("if-match"), Some(etag.as_str()));
    assert_eq!(second.header("authorization"), Some("TEST sig"));
    assert_eq!(r.store.signed, 2);
    assert_eq!(r.sleeper.slept.len(), 1);
}

#[test]
fn short_clean_end_is_resumed_too() {
    let d = data(1000);
    let etag = md5_etag(&d);
    let r = run(vec![
        Reply::ok(200, &[("Content-Length", "1000"), ("ETag", &etag)], &d[..300]),
        Reply::ok(206, &[("Content-Range", "bytes 300-999/1000"), ("ETag", &etag)], &d[300..]),
    ]);
    r.result.unwrap();
    assert_eq!(r.out, d);
}

#[test]
fn resume_answered_with_200_starts_over() {
    let d = data(1000);
    let etag = md5_etag(&d);
    let r = run(vec![
        Reply::chunked(200, &[("Content-Length", "1000"), ("ETag", &etag)], vec![d[..600].to_vec()], broken()),
        Reply::ok(200, &[("Content-Length", "1000"), ("ETag", &etag)], &d),
    ]);
    assert_eq!(r.result.unwrap().bytes, 1000);
    assert_eq!(r.out, d, "the partial first copy must be discarded, not prepended");
}

#[test]
fn changed_object_restarts_once_then_fails() {
    let d = data(1000);
    let etag = md5_etag(&d);
    let h = [("Content-Length", "1000"), ("ETag", etag.as_str())];
    let ok = run(vec![
        Reply::chunked(200, &h, vec![d[..500].to_vec()], broken()),
        Reply::ok(412, &[], b"PreconditionFailed"),
        Reply::ok(200, &h, &d),
    ]);
    assert_eq!(ok.result.unwrap().bytes, 1000);
    assert_eq!(ok.out, d);
    assert_eq!(ok.t.requests[2].header("range"), None, "a restart must not ask for a range");
    assert_eq!(ok.t.requests[2].header("if-match"), None);

    let bad = run(vec![
        Reply::chunked(200, &h, vec![d[..500].to_vec()], broken()),
        Reply::ok(412, &[], b""),
        Reply::chunked(200, &h, vec![d[..500].to_vec()], broken()),
        Reply::ok(412, &[], b""),
    ]);
    let e = bad.result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
}

#[test]
fn resume_with_wrong_range_or_etag_starts_over() {
    let d = data(1000);
    let etag = md5_etag(&d);
    let h = [("Content-Length", "1000"), ("ETag", etag.as_str())];
    let r = run(vec![
        Reply::chunked(200, &h, vec![d[..500].to_vec()], broken()),
        Reply::ok(206, &[("Content-Range", "bytes 0-999/1000"), ("ETag", &etag)], &d),
        Reply::ok(200, &h, &d),
    ]);
    r.result.unwrap();
    assert_eq!(r.out, d);
    assert_eq!(r.t.requests[2].header("range"), None);

    let r = run(vec![
        Reply::chunked(200, &h, vec![d[..500].to_vec()], broken()),
        Reply::ok(206, &[("Content-Range", "bytes 500-999/1000"), ("ETag", "\"other\"")], &d[500..]),
        Reply::ok(200, &h, &d),
    ]);
    r.result.unwrap();
    assert_eq!(r.out, d);
}

#[test]
fn without_etag_a_cut_body_is_fetched_again_whole() {
    let d = data(1000);
    let r = run(vec![
        Reply::chunked(200, &[("Content-Length", "1000")], vec![d[..500].to_vec()], broken()),
        Reply::ok(200, &[("Content-Length", "1000")], &d),
    ]);
    r.result.unwrap();
    assert_eq!(r.out, d);
    assert_eq!(r.t.requests[1].header("range"), None);
}

#[test]
fn partial_answer_to_plain_get_is_refused() {
    let r = run(vec![Reply::ok(206, &[("Content-Range", "bytes 0-2/10")], b"abc")]);
    assert_eq!(r.result.unwrap_err().kind, ErrorKind::Integrity);
}

#[test]
fn slowdown_then_success_honours_retry_after() {
    let r = run(vec![
        Reply::ok(503, &[("Retry-After", "3")], b"SlowDown"),
        Reply::ok(200, &[], b"abc"),
    ]);
    let o = r.result.unwrap();
    assert_eq!((o.retries, o.throttled, o.throttle_wait), (0, 1, Duration::from_secs(3)));
    assert_eq!(r.sleeper.slept, vec![Duration::from_secs(3)]);
    assert_eq!(r.sleeper.throttled, r.sleeper.slept, "every throttling wait is announced before it starts");
}

#[test]
fn throttling_spends_its_own_budget_not_the_failure_count() {
    let mut o = opts();
    o.retry.max_retries = 1;
    o.retry.max_attempts = 3;
    o.retry.throttle_budget = Duration::from_secs(60);
    // Far more throttled answers than failures or attempts allowed, one real failure in
    // between, then success.
    let mut replies: Vec<Reply> = (0..12).map(|_| Reply::ok(503, &[], b"SlowDown")).collect();
    replies.push(Reply::ok(500, &[], b"InternalError"));
    replies.extend((0..5).map(|_| Reply::ok(429, &[], b"TooManyRequests")));
    replies.push(Reply::ok(200, &[], b"abc"));
    let r = run_with(replies, o);
    let out = r.result.unwrap();
    assert_eq!((out.retries, out.throttled), (1, 17));
    assert_eq!(r.sleeper.throttled.len(), 17);
    assert_eq!(r.sleeper.slept.len(), 18);
    assert_eq!(out.throttle_wait, r.sleeper.throttled.iter().sum::<Duration>());
}

#[test]
fn a_store_that_throttles_forever_fails_when_the_budget_is_spent() {
    let mut o = opts();
    o.retry.throttle_budget = Duration::from_secs(600);
    let replies = (0..10_000).map(|_| Reply::ok(503, &[], b"SlowDown")).collect();
    let mut r = run_with_sleeper(replies, o.clone(), FakeSleeper::default());
    let e = r.result.unwrap_err();
    assert_eq!(e.store_code.as_deref(), Some("SlowDown"));
    assert!(e.message.contains("still throttling after") && e.message.contains("limits.throttle-budget-secs"), "{e}");
    let waited: Duration = r.sleeper.slept.iter().sum();
    assert_eq!(waited, Duration::from_secs(600), "the last wait is cut to what is left of the budget");
    assert!(r.sleeper.slept.iter().all(|d| *d <= Duration::from_secs(20)));
    assert!(r.t.requests.len() > 30 && r.t.requests.len() < 10_000, "{}", r.t.requests.len());
    // The host's budget wins over the policy's.
    r = {
        let replies = (0..10_000).map(|_| Reply::ok(503, &[], b"SlowDown")).collect();
        run_with_sleeper(replies, o, FakeSleeper { budget: Some(Duration::from_secs(5)), ..FakeSleeper::default() })
    };
    assert!(r.result.is_err());
    assert_eq!(r.sleeper.slept.iter().sum::<Duration>(), Duration::from_secs(5));
}

#[test]
fn a_bare_503_is_a_failure_with_the_short_budget() {
    let mut o = opts();
    o.retry.max_retries = 2;
    let replies = (0..10).map(|_| Reply::ok(503, &[], b"")).collect();
    let r = run_with_sleeper(replies, o, FakeSleeper::default());
    let e = r.result.unwrap_err();
    assert!(e.message.contains("gave up after 3 attempts"), "{e}");
    assert!(r.sleeper.throttled.is_empty());
}

#[test]
fn server_errors_forever_give_up_with_store_details() {
    let mut o = opts();
    o.retry.max_retries = 3;
    let replies = (0..4).map(|_| Reply::ok(500, &[], b"InternalError")).collect();
    let r = run_with(replies, o);
    let e = r.result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network);
    assert_eq!(e.store_code.as_deref(), Some("InternalError"));
    assert_eq!(e.request_id.as_deref(), Some("req-1"));
    assert_eq!(e.http_status, Some(500));
    assert!(e.message.contains("gave up after 4 attempts"), "{e}");
    assert_eq!(r.sleeper.slept.len(), 3);
    // Exponential: each pause at least the fixed half of the doubled delay.
    assert!(r.sleeper.slept[1] >= Duration::from_millis(200) && r.sleeper.slept[2] >= Duration::from_millis(400));
}

#[test]
fn client_errors_are_never_retried() {
    for (status, kind) in [(404, ErrorKind::NotFound), (403, ErrorKind::AccessDenied), (400, ErrorKind::Network), (416, ErrorKind::Network)] {
        let r = run(vec![Reply::ok(status, &[], b"Code")]);
        let e = r.result.unwrap_err();
        assert_eq!(e.kind, kind, "{status}");
        assert_eq!(e.http_status, Some(status));
        assert_eq!(r.t.requests.len(), 1);
        assert!(r.sleeper.slept.is_empty());
    }
}

#[test]
fn retry_after_beyond_our_patience_fails_now() {
    // A failing (not throttling) store's hint past `max_retry_after`; a throttling one's is
    // bounded by the throttle budget instead (above).
    let r = run(vec![Reply::ok(500, &[("Retry-After", "7200")], b"InternalError")]);
    let e = r.result.unwrap_err();
    assert!(e.message.contains("7200"), "{e}");
    assert!(r.sleeper.slept.is_empty());
}

#[test]
fn transport_errors_by_kind() {
    let r = run(vec![Reply::fail(TransportErrorKind::Connect), Reply::fail(TransportErrorKind::Timeout), Reply::ok(200, &[], b"x")]);
    assert_eq!(r.result.unwrap().retries, 2);
    for kind in [TransportErrorKind::Dns, TransportErrorKind::Tls, TransportErrorKind::Denied] {
        let r = run(vec![Reply::fail(kind)]);
        let e = r.result.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Network);
        assert!(e.message.contains("b.store.example"), "{e}");
        assert_eq!(r.t.requests.len(), 1);
    }
}

#[test]
fn size_limits() {
    let mut o = opts();
    o.max_bytes = 100;
    let r = run_with(vec![Reply::ok(200, &[("Content-Length", "101")], b"")], o.clone());
    assert_eq!(r.result.unwrap_err().kind, ErrorKind::LimitExceeded);
    // No length announced: enforced while streaming, before the excess is written.
    let r = run_with(vec![Reply::chunked(200, &[], vec![vec![0; 60], vec![0; 60]], None)], o);
    assert_eq!(r.result.unwrap_err().kind, ErrorKind::LimitExceeded);
    assert_eq!(r.out.len(), 60);
}

#[test]
fn body_longer_than_content_length_is_integrity() {
    let r = run(vec![Reply::ok(200, &[("Content-Length", "3")], b"abcd")]);
    assert_eq!(r.result.unwrap_err().kind, ErrorKind::Integrity);
}

#[test]
fn redirects() {
    // Same host: followed and signed again.
    let r = run(vec![Reply::ok(307, &[("Location", "/elsewhere.zip")], b""), Reply::ok(200, &[], b"ok")]);
    r.result.unwrap();
    assert_eq!(r.t.requests[1].url(), "https://b.store.example/elsewhere.zip");
    assert_eq!(r.t.requests[1].header("authorization"), Some("TEST sig"));

    // Allowed other host: followed without credentials.
    let r = run(vec![Reply::ok(301, &[("Location", "https://x.allowed.example/k.zip")], b""), Reply::ok(200, &[], b"ok")]);
    r.result.unwrap();
    assert_eq!(r.t.requests[1].authority, "x.allowed.example");
    assert_eq!(r.t.requests[1].header("authorization"), None);
    assert_eq!(r.store.signed, 1);
    // What the other host refuses is explained.
    let r = run(vec![Reply::ok(301, &[("Location", "https://x.allowed.example/k.zip")], b""), Reply::ok(403, &[], b"AccessDenied")]);
    let e = r.result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::AccessDenied);
    assert!(e.message.contains("after a redirect to x.allowed.example"), "{e}");

    // Foreign host: not contacted at all.
    let r = run(vec![Reply::ok(302, &[("Location", "https://evil.example/k.zip")], b"PermanentRedirect")]);
    let e = r.result.unwrap_err();
    assert!(e.message.contains("evil.example") && e.message.contains("not an allowed host"), "{e}");
    assert_eq!(e.http_status, Some(302));
    assert_eq!(r.t.requests.len(), 1);

    // Downgrade to plain http, even to an allowed host.
    let r = run(vec![Reply::ok(301, &[("Location", "http://x.allowed.example/k.zip")], b"")]);
    assert!(r.result.unwrap_err().message.contains("plain http"));

    // Missing Location.
    let r = run(vec![Reply::ok(301, &[], b"")]);
    assert!(r.result.is_err());

    // A loop ends.
    let replies = (0..=MAX_REDIRECTS).map(|_| Reply::ok(307, &[("Location", "/again")], b"")).collect();
    let r = run(replies);
    assert!(r.result.unwrap_err().message.contains("redirects"));
}

#[test]
fn progress_is_throttled() {
    let d = data((3 << 20) + 12345);
    let chunks: Vec<Vec<u8>> = d.chunks(64 << 10).map(<[u8]>::to_vec).collect();
    let len = d.len().to_string();
    let r = run(vec![Reply::chunked(200, &[("Content-Length", &len)], chunks, None)]);
    r.result.unwrap();
    let total = Some(d.len() as u64);
    assert_eq!(r.progress, vec![(1 << 20, total), (2 << 20, total), (3 << 20, total), (d.len() as u64, total)]);
}

#[test]
fn error_bodies_are_capped() {
    let r = run(vec![Reply::ok(404, &[], &vec![b'x'; ERROR_BODY_CAP * 3])]);
    let e = r.result.unwrap_err();
    assert!(e.message.contains(&format!("body_len={ERROR_BODY_CAP} truncated=true")), "{e}");
}

#[test]
fn progress_resets_the_failure_budget() {
    let d = data(1000);
    let etag = md5_etag(&d);
    let mut o = opts();
    o.retry.max_retries = 1;
    o.retry.progress_resets_after = 100;
    let mut replies = vec![Reply::chunked(200, &[("Content-Length", "1000"), ("ETag", &etag)], vec![d[..200].to_vec()], broken())];
    for start in (200..800).step_by(200) {
        let cr = format!("bytes {start}-999/1000");
        replies.push(Reply::chunked(206, &[("Content-Range", &cr), ("ETag", &etag)], vec![d[start..start + 200].to_vec()], broken()));
    }
    replies.push(Reply::ok(206, &[("Content-Range", "bytes 800-999/1000"), ("ETag", &etag)], &d[800..]));
    let r = run_with(replies, o.clone());
    assert_eq!(r.result.unwrap().retries, 4);
    assert_eq!(r.out, d);

    // The same flakiness without progress exhausts the budget.
    let r = run_with(vec![Reply::fail(TransportErrorKind::Connect), Reply::fail(TransportErrorKind::Connect)], o);
    assert!(r.result.is_err());
}

#[test]
fn a_suffix_range_yields_the_tail_or_the_whole_object() {
    let d = data(10_000);
    let etag = md5_etag(&d);
    let mut o = opts();
    o.range = Some(ByteRange::Suffix(3000));
    let r = run_with(vec![Reply::ok(206, &[("Content-Range", "bytes 7000-9999/10000"), ("ETag", &etag)], &d[7000..])], o.clone());
    let out = r.result.unwrap();
    assert_eq!(r.t.requests[0].header("range"), Some("bytes=-3000"));
    assert_eq!(r.out, &d[7000..]);
    assert_eq!((out.bytes, out.object_size, out.range_start, out.verified), (3000, 10_000, Some(7000), None));

    // A store that ignores the range sends everything, verified like any full download.
    let len = d.len().to_string();
    let r = run_with(vec![Reply::ok(200, &[("Content-Length", &len), ("ETag", &etag)], &d)], o.clone());
    let out = r.result.unwrap();
    assert_eq!(r.out, d);
    assert_eq!((out.range_start, out.verified), (None, Some("md5-etag")));

    // A suffix longer than the object is the whole object: verified too.
    let small = data(100);
    let small_etag = md5_etag(&small);
    let r = run_with(vec![Reply::ok(206, &[("Content-Range", "bytes 0-99/100"), ("ETag", &small_etag)], &small)], o.clone());
    let out = r.result.unwrap();
    assert_eq!((out.range_start, out.verified, out.object_size), (None, Some("md5-etag"), 100));

    // An answer for other bytes than asked for is refused.
    let r = run_with(vec![Reply::ok(206, &[("Content-Range", "bytes 0-2999/10000"), ("ETag", &etag)], &d[..3000])], o);
    assert_eq!(r.result.unwrap_err().kind, ErrorKind::Integrity);
}

#[test]
fn a_cut_span_resumes_within_its_range_and_sends_if_match() {
    let d = data(10_000);
    let etag = md5_etag(&d);
    let mut o = opts();
    o.range = Some(ByteRange::Span { start: 0, end: 6000 });
    o.if_match = Some(etag.clone());
    let r = run_with(
        vec![
            Reply::chunked(206, &[("Content-Range", "bytes 0-5999/10000"), ("ETag", &etag)], vec![d[..2500].to_vec()], broken()),
            Reply::ok(206, &[("Content-Range", "bytes 2500-5999/10000"), ("ETag", &etag)], &d[2500..6000]),
        ],
        o,
    );
    let out = r.result.unwrap();
    assert_eq!(r.out, &d[..6000]);
    assert_eq!((out.bytes, out.object_size, out.range_start, out.retries), (6000, 10_000, Some(0), 1));
    assert_eq!(r.t.requests[0].header("range"), Some("bytes=0-5999"));
    assert_eq!(r.t.requests[0].header("if-match"), Some(etag.as_str()));
    assert_eq!(r.t.requests[1].header("range"), Some("bytes=2500-5999"));
    assert_eq!(r.t.requests[1].header("if-match"), Some(etag.as_str()));
}
