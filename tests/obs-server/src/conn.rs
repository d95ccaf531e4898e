//! Per-connection control for faults hyper itself would never produce: bytes past
//! Content-Length and an abortive close (TCP RST).
//!
//! `ConnIo` wraps any transport. The TLS acceptor (`tls.rs`) wraps `ConnIo<TcpStream>` (so the
//! RST still reaches the socket) and hands the TLS stream to `serve_connection`.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Shared between a connection's transport and the response bodies it carries.
#[derive(Debug, Default)]
pub struct ConnControl {
    reset: AtomicBool,
    inject: Mutex<Option<Bytes>>,
}

impl ConnControl {
    /// The connection must end with RST instead of FIN.
    pub fn request_reset(&self) {
        self.reset.store(true, Ordering::SeqCst);
    }

    pub fn reset_requested(&self) -> bool {
        self.reset.load(Ordering::SeqCst)
    }

    /// Writes `bytes` on the wire after everything hyper has written so far, bypassing its
    /// Content-Length bookkeeping.
    pub fn inject_after_body(&self, bytes: Bytes) {
        *self.inject.lock().expect("inject lock poisoned") = Some(bytes);
    }

    pub(crate) fn take_inject(&self) -> Option<Bytes> {
        self.inject.lock().expect("inject lock poisoned").take()
    }
}

/// A transport that can be closed abortively.
pub trait AbortiveClose {
    /// Arranges for the next close to send RST.
    fn set_abortive_close(&self) -> io::Result<()>;
}

impl AbortiveClose for TcpStream {
    fn set_abortive_close(&self) -> io::Result<()> {
        self.set_zero_linger()
    }
}

/// Transport wrapper honouring `ConnControl`.
pub struct ConnIo<T: AbortiveClose> {
    inner: T,
    ctl: Arc<ConnControl>,
    pending: Option<Bytes>,
}

impl<T: AbortiveClose> ConnIo<T> {
    pub fn new(inner: T, ctl: Arc<ConnControl>) -> Self {
        ConnIo {
            inner,
            ctl,
            pending: None,
        }
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    fn abort_if_requested(&self) -> io::Result<()> {
        if self.ctl.reset_requested() {
            // Best effort: if SO_LINGER cannot be set the close is a FIN, still a cut body.
            let _ = self.inner.set_abortive_close();
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "reset fault",
            ));
        }
        Ok(())
    }
}

impl<T: AbortiveClose> Drop for ConnIo<T> {
    fn drop(&mut self) {
        if self.ctl.reset_requested() {
            let _ = self.inner.set_abortive_close();
        }
    }
}

impl<T: AbortiveClose + AsyncRead + Unpin> AsyncRead for ConnIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AbortiveClose + AsyncWrite + Unpin> ConnIo<T> {
    /// Writes injected bytes; hyper only flushes once its own buffer is empty, so they land
    /// after the whole response.
    fn poll_injected(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pending.is_none() {
            self.pending = self.ctl.take_inject();
        }
        while let Some(pending) = self.pending.as_mut() {
            if !pending.has_remaining() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, pending.chunk()))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            pending.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AbortiveClose + AsyncWrite + Unpin> AsyncWrite for ConnIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.abort_if_requested()?;
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.abort_if_requested()?;
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    // hyper only queues body `Bytes` without copying when the transport says it supports
    // vectored writes; forwarding this keeps the hot path zero-copy.
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.abort_if_requested()?;
        ready!(this.poll_injected(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.abort_if_requested()?;
        ready!(this.poll_injected(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
