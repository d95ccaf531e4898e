//! Plugin discovery: every call scans the plugin directory, so a `.wasm` dropped in or
//! replaced takes effect on the next call. Compiled code comes from the precompile cache
//! (`cache.rs`); a plugin seen for the first time is compiled and asked for its manifest.

pub use crate::cache::CacheStatus;
use crate::cache::{add_source, write_meta, CacheIndex, CacheMeta, FileStamp, PluginSource, PrecompileCache};
use crate::error::{HostError, Result};
use crate::manifest::{check_contract, PluginManifest};
use crate::sandbox::{Grant, Sandbox};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};
use wasmtime::component::Component;

pub struct PluginEntry {
    pub path: PathBuf,
    pub sha256: String,
    pub manifest: PluginManifest,
    pub cache: CacheStatus,
    pub compile_ms: Option<u64>,
    component: Option<Component>,
}

/// A `.wasm` in the plugin directory that could not be used, and why.
#[derive(Debug, Clone, Serialize)]
pub struct BrokenPlugin {
    pub path: PathBuf,
    pub error: String,
}

pub struct Registry<'a> {
    sandbox: &'a Sandbox,
    plugin_dir: PathBuf,
    cache: PrecompileCache,
}

impl<'a> Registry<'a> {
    pub fn new(sandbox: &'a Sandbox, plugin_dir: PathBuf, cache_dir: PathBuf) -> Registry<'a> {
        Registry { sandbox, plugin_dir, cache: PrecompileCache::new(sandbox.engine(), cache_dir) }
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
        let index = self.cache.read_index();
        let mut entries = Vec::new();
        let mut broken = Vec::new();
        for path in paths {
            match self.load_manifest(&path, &index).await {
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
            None => match self.cache.load(&entry.sha256) {
                Some(c) => c,
                None => {
                    // The manifest was cached but the artifact is gone or damaged.
                    let bytes = read_plugin(&entry.path)?;
                    let sha = hex::encode(Sha256::digest(&bytes));
                    if sha != entry.sha256 {
                        // Replaced since the scan: compiling it under the old key would
                        // cache one plugin's code under another's hash.
                        return Err(HostError::plugin(format!("plugin {} changed while it was being loaded; try again", entry.path.display())));
                    }
                    let (c, ms) = self.compile_and_store(&bytes, &entry.sha256, &entry.manifest)?;
                    entry.cache = CacheStatus::Rebuilt;
                    entry.compile_ms = Some(ms);
                    c
                }
            },
        };
        Ok((entry, component))
    }

    async fn load_manifest(&self, path: &Path, index: &CacheIndex) -> Result<PluginEntry> {
        let as_of = SystemTime::now();
        let stamp = FileStamp::read(path).map_err(|e| HostError::plugin(format!("cannot read plugin {}: {e}", path.display())))?;
        // A path that is not UTF-8 cannot be recorded; such a plugin is simply hashed.
        let canonical = std::fs::canonicalize(path).ok().and_then(|p| p.into_os_string().into_string().ok());
        if let Some(canonical) = &canonical
            && let Some(meta) = index.lookup(canonical, &stamp)
        {
            return Ok(PluginEntry {
                path: path.into(),
                sha256: meta.plugin_sha256.clone(),
                manifest: meta.manifest.clone(),
                cache: CacheStatus::Hit,
                compile_ms: None,
                component: None,
            });
        }
        // Stamped before reading: a write while the file is read leaves the recorded stamp
        // behind the file, so the next call hashes again rather than trusting these bytes.
        let source = canonical.filter(|_| stamp.settled_at(as_of)).map(|path| PluginSource { path, stamp });
        let bytes = read_plugin(path)?;
        let sha = hex::encode(Sha256::digest(&bytes));
        let meta_path = self.cache.meta_path(&sha);
        let mut cache = CacheStatus::Miss;
        if let Ok(text) = std::fs::read(&meta_path) {
            match serde_json::from_slice::<CacheMeta>(&text) {
                Ok(mut meta) if meta.plugin_sha256 == sha => {
                    if let Some(source) = source
                        && add_source(&mut meta.sources, source)
                        && let Err(e) = write_meta(&meta_path, &meta)
                    {
                        tracing::debug!(cache = %meta_path.display(), "plugin stamp not recorded: {e}");
                    }
                    return Ok(PluginEntry { path: path.into(), sha256: sha, manifest: meta.manifest, cache: CacheStatus::Hit, compile_ms: None, component: None });
                }
                _ => {
                    tracing::warn!(cache = %meta_path.display(), "discarding corrupt plugin cache entry");
                    cache = CacheStatus::Rebuilt;
                }
            }
        }
        let started = Instant::now();
        let component = self.compile(&bytes)?;
        let contract_version = check_contract(self.sandbox.engine(), &component)?;
        let manifest = self.ask_manifest(path, &component, contract_version).await?;
        let compile_ms = started.elapsed().as_millis() as u64;
        if let Err(e) = self.cache.store(&component, &sha, &manifest, source) {
            tracing::warn!(cache = %self.cache.dir().display(), "plugin cache not written: {e}");
            cache = CacheStatus::Uncached;
        }
        Ok(PluginEntry { path: path.into(), sha256: sha, manifest, cache, compile_ms: Some(compile_ms), component: Some(component) })
    }

    async fn ask_manifest(&self, path: &Path, component: &Component, contract_version: String) -> Result<PluginManifest> {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let limits = crate::config::Limits::default();
        let meter = std::sync::Arc::new(crate::sandbox::meter::WriteMeter::new(&limits));
        let output = std::sync::Arc::new(crate::sandbox::bounded::OutputBudget::new(&crate::config::OutputLimits::default(), &name));
        let grant = Grant { grants: None, name: &name, staging: None, limits: &limits, progress: Box::new(()), meter, output, throttle: Default::default() };
        let mut instance = self.sandbox.instantiate(component, grant).await?;
        let info = instance.run("info", async |b, s| b.scheme_host_storage_scheme_plugin().call_info(s).await).await?;
        PluginManifest::from_wit(info, contract_version)
    }

    fn compile(&self, bytes: &[u8]) -> Result<Component> {
        Component::new(self.sandbox.engine(), bytes)
            .map_err(|e| HostError::plugin(format!("not a valid WebAssembly component: {}", scheme_contract::text::escape(&format!("{e:#}")))))
    }

    fn compile_and_store(&self, bytes: &[u8], sha: &str, manifest: &PluginManifest) -> Result<(Component, u64)> {
        let started = Instant::now();
        let component = self.compile(bytes)?;
        let ms = started.elapsed().as_millis() as u64;
        if let Err(e) = self.cache.store(&component, sha, manifest, None) {
            tracing::warn!("plugin cache not written: {e}");
        }
        Ok((component, ms))
    }
}

fn read_plugin(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| HostError::plugin(format!("cannot read plugin {}: {e}", path.display())))
}
