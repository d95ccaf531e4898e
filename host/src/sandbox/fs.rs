//! `wasi:filesystem` as plugins see it: wasmtime-wasi's own implementation, with every
//! call that creates, grows or moves something first checked against the call's
//! [`WriteMeter`]. A plugin that writes past a limit is trapped before the write happens,
//! and the host reports `limit-exceeded`; nothing it wrote is published.
//!
//! Shadows the `types` and `preopens` interfaces that `add_to_linker_async` installed, so
//! the rest of WASI stays wasmtime's.

use super::meter::{join, Created, LimitExceeded, WriteMeter};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::filesystem::WasiFilesystemCtxView;
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::filesystem::types::{self, HostDescriptor, HostDirectoryEntryStream};
use wasmtime_wasi::p2::{DynOutputStream, FsError, FsResult, OutputStream, Pollable, StreamResult};

impl std::error::Error for LimitExceeded {}

/// Staging-relative path of every descriptor the plugin holds, by resource rep. Per
/// store: resource reps are per table.
#[derive(Default)]
pub struct Paths(HashMap<u32, String>);

pub struct MeteredFs<'a> {
    pub fs: WasiFilesystemCtxView<'a>,
    pub meter: &'a Arc<WriteMeter>,
    pub paths: &'a mut Paths,
}

struct Metered;

impl HasData for Metered {
    type Data<'a> = MeteredFs<'a>;
}

/// Replaces wasmtime-wasi's filesystem bindings in `linker` with the metered ones.
pub fn add_to_linker<T: Send + 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> MeteredFs<'_>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    types::add_to_linker::<T, Metered>(linker, get)?;
    preopens::add_to_linker::<T, Metered>(linker, get)?;
    linker.allow_shadowing(false);
    Ok(())
}

fn trap(e: LimitExceeded) -> FsError {
    FsError::trap(e)
}

impl MeteredFs<'_> {
    /// The path of descriptor `fd`; every descriptor a plugin holds came from a preopen or
    /// `open-at`, both recorded, so an unknown one is the host's bug and stops the call.
    fn path(&self, fd: &Resource<types::Descriptor>) -> FsResult<&str> {
        self.paths
            .0
            .get(&fd.rep())
            .map(String::as_str)
            .ok_or_else(|| FsError::trap(wasmtime::format_err!("descriptor {} is not known to the write meter", fd.rep())))
    }

    fn at(&self, fd: &Resource<types::Descriptor>, rel: &str) -> FsResult<String> {
        Ok(join(self.path(fd)?, rel))
    }

    fn create(&self, path: &str) -> FsResult<Created> {
        self.meter.create(path).map_err(trap)
    }

    fn wrap(&mut self, stream: Resource<DynOutputStream>, path: String, pos: u64) -> FsResult<Resource<DynOutputStream>> {
        let inner = self.fs.table.delete(stream)?;
        let metered: DynOutputStream = Box::new(MeteredStream { inner, meter: self.meter.clone(), path, pos });
        Ok(self.fs.table.push(metered)?)
    }
}

impl types::Host for MeteredFs<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<types::ErrorCode> {
        types::Host::convert_error_code(&mut self.fs, err)
    }

    fn filesystem_error_code(&mut self, err: Resource<wasmtime::Error>) -> wasmtime::Result<Option<types::ErrorCode>> {
        types::Host::filesystem_error_code(&mut self.fs, err)
    }
}

impl preopens::Host for MeteredFs<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<types::Descriptor>, String)>> {
        let dirs = preopens::Host::get_directories(&mut self.fs)?;
        for (fd, _) in &dirs {
            // The one preopen is staging itself, the root of every metered path.
            self.paths.0.insert(fd.rep(), String::new());
        }
        Ok(dirs)
    }
}

