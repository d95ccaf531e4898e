//! A buffered `Read + Seek` that keeps its buffer across seeks landing inside it.
//!
//! `std::io::BufReader` drops its buffer on every absolute seek, and the zip crate seeks to
//! each entry's data: with small entries that is one large read per entry. Here a seek into
//! the buffered window is free, and a refill after a real jump starts small and doubles while
//! reading stays sequential, so walking local headers reads little and streaming large
//! entries still uses large reads (in a wasm guest each read is a host call).

use std::io::{self, Read, Seek, SeekFrom};

const FIRST_FILL: usize = 16 * 1024;

pub(crate) struct SeekBuf<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    filled: usize,
    /// Stream offset of `buf[0]`; the inner reader sits at `start + filled`.
    start: u64,
    /// Size of the next refill; grows while reads stay sequential.
    next_fill: usize,
}

impl<R: Read + Seek> SeekBuf<R> {
    /// Wraps `inner` at its current position.
    pub fn new(mut inner: R, capacity: usize) -> io::Result<Self> {
        let start = inner.stream_position()?;
        Ok(SeekBuf {
            inner,
            buf: vec![0; capacity.max(FIRST_FILL)].into_boxed_slice(),
            pos: 0,
            filled: 0,
            start,
            next_fill: FIRST_FILL,
        })
    }

    fn position(&self) -> u64 {
        self.start + self.pos as u64
    }

    fn jump(&mut self, to: u64) -> io::Result<u64> {
        let at = self.inner.seek(SeekFrom::Start(to))?;
        self.start = at;
        self.pos = 0;
        self.filled = 0;
        self.next_fill = FIRST_FILL;
        Ok(at)
    }
}

impl<R: Read + Seek> Read for SeekBuf<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.filled {
            self.start += self.filled as u64;
            self.pos = 0;
            self.filled = 0;
            if out.len() >= self.buf.len() {
                // Large reads go straight through: no copy, one call.
                let n = self.inner.read(out)?;
                self.start += n as u64;
                return Ok(n);
            }
            let want = self.next_fill.min(self.buf.len());
            self.filled = self.inner.read(&mut self.buf[..want])?;
            self.next_fill = (want * 2).min(self.buf.len());
        }
        let n = out.len().min(self.filled - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for SeekBuf<R> {
    fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
        let absolute = match target {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.position().checked_add_signed(d),
            SeekFrom::End(_) => None,
        };
        match absolute {
            Some(n) if n >= self.start && n <= self.start + self.filled as u64 => {
                self.pos = (n - self.start) as usize;
                Ok(n)
            }
            Some(n) => self.jump(n),
            None => {
                let at = self.inner.seek(target)?;
                self.start = at;
                self.pos = 0;
                self.filled = 0;
                self.next_fill = FIRST_FILL;
                Ok(at)
            }
        }
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.position())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Counts the reads that reach the inner reader.
    struct Counted<R> {
        inner: R,
        reads: usize,
        seeks: usize,
    }

    impl<R: Read> Read for Counted<R> {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            self.inner.read(b)
        }
    }

    impl<R: Seek> Seek for Counted<R> {
        fn seek(&mut self, p: SeekFrom) -> io::Result<u64> {
            self.seeks += 1;
            self.inner.seek(p)
        }
    }

    fn data() -> Vec<u8> {
        (0..200_000u32).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn reads_and_seeks_like_the_underlying_stream() {
        let d = data();
        let mut r = SeekBuf::new(Cursor::new(d.clone()), 64 * 1024).unwrap();
        let mut b = [0u8; 10];
        r.read_exact(&mut b).unwrap();
        assert_eq!(&b, &d[..10]);
        for &(off, len) in &[
            (5u64, 100usize),
            (150_000, 4000),
            (3, 70_000),
            (199_990, 10),
            (0, 1),
        ] {
            assert_eq!(r.seek(SeekFrom::Start(off)).unwrap(), off);
            let mut v = vec![0; len];
            r.read_exact(&mut v).unwrap();
            assert_eq!(v, &d[off as usize..off as usize + len], "at {off}");
            assert_eq!(r.stream_position().unwrap(), off + len as u64);
        }
        assert_eq!(r.seek(SeekFrom::Current(-1)).unwrap(), 0);
        assert_eq!(r.seek(SeekFrom::End(-2)).unwrap(), 199_998);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &d[199_998..]);
        let mut big = vec![0; 100_000];
        r.seek(SeekFrom::Start(50)).unwrap();
        r.read_exact(&mut big).unwrap();
        assert_eq!(big, &d[50..100_050]);
    }

    #[test]
    fn seeks_inside_the_window_cost_nothing() {
        let mut r = SeekBuf::new(
            Counted {
                inner: Cursor::new(data()),
                reads: 0,
                seeks: 0,
            },
            64 * 1024,
        )
        .unwrap();
        let mut b = [0u8; 30];
        for off in (0..FIRST_FILL as u64 - 100).step_by(500) {
            r.seek(SeekFrom::Start(off)).unwrap();
            r.read_exact(&mut b).unwrap();
        }
        assert_eq!(r.inner.reads, 1);
        assert_eq!(r.inner.seeks, 1, "only the initial position query");
    }
}
