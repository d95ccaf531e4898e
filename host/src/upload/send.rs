//! Sending an upload's parts through the plugin: one PUT, or a multipart upload whose
//! parts several instances send at once, aborted on any failure.

use super::stream::PartStream;
use super::progress::UploadProgress;
use crate::bindings::types;
use crate::error::{ErrorKind, HostError, Result};
use crate::sandbox::methods::MethodRule;
use crate::sandbox::Instance;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// The largest part the host will hold for a plugin; a plan beyond it is a plugin bug.
const MAX_PART_BYTES: u64 = 5 << 30;

/// The part size of `plan`, checked.
pub fn part_size(plugin: &str, plan: &types::UploadPlan) -> Result<usize> {
    if plan.part_size == 0 || plan.part_size > MAX_PART_BYTES || plan.part_count == 0 {
        return Err(HostError::plugin(format!(
            "plugin {plugin} planned an upload in {} parts of {} bytes, which the host does not accept (parts of 1 byte to 5 GiB)",
            plan.part_count, plan.part_size
        )));
    }
    usize::try_from(plan.part_size).map_err(|_| HostError::plugin(format!("plugin {plugin} planned parts of {} bytes", plan.part_size)))
}

/// What one upload sent, for the outcome.
pub struct Sent {
    pub bytes: u64,
    pub parts: u32,
    pub instances: u32,
    pub retries: u32,
    pub info: types::ObjectInfo,
}

/// Uploads `stream`, planned as a single part, with one PUT: only once the stream has
/// ended, so a file that changed or a packing that failed is never stored.
pub async fn put_single(control: &mut Instance, uri: &str, mut stream: PartStream, progress: Arc<dyn UploadProgress>) -> Result<Sent> {
    let write = write_rule(uri)?;
    let part = stream.next().await?.map(|(_, b)| b);
    if stream.next().await?.is_some() {
        return Err(HostError::plugin("the bytes outgrew the one part the plugin planned for"));
    }
    let bytes: &[u8] = part.as_deref().unwrap_or_default();
    let size = bytes.len() as u64;
    let info = control
        .run_upload("upload", write, async |u, s| u.call_put_object(s, uri, bytes).await)
        .await?
        .map_err(|e| control.explain_upload(control.scheme_error(e)))?;
    progress.sent(size, Some(size));
    Ok(Sent { bytes: size, parts: 1, instances: 1, retries: info.retries, info })
}

/// Uploads `stream` as a multipart upload whose parts `workers` send, each taking the next
/// part as it finishes one; `control` begins, completes and, on any failure, aborts it.
pub async fn multipart(control: &mut Instance, workers: Vec<Instance>, uri: &str, max_parts: u32, stream: PartStream, progress: Arc<dyn UploadProgress>) -> Result<Sent> {
    let write = write_rule(uri)?;
    let instances = workers.len() as u32;
    let upload_id = control
        .run_upload("upload", write.clone(), async |u, s| u.call_begin_multipart(s, uri).await)
        .await?
        .map_err(|e| control.explain_upload(control.scheme_error(e)))?;
    // Said only if the process ends without completing or aborting (a plugin stuck past
    // its deadline: `sandbox::watchdog`).
    let _left_open = crate::leftovers::note(format!(
        "the multipart upload {} of {} was left open: its parts stay stored until it is aborted or the bucket's lifecycle rule removes them",
        control.display_text(&upload_id),
        control.display_text(uri)
    ));
    match upload_parts(workers, uri, &upload_id, &write, max_parts, stream, progress).await {
        Ok((mut parts, bytes)) => {
            parts.sort_by_key(|p| p.number);
            let retries = parts.iter().map(|p| p.retries).sum::<u32>();
            let completed = control
                .run_upload("upload", write.clone(), async |u, s| u.call_complete_multipart(s, uri, &upload_id, &parts).await)
                .await
                .and_then(|r| r.map_err(|e| control.explain_upload(control.scheme_error(e))));
            match completed {
                Ok(info) => Ok(Sent { bytes, parts: parts.len() as u32, instances, retries: retries + info.retries, info }),
                Err(e) => Err(abort(control, uri, &upload_id, write, e).await),
            }
        }
        Err(e) => Err(abort(control, uri, &upload_id, write, e).await),
    }
}

