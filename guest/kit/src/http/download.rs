//! The download state machine: GET, stream to a [`Sink`], retry, resume, verify.

use std::time::{Duration, SystemTime};

use super::checksum::{md5_from_etag, Expected, Verifier};
use super::classify::{classify, is_throttle, parse_content_range, strong_etag, Class};
use super::redirect::{host_allowed, resolve_location, Target};
use super::sink::Sink;
use super::small::{read_capped, ERROR_BODY_CAP};
use super::transport::{Body, Transport};
use super::types::{Headers, Method, Request, Scheme, Timeouts, TransportError};
use crate::error::{Error, ErrorKind, Result};
use crate::retry::{parse_retry_after, RetryDecision, RetryPolicy, Sleeper};
use crate::text::escape;

/// Each read asks the runtime for this much: every read is a host call.
pub const READ_CHUNK: usize = 1 << 20;
// Below 256 KiB per read the host-call overhead dominates (measured with `cargo xtask bench`).
const _: () = assert!(READ_CHUNK >= 256 << 10);
/// Redirect hops followed before giving up.
pub const MAX_REDIRECTS: u32 = 5;

/// What is store-specific about a download.
pub trait Store {
    /// Adds authentication to a request for the original host (called before every
    /// attempt, so time-based signatures stay fresh). Never called for another host.
    fn sign(&mut self, req: &mut Request) -> Result<()>;

    /// Turns a non-success response into a typed error; `body` is at most
    /// [`ERROR_BODY_CAP`] bytes (`truncated` says whether there was more).
    fn parse_error(&self, status: u16, headers: &Headers, body: &[u8], truncated: bool) -> Error;

    /// The object's CRC-64/XZ if the store announced it.
    fn crc64(&self, _headers: &Headers) -> Option<u64> {
        None
    }

    /// Whether a 32-hex ETag on this response is the MD5 of the body. Stores answer
    /// false for encryption modes whose ETag is not a plain digest.
    fn etag_is_md5(&self, _headers: &Headers) -> bool {
        true
    }

    /// What a response announcing the whole object promises about its bytes. By default
    /// [`Store::crc64`], else an MD5 ETag; a store with other checksum headers (S3's
    /// `x-amz-checksum-*`) answers here.
    fn expected(&self, headers: &Headers) -> Option<Expected> {
        self.crc64(headers).map(Expected::Crc64).or_else(|| {
            let etag = headers.get("etag").and_then(strong_etag)?;
            md5_from_etag(etag).filter(|_| self.etag_is_md5(headers)).map(Expected::Md5)
        })
    }
}

#[derive(Debug, Clone)]
pub struct DownloadOptions {
    pub scheme: Scheme,
    pub authority: String,
    /// Already encoded for the wire.
    pub path_and_query: String,
    /// Hosts a redirect may lead to (`host`, `host:port`, `*.suffix`).
    pub redirect_allow: Vec<String>,
    /// Sent with every request (e.g. `User-Agent`), before the store signs it.
    pub headers: Vec<(String, String)>,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    pub max_bytes: u64,
    /// Progress is reported each time this many more bytes arrived.
    pub progress_every: u64,
    /// Ask for part of the object only. A store that ignores the range and answers 200 is
    /// accepted: the sink then receives the whole object (see [`DownloadOutcome::range_start`]).
    pub range: Option<ByteRange>,
    /// Sent as `If-Match` on the first request, so a part fetched later belongs to the same
    /// object as an earlier one; a store answering 412 fails the download.
    pub if_match: Option<String>,
}

/// A part of the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// The last `n` bytes (all of them if the object is shorter).
    Suffix(u64),
    /// Bytes `start..end` (end exclusive, clamped by the store to the object's size).
    Span { start: u64, end: u64 },
}

