//! One request whose answer is small (an upload's PUT, POST and DELETE, a HEAD), sent again
//! whole after a transient failure with the download's retry policy: a busy store's
//! throttling is waited out within the throttle budget and told to the host, other failures
//! get a few quick retries. Nothing streams, so unlike a download there is nothing to resume.

use std::time::{Duration, SystemTime};

use super::classify::{classify, is_throttle, Class};
use super::download::Store;
use super::small::{read_capped, SmallResponse, ERROR_BODY_CAP};
use super::transport::Transport;
use super::types::{Request, Timeouts, TransportError};
use crate::error::{Error, ErrorKind, Result};
use crate::retry::{parse_retry_after, RetryDecision, RetryPolicy, Sleeper};
use crate::text::escape;

/// Store codes worth another attempt whatever the status: a request the store gave up
/// waiting for, and an internal error sent after a `200` had already gone out (S3 does this
/// when completing a multipart upload fails). Throttling codes are retried too (see
/// [`is_throttle`]).
const TRANSIENT_CODES: &[&str] = &["InternalError", "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", "IncompleteBody"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeOptions {
    /// For a request without a body; one with a body waits longer for the answer
    /// ([`Timeouts::sending`]).
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
}

/// What one answer means to the operation that asked.
#[derive(Debug)]
pub enum Verdict<V> {
    Done(V),
    /// Worth another attempt (throttling is told apart by status, code and `Retry-After`).
    Retry(Error),
    Fail(Error),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchanged<V> {
    pub value: V,
    /// Failed attempts that were retried, throttled ones not included.
    pub retries: u32,
    /// Answers that said the store was throttling.
    pub throttled: u32,
}

/// Which attempt an answer is for: `number` counts every attempt, throttled ones included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub number: u32,
}

impl Attempt {
    /// An earlier attempt went out and failed: the store may have acted on it.
    pub fn is_retry(self) -> bool {
        self.number > 1
    }
}

/// Sends `request` (signed afresh by `store` before every attempt) until `judge` accepts or
/// refuses an answer, or the retry policy gives up. Answers are read up to
/// [`ERROR_BODY_CAP`] bytes.
pub fn exchange<T: Transport, S: Store + ?Sized, Z: Sleeper + ?Sized, V>(
    transport: &mut T,
    store: &mut S,
    sleeper: &mut Z,
    opts: &ExchangeOptions,
    request: &Request,
    mut judge: impl FnMut(&SmallResponse, &S, Attempt) -> Verdict<V>,
) -> Result<Exchanged<V>> {
    // The loop is the same whatever the operation wants from the answer: it runs on the
    // judge's verdict alone, so one copy of it serves every operation (in a plugin, each
    // copy is kilobytes of wasm).
    let mut value = None;
    let done = retried(transport, store, sleeper, opts, request, &mut |answer, store, attempt| match judge(answer, store, attempt) {
        Verdict::Done(v) => {
            value = Some(v);
            Verdict::Done(())
        }
        Verdict::Retry(e) => Verdict::Retry(e),
        Verdict::Fail(e) => Verdict::Fail(e),
    })?;
    let value = value.ok_or_else(|| Error::internal("an exchange ended without the judge's value"))?;
    Ok(Exchanged { value, retries: done.retries, throttled: done.throttled })
}

fn retried<T: Transport, S: Store + ?Sized, Z: Sleeper + ?Sized>(
    transport: &mut T,
    store: &mut S,
    sleeper: &mut Z,
    opts: &ExchangeOptions,
    request: &Request,
    judge: &mut dyn FnMut(&SmallResponse, &S, Attempt) -> Verdict<()>,
) -> Result<Exchanged<()>> {
    let policy = RetryPolicy { throttle_budget: sleeper.throttle_budget().unwrap_or(opts.retry.throttle_budget), ..opts.retry };
    let timeouts = match &request.body {
        Some(body) => opts.timeouts.sending(body.len() as u64),
        None => opts.timeouts,
    };
    let (mut number, mut attempts, mut failures, mut retries, mut throttled) = (0u32, 0u32, 0u32, 0u32, 0u32);
    let mut throttle_wait = Duration::ZERO;
    loop {
        number += 1;
        attempts += 1;
        let mut req = request.clone();
        store.sign(&mut req)?;
        let failure = match transport.send(&req, &timeouts) {
            Err(e) => Failure::transport(&req, &e),
            Ok((head, mut body)) => match read_capped(&mut body, ERROR_BODY_CAP) {
                Err(e) => Failure::transport(&req, &e),
                Ok((body, truncated)) => {
                    let answer = SmallResponse { head, body, truncated };
                    match judge(&answer, store, Attempt { number }) {
                        Verdict::Done(value) => return Ok(Exchanged { value, retries, throttled }),
                        Verdict::Fail(e) => return Err(e),
                        Verdict::Retry(error) => {
                            let hint = answer.head.headers.get("retry-after");
                            Failure {
                                transient: true,
                                throttle: is_throttle(answer.head.status, error.store_code.as_deref(), hint.is_some()),
                                retry_after: hint.and_then(|v| parse_retry_after(v, SystemTime::now())),
                                error,
                            }
                        }
                    }
                }
            },
        };
        let Failure { error, transient, throttle, retry_after } = failure;
        if !transient {
            return Err(error);
        }
        if throttle {
            // Waiting on a busy store spends the throttle budget, not the attempts.
            throttled += 1;
            attempts -= 1;
            match policy.decide_throttled(throttled, throttle_wait, retry_after, sleeper.random_u64()) {
                RetryDecision::After(d) => {
                    sleeper.throttled(d);
                    sleeper.sleep(d);
                    throttle_wait += d;
                }
                RetryDecision::GiveUp => {
                    return Err(error.context(format!(
                        "the store was still throttling after {} s of waiting ({throttled} throttled answers); \
                         raise limits.throttle-budget-secs or retry when the burst is over",
                        throttle_wait.as_secs()
                    )))
                }
            }
            continue;
        }
        failures += 1;
        match policy.decide(failures, attempts, retry_after, sleeper.random_u64()) {
            RetryDecision::After(d) => {
                sleeper.sleep(d);
                retries += 1;
            }
            RetryDecision::GiveUp => {
                let why = match retry_after {
                    Some(ra) if ra > policy.max_retry_after => format!("the store asked to retry after {} s, longer than we wait", ra.as_secs()),
                    _ => format!("gave up after {attempts} attempts"),
                };
                return Err(error.context(why));
            }
        }
    }
}

/// The verdict on an answer that is not the one wanted: the store's error (from its error
/// document, or its status), retried when the status or the code says it will pass.
pub fn refusal<S: Store + ?Sized, V>(store: &S, answer: &SmallResponse) -> Verdict<V> {
    let status = answer.head.status;
    let mut e = store.parse_error(status, &answer.head.headers, &answer.body, answer.truncated);
    if e.http_status.is_none() {
        e.http_status = Some(status);
    }
    let code = e.store_code.as_deref();
    let transient = classify(status) == Class::Transient
        || code.is_some_and(|c| TRANSIENT_CODES.contains(&c))
        || is_throttle(status, code, false);
    if transient {
        Verdict::Retry(e)
    } else {
        Verdict::Fail(e)
    }
}

struct Failure {
    error: Error,
    transient: bool,
    throttle: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn transport(req: &Request, e: &TransportError) -> Failure {
        let error = Error::new(ErrorKind::Network, format!("{} to {}: {e}", req.method.as_str(), escape(&req.authority)));
        Failure { error, transient: e.is_transient(), throttle: false, retry_after: None }
    }
}

#[cfg(test)]
#[path = "exchange_tests.rs"]
mod tests;
