//! The few filesystem calls extraction makes, at the lowest cost each platform allows.
//!
//! Natively these are `std::fs`. In a wasm guest every call is a host call, and the
//! standard library's file writes go through wasi-libc's stream emulation; here files are
//! opened with one `open-at` on the preopened directory and written with positional
//! `descriptor.write` calls, which the host runs inline (about half the cost per small file).

use std::io;
use std::path::{Path, PathBuf};

/// The directory everything is written below.
pub(crate) struct Root {
    #[cfg(not(target_os = "wasi"))]
    dir: PathBuf,
    #[cfg(target_os = "wasi")]
    wasi: wasi::WasiRoot,
}

/// A regular file being written from offset 0 onwards.
pub(crate) struct OutFile {
    #[cfg(not(target_os = "wasi"))]
    file: std::fs::File,
    #[cfg(target_os = "wasi")]
    desc: wasip2::filesystem::types::Descriptor,
    offset: u64,
}

impl Root {
    pub fn new(target: &Path) -> io::Result<Root> {
        #[cfg(not(target_os = "wasi"))]
        return Ok(Root { dir: target.to_path_buf() });
        #[cfg(target_os = "wasi")]
        return Ok(Root { wasi: wasi::WasiRoot::new(target)? });
    }

    /// The full path of `rel` (for calls this module does not make, such as symlinks).
    pub fn path(&self, rel: &str) -> PathBuf {
        #[cfg(not(target_os = "wasi"))]
        return self.dir.join(rel);
        #[cfg(target_os = "wasi")]
        return self.wasi.target.join(rel);
    }

    /// Creates one directory (its parent exists); `AlreadyExists` if anything is there.
    pub fn create_dir(&self, rel: &str) -> io::Result<()> {
        #[cfg(not(target_os = "wasi"))]
        return std::fs::create_dir(self.dir.join(rel));
        #[cfg(target_os = "wasi")]
        return self.wasi.create_dir(rel);
    }

    /// Whether `rel` is a real directory (not a symlink to one).
    pub fn is_dir(&self, rel: &str) -> bool {
        #[cfg(not(target_os = "wasi"))]
        return std::fs::symlink_metadata(self.dir.join(rel)).map(|m| m.is_dir()).unwrap_or(false);
        #[cfg(target_os = "wasi")]
        return self.wasi.is_dir(rel);
    }

    /// Creates a new file; `AlreadyExists` if anything, a dangling symlink included, is there.
    pub fn create_file(&self, rel: &str) -> io::Result<OutFile> {
        #[cfg(not(target_os = "wasi"))]
        {
            let file = std::fs::OpenOptions::new().write(true).create_new(true).open(self.dir.join(rel))?;
            Ok(OutFile { file, offset: 0 })
        }
        #[cfg(target_os = "wasi")]
        {
            Ok(OutFile { desc: self.wasi.create_file(rel)?, offset: 0 })
        }
    }
}

impl OutFile {
    /// Appends all of `data`.
    pub fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        #[cfg(not(target_os = "wasi"))]
        {
            use std::io::Write;
            self.file.write_all(data)?;
        }
        #[cfg(target_os = "wasi")]
        {
            let mut done = 0usize;
            while done < data.len() {
                let n = self.desc.write(&data[done..], self.offset + done as u64).map_err(wasi::io_error)?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::WriteZero, "the host wrote nothing"));
                }
                done += n as usize;
            }
        }
        self.offset += data.len() as u64;
        Ok(())
    }
}

#[cfg(target_os = "wasi")]
mod wasi {
    use std::io;
    use std::path::{Component, Path, PathBuf};

    use wasip2::filesystem::preopens::get_directories;
    use wasip2::filesystem::types::{Descriptor, DescriptorFlags, DescriptorType, ErrorCode, OpenFlags, PathFlags};

    pub(super) struct WasiRoot {
        pub target: PathBuf,
        dir: Descriptor,
        /// `target` relative to the preopen, `/`-terminated (empty at the preopen itself).
        prefix: String,
    }

    pub(super) fn io_error(code: ErrorCode) -> io::Error {
        use io::ErrorKind as K;
        let kind = match code {
            ErrorCode::Exist => K::AlreadyExists,
            ErrorCode::NoEntry => K::NotFound,
            ErrorCode::Access | ErrorCode::NotPermitted | ErrorCode::ReadOnly => K::PermissionDenied,
            ErrorCode::InsufficientSpace => K::StorageFull,
            ErrorCode::Invalid => K::InvalidInput,
            _ => K::Other,
        };
        io::Error::new(kind, format!("{code:?}"))
    }

    impl WasiRoot {
        /// Finds the preopen that holds `target` (an absolute guest path).
        pub fn new(target: &Path) -> io::Result<WasiRoot> {
            let mut best: Option<(Descriptor, PathBuf, usize)> = None;
            for (dir, name) in get_directories() {
                let base = PathBuf::from(&name);
                if let Ok(rest) = target.strip_prefix(&base) {
                    let depth = base.components().count();
                    if best.as_ref().is_none_or(|b| depth > b.2) {
                        best = Some((dir, rest.to_path_buf(), depth));
                    }
                }
            }
            let Some((dir, rest, _)) = best else {
                return Err(io::Error::new(io::ErrorKind::NotFound, format!("{} is not below a preopened directory", target.display())));
            };
            let mut prefix = String::new();
            for c in rest.components() {
                match c {
                    Component::Normal(s) => {
                        prefix.push_str(s.to_str().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "target path is not UTF-8"))?);
                        prefix.push('/');
                    }
                    Component::CurDir => {}
                    _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, "target path must not contain `..`")),
                }
            }
            Ok(WasiRoot { target: target.to_path_buf(), dir, prefix })
        }

        fn rel(&self, rel: &str) -> String {
            format!("{}{rel}", self.prefix)
        }

        pub fn create_dir(&self, rel: &str) -> io::Result<()> {
            self.dir.create_directory_at(&self.rel(rel)).map_err(io_error)
        }

        pub fn is_dir(&self, rel: &str) -> bool {
            matches!(self.dir.stat_at(PathFlags::empty(), &self.rel(rel)), Ok(s) if s.type_ == DescriptorType::Directory)
        }

        pub fn create_file(&self, rel: &str) -> io::Result<Descriptor> {
            self.dir
                .open_at(PathFlags::empty(), &self.rel(rel), OpenFlags::CREATE | OpenFlags::EXCLUSIVE, DescriptorFlags::WRITE)
                .map_err(io_error)
        }
    }
}
