//! Reading a chunk of a planned file, and noticing when the file is no longer the one
//! that was listed.
//!
//! Every read opens the file again without following a symlink and compares its status
//! (device, inode, size, modification and change times, exec bit) with what the walk saw,
//! before and after reading; the bytes must be exactly as many as planned, and after the
//! last chunk the file must end. Any difference is [`Error::Changed`]. The change time moves
//! on every write, even one that puts the modification time back.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use crate::digest::CHUNK;
use crate::error::{Error, Result, io_error, shown};
use crate::walk::FileMeta;

/// The bytes of chunk `index` of the file at `path`, after the `dictionary` bytes before it
/// (at most that many; none for the first chunk). Returns the buffer and where the chunk
/// starts in it.
pub(crate) fn chunk(
    path: &Path,
    planned: &FileMeta,
    index: u64,
    dictionary: usize,
    mut buf: Vec<u8>,
) -> Result<(Vec<u8>, usize)> {
    let file = open(path, planned)?;
    let start = index * CHUNK;
    let len = CHUNK.min(planned.size - start.min(planned.size)) as usize;
    let before = (dictionary as u64).min(start) as usize;
    buf.clear();
    buf.resize(before + len, 0);
    file.read_exact_at(&mut buf, start - before as u64)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                changed(path, "it is shorter than when it was listed")
            }
            _ => io_error("reading", path)(e),
        })?;
    if start + len as u64 == planned.size {
        let mut probe = [0u8; 1];
        let more = file
            .read_at(&mut probe, planned.size)
            .map_err(io_error("reading", path))?;
        if more != 0 {
            return Err(changed(path, "it is longer than when it was listed"));
        }
    }
    same(path, planned, &file)?;
    Ok((buf, before))
}

fn open(path: &Path, planned: &FileMeta) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => changed(path, "it was removed"),
            Some(libc::ELOOP) => changed(path, "it was replaced by a symlink"),
            _ => io_error("opening", path)(e),
        })?;
    same(path, planned, &file)?;
    Ok(file)
}

fn same(path: &Path, planned: &FileMeta, file: &File) -> Result<()> {
    let now = FileMeta::of(
        &file
            .metadata()
            .map_err(io_error("reading the status of", path))?,
    );
    if now == *planned {
        return Ok(());
    }
    let what = if (now.dev, now.ino) != (planned.dev, planned.ino) {
        "it was replaced by another file"
    } else if now.size != planned.size {
        "its size changed"
    } else if now.executable != planned.executable {
        "its exec bit changed"
    } else {
        "it was modified"
    };
    Err(changed(path, what))
}

fn changed(path: &Path, what: &'static str) -> Error {
    Error::Changed {
        path: shown(path),
        what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn meta(p: &Path) -> FileMeta {
        FileMeta::of(&fs::symlink_metadata(p).unwrap())
    }

    #[test]
    fn reads_chunks_with_their_dictionary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..CHUNK as usize + 100).map(|i| i as u8).collect();
        fs::write(&p, &data).unwrap();
        let m = meta(&p);
        let (b, at) = chunk(&p, &m, 0, 32, vec![7; 3]).unwrap();
        assert_eq!((at, &b[..]), (0, &data[..CHUNK as usize]));
        let (b, at) = chunk(&p, &m, 1, 32, b).unwrap();
        assert_eq!(at, 32);
        assert_eq!(&b[..], &data[CHUNK as usize - 32..]);
    }

    #[test]
    fn changes_are_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"0123456789").unwrap();
        let m = meta(&p);
        fs::write(&p, b"01234").unwrap();
        assert!(matches!(chunk(&p, &m, 0, 0, Vec::new()), Err(Error::Changed { .. })));
        // Same size, same modification time: the change time still moves.
        fs::write(&p, b"0123456789").unwrap();
        let m = meta(&p);
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&p, b"abcdefghij").unwrap();
        let f = File::options().write(true).open(&p).unwrap();
        let mtime =
            std::time::UNIX_EPOCH + std::time::Duration::new(m.mtime.0 as u64, m.mtime.1 as u32);
        f.set_modified(mtime).unwrap();
        let err = chunk(&p, &m, 0, 0, Vec::new()).unwrap_err();
        assert!(matches!(err, Error::Changed { .. }), "{err}");
        // Replaced by a symlink.
        fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", &p).unwrap();
        let err = chunk(&p, &m, 0, 0, Vec::new()).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
    }
}
