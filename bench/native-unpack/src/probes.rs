//! What one core of this machine can do without any of our code in the way: inflate in
//! memory, and write a tree of files.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

/// Inflates every entry of the zip (read into memory first, not timed) into a sink.
pub fn inflate(zip_path: &Path) -> Result<serde_json::Value> {
    let bytes = fs::read(zip_path).with_context(|| format!("reading {}", zip_path.display()))?;
    let started = Instant::now();
    let mut archive = zip::ZipArchive::new(io::Cursor::new(bytes))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    for i in 0..archive.len() {
        let mut f = archive.by_index(i)?;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            total += n as u64;
        }
    }
    Ok(serde_json::json!({"bytes": total, "work_ms": started.elapsed().as_secs_f64() * 1000.0}))
}

/// Writes the archive's directories and files (names and sizes from its central directory,
/// content from a fixed buffer) with 1 MiB writes.
pub fn write_tree(zip_path: &Path, dest: &Path) -> Result<serde_json::Value> {
    let file = fs::File::open(zip_path).with_context(|| format!("opening {}", zip_path.display()))?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file))?;
    let mut entries = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let e = archive.by_index_raw(i)?;
        entries.push((e.name()?.into_owned(), e.is_dir(), e.size()));
    }
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    fs::create_dir_all(dest)?;
    let started = Instant::now();
    let mut made = std::collections::HashSet::new();
    let (mut files, mut bytes) = (0u64, 0u64);
    for (name, is_dir, size) in entries {
        let path = dest.join(name.trim_end_matches('/'));
        let dir = if is_dir { Some(path.as_path()) } else { path.parent() };
        if let Some(d) = dir.filter(|d| made.insert(d.to_path_buf())) {
            fs::create_dir_all(d)?;
        }
        if is_dir {
            continue;
        }
        let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
        let mut left = size;
        while left > 0 {
            let n = left.min(data.len() as u64) as usize;
            f.write_all(&data[..n])?;
            left -= n as u64;
        }
        files += 1;
        bytes += size;
    }
    Ok(serde_json::json!({"files": files, "bytes": bytes, "work_ms": started.elapsed().as_secs_f64() * 1000.0}))
}
