//! Publishing: one local file, or a directory packed the way Ray packs a `working_dir`,
//! put at a URI through the plugin's optional `upload` export (contract 0.1.3).
//!
//! The host reads the bytes (a file, or the packer's output as it is produced) and hands
//! them to the plugin one part at a time, so an upload call sees no filesystem at all and
//! memory stays bounded by a few parts. One control instance plans, begins, completes and
//! aborts; worker instances upload parts concurrently, each on its own core. Any failure
//! after `begin-multipart` aborts the upload, so no parts stay stored and billed.

mod buffers;
mod progress;
mod send;
mod stream;

pub use progress::UploadProgress;
pub use stream::{PartStream, PartWriter};

use crate::bindings::types;
use crate::error::{ErrorKind, HostError, Result};
use crate::ops::{parse_in, plugin_report, Host, Loaded};
use crate::sandbox::methods::MethodRule;
use crate::sandbox::{Instance, Sandbox};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Zip bytes beyond the files' own, per entry, for the upload's size bound: a local and a
/// central header with the name twice, zip64 extras and a data descriptor.
const ZIP_BYTES_PER_ENTRY: u64 = 256;

#[derive(Debug, Clone, Serialize, Default)]
pub struct UploadTimings {
    pub load_ms: u64,
    pub instantiate_ms: u64,
    /// Walking and hashing the directory (`pack-and-upload` only).
    pub plan_ms: u64,
    /// Asking the store whether the package is already there (`pack-and-upload` only).
    pub stat_ms: u64,
    /// Packing (when packing) and uploading, which overlap.
    pub upload_ms: u64,
    pub total_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct UploadOutcome {
    pub uri: String,
    /// False when an identical package was already there and nothing was sent.
    pub uploaded: bool,
    /// Files packed (`pack-and-upload` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    /// Size of the object at `uri`.
    pub bytes: u64,
    /// Parts sent: 1 for a single PUT, 0 when nothing was sent.
    pub parts: u32,
    /// Instances that uploaded parts at once.
    pub instances: u32,
    /// Failed requests that were tried again (throttled answers not included).
    pub retries: u32,
    pub throttled: u32,
    pub throttle_wait_ms: u64,
    pub etag: Option<String>,
    /// Checksum the plugin verified against what it sent, e.g. `md5`.
    pub verified: Option<String>,
    pub timings_ms: UploadTimings,
    pub plugin: crate::ops::PluginReport,
}

/// A packing error as the CLI reports it.
pub fn pack_error(e: scheme_pack::Error) -> HostError {
    use scheme_pack::Error as P;
    let kind = match &e {
        P::OverLimit(_) => ErrorKind::LimitExceeded,
        P::Symlink { .. } | P::UnpackableName { .. } | P::NfcCollision { .. } | P::NonUtf8Name { .. } => ErrorKind::UnsafeArchive,
        P::Changed { .. } => ErrorKind::Integrity,
        P::Write(_) | P::Worker(_) => ErrorKind::Internal,
        _ => ErrorKind::Config,
    };
    HostError::new(kind, format!("cannot pack: {e}"))
}


/// What `pack-and-upload` packs and where to.
pub struct PackRequest<'a> {
    pub dir: &'a Path,
    /// `scheme://bucket[/prefix]`; the package goes to `<prefix>/_ray_pkg_<hash>.zip`.
    pub prefix: &'a str,
    pub excludes: Vec<String>,
    pub include_parent_dir: bool,
}

/// A plugin that can upload, with its control instance, ready for one URI.
struct Session {
    plugin: Loaded,
    control: Instance,
    budgets: crate::ops::CallBudgets,
    instantiate_ms: u64,
}

impl Host {
    /// `scheme-host upload`: `file` as is at `uri`.
    pub async fn upload(&self, file: &Path, uri: &str, progress: Arc<dyn UploadProgress>) -> Result<UploadOutcome> {
        let started = Instant::now();
        let unreadable = |e: std::io::Error| HostError::new(ErrorKind::Config, format!("cannot read {}: {e}", file.display()));
        let opened = std::fs::File::open(file).map_err(unreadable)?;
        let meta = opened.metadata().map_err(unreadable)?;
        if !meta.is_file() {
            return Err(HostError::new(ErrorKind::Config, format!("{} is not a regular file", file.display())));
        }
        let mut session = self.session(uri).await?;
        let plan = session.plan(uri, meta.len()).await?;
        let size = send::part_size(session.name(), &plan)?;
        let stream = PartStream::file(opened, file, meta.len(), size, part_buffers(plan.part_count));
        let t = Instant::now();
        let sent = self.send(&mut session, uri, plan.part_count, stream, progress).await?;
        Ok(session.outcome(uri, sent, None, UploadTimings { upload_ms: ms(t), total_ms: ms(started), ..Default::default() }))
    }

