//! Where downloaded bytes go.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

/// A destination that can be rewound when a download has to start over.
pub trait Sink {
    fn write_chunk(&mut self, data: &[u8]) -> io::Result<()>;
    /// Discards everything written so far.
    fn restart(&mut self) -> io::Result<()>;
    /// Makes everything written durable in the destination.
    fn finish(&mut self) -> io::Result<()>;
}

/// Every write to a file is a host call in wasm, so bytes are gathered into large writes.
pub const FILE_WRITE_BUFFER: usize = 1 << 20;

pub struct FileSink {
    file: File,
    buf: Vec<u8>,
}

impl FileSink {
    pub fn new(file: File) -> Self {
        FileSink { file, buf: Vec::with_capacity(FILE_WRITE_BUFFER) }
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

impl Sink for FileSink {
    fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if self.buf.len() + data.len() > FILE_WRITE_BUFFER {
            self.flush_buf()?;
        }
        if data.len() >= FILE_WRITE_BUFFER {
            self.file.write_all(data)
        } else {
            self.buf.extend_from_slice(data);
            Ok(())
        }
    }

    fn restart(&mut self) -> io::Result<()> {
        self.buf.clear();
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.flush_buf()?;
        self.file.flush()
    }
}

/// Keeps what arrives in memory up to `cap` bytes and moves it to a file beyond that, so a
/// small object never touches the disk and a large one never fills memory. The file is
/// created (empty) up front, where a plain download would have created it.
pub struct SpillSink {
    mem: Vec<u8>,
    cap: usize,
    path: std::path::PathBuf,
    file: FileSink,
    spilled: bool,
}

/// Where a [`SpillSink`]'s bytes ended up.
pub enum Spilled {
    Memory(Vec<u8>),
    File(std::path::PathBuf),
}

impl SpillSink {
    pub fn create(cap: usize, path: impl Into<std::path::PathBuf>) -> io::Result<Self> {
        let path = path.into();
        let file = FileSink::new(File::create(&path)?);
        Ok(SpillSink { mem: Vec::new(), cap, path, file, spilled: false })
    }

    pub fn into_inner(self) -> Spilled {
        if self.spilled {
            Spilled::File(self.path)
        } else {
            Spilled::Memory(self.mem)
        }
    }
}

impl Sink for SpillSink {
    fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if self.spilled {
            return self.file.write_chunk(data);
        }
        if self.mem.len() + data.len() <= self.cap {
            self.mem.extend_from_slice(data);
            return Ok(());
        }
        self.spilled = true;
        self.file.write_chunk(&self.mem)?;
        self.mem = Vec::new();
        self.file.write_chunk(data)
    }

    fn restart(&mut self) -> io::Result<()> {
        self.mem.clear();
        if self.spilled {
            self.spilled = false;
            self.file.restart()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.spilled {
            self.file.finish()?;
        }
        Ok(())
    }
}

impl Sink for Vec<u8> {
    fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        self.extend_from_slice(data);
        Ok(())
    }
    fn restart(&mut self) -> io::Result<()> {
        self.clear();
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn spill_sink_moves_to_a_file_past_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("obj");
        let mut s = SpillSink::create(10, &path).unwrap();
        s.write_chunk(b"0123").unwrap();
        s.write_chunk(b"456789").unwrap();
        s.finish().unwrap();
        assert!(matches!(s.into_inner(), Spilled::Memory(m) if m == b"0123456789"));
        assert_eq!(std::fs::read(&path).unwrap(), b"");

        let mut s = SpillSink::create(10, &path).unwrap();
        s.write_chunk(b"0123456").unwrap();
        s.write_chunk(b"789ab").unwrap();
        s.write_chunk(b"c").unwrap();
        s.finish().unwrap();
        assert!(matches!(s.into_inner(), Spilled::File(p) if p == path));
        assert_eq!(std::fs::read(&path).unwrap(), b"0123456789abc");
    }

    #[test]
    fn file_sink_buffers_restarts_and_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("obj");
        let mut s = FileSink::new(File::create(&path).unwrap());
        s.write_chunk(b"garbage").unwrap();
        s.finish().unwrap();
        s.restart().unwrap();
        s.write_chunk(b"abc").unwrap();
        let big = vec![7u8; FILE_WRITE_BUFFER + 5];
        s.write_chunk(&big).unwrap();
        s.write_chunk(b"xyz").unwrap();
        s.finish().unwrap();
        let mut got = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), 3 + big.len() + 3);
        assert_eq!(&got[..3], b"abc");
        assert_eq!(&got[got.len() - 3..], b"xyz");
    }
}
