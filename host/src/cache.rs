//! The precompile cache: each plugin compiled once per (plugin sha256, engine
//! configuration), its manifest kept beside the artifact, so a warm call never compiles.
//! A cache entry is trusted only if the artifact's own sha256 matches what was recorded
//! when it was written, or the file is provably unchanged since that check; anything else
//! is rebuilt.
//!
//! Hashing is what a warm call would otherwise spend its time on (a plugin of a megabyte
//! and an artifact of several), so both are skipped while the file on disk still carries
//! the stamp (device, inode, size, mtime, ctime) it had when it was last hashed. A user can
//! set mtime but not ctime, and every write or rename moves ctime, so a changed file never
//! keeps its stamp; then it is read and hashed as if no stamp had been recorded.

use crate::manifest::PluginManifest;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use wasmtime::component::Component;
use wasmtime::Engine;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheStatus {
    /// The precompiled artifact was used; nothing was compiled.
    Hit,
    /// First use of this plugin build: compiled and cached.
    Miss,
    /// A cache entry existed but was corrupt or stale: discarded, compiled again.
    Rebuilt,
    /// Compiled, but the cache directory could not be written.
    Uncached,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct CacheMeta {
    pub(crate) plugin_sha256: String,
    artifact_sha256: String,
    /// The artifact file as this host wrote or last verified it. Entries written before
    /// stamps existed have none, and their artifact is hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) artifact_stamp: Option<FileStamp>,
    /// Plugin files known to hold exactly this build. It lives here rather than in files
    /// of its own so that a cache entry stays one artifact and one manifest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) sources: Vec<PluginSource>,
    pub(crate) manifest: PluginManifest,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct PluginSource {
    /// Canonical, so that two names for one file agree and a retargeted symlink does not
    /// inherit the old target's entry.
    pub(crate) path: String,
    pub(crate) stamp: FileStamp,
}

/// Enough of a file's metadata that any write, truncation, rename over it or replacement
/// changes at least one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

/// File timestamps advance in coarse steps (a kernel tick, a whole second on some
/// filesystems), so a file rewritten within the step in which it was stamped would keep
/// its stamp. A plugin stamp is recorded only once its ctime is this far in the past,
/// beyond any step, so that every later write shows.
const SETTLE: Duration = Duration::from_secs(1);

/// Sources kept per cache entry: the same build copied to more paths than this only costs
/// those copies a hash.
const MAX_SOURCES: usize = 16;

impl FileStamp {
    pub(crate) fn of(m: &std::fs::Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
        FileStamp { dev: m.dev(), ino: m.ino(), size: m.size(), mtime_ns: ns(m.mtime(), m.mtime_nsec()), ctime_ns: ns(m.ctime(), m.ctime_nsec()) }
    }

    pub(crate) fn read(path: &Path) -> std::io::Result<FileStamp> {
        std::fs::metadata(path).map(|m| FileStamp::of(&m))
    }

    /// Whether no write after `as_of` can leave this stamp unchanged. `as_of` must be taken
    /// before the stat that produced the stamp.
    pub(crate) fn settled_at(&self, as_of: SystemTime) -> bool {
        let Ok(now) = as_of.duration_since(SystemTime::UNIX_EPOCH) else { return false };
        let now_ns = i64::try_from(now.as_nanos()).unwrap_or(i64::MAX);
        self.ctime_ns.saturating_add(SETTLE.as_nanos() as i64) <= now_ns
    }
}

/// The cache entries of this engine, read once per scan, and which plugin files they were
/// built from.
#[derive(Default)]
pub(crate) struct CacheIndex {
    metas: HashMap<String, CacheMeta>,
    by_source: HashMap<String, Vec<(FileStamp, String)>>,
}

impl CacheIndex {
    /// The cache entry of the plugin file at `path`, if the file is unchanged since it was
    /// hashed.
    pub(crate) fn lookup(&self, path: &str, stamp: &FileStamp) -> Option<&CacheMeta> {
        let mut builds = self.by_source.get(path)?.iter().filter(|(s, _)| s == stamp).map(|(_, sha)| sha);
        let sha = builds.next()?;
        // Two builds cannot both be what one unchanged file holds; hashing settles it.
        if builds.any(|other| other != sha) {
            return None;
        }
        self.metas.get(sha)
    }
}

pub struct PrecompileCache {
    engine: Engine,
    dir: PathBuf,
    engine_key: String,
}

impl PrecompileCache {
    pub fn new(engine: &Engine, dir: PathBuf) -> PrecompileCache {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let engine_key = format!("{}-{:016x}", env!("CARGO_PKG_VERSION"), h.finish());
        PrecompileCache { engine: engine.clone(), dir, engine_key }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn meta_path(&self, sha: &str) -> PathBuf {
        self.dir.join(format!("{sha}-{}.json", self.engine_key))
    }

    fn artifact_path(&self, sha: &str) -> PathBuf {
        self.dir.join(format!("{sha}-{}.cwasm", self.engine_key))
    }

    /// Every readable cache entry of this engine. Entries that do not parse are left for
    /// `load_manifest` to find and rebuild.
    pub(crate) fn read_index(&self) -> CacheIndex {
        let mut index = CacheIndex::default();
        let Ok(dir) = std::fs::read_dir(&self.dir) else { return index };
        let suffix = format!("-{}.json", self.engine_key);
        for e in dir.flatten() {
            let name = e.file_name();
            let Some(sha) = name.to_str().and_then(|n| n.strip_suffix(&suffix)) else { continue };
            let Ok(text) = std::fs::read(e.path()) else { continue };
            let Ok(meta) = serde_json::from_slice::<CacheMeta>(&text) else { continue };
            if meta.plugin_sha256 != sha {
                continue;
            }
            for s in &meta.sources {
                index.by_source.entry(s.path.clone()).or_default().push((s.stamp, sha.to_owned()));
            }
            index.metas.insert(sha.to_owned(), meta);
        }
        index
    }

    pub(crate) fn store(&self, component: &Component, sha: &str, manifest: &PluginManifest, source: Option<PluginSource>) -> std::io::Result<()> {
        let artifact = component.serialize().map_err(std::io::Error::other)?;
        create_private_dir(&self.dir)?;
        let artifact_path = self.artifact_path(sha);
        crate::atomic::write_file(&artifact_path, &artifact)?;
        // Stamped after the rename: that inode holds exactly the bytes hashed below, and
        // only the invoking user can reach it to change it, which moves its ctime. No
        // settling is needed as for plugins: nothing rewrites an artifact in place.
        let artifact_stamp = FileStamp::read(&artifact_path).ok();
        let meta_path = self.meta_path(sha);
        // A rebuilt artifact does not change what the plugin files hold.
        let mut sources = std::fs::read(&meta_path)
            .ok()
            .and_then(|text| serde_json::from_slice::<CacheMeta>(&text).ok())
            .filter(|old| old.plugin_sha256 == sha)
            .map(|old| old.sources)
            .unwrap_or_default();
        if let Some(source) = source {
            add_source(&mut sources, source);
        }
        let meta = CacheMeta { plugin_sha256: sha.into(), artifact_sha256: hex::encode(Sha256::digest(&artifact)), artifact_stamp, sources, manifest: manifest.clone() };
        write_meta(&meta_path, &meta)
    }

    /// The cached artifact, if it is exactly what this host wrote.
    pub fn load(&self, sha: &str) -> Option<Component> {
        let meta_path = self.meta_path(sha);
        let artifact_path = self.artifact_path(sha);
        let mut meta: CacheMeta = serde_json::from_slice(&std::fs::read(&meta_path).ok()?).ok()?;
        let as_of = SystemTime::now();
        let stamp = FileStamp::read(&artifact_path).ok()?;
        if meta.artifact_stamp == Some(stamp) {
            // SAFETY: this host wrote the file, verified its sha256 when it did, into a
            // directory only the invoking user can write, and its stamp has not changed
            // since, so it is still those bytes. Artifacts are only ever replaced by
            // rename, never rewritten in place, so the mapping stays what was checked, and
            // a rename between the stat and the open can only bring in another complete
            // artifact that a host wrote for this same plugin and engine.
            return match unsafe { Component::deserialize_file(&self.engine, &artifact_path) } {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(cache = %artifact_path.display(), "precompiled plugin rejected by the engine ({e:#}); rebuilding");
                    None
                }
            };
        }
        let artifact = std::fs::read(&artifact_path).ok()?;
        if hex::encode(Sha256::digest(&artifact)) != meta.artifact_sha256 {
            tracing::warn!(cache = %artifact_path.display(), "precompiled plugin does not match its recorded hash; rebuilding");
            return None;
        }
        // SAFETY: the bytes are exactly the artifact this host serialized (hash checked
        // above) into a directory only the invoking user can write.
        let component = match unsafe { Component::deserialize(&self.engine, &artifact) } {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(cache = %artifact_path.display(), "precompiled plugin rejected by the engine ({e}); rebuilding");
                return None;
            }
        };
        // Stamped before the read that was hashed, so a later write cannot hide behind it;
        // a settled stamp also cannot be shared with a write in the same timestamp step.
        if stamp.settled_at(as_of) {
            meta.artifact_stamp = Some(stamp);
            if let Err(e) = write_meta(&meta_path, &meta) {
                tracing::debug!(cache = %meta_path.display(), "artifact stamp not recorded: {e}");
            }
        }
        Some(component)
    }
}

/// Records that the plugin file `source` holds this build; false when it already was.
pub(crate) fn add_source(sources: &mut Vec<PluginSource>, source: PluginSource) -> bool {
    if sources.iter().any(|s| s.path == source.path && s.stamp == source.stamp) {
        return false;
    }
    sources.retain(|s| s.path != source.path);
    if sources.len() >= MAX_SOURCES {
        sources.remove(0);
    }
    sources.push(source);
    true
}

pub(crate) fn write_meta(path: &Path, meta: &CacheMeta) -> std::io::Result<()> {
    crate::atomic::write_file(path, &serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if meta.permissions().mode() & 0o022 != 0 {
        // A cache others can write is a cache others can fill with native code.
        return Err(std::io::Error::other(format!("{} is writable by other users; refusing to use it as a plugin cache", dir.display())));
    }
    Ok(())
}

