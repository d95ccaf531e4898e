//! A scripted in-memory transport for native tests of anything built on [`super::Transport`]
//! (the download engine here, store plugins' credential and download flows).

use std::collections::VecDeque;
use std::time::Duration;

use super::transport::{Body, Transport};
use super::types::{Headers, Request, ResponseHead, Timeouts, TransportError, TransportErrorKind};
use crate::retry::Sleeper;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A response whose body is served in the given chunks, then ends with `end`
    /// (`None` = clean end of body, `Some(e)` = the connection fails after the chunks).
    Response { status: u16, headers: Vec<(String, String)>, chunks: Vec<Vec<u8>>, end: Option<TransportError> },
    /// The request fails before any response.
    Fail(TransportError),
}

impl Reply {
    pub fn ok(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        Reply::chunked(status, headers, vec![body.to_vec()], None)
    }

    pub fn chunked(status: u16, headers: &[(&str, &str)], chunks: Vec<Vec<u8>>, end: Option<TransportError>) -> Reply {
        Reply::Response {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            chunks,
            end,
        }
    }

    pub fn fail(kind: TransportErrorKind) -> Reply {
        Reply::Fail(TransportError::new(kind, "scripted failure"))
    }
}

/// Serves [`Reply`]s in order and records every request it was sent.
#[derive(Debug, Default)]
pub struct FakeTransport {
    pub replies: VecDeque<Reply>,
    pub requests: Vec<Request>,
    pub timeouts_seen: Vec<Timeouts>,
}

impl FakeTransport {
    pub fn new(replies: Vec<Reply>) -> Self {
        FakeTransport { replies: replies.into(), requests: Vec::new(), timeouts_seen: Vec::new() }
    }
}

impl Transport for FakeTransport {
    type Body = FakeBody;

    fn send(&mut self, req: &Request, timeouts: &Timeouts) -> Result<(ResponseHead, FakeBody), TransportError> {
        self.requests.push(req.clone());
        self.timeouts_seen.push(*timeouts);
        match self.replies.pop_front() {
            Some(Reply::Response { status, headers, chunks, end }) => {
                let headers: Headers = headers.into_iter().collect();
                Ok((ResponseHead { status, headers }, FakeBody::new(chunks, end)))
            }
            Some(Reply::Fail(e)) => Err(e),
            None => panic!("FakeTransport: unexpected request {} {}", req.method.as_str(), req.url()),
        }
    }
}

/// Serves its chunks, each cut to the reader's `max`.
#[derive(Debug)]
pub struct FakeBody {
    chunks: VecDeque<Vec<u8>>,
    end: Option<TransportError>,
    /// The largest `max` any read asked for, so tests can check reads are large.
    pub largest_request: usize,
}

impl FakeBody {
    pub fn new(chunks: Vec<Vec<u8>>, end: Option<TransportError>) -> Self {
        FakeBody { chunks: chunks.into(), end, largest_request: 0 }
    }
}

impl Body for FakeBody {
    fn read_chunk(&mut self, max: usize) -> Result<Option<Vec<u8>>, TransportError> {
        self.largest_request = self.largest_request.max(max);
        match self.chunks.pop_front() {
            Some(mut c) => {
                if c.len() > max {
                    let rest = c.split_off(max);
                    self.chunks.push_front(rest);
                }
                Ok(Some(c))
            }
            None => match self.end.take() {
                Some(e) => Err(e),
                None => Ok(None),
            },
        }
    }
}

/// Records sleeps instead of sleeping; "random" values are a fixed sequence.
#[derive(Debug, Default)]
pub struct FakeSleeper {
    pub slept: Vec<Duration>,
    pub random: u64,
    /// Waits announced as throttling, in order.
    pub throttled: Vec<Duration>,
    /// What the "host" says the throttle budget is.
    pub budget: Option<Duration>,
}

impl Sleeper for FakeSleeper {
    fn sleep(&mut self, d: Duration) {
        self.slept.push(d);
    }
    fn random_u64(&mut self) -> u64 {
        self.random = self.random.wrapping_add(1);
        self.random
    }
    fn throttled(&mut self, d: Duration) {
        self.throttled.push(d);
    }
    fn throttle_budget(&self) -> Option<Duration> {
        self.budget
    }
}