    /// `scheme-host pack-and-upload`: packs the directory as Ray packs a local
    /// `working_dir` and uploads it under its content's name, unless that name is there.
    pub async fn pack_and_upload(&self, req: PackRequest<'_>, progress: Arc<dyn UploadProgress>) -> Result<UploadOutcome> {
        let started = Instant::now();
        let packer = scheme_pack::Packer::new(req.dir)
            .rules(scheme_pack::Rules::from_env())
            .exclude(req.excludes)
            .include_parent_dir(req.include_parent_dir)
            .unpack_limits(self.config().limits.plugin());
        let plan = tokio::task::spawn_blocking(move || packer.plan())
            .await
            .map_err(|e| HostError::new(ErrorKind::Internal, format!("the packing planner stopped unexpectedly: {e}")))?
            .map_err(pack_error)?;
        let plan_ms = ms(started);
        let uri = format!("{}/{}", req.prefix.trim_end_matches('/'), plan.name());
        let mut session = self.session(&uri).await?;
        let t = Instant::now();
        let found = session
            .control
            .run_upload("stat", MethodRule::ReadOnly, async |u, s| u.call_stat(s, &uri).await)
            .await?
            .map_err(|e| session.control.explain_upload(session.control.scheme_error(e)))?;
        let stat_ms = ms(t);
        let files = Some(plan.files() as u64);
        if let Some(info) = found {
            let sent = send::Sent { bytes: info.size, parts: 0, instances: 0, retries: info.retries, info };
            let mut out = session.outcome(&uri, sent, files, UploadTimings { plan_ms, stat_ms, total_ms: ms(started), ..Default::default() });
            out.uploaded = false;
            return Ok(out);
        }
        let bound = plan.bytes_in() + (plan.entries().len() as u64 + 2) * ZIP_BYTES_PER_ENTRY + plan.bytes_in() / 100;
        let up = session.plan(&uri, bound).await?;
        let size = send::part_size(session.name(), &up)?;
        let t = Instant::now();
        let stream = PartStream::spawn(size, part_buffers(up.part_count), move |w| plan.pack_to(w).map(drop).map_err(pack_error));
        let sent = self.send(&mut session, &uri, up.part_count, stream, progress).await?;
        Ok(session.outcome(&uri, sent, files, UploadTimings { plan_ms, stat_ms, upload_ms: ms(t), total_ms: ms(started), ..Default::default() }))
    }

    /// Finds the plugin for `uri`, checks it can upload and that the URI is one it could
    /// later fetch, in a control instance.
    async fn session(&self, uri: &str) -> Result<Session> {
        let plugin = self.plugin_for(uri).await?;
        if !Sandbox::has_upload(&plugin.component) {
            return Err(HostError::new(
                ErrorKind::Unsupported,
                format!(
                    "plugin {} (contract {}) cannot upload: it does not export {}/upload, added in 0.1.3",
                    plugin.entry.manifest.name,
                    plugin.entry.manifest.contract_version,
                    crate::bindings::CONTRACT_PACKAGE
                ),
            ));
        }
        let budgets = self.budgets(&plugin);
        let t = Instant::now();
        let mut control = self.instantiate(&plugin, None, Box::new(()), &budgets).await?;
        let instantiate_ms = ms(t);
        parse_in(&mut control, uri).await?;
        Ok(Session { plugin, control, budgets, instantiate_ms })
    }

    /// One PUT when the plan has one part; otherwise a multipart upload by
    /// [`upload_workers`] instances. Deciding from the plan, not by reading ahead,
    /// keeps no part waiting in memory for the decision; a package that packs smaller than
    /// its bound goes up as fewer parts (a single part is a valid multipart upload).
    async fn send(&self, session: &mut Session, uri: &str, max_parts: u32, stream: PartStream, progress: Arc<dyn UploadProgress>) -> Result<send::Sent> {
        if max_parts == 1 {
            return send::put_single(&mut session.control, uri, stream, progress).await;
        }
        let count = upload_workers(max_parts);
        let mut workers = Vec::with_capacity(count);
        for _ in 0..count {
            workers.push(self.instantiate(&session.plugin, None, Box::new(()), &session.budgets).await?);
        }
        send::multipart(&mut session.control, workers, uri, max_parts, stream, progress).await
    }
}

impl Session {
    fn name(&self) -> &str {
        &self.plugin.entry.manifest.name
    }

    async fn plan(&mut self, uri: &str, size: u64) -> Result<types::UploadPlan> {
        let control = &mut self.control;
        control
            .run_upload("plan-upload", MethodRule::ReadOnly, async |u, s| u.call_plan_upload(s, uri, size).await)
            .await?
            .map_err(|e| control.scheme_error(e))
    }

    fn outcome(&self, uri: &str, sent: send::Sent, files: Option<u64>, mut timings_ms: UploadTimings) -> UploadOutcome {
        let throttle = self.budgets.throttle.report();
        timings_ms.load_ms = self.plugin.load_ms;
        timings_ms.instantiate_ms = self.instantiate_ms;
        UploadOutcome {
            uri: uri.to_string(),
            uploaded: true,
            files,
            bytes: sent.bytes,
            parts: sent.parts,
            instances: sent.instances,
            retries: sent.retries,
            throttled: throttle.throttled,
            throttle_wait_ms: throttle.waited.as_millis() as u64,
            etag: sent.info.etag.map(|t| self.control.display_text(&t)),
            verified: sent.info.verified,
            timings_ms,
            plugin: plugin_report(&self.plugin.entry),
        }
    }
}

/// Instances sending the parts of a `part_count`-part upload: as many as there are cores,
/// 2 to 4 (the parts are network-bound), never more than parts; one for a single PUT.
fn upload_workers(part_count: u32) -> usize {
    if part_count <= 1 {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    cores.clamp(2, 4).min(part_count as usize)
}

/// Part buffers for a `part_count`-part upload: one per sending instance, and one more so
/// the reader or packer stays a part ahead.
fn part_buffers(part_count: u32) -> usize {
    upload_workers(part_count) + 1
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}
