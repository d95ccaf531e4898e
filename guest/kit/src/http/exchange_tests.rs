use super::*;
use crate::http::testing::{FakeSleeper, FakeTransport, Reply};
use crate::http::types::{Headers, Method, RequestBody, Scheme, TransportErrorKind};
use crate::store_error::parse_error_doc;

/// Signs with a counter, reads the code of an error document.
#[derive(Default)]
struct TestStore {
    signed: u32,
}

impl Store for TestStore {
    fn sign(&mut self, req: &mut Request) -> Result<()> {
        self.signed += 1;
        req.set_header("Authorization", format!("TEST {}", self.signed));
        Ok(())
    }
    fn parse_error(&self, status: u16, _: &Headers, body: &[u8], _: bool) -> Error {
        let code = parse_error_doc(body).and_then(|d| d.code);
        Error::new(ErrorKind::AccessDenied, format!("status {status}")).with_store(code, None)
    }
}

fn put() -> Request {
    Request::new(Method::Put, Scheme::Http, "b.store.test", "/k").with_body(RequestBody::from(b"bytes".to_vec()))
}

fn opts() -> ExchangeOptions {
    ExchangeOptions { timeouts: Timeouts::default(), retry: RetryPolicy::default() }
}

/// Accepts 200 with its ETag, refuses everything else the kit's way.
fn etag(answer: &SmallResponse, store: &TestStore, _: Attempt) -> Verdict<String> {
    match answer.head.status {
        200 => Verdict::Done(answer.head.headers.get("etag").unwrap_or("").to_string()),
        _ => refusal(store, answer),
    }
}

fn run(replies: Vec<Reply>) -> (Result<Exchanged<String>>, FakeTransport, FakeSleeper, TestStore) {
    let (mut t, mut z, mut s) = (FakeTransport::new(replies), FakeSleeper::default(), TestStore::default());
    let r = exchange(&mut t, &mut s, &mut z, &opts(), &put(), etag);
    (r, t, z, s)
}

#[test]
fn the_same_bytes_go_again_signed_afresh_after_transient_failures() {
    let (r, t, z, s) = run(vec![
        Reply::fail(TransportErrorKind::Broken),
        Reply::ok(500, &[], b"<Error><Code>InternalError</Code></Error>"),
        Reply::ok(200, &[("ETag", "\"e\"")], b""),
    ]);
    assert_eq!(r.unwrap(), Exchanged { value: "\"e\"".into(), retries: 2, throttled: 0 });
    assert_eq!((s.signed, z.slept.len()), (3, 2));
    assert_eq!(t.requests.iter().map(|r| r.header("authorization").unwrap()).collect::<Vec<_>>(), ["TEST 1", "TEST 2", "TEST 3"]);
    assert!(t.requests.iter().all(|r| r.body.as_ref().unwrap().as_slice() == b"bytes" && r.header("content-length") == Some("5")));
    // The body's own wait for the answer, not a bare request's.
    assert_eq!(t.timeouts_seen[0], Timeouts::default().sending(5));
}

#[test]
fn throttling_is_waited_out_and_told_not_counted() {
    let (r, _, z, _) = run(vec![
        Reply::ok(503, &[("Retry-After", "2")], b"<Error><Code>SlowDown</Code></Error>"),
        Reply::ok(429, &[], b""),
        Reply::ok(200, &[("ETag", "\"e\"")], b""),
    ]);
    assert_eq!((r.as_ref().unwrap().retries, r.unwrap().throttled), (0, 2));
    assert_eq!(z.throttled.len(), 2);
    assert_eq!(z.throttled[0], Duration::from_secs(2));
}

#[test]
fn an_error_sent_after_a_200_is_retried_by_its_code() {
    let judge = |a: &SmallResponse, s: &TestStore, _: Attempt| -> Verdict<()> {
        match parse_error_doc(&a.body) {
            Some(_) => refusal(s, a),
            None => Verdict::Done(()),
        }
    };
    let (mut t, mut z, mut s) = (
        FakeTransport::new(vec![Reply::ok(200, &[], b"<Error><Code>InternalError</Code></Error>"), Reply::ok(200, &[], b"<Done/>")]),
        FakeSleeper::default(),
        TestStore::default(),
    );
    assert_eq!(exchange(&mut t, &mut s, &mut z, &opts(), &put(), judge).unwrap().retries, 1);
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"<Error><Code>AccessDenied</Code></Error>")]);
    let e = exchange(&mut t, &mut s, &mut z, &opts(), &put(), judge).unwrap_err();
    assert_eq!((e.store_code.as_deref(), e.http_status), (Some("AccessDenied"), Some(200)));
}

#[test]
fn verdicts_about_the_request_are_not_retried() {
    for (status, body) in [(403, &b"<Error><Code>AccessDenied</Code></Error>"[..]), (400, b"<Error><Code>BadDigest</Code></Error>"), (301, b"")] {
        let (r, t, z, _) = run(vec![Reply::ok(status, &[], body)]);
        let e = r.unwrap_err();
        assert_eq!((e.http_status, t.requests.len(), z.slept.len()), (Some(status), 1, 0), "{status}");
    }
    // A 400 that only says the store stopped waiting is worth another try.
    let (r, _, _, _) = run(vec![Reply::ok(400, &[], b"<Error><Code>RequestTimeout</Code></Error>"), Reply::ok(200, &[], b"")]);
    assert_eq!(r.unwrap().retries, 1);
    // So is a connection cut while the answer was being read.
    let cut = Reply::chunked(200, &[], vec![], Some(TransportError::new(TransportErrorKind::Broken, "reset")));
    let (r, _, _, _) = run(vec![cut, Reply::ok(200, &[], b"")]);
    assert_eq!(r.unwrap().retries, 1);
}

#[test]
fn gives_up_with_what_went_wrong() {
    let (r, t, _, _) = run((0..10).map(|_| Reply::fail(TransportErrorKind::Connect)).collect());
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network);
    assert!(e.message.starts_with("gave up after 6 attempts: PUT to b.store.test: connection failed"), "{}", e.message);
    assert_eq!(t.requests.len(), 6);
    let (r, t, _, _) = run(vec![Reply::fail(TransportErrorKind::Dns)]);
    assert!(r.unwrap_err().message.contains("name resolution"));
    assert_eq!(t.requests.len(), 1);
}

#[test]
fn a_spent_throttle_budget_ends_the_request() {
    let (mut t, mut s) = (FakeTransport::new((0..50).map(|_| Reply::ok(503, &[], b"<Error><Code>SlowDown</Code></Error>")).collect()), TestStore::default());
    let mut z = FakeSleeper { budget: Some(Duration::from_secs(1)), ..FakeSleeper::default() };
    let e = exchange(&mut t, &mut s, &mut z, &opts(), &put(), etag).unwrap_err();
    assert!(e.message.contains("still throttling"), "{}", e.message);
    assert!(z.slept.iter().sum::<Duration>() <= Duration::from_secs(1));
}

#[test]
fn the_judge_learns_which_attempt_answered() {
    let mut seen = Vec::new();
    let (mut t, mut z, mut s) = (FakeTransport::new(vec![Reply::fail(TransportErrorKind::Timeout), Reply::ok(404, &[], b"")]), FakeSleeper::default(), TestStore::default());
    let r = exchange(&mut t, &mut s, &mut z, &opts(), &put(), |a, _, at| {
        seen.push(at.is_retry());
        Verdict::Done(a.head.status)
    });
    assert_eq!(r.unwrap().value, 404);
    assert_eq!(seen, [true]);
}