fn write_rule(uri: &str) -> Result<MethodRule> {
    MethodRule::upload_to(uri).ok_or_else(|| HostError::new(ErrorKind::InvalidUri, format!("{} names no bucket to upload to", scheme_contract::text::escape(uri))))
}

/// Aborts the upload after `e`; says so in the error when the abort failed too, since
/// parts may then stay stored.
async fn abort(control: &mut Instance, uri: &str, upload_id: &str, write: MethodRule, e: HostError) -> HostError {
    let aborted = control
        .run_upload("abort", write, async |u, s| u.call_abort_multipart(s, uri, upload_id).await)
        .await
        .and_then(|r| r.map_err(|e| control.scheme_error(e)));
    match aborted {
        Ok(()) => e,
        Err(a) => {
            let mut e = e;
            let id = control.display_text(upload_id);
            e.message.push_str(&format!(
                "; the multipart upload {id} could not be aborted either ({}): its parts may stay stored until the bucket's lifecycle rule removes them",
                a.message
            ));
            e
        }
    }
}

/// Every part of `stream`, uploaded by `workers` taking the next part as they finish one.
async fn upload_parts(
    workers: Vec<Instance>,
    uri: &str,
    upload_id: &str,
    write: &MethodRule,
    max_parts: u32,
    stream: PartStream,
    progress: Arc<dyn UploadProgress>,
) -> Result<(Vec<types::UploadedPart>, u64)> {
    let stream = Arc::new(Mutex::new(stream));
    let (uri, upload_id): (Arc<str>, Arc<str>) = (uri.into(), upload_id.into());
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for mut inst in workers {
        let (stream, uri, upload_id, write, progress, sent) = (stream.clone(), uri.clone(), upload_id.clone(), write.clone(), progress.clone(), sent.clone());
        tasks.spawn(async move {
            let mut done = Vec::new();
            loop {
                let next = stream.lock().await.next().await?;
                let Some((number, bytes)) = next else { return Ok(done) };
                if number > max_parts {
                    return Err(HostError::plugin(format!(
                        "the upload needs more than the {max_parts} parts the plugin planned for; its plan was too small"
                    )));
                }
                let len = bytes.len() as u64;
                let part = inst
                    .run_upload("upload", write.clone(), async |u, s| u.call_upload_part(s, &uri, &upload_id, number, &bytes[..]).await)
                    .await?
                    .map_err(|e| inst.explain_upload(inst.scheme_error(e)))?;
                if part.number != number {
                    return Err(HostError::plugin(format!("the plugin reported part {} for part {number}", part.number)));
                }
                let total = sent.fetch_add(len, Ordering::Relaxed) + len;
                progress.sent(total, None);
                done.push(part);
            }
        });
    }
    let mut parts = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let error = match joined {
            Ok(Ok(done)) => {
                parts.extend(done);
                continue;
            }
            Ok(Err(e)) => e,
            Err(e) => HostError::new(ErrorKind::Internal, format!("an upload worker stopped unexpectedly: {e}")),
        };
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        return Err(error);
    }
    let taken = stream.lock().await.parts_taken();
    if parts.len() as u32 != taken {
        return Err(HostError::new(ErrorKind::Internal, format!("{} of {taken} parts were uploaded", parts.len())));
    }
    Ok((parts, sent.load(Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_checked() {
        let ok = types::UploadPlan { part_size: 8 << 20, part_count: 3 };
        assert_eq!(part_size("p", &ok).unwrap(), 8 << 20);
        for bad in [types::UploadPlan { part_size: 0, part_count: 1 }, types::UploadPlan { part_size: 6 << 30, part_count: 1 }, types::UploadPlan { part_size: 1, part_count: 0 }] {
            assert_eq!(part_size("p", &bad).unwrap_err().kind, ErrorKind::Plugin);
        }
    }
}