impl HostDescriptor for MeteredFs<'_> {
    async fn advise(&mut self, fd: Resource<types::Descriptor>, offset: types::Filesize, len: types::Filesize, advice: types::Advice) -> FsResult<()> {
        HostDescriptor::advise(&mut self.fs, fd, offset, len, advice).await
    }

    async fn sync_data(&mut self, fd: Resource<types::Descriptor>) -> FsResult<()> {
        HostDescriptor::sync_data(&mut self.fs, fd).await
    }

    async fn get_flags(&mut self, fd: Resource<types::Descriptor>) -> FsResult<types::DescriptorFlags> {
        HostDescriptor::get_flags(&mut self.fs, fd).await
    }

    async fn get_type(&mut self, fd: Resource<types::Descriptor>) -> FsResult<types::DescriptorType> {
        HostDescriptor::get_type(&mut self.fs, fd).await
    }

    async fn set_size(&mut self, fd: Resource<types::Descriptor>, size: types::Filesize) -> FsResult<()> {
        self.meter.resize(self.path(&fd)?, size).map_err(trap)?;
        HostDescriptor::set_size(&mut self.fs, fd, size).await
    }

    async fn set_times(&mut self, fd: Resource<types::Descriptor>, atim: types::NewTimestamp, mtim: types::NewTimestamp) -> FsResult<()> {
        HostDescriptor::set_times(&mut self.fs, fd, atim, mtim).await
    }

    async fn read(&mut self, fd: Resource<types::Descriptor>, len: types::Filesize, offset: types::Filesize) -> FsResult<(Vec<u8>, bool)> {
        HostDescriptor::read(&mut self.fs, fd, len, offset).await
    }

    async fn write(&mut self, fd: Resource<types::Descriptor>, buf: Vec<u8>, offset: types::Filesize) -> FsResult<types::Filesize> {
        self.meter.grow(self.path(&fd)?, offset.saturating_add(buf.len() as u64)).map_err(trap)?;
        HostDescriptor::write(&mut self.fs, fd, buf, offset).await
    }

    async fn read_directory(&mut self, fd: Resource<types::Descriptor>) -> FsResult<Resource<types::DirectoryEntryStream>> {
        HostDescriptor::read_directory(&mut self.fs, fd).await
    }

    async fn sync(&mut self, fd: Resource<types::Descriptor>) -> FsResult<()> {
        HostDescriptor::sync(&mut self.fs, fd).await
    }

    async fn create_directory_at(&mut self, fd: Resource<types::Descriptor>, path: String) -> FsResult<()> {
        let full = self.at(&fd, &path)?;
        let created = self.create(&full)?;
        let r = HostDescriptor::create_directory_at(&mut self.fs, fd, path).await;
        if r.is_err() {
            self.meter.forget(&full, created);
        }
        r
    }

    async fn stat(&mut self, fd: Resource<types::Descriptor>) -> FsResult<types::DescriptorStat> {
        HostDescriptor::stat(&mut self.fs, fd).await
    }

    async fn stat_at(&mut self, fd: Resource<types::Descriptor>, path_flags: types::PathFlags, path: String) -> FsResult<types::DescriptorStat> {
        HostDescriptor::stat_at(&mut self.fs, fd, path_flags, path).await
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path_flags: types::PathFlags,
        path: String,
        atim: types::NewTimestamp,
        mtim: types::NewTimestamp,
    ) -> FsResult<()> {
        HostDescriptor::set_times_at(&mut self.fs, fd, path_flags, path, atim, mtim).await
    }

    async fn link_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        old_path_flags: types::PathFlags,
        old_path: String,
        new_descriptor: Resource<types::Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        // A second name for a file counts its size again: the plugin made it reachable
        // twice. Both names resolve beneath the preopen, so a hard link can only name a
        // file the call itself wrote.
        let size = self.meter.size(&self.at(&fd, &old_path)?);
        let full = self.at(&new_descriptor, &new_path)?;
        let created = self.create(&full)?;
        if let Err(e) = self.meter.grow(&full, size) {
            return Err(trap(e));
        }
        let r = HostDescriptor::link_at(&mut self.fs, fd, old_path_flags, old_path, new_descriptor, new_path).await;
        if r.is_err() {
            self.meter.forget(&full, created);
        }
        r
    }

    async fn open_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path_flags: types::PathFlags,
        path: String,
        oflags: types::OpenFlags,
        flags: types::DescriptorFlags,
    ) -> FsResult<Resource<types::Descriptor>> {
        let full = self.at(&fd, &path)?;
        let created = if oflags.contains(types::OpenFlags::CREATE) { Some(self.create(&full)?) } else { None };
        match HostDescriptor::open_at(&mut self.fs, fd, path_flags, path, oflags, flags).await {
            Ok(opened) => {
                if oflags.contains(types::OpenFlags::TRUNCATE) {
                    self.meter.resize(&full, 0).map_err(trap)?;
                }
                self.paths.0.insert(opened.rep(), full);
                Ok(opened)
            }
            Err(e) => {
                if let Some(c) = created {
                    self.meter.forget(&full, c);
                }
                Err(e)
            }
        }
    }

    fn drop(&mut self, fd: Resource<types::Descriptor>) -> wasmtime::Result<()> {
        self.paths.0.remove(&fd.rep());
        HostDescriptor::drop(&mut self.fs, fd)
    }

    async fn readlink_at(&mut self, fd: Resource<types::Descriptor>, path: String) -> FsResult<String> {
        HostDescriptor::readlink_at(&mut self.fs, fd, path).await
    }

    async fn remove_directory_at(&mut self, fd: Resource<types::Descriptor>, path: String) -> FsResult<()> {
        let full = self.at(&fd, &path)?;
        HostDescriptor::remove_directory_at(&mut self.fs, fd, path).await?;
        self.meter.remove(&full);
        Ok(())
    }

    async fn rename_at(&mut self, fd: Resource<types::Descriptor>, old_path: String, new_fd: Resource<types::Descriptor>, new_path: String) -> FsResult<()> {
        let (from, to) = (self.at(&fd, &old_path)?, self.at(&new_fd, &new_path)?);
        // Checked first: a rename that would break a limit must not happen at all.
        self.meter.rename(&from, &to).map_err(trap)?;
        let r = HostDescriptor::rename_at(&mut self.fs, fd, old_path, new_fd, new_path).await;
        if r.is_err() {
            // Put the ledger back as the filesystem still has it.
            self.meter.rename(&to, &from).map_err(trap)?;
        }
        r
    }

    async fn symlink_at(&mut self, fd: Resource<types::Descriptor>, src_path: String, dest_path: String) -> FsResult<()> {
        let full = self.at(&fd, &dest_path)?;
        let created = self.create(&full)?;
        self.meter.note_symlink();
        let r = HostDescriptor::symlink_at(&mut self.fs, fd, src_path, dest_path).await;
        if r.is_err() {
            self.meter.forget(&full, created);
        }
        r
    }

    async fn unlink_file_at(&mut self, fd: Resource<types::Descriptor>, path: String) -> FsResult<()> {
        let full = self.at(&fd, &path)?;
        HostDescriptor::unlink_file_at(&mut self.fs, fd, path).await?;
        self.meter.remove(&full);
        Ok(())
    }

    fn read_via_stream(&mut self, fd: Resource<types::Descriptor>, offset: types::Filesize) -> FsResult<Resource<wasmtime_wasi::p2::DynInputStream>> {
        HostDescriptor::read_via_stream(&mut self.fs, fd, offset)
    }

    fn write_via_stream(&mut self, fd: Resource<types::Descriptor>, offset: types::Filesize) -> FsResult<Resource<DynOutputStream>> {
        let path = self.path(&fd)?.to_string();
        let stream = HostDescriptor::write_via_stream(&mut self.fs, fd, offset)?;
        self.wrap(stream, path, offset)
    }

    fn append_via_stream(&mut self, fd: Resource<types::Descriptor>) -> FsResult<Resource<DynOutputStream>> {
        let path = self.path(&fd)?.to_string();
        let end = self.meter.size(&path);
        let stream = HostDescriptor::append_via_stream(&mut self.fs, fd)?;
        self.wrap(stream, path, end)
    }

    async fn is_same_object(&mut self, a: Resource<types::Descriptor>, b: Resource<types::Descriptor>) -> wasmtime::Result<bool> {
        HostDescriptor::is_same_object(&mut self.fs, a, b).await
    }

    async fn metadata_hash(&mut self, fd: Resource<types::Descriptor>) -> FsResult<types::MetadataHashValue> {
        HostDescriptor::metadata_hash(&mut self.fs, fd).await
    }

    async fn metadata_hash_at(&mut self, fd: Resource<types::Descriptor>, path_flags: types::PathFlags, path: String) -> FsResult<types::MetadataHashValue> {
        HostDescriptor::metadata_hash_at(&mut self.fs, fd, path_flags, path).await
    }
}

