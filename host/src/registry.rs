//! Plugin discovery and the precompile cache.
//!
//! Every call scans the plugin directory, so a `.wasm` dropped in or replaced takes effect
//! on the next call. Each plugin is compiled once per (plugin sha256, engine configuration)
//! and its manifest is cached beside the artifact, so a warm call hashes files and
//! deserializes one artifact but never compiles. A cache entry is trusted only if the
//! artifact's own sha256 matches what was recorded when it was written; anything else is
//! rebuilt.

use crate::error::{HostError, Result};
use crate::manifest::{check_contract, PluginManifest};
use crate::sandbox::{Grant, Sandbox};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;
use wasmtime::component::Component;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheOutcome {
    /// The precompiled artifact was used; nothing was compiled.
    Hit,
    /// First use of this plugin build: compiled and cached.
    Miss,
    /// A cache entry existed but was corrupt or stale: discarded, compiled again.
    Rebuilt,
    /// Compiled, but the cache directory could not be written.
    Uncached,
}

pub struct PluginEntry {
    pub path: PathBuf,
    pub sha256: String,
    pub manifest: PluginManifest,
    pub cache: CacheOutcome,
    pub compile_ms: Option<u64>,
    component: Option<Component>,
}

/// A `.wasm` in the plugin directory that could not be used, and why.
#[derive(Debug, Clone, Serialize)]
pub struct BrokenPlugin {
    pub path: PathBuf,
    pub error: String,
}

#[derive(Serialize, Deserialize)]
struct CacheMeta {
    plugin_sha256: String,
    artifact_sha256: String,
    manifest: PluginManifest,
}

pub struct Registry<'a> {
    sandbox: &'a Sandbox,
    plugin_dir: PathBuf,
    cache_dir: PathBuf,
    engine_key: String,
}

impl<'a> Registry<'a> {
    pub fn new(sandbox: &'a Sandbox, plugin_dir: PathBuf, cache_dir: PathBuf) -> Registry<'a> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        sandbox.engine().precompile_compatibility_hash().hash(&mut h);
        let engine_key = format!("{}-{:016x}", env!("CARGO_PKG_VERSION"), h.finish());
        Registry { sandbox, plugin_dir, cache_dir, engine_key }
    }

    pub fn plugin_dir(&self) -> &Path {
        &self.plugin_dir
    }

    /// Loads the manifest of every plugin in the directory (compiling new ones).
    pub async fn scan(&self) -> Result<(Vec<PluginEntry>, Vec<BrokenPlugin>)> {
        let dir = std::fs::read_dir(&self.plugin_dir).map_err(|e| {
            HostError::config(format!("cannot read plugin directory {}: {e}", self.plugin_dir.display()))
        })?;
        let mut paths: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
            .collect();
        paths.sort();
        let mut entries = Vec::new();
        let mut broken = Vec::new();
        for path in paths {
            match self.load_manifest(&path).await {
                Ok(e) => entries.push(e),
                Err(e) => {
                    tracing::warn!(plugin = %path.display(), "skipping plugin: {}", e.message);
                    broken.push(BrokenPlugin { path, error: e.message });
                }
            }
        }
        Ok((entries, broken))
    }

    /// The plugin that handles `scheme`, ready to instantiate.
    pub async fn find(&self, scheme: &str) -> Result<(PluginEntry, Component)> {
        let (entries, broken) = self.scan().await?;
        let mut matching: Vec<PluginEntry> = entries.into_iter().filter(|e| e.manifest.schemes.iter().any(|s| s == scheme)).collect();
        if matching.len() > 1 {
            let names: Vec<String> = matching.iter().map(|e| e.path.display().to_string()).collect();
            return Err(HostError::plugin(format!(
                "scheme {scheme}:// is claimed by more than one plugin: {}; remove all but one",
                names.join(", ")
            )));
        }
        let Some(mut entry) = matching.pop() else {
            let mut msg = format!("no plugin in {} handles {scheme}://", self.plugin_dir.display());
            if !broken.is_empty() {
                let list: Vec<String> = broken.iter().map(|b| format!("{}: {}", b.path.display(), b.error)).collect();
                msg.push_str(&format!(" (plugins that could not be loaded: {})", list.join("; ")));
            }
            return Err(HostError::plugin(msg));
        };
        let component = match entry.component.take() {
            Some(c) => c,
            None => match self.load_artifact(&entry.sha256) {
                Some(c) => c,
                None => {
                    // The manifest was cached but the artifact is gone or damaged.
                    let bytes = read_plugin(&entry.path)?;
                    let (c, ms) = self.compile_and_store(&bytes, &entry.sha256, &entry.manifest)?;
                    entry.cache = CacheOutcome::Rebuilt;
                    entry.compile_ms = Some(ms);
                    c
                }
            },
        };
        Ok((entry, component))
    }

