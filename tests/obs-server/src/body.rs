//! Response bodies. Object bodies are slices of the stored `Bytes` handed to hyper in large
//! frames (zero-copy); body faults (cut, reset, stall, extra bytes, pacing) happen here.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::conn::ConnControl;
use crate::faults::BodyFaults;

/// Time given to hyper to push already-produced bytes into the socket before the connection
/// is cut, so "after N bytes" means the client can actually read N bytes.
const DRAIN_BEFORE_CUT: Duration = Duration::from_millis(100);

/// Throttled bodies are paced in slices of about this fraction of a second.
const THROTTLE_SLICES_PER_SEC: u64 = 20;

/// Written past Content-Length by the `long_body` fault.
const EXTRA_PATTERN: &[u8] = b"EXTRA-BYTES-PAST-CONTENT-LENGTH\n";

/// Why a body stopped on purpose.
#[derive(Debug)]
pub struct BodyAbort(&'static str);

impl fmt::Display for BodyAbort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "body aborted by fault: {}", self.0)
    }
}

impl std::error::Error for BodyAbort {}

pub enum ResponseBody {
    Empty,
    Full(Option<Bytes>),
    Object(ObjectStream),
}

impl ResponseBody {
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        if bytes.is_empty() {
            ResponseBody::Empty
        } else {
            ResponseBody::Full(Some(bytes))
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BodyAbort;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyAbort>>> {
        match self.get_mut() {
            ResponseBody::Empty => Poll::Ready(None),
            ResponseBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ResponseBody::Object(stream) => stream.poll_next(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Empty => true,
            ResponseBody::Full(bytes) => bytes.is_none(),
            ResponseBody::Object(stream) => stream.done,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Empty => SizeHint::with_exact(0),
            ResponseBody::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            ResponseBody::Object(stream) => stream.size_hint(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pause {
    Stall,
    BeforeReset,
    BeforeShortEnd,
    Throttle,
}

/// Streams `data` (already cut to the requested range).
pub struct ObjectStream {
    data: Bytes,
    sent: usize,
    frame: usize,
    faults: BodyFaults,
    ctl: Arc<ConnControl>,
    sleep: Option<(Pin<Box<Sleep>>, Pause)>,
    stalled: bool,
    started: Option<Instant>,
    done: bool,
}

impl ObjectStream {
    pub fn new(data: Bytes, frame: usize, faults: BodyFaults, ctl: Arc<ConnControl>) -> Self {
        let frame = match faults.throttle_bytes_per_sec {
            Some(rate) => (rate / THROTTLE_SLICES_PER_SEC).clamp(1, frame as u64) as usize,
            None => frame,
        };
        ObjectStream {
            data,
            sent: 0,
            frame,
            faults,
            ctl,
            sleep: None,
            stalled: false,
            started: None,
            done: false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        // With a cut or extended body the Content-Length header (the full size) is the truth
        // hyper must frame by; only a clean body may claim an exact length.
        if self.faults.short_after.is_some()
            || self.faults.extra_bytes.is_some()
            || self.faults.reset_after.is_some()
        {
            return SizeHint::default();
        }
        SizeHint::with_exact((self.data.len() - self.sent) as u64)
    }

    fn pause(&mut self, duration: Duration, why: Pause) {
        self.sleep = Some((Box::pin(tokio::time::sleep(duration)), why));
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyAbort>>> {
        loop {
            if let Some((sleep, why)) = self.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let why = *why;
                self.sleep = None;
                match why {
                    Pause::BeforeReset => {
                        self.done = true;
                        self.ctl.request_reset();
                        return Poll::Ready(Some(Err(BodyAbort("reset"))));
                    }
                    Pause::BeforeShortEnd => {
                        // Ending before Content-Length makes hyper close the connection.
                        self.done = true;
                        return Poll::Ready(None);
                    }
                    Pause::Stall | Pause::Throttle => {}
                }
            }
            if self.done {
                return Poll::Ready(None);
            }
            let sent = self.sent as u64;
            let total = self.data.len() as u64;
            if self.faults.reset_after.is_some_and(|at| sent >= at) {
                self.pause(DRAIN_BEFORE_CUT, Pause::BeforeReset);
                continue;
            }
            if let Some((at, duration)) = self.faults.stall
                && !self.stalled
                && sent >= at
                && sent < total
            {
                self.stalled = true;
                self.pause(duration, Pause::Stall);
                continue;
            }
            let end = self.faults.short_after.map_or(total, |s| s.min(total));
            if sent >= end {
                if end < total {
                    self.pause(DRAIN_BEFORE_CUT, Pause::BeforeShortEnd);
                    continue;
                }
                // Only an empty body gets here; longer ones queue the extra with their last frame.
                if let Some(extra) = self.faults.extra_bytes {
                    self.ctl.inject_after_body(extra_bytes(extra));
                }
                self.done = true;
                return Poll::Ready(None);
            }
            if let Some(rate) = self.faults.throttle_bytes_per_sec {
                let started = *self.started.get_or_insert_with(Instant::now);
                let due = started + Duration::from_secs_f64(sent as f64 / rate as f64);
                if Instant::now() < due {
                    self.sleep = Some((Box::pin(tokio::time::sleep_until(due)), Pause::Throttle));
                    continue;
                }
            }
            let mut next = (sent + self.frame as u64).min(end);
            if let Some(at) = self.faults.reset_after.filter(|&at| at > sent) {
                next = next.min(at);
            }
            if let Some((at, _)) = self
                .faults
                .stall
                .filter(|&(at, _)| !self.stalled && at > sent)
            {
                next = next.min(at);
            }
            if next == total {
                // hyper stops polling once Content-Length is satisfied, so the extra bytes are
                // queued with the last frame; `ConnIo` writes them after hyper's buffer.
                if let Some(extra) = self.faults.extra_bytes {
                    self.ctl.inject_after_body(extra_bytes(extra));
                }
                self.done = true;
            }
            let chunk = self.data.slice(self.sent..next as usize);
            self.sent = next as usize;
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
    }
}

fn extra_bytes(len: u64) -> Bytes {
    EXTRA_PATTERN
        .iter()
        .copied()
        .cycle()
        .take(len as usize)
        .collect::<Vec<u8>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn stream(len: usize, faults: BodyFaults) -> (ResponseBody, Arc<ConnControl>) {
        let ctl = Arc::new(ConnControl::default());
        let data: Bytes = (0..len).map(|i| i as u8).collect::<Vec<u8>>().into();
        (
            ResponseBody::Object(ObjectStream::new(
                data,
                256 * 1024,
                faults,
                Arc::clone(&ctl),
            )),
            ctl,
        )
    }

    async fn drain(mut body: ResponseBody) -> (Vec<usize>, Result<(), BodyAbort>) {
        let mut frames = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => frames.push(f.into_data().expect("data frame").len()),
                Err(e) => return (frames, Err(e)),
            }
        }
        (frames, Ok(()))
    }

    #[tokio::test]
    async fn clean_body_uses_large_frames_and_exact_hint() {
        let (body, _) = stream(600 * 1024, BodyFaults::default());
        assert_eq!(body.size_hint().exact(), Some(600 * 1024));
        let (frames, end) = drain(body).await;
        assert!(end.is_ok());
        assert_eq!(frames, vec![256 * 1024, 256 * 1024, 88 * 1024]);
    }

    #[tokio::test]
    async fn short_body_stops_early() {
        let (body, ctl) = stream(
            1000,
            BodyFaults {
                short_after: Some(300),
                ..Default::default()
            },
        );
        assert_eq!(body.size_hint().exact(), None);
        let (frames, end) = drain(body).await;
        assert!(end.is_ok());
        assert_eq!(frames.iter().sum::<usize>(), 300);
        assert!(!ctl.reset_requested());
    }

    #[tokio::test]
    async fn reset_errors_after_exact_byte_count() {
        let (body, ctl) = stream(
            1000,
            BodyFaults {
                reset_after: Some(123),
                ..Default::default()
            },
        );
        let (frames, end) = drain(body).await;
        assert!(end.is_err());
        assert_eq!(frames.iter().sum::<usize>(), 123);
        assert!(ctl.reset_requested());
    }

    #[tokio::test]
    async fn long_body_injects_extra_after_the_end() {
        let (body, ctl) = stream(
            10,
            BodyFaults {
                extra_bytes: Some(40),
                ..Default::default()
            },
        );
        let (frames, end) = drain(body).await;
        assert!(end.is_ok());
        assert_eq!(frames.iter().sum::<usize>(), 10);
        let extra = ctl.take_inject().expect("extra bytes queued");
        assert_eq!(extra.len(), 40);
        assert!(extra.starts_with(b"EXTRA-BYTES"));
    }

    #[tokio::test(start_paused = true)]
    async fn stall_pauses_once_at_offset() {
        let (body, _) = stream(
            1000,
            BodyFaults {
                stall: Some((500, Duration::from_secs(30))),
                ..Default::default()
            },
        );
        let t0 = Instant::now();
        let (frames, _) = drain(body).await;
        assert_eq!(frames, vec![500, 500]);
        assert!(t0.elapsed() >= Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn throttle_paces_bytes() {
        let (body, _) = stream(
            10_000,
            BodyFaults {
                throttle_bytes_per_sec: Some(2_000),
                ..Default::default()
            },
        );
        let t0 = Instant::now();
        let (frames, _) = drain(body).await;
        assert_eq!(frames.iter().sum::<usize>(), 10_000);
        assert!(frames.iter().all(|&f| f == 100), "slices of rate/20");
        let elapsed = t0.elapsed();
        assert!(
            elapsed >= Duration::from_millis(4_900) && elapsed <= Duration::from_millis(5_100),
            "{elapsed:?}"
        );
    }
}