impl HostDirectoryEntryStream for MeteredFs<'_> {
    async fn read_directory_entry(&mut self, stream: Resource<types::DirectoryEntryStream>) -> FsResult<Option<types::DirectoryEntry>> {
        HostDirectoryEntryStream::read_directory_entry(&mut self.fs, stream).await
    }

    fn drop(&mut self, stream: Resource<types::DirectoryEntryStream>) -> wasmtime::Result<()> {
        HostDirectoryEntryStream::drop(&mut self.fs, stream)
    }
}

/// A file's output stream that counts where it writes: each write is checked against the
/// meter before it is handed to wasmtime's stream.
struct MeteredStream {
    inner: DynOutputStream,
    meter: Arc<WriteMeter>,
    path: String,
    pos: u64,
}

impl MeteredStream {
    fn admit(&mut self, len: usize) -> StreamResult<()> {
        let end = self.pos.saturating_add(len as u64);
        self.meter.grow(&self.path, end).map_err(|e| wasmtime_wasi::p2::StreamError::Trap(e.into()))?;
        self.pos = end;
        Ok(())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for MeteredStream {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for MeteredStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.admit(bytes.len())?;
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    async fn blocking_write_and_flush(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.admit(bytes.len())?;
        self.inner.blocking_write_and_flush(bytes).await
    }

    fn write_zeroes(&mut self, nelem: usize) -> StreamResult<()> {
        self.admit(nelem)?;
        self.inner.write_zeroes(nelem)
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}