impl DownloadOptions {
    pub fn new(scheme: Scheme, authority: impl Into<String>, path_and_query: impl Into<String>) -> Self {
        DownloadOptions {
            scheme,
            authority: authority.into(),
            path_and_query: path_and_query.into(),
            redirect_allow: Vec::new(),
            headers: Vec::new(),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            max_bytes: u64::MAX,
            progress_every: 1 << 20,
            range: None,
            if_match: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadOutcome {
    pub bytes: u64,
    /// The size the store reported (Content-Length or Content-Range total), else `bytes`.
    pub object_size: u64,
    /// Failed attempts that were retried, throttled ones not included.
    pub retries: u32,
    /// Answers that said the store was throttling (each followed by a wait, but the last
    /// when the budget ran out).
    pub throttled: u32,
    /// Time spent waiting on throttling.
    pub throttle_wait: Duration,
    /// `crc64ecma` or `md5-etag` when a checksum was verified.
    pub verified: Option<&'static str>,
    pub etag: Option<String>,
    /// Body reads (host calls in wasm), for tuning.
    pub reads: u64,
    /// Where in the object the bytes handed to the sink start, when they are only part of
    /// it; `None` when the sink received the whole object.
    pub range_start: Option<u64>,
}

/// Why one attempt did not finish the download.
enum Failure {
    /// Worth another attempt after a pause.
    Transient { error: Error, retry_after: Option<Duration>, throttled: bool },
    /// Start from byte 0 right away (the object changed or the server ignored our range).
    Restart { reason: &'static str },
    Fatal(Error),
}

/// What we know about the object from the response that started the current copy.
struct Copy {
    written: u64,
    reads: u64,
    /// Object offset of the copy's first byte (non-zero only for a part).
    base: u64,
    /// Bytes this copy will hold when complete (the part's length, or the object's size).
    total: Option<u64>,
    /// The whole object's size, when the store said.
    object_size: Option<u64>,
    etag: Option<String>,
    verifier: Option<Verifier>,
    expected: Option<Expected>,
}

impl Copy {
    fn empty() -> Self {
        Copy { written: 0, reads: 0, base: 0, total: None, object_size: None, etag: None, verifier: None, expected: None }
    }

    /// A part of the object rather than all of it.
    fn partial(&self) -> bool {
        self.base > 0 || matches!((self.total, self.object_size), (Some(t), Some(o)) if t < o)
    }
}

/// Downloads `opts` into `sink`. On error the sink holds garbage; the caller discards it.
pub fn download<T: Transport, S: Store + ?Sized, Z: Sleeper + ?Sized>(
    transport: &mut T,
    store: &mut S,
    sleeper: &mut Z,
    opts: &DownloadOptions,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<DownloadOutcome> {
    let origin = Target { scheme: opts.scheme, authority: opts.authority.to_ascii_lowercase(), path_and_query: opts.path_and_query.clone() };
    let mut target = origin.clone();
    let mut copy = Copy::empty();
    let mut redirects = 0u32;
    let mut failures = 0u32;
    let mut attempts = 0u32;
    let mut retries = 0u32;
    let mut throttled = 0u32;
    let mut throttle_wait = Duration::ZERO;
    let policy = RetryPolicy { throttle_budget: sleeper.throttle_budget().unwrap_or(opts.retry.throttle_budget), ..opts.retry };
    let mut restarted_for_change = false;
    let mut next_progress = opts.progress_every.max(1);

    loop {
        attempts += 1;
        let before = copy.written;
        let result = attempt(transport, store, opts, &origin, &target, &mut copy, sink, progress, &mut next_progress);
        let progressed = copy.written.saturating_sub(before);
        match result {
            Ok(Step::Done) => break,
            Ok(Step::Redirect(to)) => {
                redirects += 1;
                target = to;
                // A hop is not a failure, but it is an attempt: a redirect loop must end.
                if attempts >= opts.retry.max_attempts {
                    return Err(Error::network("too many attempts while following redirects"));
                }
            }
            Err(Failure::Fatal(e)) if target.authority != origin.authority => {
                return Err(e.context(format!("after a redirect to {} (credentials are never sent to another host)", escape(&target.authority))))
            }
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Restart { reason }) => {
                if reason == RESTART_CHANGED {
                    if restarted_for_change {
                        return Err(Error::integrity(
                            "the object changed twice while it was being downloaded; try again when uploads have finished",
                        ));
                    }
                    restarted_for_change = true;
                }
                restart(sink, &mut copy, &mut next_progress, opts)?;
                retries += 1;
                if attempts >= opts.retry.max_attempts {
                    return Err(Error::network(format!("gave up after {attempts} attempts: {reason}")));
                }
            }
            Err(Failure::Transient { error, retry_after, throttled: true }) => {
                // Waiting on a busy store is not a failure of the request: it spends its own
                // budget, not the failure count or the attempt cap.
                throttled += 1;
                attempts -= 1;
                match policy.decide_throttled(throttled, throttle_wait, retry_after, sleeper.random_u64()) {
                    RetryDecision::GiveUp => {
                        let left = policy.throttle_budget.saturating_sub(throttle_wait);
                        let why = match retry_after {
                            Some(ra) if ra > left => format!(
                                "the store asked to retry after {} s, longer than we wait (the throttle budget leaves {} s; \
                                 limits.throttle-budget-secs)",
                                ra.as_secs(),
                                left.as_secs()
                            ),
                            _ => format!(
                                "the store was still throttling after {} s of waiting ({throttled} throttled answers); \
                                 raise limits.throttle-budget-secs or retry when the burst is over",
                                throttle_wait.as_secs()
                            ),
                        };
                        return Err(error.context(why));
                    }
                    RetryDecision::After(d) => {
                        sleeper.throttled(d);
                        sleeper.sleep(d);
                        throttle_wait += d;
                    }
                }
            }
            Err(Failure::Transient { error, retry_after, throttled: false }) => {
                if progressed >= opts.retry.progress_resets_after {
                    failures = 0;
                }
                failures += 1;
                match opts.retry.decide(failures, attempts, retry_after, sleeper.random_u64()) {
                    RetryDecision::GiveUp => {
                        let why = match retry_after {
                            Some(ra) if ra > opts.retry.max_retry_after => {
                                format!("the store asked to retry after {} s, longer than we wait", ra.as_secs())
                            }
                            _ => format!("gave up after {attempts} attempts"),
                        };
                        return Err(error.context(why));
                    }
                    RetryDecision::After(d) => {
                        sleeper.sleep(d);
                        retries += 1;
                    }
                }
            }
        }
        if redirects > MAX_REDIRECTS {
            return Err(Error::network(format!("more than {MAX_REDIRECTS} redirects")));
        }
    }

    sink.finish().map_err(|e| Error::io("writing the downloaded object", e))?;
    let verified = match copy.verifier.take() {
        Some(v) => match v.finish() {
            Ok(name) => Some(name),
            Err((want, got)) => {
                let name = copy.expected.map(|e| e.name()).unwrap_or("checksum");
                return Err(Error::integrity(format!(
                    "{name} mismatch: the store announced {want}, the received bytes give {got}"
                )));
            }
        },
        None => None,
    };
    progress(copy.written, copy.total);
    let range_start = copy.partial().then_some(copy.base);
    Ok(DownloadOutcome {
        bytes: copy.written,
        object_size: copy.object_size.or(copy.total).unwrap_or(copy.written),
        retries,
        throttled,
        throttle_wait,
        verified,
        etag: copy.etag,
        reads: copy.reads,
        range_start,
    })
}

const RESTART_CHANGED: &str = "the object changed during the download (If-Match failed)";

enum Step {
    Done,
    Redirect(Target),
}

fn restart(sink: &mut dyn Sink, copy: &mut Copy, next_progress: &mut u64, opts: &DownloadOptions) -> Result<()> {
    sink.restart().map_err(|e| Error::io("rewinding the download file", e))?;
    *copy = Copy { reads: copy.reads, ..Copy::empty() };
    *next_progress = opts.progress_every.max(1);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn attempt<T: Transport, S: Store + ?Sized>(
    transport: &mut T,
    store: &mut S,
    opts: &DownloadOptions,
    origin: &Target,
    target: &Target,
    copy: &mut Copy,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(u64, Option<u64>),
    next_progress: &mut u64,
) -> std::result::Result<Step, Failure> {
    let mut req = Request::new(Method::Get, target.scheme, target.authority.clone(), target.path_and_query.clone());
    for (k, v) in &opts.headers {
        req.set_header(k, v.clone());
    }
    // Compressed transfer would make Content-Length and the checksums describe other bytes.
    req.set_header("Accept-Encoding", "identity");
    let resuming = copy.written > 0;
    if resuming {
        match &copy.etag {
            Some(etag) => {
                let from = copy.base + copy.written;
                let range = match copy.total.filter(|_| copy.partial()) {
                    Some(len) => format!("bytes={from}-{}", copy.base + len - 1),
                    None => format!("bytes={from}-"),
                };
                req.set_header("Range", range);
                req.set_header("If-Match", etag.clone());
            }
            // Without an ETag there is no way to know the rest belongs to the same object.
            None => {
                restart_inline(sink, copy, next_progress, opts)?;
            }
        }
    }
    let resuming = copy.written > 0;
    if !resuming {
        match opts.range {
            Some(ByteRange::Suffix(n)) => req.set_header("Range", format!("bytes=-{n}")),
            Some(ByteRange::Span { start, end }) => req.set_header("Range", format!("bytes={start}-{}", end.saturating_sub(1))),
            None => {}
        }
        if let Some(etag) = &opts.if_match {
            req.set_header("If-Match", etag.clone());
        }
    }
    let same_host = target.scheme == origin.scheme && target.authority == origin.authority;
    if same_host {
        store.sign(&mut req).map_err(Failure::Fatal)?;
    }

    let (head, mut body) = match transport.send(&req, &opts.timeouts) {
        Ok(r) => r,
        Err(e) => return Err(transport_failure(&e, &req)),
    };
    let status = head.status;
    match classify(status) {
        Class::Full => {
            if resuming {
                // The server ignored the range: take the full body it is sending.
                restart_inline(sink, copy, next_progress, opts)?;
            }
            start_copy(store, &head.headers, copy, opts)?;
        }
        Class::Partial if !resuming => {
            let Some(want) = opts.range else {
                return Err(Failure::Fatal(
                    Error::integrity("the store answered a plain GET with 206 Partial Content").with_status(status),
                ));
            };
            start_part(store, &head.headers, want, copy, opts)?;
        }
        Class::Partial => {
            let range = head.headers.get("content-range").and_then(parse_content_range);
            let consistent = match range {
                Some(r) => {
                    r.start == copy.base + copy.written
                        && (copy.object_size.is_none() || r.total.is_none() || r.total == copy.object_size)
                        && (!copy.partial() || copy.total.is_none_or(|t| r.end == copy.base + t - 1))
                }
                None => false,
            };
            if !consistent {
                return Err(Failure::Restart { reason: "the store answered a resume with a different byte range" });
            }
            let etag = head.headers.get("etag").and_then(strong_etag);
            if etag.is_some() && etag != copy.etag.as_deref() {
                return Err(Failure::Restart { reason: RESTART_CHANGED });
            }
            if copy.total.is_none() {
                copy.total = range.and_then(|r| r.total);
                copy.object_size = copy.total;
            }
        }
        Class::Redirect => return redirect(store, &head.headers, status, &mut body, opts, target).map(Step::Redirect),
        Class::PreconditionFailed if resuming => return Err(Failure::Restart { reason: RESTART_CHANGED }),
        Class::Transient => {
            let (error, _) = store_error(store, status, &head.headers, &mut body);
            let hint = head.headers.get("retry-after");
            let throttled = is_throttle(status, error.store_code.as_deref(), hint.is_some());
            let retry_after = hint.and_then(|v| parse_retry_after(v, SystemTime::now()));
            return Err(Failure::Transient { error, retry_after, throttled });
        }
        Class::PreconditionFailed | Class::Fatal => {
            let (error, _) = store_error(store, status, &head.headers, &mut body);
            return Err(Failure::Fatal(error));
        }
    }

    stream_body(&mut body, copy, sink, opts, progress, next_progress)?;
    Ok(Step::Done)
}

fn restart_inline(sink: &mut dyn Sink, copy: &mut Copy, next_progress: &mut u64, opts: &DownloadOptions) -> std::result::Result<(), Failure> {
    restart(sink, copy, next_progress, opts).map_err(Failure::Fatal)
}

/// Records what a 200 says about the object and checks it against the limit up front.
fn start_copy<S: Store + ?Sized>(store: &S, headers: &Headers, copy: &mut Copy, opts: &DownloadOptions) -> std::result::Result<(), Failure> {
    let total = headers.content_length();
    if let Some(len) = total.filter(|&len| len > opts.max_bytes) {
        return Err(Failure::Fatal(Error::limit(format!(
            "the object is {len} bytes, more than the download limit of {} bytes",
            opts.max_bytes
        ))));
    }
    let etag = headers.get("etag").and_then(strong_etag).map(str::to_string);
    let expected = store.expected(headers);
    *copy = Copy { written: 0, reads: copy.reads, base: 0, total, object_size: total, etag, verifier: expected.map(Verifier::new), expected };
    Ok(())
}

/// Records what a 206 answering our own range request says, and checks it is the part we
/// asked for. A part that happens to be the whole object is verified like a 200.
fn start_part<S: Store + ?Sized>(store: &S, headers: &Headers, want: ByteRange, copy: &mut Copy, opts: &DownloadOptions) -> std::result::Result<(), Failure> {
    let bad = |why: String| Failure::Fatal(Error::integrity(why).with_status(206));
    let shown = headers.get("content-range").unwrap_or("").to_string();
    let Some(r) = headers.get("content-range").and_then(parse_content_range) else {
        return Err(bad(format!("the store answered a range request with an unusable Content-Range {:?}", escape(&shown))));
    };
    let Some(object) = r.total else {
        return Err(bad(format!("the store's Content-Range {:?} does not give the object's size", escape(&shown))));
    };
    if object > opts.max_bytes {
        return Err(Failure::Fatal(Error::limit(format!(
            "the object is {object} bytes, more than the download limit of {} bytes",
            opts.max_bytes
        ))));
    }
    let (want_start, want_end) = match want {
        ByteRange::Suffix(n) => (object.saturating_sub(n), object),
        ByteRange::Span { start, end } => (start, end.min(object)),
    };
    if r.start != want_start || r.end + 1 != want_end || r.end < r.start {
        return Err(bad(format!("the store answered a range request with bytes {:?}, not {want_start}-{}", escape(&shown), want_end.saturating_sub(1))));
    }
    let etag = headers.get("etag").and_then(strong_etag).map(str::to_string);
    let whole = r.start == 0 && r.end + 1 == object;
    let expected = if whole { store.expected(headers) } else { None };
    *copy = Copy {
        written: 0,
        reads: copy.reads,
        base: r.start,
        total: Some(r.end - r.start + 1),
        object_size: Some(object),
        etag,
        verifier: expected.map(Verifier::new),
        expected,
    };
    Ok(())
}

fn stream_body<B: Body>(
    body: &mut B,
    copy: &mut Copy,
    sink: &mut dyn Sink,
    opts: &DownloadOptions,
    progress: &mut dyn FnMut(u64, Option<u64>),
    next_progress: &mut u64,
) -> std::result::Result<(), Failure> {
    loop {
        copy.reads += 1;
        let chunk = match body.read_chunk(READ_CHUNK) {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                return Err(Failure::Transient {
                    error: Error::network(format!("the body broke off after {} bytes: {e}", copy.written)),
                    retry_after: None,
                    throttled: false,
                })
            }
        };
        let after = copy.written + chunk.len() as u64;
        if let Some(total) = copy.total.filter(|&t| after > t) {
            return Err(Failure::Fatal(Error::integrity(format!(
                "the store sent more bytes than the {total} it announced"
            ))));
        }
        if copy.base + after > opts.max_bytes {
            return Err(Failure::Fatal(Error::limit(format!(
                "the download passed the limit of {} bytes",
                opts.max_bytes
            ))));
        }
        sink.write_chunk(&chunk).map_err(|e| Failure::Fatal(Error::io("writing the downloaded object", e)))?;
        if let Some(v) = copy.verifier.as_mut() {
            v.update(&chunk);
        }
        copy.written = after;
        if copy.written >= *next_progress {
            progress(copy.written, copy.total);
            let step = opts.progress_every.max(1);
            *next_progress = (copy.written / step + 1) * step;
        }
    }
    if let Some(total) = copy.total.filter(|&t| copy.written < t) {
        return Err(Failure::Transient {
            error: Error::network(format!("the body ended after {} of {total} bytes", copy.written)),
            retry_after: None,
            throttled: false,
        });
    }
    Ok(())
}

fn redirect<S: Store + ?Sized, B: Body>(
    store: &S,
    headers: &Headers,
    status: u16,
    body: &mut B,
    opts: &DownloadOptions,
    current: &Target,
) -> std::result::Result<Target, Failure> {
    let location = headers.get("location").unwrap_or("");
    let to = resolve_location(location, current);
    let mut refuse = |why: String| {
        let (err, _) = store_error(store, status, headers, body);
        Failure::Fatal(err.context(why))
    };
    let Some(to) = to else {
        return Err(refuse(format!("redirected to an unusable location {:?}", escape(location))));
    };
    if current.scheme == Scheme::Https && to.scheme == Scheme::Http {
        return Err(refuse(format!("refused a redirect from https to plain http ({})", escape(&to.authority))));
    }
    let same = to.scheme == current.scheme && to.authority == current.authority;
    if !same && !host_allowed(to.scheme, &to.authority, &opts.redirect_allow) {
        return Err(refuse(format!(
            "redirected to {}, which is not an allowed host; point the endpoint at the right region instead",
            escape(&to.authority)
        )));
    }
    Ok(to)
}

/// Reads and parses an error body; network trouble while reading it still yields an error
/// built from the status alone.
fn store_error<S: Store + ?Sized, B: Body>(store: &S, status: u16, headers: &Headers, body: &mut B) -> (Error, bool) {
    let (bytes, truncated) = read_capped(body, ERROR_BODY_CAP).unwrap_or_default();
    let mut e = store.parse_error(status, headers, &bytes, truncated);
    if e.http_status.is_none() {
        e.http_status = Some(status);
    }
    (e, truncated)
}

fn transport_failure(e: &TransportError, req: &Request) -> Failure {
    let host = escape(&req.authority);
    let error = Error::new(ErrorKind::Network, format!("GET from {host}: {e}"));
    if e.is_transient() {
        Failure::Transient { error, retry_after: None, throttled: false }
    } else {
        Failure::Fatal(error)
    }
}

#[cfg(test)]
#[path = "download_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "download_props.rs"]
mod props;
