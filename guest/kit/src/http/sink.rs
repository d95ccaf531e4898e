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

    pub fn into_file(self) -> File {
        self.file
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