    fn key(&self, sha: &str) -> PathBuf {
        self.cache_dir.join(format!("{sha}-{}", self.engine_key))
    }

    async fn load_manifest(&self, path: &Path) -> Result<PluginEntry> {
        let bytes = read_plugin(path)?;
        let sha = hex::encode(Sha256::digest(&bytes));
        let key = self.key(&sha);
        let meta_path = key.with_extension("json");
        let mut cache = CacheOutcome::Miss;
        if let Ok(text) = std::fs::read(&meta_path) {
            match serde_json::from_slice::<CacheMeta>(&text) {
                Ok(meta) if meta.plugin_sha256 == sha => {
                    return Ok(PluginEntry { path: path.into(), sha256: sha, manifest: meta.manifest, cache: CacheOutcome::Hit, compile_ms: None, component: None });
                }
                _ => {
                    tracing::warn!(cache = %meta_path.display(), "discarding corrupt plugin cache entry");
                    cache = CacheOutcome::Rebuilt;
                }
            }
        }
        let started = Instant::now();
        let component = self.compile(&bytes)?;
        let contract_version = check_contract(self.sandbox.engine(), &component)?;
        let manifest = self.ask_manifest(path, &component, contract_version).await?;
        let compile_ms = started.elapsed().as_millis() as u64;
        if let Err(e) = self.store_artifact(&component, &sha, &manifest) {
            tracing::warn!(cache = %self.cache_dir.display(), "plugin cache not written: {e}");
            cache = CacheOutcome::Uncached;
        }
        Ok(PluginEntry { path: path.into(), sha256: sha, manifest, cache, compile_ms: Some(compile_ms), component: Some(component) })
    }

    async fn ask_manifest(&self, path: &Path, component: &Component, contract_version: String) -> Result<PluginManifest> {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let limits = crate::config::Limits::default();
        let grant = Grant { manifest: None, name: &name, staging: None, allowed_hosts: vec![], limits: &limits, progress: Box::new(()) };
        let mut instance = self.sandbox.instantiate(component, grant).await?;
        let info = instance.run("info", async |b, s| b.scheme_host_storage_scheme_plugin().call_info(s).await).await?;
        PluginManifest::from_wit(info, contract_version)
    }

    fn compile(&self, bytes: &[u8]) -> Result<Component> {
        Component::new(self.sandbox.engine(), bytes)
            .map_err(|e| HostError::plugin(format!("not a valid WebAssembly component: {}", crate::text::escape(&format!("{e:#}")))))
    }

    fn compile_and_store(&self, bytes: &[u8], sha: &str, manifest: &PluginManifest) -> Result<(Component, u64)> {
        let started = Instant::now();
        let component = self.compile(bytes)?;
        let ms = started.elapsed().as_millis() as u64;
        if let Err(e) = self.store_artifact(&component, sha, manifest) {
            tracing::warn!("plugin cache not written: {e}");
        }
        Ok((component, ms))
    }

    fn store_artifact(&self, component: &Component, sha: &str, manifest: &PluginManifest) -> std::io::Result<()> {
        let artifact = component.serialize().map_err(std::io::Error::other)?;
        create_private_dir(&self.cache_dir)?;
        let key = self.key(sha);
        write_atomically(&key.with_extension("cwasm"), &artifact)?;
        let meta = CacheMeta { plugin_sha256: sha.into(), artifact_sha256: hex::encode(Sha256::digest(&artifact)), manifest: manifest.clone() };
        write_atomically(&key.with_extension("json"), &serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?)
    }

    /// The cached artifact, if it is exactly what this host wrote.
    fn load_artifact(&self, sha: &str) -> Option<Component> {
        let key = self.key(sha);
        let meta: CacheMeta = serde_json::from_slice(&std::fs::read(key.with_extension("json")).ok()?).ok()?;
        let artifact = std::fs::read(key.with_extension("cwasm")).ok()?;
        if hex::encode(Sha256::digest(&artifact)) != meta.artifact_sha256 {
            tracing::warn!(cache = %key.display(), "precompiled plugin does not match its recorded hash; rebuilding");
            return None;
        }
        // SAFETY: the bytes are exactly the artifact this host serialized (hash checked
        // above) into a directory only the invoking user can write.
        match unsafe { Component::deserialize(self.sandbox.engine(), &artifact) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(cache = %key.display(), "precompiled plugin rejected by the engine ({e}); rebuilding");
                None
            }
        }
    }
}

fn read_plugin(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| HostError::plugin(format!("cannot read plugin {}: {e}", path.display())))
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

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp-{}-{:08x}", std::process::id(), rand::random::<u32>()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
