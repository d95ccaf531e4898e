//! The bytes of an upload as parts of a fixed size, produced on a thread of their own (a
//! file's reader, or the packer) and taken by the uploading instances in order.

use super::buffers::{Part, PartBuffers};
use crate::error::{ErrorKind, HostError, Result};
use std::io::{Read, Write};
use std::path::Path;
use tokio::sync::mpsc;

/// Filled parts waiting between the reader (or packer) and the uploading instances. What
/// bounds memory is the buffer count of [`PartStream::spawn`], not this.
const PARTS_AHEAD: usize = 1;

/// The bytes to upload, as parts of a fixed size produced on a thread of their own.
pub struct PartStream {
    rx: mpsc::Receiver<Part>,
    buffers: PartBuffers,
    producer: Option<std::thread::JoinHandle<Result<()>>>,
    next_number: u32,
}

impl PartStream {
    /// Reads `file` (of `size` bytes, as stat'ed) in parts of `part_size`, in at most
    /// `buffers` part buffers.
    pub fn file(file: std::fs::File, path: &Path, size: u64, part_size: usize, buffers: usize) -> PartStream {
        let shown = path.display().to_string();
        PartStream::spawn(part_size, buffers, move |out| {
            // One byte more than stat'ed, to notice a file that grew.
            let mut reader = file.take(size.saturating_add(1));
            let read = std::io::copy(&mut reader, out).map_err(|e| HostError::new(ErrorKind::Config, format!("cannot read {shown}: {e}")))?;
            if read != size {
                return Err(HostError::new(
                    ErrorKind::Integrity,
                    format!("{shown} changed while it was uploaded (it had {size} bytes when the upload began, then {read}{})", if read > size { " or more" } else { "" }),
                ));
            }
            Ok(())
        })
    }

    /// Runs `produce` on a thread with a writer that cuts what it writes into parts. At
    /// most `buffers` parts exist at once, filled or being filled: one per sending instance
    /// and one more lets the producer stay a part ahead.
    pub fn spawn(part_size: usize, buffers: usize, produce: impl FnOnce(&mut PartWriter) -> Result<()> + Send + 'static) -> PartStream {
        let (tx, rx) = mpsc::channel(PARTS_AHEAD);
        let buffers = PartBuffers::new(buffers, part_size);
        let set = buffers.clone();
        let producer = std::thread::spawn(move || {
            let mut w = PartWriter { tx, part_size, buffers: set, buf: None };
            produce(&mut w)?;
            w.finish()
        });
        PartStream { rx, buffers, producer: Some(producer), next_number: 1 }
    }

    /// The next part and its 1-based number; none at the end. A failed producer's error
    /// is returned once its parts are used up.
    pub async fn next(&mut self) -> Result<Option<(u32, Part)>> {
        match self.rx.recv().await {
            Some(p) => {
                let n = self.next_number;
                self.next_number += 1;
                Ok(Some((n, p)))
            }
            None => {
                self.join().await?;
                Ok(None)
            }
        }
    }

    /// Parts handed out so far.
    pub fn parts_taken(&self) -> u32 {
        self.next_number - 1
    }

    async fn join(&mut self) -> Result<()> {
        let Some(handle) = self.producer.take() else { return Ok(()) };
        match tokio::task::spawn_blocking(move || handle.join()).await {
            Ok(Ok(r)) => r,
            _ => Err(HostError::new(ErrorKind::Internal, "the thread reading the upload's bytes stopped unexpectedly")),
        }
    }
}

impl Drop for PartStream {
    fn drop(&mut self) {
        // A producer waiting for a buffer would otherwise wait for ever.
        self.buffers.close();
    }
}

/// Cuts a byte stream into parts of exactly `part_size` (the last may be shorter).
pub struct PartWriter {
    tx: mpsc::Sender<Part>,
    part_size: usize,
    buffers: PartBuffers,
    buf: Option<Vec<u8>>,
}

fn stopped() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped")
}

impl PartWriter {
    fn finish(mut self) -> Result<()> {
        if let Some(buf) = self.buf.take().filter(|b| !b.is_empty()) {
            // The uploader has stopped (and reports why) when this fails.
            let _ = self.tx.blocking_send(self.buffers.part(buf));
        }
        Ok(())
    }
}

impl Write for PartWriter {
    fn write(&mut self, mut data: &[u8]) -> std::io::Result<usize> {
        let n = data.len();
        while !data.is_empty() {
            let buf = match &mut self.buf {
                Some(buf) => buf,
                None => self.buf.insert(self.buffers.take().ok_or_else(stopped)?),
            };
            let take = (self.part_size - buf.len()).min(data.len());
            buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if buf.len() == self.part_size {
                let part = self.buffers.part(self.buf.take().expect("filled just now"));
                self.tx.blocking_send(part).map_err(|_| stopped())?;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn collect(mut s: PartStream) -> Vec<(u32, usize)> {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut v = Vec::new();
            while let Some((n, p)) = s.next().await.unwrap() {
                v.push((n, p.len()));
            }
            v
        })
    }

    #[test]
    fn writes_are_cut_into_exact_parts() {
        let s = PartStream::spawn(10, 2, |w| {
            for chunk in [3usize, 9, 1, 20, 2] {
                w.write_all(&vec![7u8; chunk]).unwrap();
            }
            Ok(())
        });
        assert_eq!(collect(s), [(1, 10), (2, 10), (3, 10), (4, 5)]);
        assert_eq!(collect(PartStream::spawn(10, 2, |w| Ok(w.write_all(&[1; 10]).unwrap()))), [(1, 10)]);
        assert_eq!(collect(PartStream::spawn(10, 2, |_| Ok(()))), []);
    }

    #[test]
    fn the_producer_waits_for_a_buffer_and_stops_when_the_stream_is_dropped() {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let mut s = PartStream::spawn(10, 1, move |w| {
            let r = w.write_all(&[5; 100]);
            done_tx.send(r.map_err(|e| e.kind())).unwrap();
            Ok(())
        });
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let first = rt.block_on(s.next()).unwrap().unwrap();
        // Its one buffer is held here: the producer cannot fill a second part.
        assert!(done_rx.recv_timeout(std::time::Duration::from_millis(100)).is_err());
        drop(s);
        assert_eq!(done_rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap(), Err(std::io::ErrorKind::BrokenPipe));
        assert_eq!((first.0, first.1.len()), (1, 10));
    }

    #[test]
    fn a_failed_producer_fails_the_stream_after_its_parts() {
        let mut s = PartStream::spawn(4, 2, |w| {
            w.write_all(&[0; 6]).unwrap();
            Err(HostError::new(ErrorKind::Integrity, "torn"))
        });
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            assert_eq!(s.next().await.unwrap().map(|(n, p)| (n, p.len())), Some((1, 4)));
            assert_eq!(s.next().await.unwrap_err().message, "torn");
        });
    }

    #[test]
    fn a_file_that_grows_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![1u8; 25]).unwrap();
        let s = PartStream::file(std::fs::File::open(&path).unwrap(), &path, 25, 10, 2);
        assert_eq!(collect(s), [(1, 10), (2, 10), (3, 5)]);
        let s = PartStream::file(std::fs::File::open(&path).unwrap(), &path, 20, 10, 2);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let e = rt.block_on(async move {
            let mut s = s;
            loop {
                match s.next().await {
                    Ok(Some(_)) => continue,
                    Ok(None) => panic!("a grown file must fail"),
                    Err(e) => break e,
                }
            }
        });
        assert_eq!(e.kind, ErrorKind::Integrity);
        assert!(e.message.contains("changed while it was uploaded"), "{}", e.message);
    }
}
