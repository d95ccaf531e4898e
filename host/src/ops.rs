//! The host's operations, one per CLI command. Each scans the plugin directory, picks the
//! plugin for the URI's scheme and runs it in a fresh sandbox.

use crate::bindings::types;
use crate::config::Config;
use crate::error::{ErrorKind, HostError, Result};
use crate::publish::{PackageLock, TreeLinks};
use crate::registry::{BrokenPlugin, CacheStatus, PluginEntry, Registry};
use crate::sandbox::grant::{self, ApprovalState, Grants, HostEnv, NeedsApproval};
use crate::sandbox::bounded::OutputBudget;
use crate::sandbox::meter::WriteMeter;
use crate::sandbox::throttle::Throttle;
use crate::sandbox::{Grant, Instance, ProgressSink, Sandbox, GUEST_STAGING};
use std::sync::Arc;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;
use wasmtime::component::Component;

pub struct Host {
    config: Config,
    sandbox: Sandbox,
    plugin_dir: PathBuf,
    cache_dir: PathBuf,
    unpack_parts: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct PluginReport {
    pub name: String,
    pub version: String,
    pub path: PathBuf,
    pub cache: CacheStatus,
    pub compile_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Timings {
    pub load_ms: u64,
    pub instantiate_ms: u64,
    pub download_ms: u64,
    pub unpack_ms: u64,
    pub publish_ms: u64,
    pub total_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnpackOutcome {
    pub uri: String,
    pub path: PathBuf,
    pub package_name: String,
    /// True when an existing complete directory was reused (nothing downloaded).
    pub reused: bool,
    pub entries: u64,
    pub files: u64,
    pub directories: u64,
    pub bytes_downloaded: u64,
    pub bytes_written: u64,
    /// Failed requests that were tried again (throttled answers not included).
    pub retries: u32,
    /// Answers in which the store asked to slow down, and the time spent waiting on them.
    pub throttled: u32,
    pub throttle_wait_ms: u64,
    pub verified: Option<String>,
    /// Plugin instances that unpacked the package together (see `parts`).
    pub parts: u32,
    /// Whether the plugin split the package among them.
    pub split: bool,
    pub timings_ms: Timings,
    pub plugin: PluginReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct DownloadOutcome {
    pub uri: String,
    pub path: PathBuf,
    pub package_name: String,
    pub reused: bool,
    pub bytes_downloaded: u64,
    pub retries: u32,
    pub throttled: u32,
    pub throttle_wait_ms: u64,
    pub verified: Option<String>,
    pub timings_ms: Timings,
    pub plugin: PluginReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParsedUri {
    pub uri: String,
    pub scheme: String,
    pub package_name: String,
    pub extension: String,
    pub format: &'static str,
    pub display: String,
    pub plugin: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SchemeListing {
    pub plugin_dir: PathBuf,
    pub plugins: Vec<SchemePlugin>,
    pub broken: Vec<BrokenPlugin>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SchemePlugin {
    pub name: String,
    pub version: String,
    pub schemes: Vec<String>,
    pub path: PathBuf,
    pub sha256: String,
    pub contract_version: String,
    /// What the manifest asks for.
    pub requested: Capabilities,
    /// What the plugin gets.
    pub granted: Capabilities,
    /// Requested, needs the operator's approval, not granted (`scheme-host trust NAME`).
    pub withheld: Vec<NeedsApproval>,
    pub approval: ApprovalState,
    pub cache: CacheStatus,
}

/// What `scheme-host precompile` did.
#[derive(Debug, Clone, Serialize)]
pub struct PrecompileListing {
    pub plugin_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub plugins: Vec<PluginReport>,
    pub broken: Vec<BrokenPlugin>,
}

/// What `scheme-host trust` found and recorded.
#[derive(Debug, Clone, Serialize)]
pub struct TrustOutcome {
    pub plugin: String,
    pub version: String,
    pub path: PathBuf,
    pub sha256: String,
    /// The config file the approval was recorded in (none when nothing needed approval).
    pub config: Option<PathBuf>,
    pub approved: Vec<NeedsApproval>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Capabilities {
    pub network_hosts: Vec<String>,
    pub config_files: Vec<String>,
    pub env_vars: Vec<String>,
}

impl Host {
    pub fn new(config: Config, plugin_dir: Option<&Path>) -> Result<Host> {
        let mut wasm = wasmtime::Config::new();
        // No epoch interruption: its checks in every loop cost inflate a fifth of its
        // instructions. Deadlines are kept by `sandbox::watchdog`.
        wasm.cranelift_opt_level(wasmtime::OptLevel::Speed);
        // `perf record` sees plugin code by name only through a perf map (/tmp/perf-PID.map).
        if std::env::var_os("SCHEME_HOST_PROFILE").is_some_and(|v| v == "perfmap") {
            wasm.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = wasmtime::Engine::new(&wasm).map_err(|e| HostError::config(format!("cannot create the wasm engine: {e}")))?;
        let plugin_dir = config.plugin_dir(plugin_dir);
        let cache_dir = config.cache_dir();
        let unpack_parts = config.unpack_parts(None)?;
        Ok(Host { sandbox: Sandbox::new(engine, &config)?, config, plugin_dir, cache_dir, unpack_parts })
    }

    /// Overrides how many instances unpack one package (`--parts`).
    pub fn set_unpack_parts(&mut self, n: u32) -> Result<()> {
        self.unpack_parts = self.config.unpack_parts(Some(n))?;
        Ok(())
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    fn registry(&self) -> Registry<'_> {
        Registry::new(&self.sandbox, self.plugin_dir.clone(), self.cache_dir.clone())
    }

    pub async fn schemes(&self) -> Result<SchemeListing> {
        let (entries, mut broken) = self.registry().scan().await?;
        let mut plugins = Vec::new();
        for e in entries {
            let grants = match self.grants_for(&e) {
                Ok(g) => g,
                Err(refused) => {
                    broken.push(BrokenPlugin { path: e.path.clone(), error: refused.message });
                    continue;
                }
            };
            let m = &e.manifest;
            plugins.push(SchemePlugin {
                name: m.name.clone(),
                version: m.version.clone(),
                schemes: m.schemes.clone(),
                path: e.path.clone(),
                sha256: e.sha256.clone(),
                contract_version: m.contract_version.clone(),
                requested: Capabilities {
                    network_hosts: m.network_hosts.clone(),
                    config_files: m.config_files.iter().map(|c| c.default_path.clone()).collect(),
                    env_vars: m.env_vars.clone(),
                },
                granted: Capabilities {
                    network_hosts: grants.hosts.iter().map(|h| crate::sandbox::pattern::pattern_text(&h.pattern)).collect(),
                    config_files: grants.config_files.iter().map(|(_, p)| p.display().to_string()).collect(),
                    env_vars: grants.env_vars.clone(),
                },
                withheld: grants.withheld,
                approval: grants.approval,
                cache: e.cache,
            });
        }
        Ok(SchemeListing { plugin_dir: self.plugin_dir.clone(), plugins, broken })
    }

    /// Compiles every plugin in the directory into the precompile cache (those already
    /// there are only checked).
    pub async fn precompile(&self) -> Result<PrecompileListing> {
        let (entries, broken) = self.registry().scan().await?;
        Ok(PrecompileListing {
            plugin_dir: self.plugin_dir.clone(),
            cache_dir: self.cache_dir.clone(),
            plugins: entries.iter().map(plugin_report).collect(),
            broken,
        })
    }

    /// Records the operator's approval of everything the installed plugin `name` asks for
    /// beyond the defaults, bound to its file's sha256, in the config file `config`.
    pub async fn trust(&self, name: &str, config: &Path) -> Result<TrustOutcome> {
        let (entries, broken) = self.registry().scan().await?;
        let names: Vec<String> = entries.iter().map(|e| e.manifest.name.clone()).collect();
        let Some(e) = entries.into_iter().find(|e| e.manifest.name == name) else {
            let also = if broken.is_empty() { String::new() } else { format!("; {} file(s) there could not be loaded (see `scheme-host schemes`)", broken.len()) };
            return Err(HostError::plugin(format!(
                "no plugin named {} in {} (installed: {}){also}",
                scheme_contract::text::escape(name),
                self.plugin_dir.display(),
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            )));
        };
        let approved = grant::needs_approval(&e.manifest, self.config.plugins.get(name), &HostEnv::process());
        let config = if approved.is_empty() {
            None
        } else {
            crate::trust::record(config, name, &crate::trust::approval_for(&e.sha256, &approved))?;
            Some(config.to_path_buf())
        };
        Ok(TrustOutcome { plugin: e.manifest.name, version: e.manifest.version, path: e.path, sha256: e.sha256, config, approved })
    }

    /// What policy grants this plugin file, or why it may not run.
    pub fn grants_for(&self, e: &PluginEntry) -> Result<Grants> {
        let name = &e.manifest.name;
        grant::decide(&e.manifest, &e.sha256, &self.config.approvals_for(name), self.config.plugins.get(name), &HostEnv::process())
            .map_err(|r| HostError::plugin(r.to_string()))
    }

    pub(crate) async fn plugin_for(&self, uri: &str) -> Result<Loaded> {
        let started = Instant::now();
        let scheme = scheme_of(uri)?;
        let (entry, component) = self.registry().find(&scheme).await?;
        if self.config.plugins.get(&entry.manifest.name).is_some_and(|g| g.disabled) {
            return Err(HostError::plugin(format!("plugin {} is disabled in the configuration", entry.manifest.name)));
        }
        let grants = self.grants_for(&entry)?;
        if !grants.withheld.is_empty() {
            let asks: Vec<String> = grants.withheld.iter().map(ToString::to_string).collect();
            tracing::warn!(
                plugin = %entry.manifest.name,
                "withheld, needs the operator's approval: {}; to grant it run `scheme-host trust {}`",
                asks.join(", "),
                entry.manifest.name
            );
        }
        Ok(Loaded { entry, component, grants, load_ms: started.elapsed().as_millis() as u64 })
    }

    /// A fresh sandbox for `plugin`, counting against `budgets` (the parts of one call
    /// share them).
    pub(crate) async fn instantiate(&self, plugin: &Loaded, staging: Option<&Path>, progress: Box<dyn ProgressSink>, budgets: &CallBudgets) -> Result<Instance> {
        let grant = Grant {
            grants: Some(&plugin.grants),
            name: &plugin.entry.manifest.name,
            staging,
            limits: &self.config.limits,
            progress,
            meter: budgets.meter.clone(),
            output: budgets.output.clone(),
            throttle: budgets.throttle.clone(),
        };
        self.sandbox.instantiate(&plugin.component, grant).await
    }

    /// What one call may write and say, whichever instances run it.
    pub(crate) fn budgets(&self, plugin: &Loaded) -> CallBudgets {
        CallBudgets {
            meter: Arc::new(WriteMeter::new(&self.config.limits)),
            output: Arc::new(OutputBudget::new(&self.config.output, &plugin.entry.manifest.name)),
            throttle: Arc::default(),
        }
    }

    pub async fn parse_uri(&self, uri: &str) -> Result<ParsedUri> {
        let plugin = self.plugin_for(uri).await?;
        let mut inst = self.instantiate(&plugin, None, Box::new(()), &self.budgets(&plugin)).await?;
        let r = parse_in(&mut inst, uri).await?;
        Ok(ParsedUri {
            uri: r.uri,
            scheme: r.scheme,
            package_name: r.package_name,
            extension: r.extension,
            format: scheme_contract::PackageFormat::from(r.format).as_str(),
            display: inst.display_text(&r.display),
            plugin: plugin.entry.manifest.name.clone(),
        })
    }

    /// What both fetching commands do first: find the plugin, validate the URI in it, take
    /// the package lock and clean up after killed predecessors.
    async fn begin(&self, uri: &str, dest: &Path, accept: impl FnOnce(&types::PackageRef) -> Result<()>) -> Result<Begun> {
        let started = Instant::now();
        let plugin = self.plugin_for(uri).await?;
        let t = Instant::now();
        let mut probe = self.instantiate(&plugin, None, Box::new(()), &self.budgets(&plugin)).await?;
        let parsed = parse_in(&mut probe, uri).await?;
        accept(&parsed)?;
        let lock = PackageLock::acquire(dest)?;
        // Before any early return: a process killed after publishing leaves its staging
        // directory beside a complete DEST, and only a lock holder may remove it.
        lock.clean_stale();
        let report = plugin_report(&plugin.entry);
        Ok(Begun { started, instantiate_started: t, plugin, parsed, lock, report })
    }

    pub async fn download_and_unpack(&self, uri: &str, dest: &Path, overwrite: bool, progress: Box<dyn ProgressSink>) -> Result<UnpackOutcome> {
        let not_a_wheel = |p: &types::PackageRef| match p.format {
            types::PackageFormat::Wheel => Err(HostError::new(
                ErrorKind::Unsupported,
                format!("{uri} is a wheel: Ray installs wheels as files; use `scheme-host download`"),
            )),
            _ => Ok(()),
        };
        let Begun { started, instantiate_started: t, plugin, parsed, lock, report } = self.begin(uri, dest, not_a_wheel).await?;
        let load_ms = plugin.load_ms;
        if lock.dest_exists() && !overwrite {
            return Ok(UnpackOutcome {
                uri: uri.into(), path: lock.dest().into(), package_name: parsed.package_name, reused: true,
                entries: 0, files: 0, directories: 0, bytes_downloaded: 0, bytes_written: 0, retries: 0, throttled: 0, throttle_wait_ms: 0, verified: None,
                parts: 0, split: false,
                timings_ms: Timings { load_ms, total_ms: started.elapsed().as_millis() as u64, ..Default::default() },
                plugin: report,
            });
        }
        let staging = lock.stage()?;
        let limits = types::Limits::from(self.config.limits.plugin());
        let target = format!("{GUEST_STAGING}/tree");
        let scratch = format!("{GUEST_STAGING}/scratch");
        let parts = if Sandbox::has_parts(&plugin.component) { self.unpack_parts } else { 1 };
        let budgets = self.budgets(&plugin);
        let (stats, split, instantiate_ms) = if parts > 1 {
            let mut instances = Vec::with_capacity(parts as usize);
            for sink in crate::parts::sinks(progress, parts as usize) {
                instances.push(self.instantiate(&plugin, Some(staging.root()), sink, &budgets).await?);
            }
            let instantiate_ms = t.elapsed().as_millis() as u64;
            let mut scratches = Vec::with_capacity(parts as usize);
            for i in 0..parts {
                let dir = format!("part-{i}");
                std::fs::create_dir(staging.scratch().join(&dir)).map_err(|e| HostError::publish("cannot create staging directory", e))?;
                scratches.push(format!("{scratch}/{dir}"));
            }
            let call = crate::parts::PartCall { uri: uri.into(), target, limits };
            let merged = crate::parts::run(instances, call, scratches, staging.root().to_path_buf()).await?;
            (merged.stats, merged.split, instantiate_ms)
        } else {
            let mut inst = self.instantiate(&plugin, Some(staging.root()), progress, &budgets).await?;
            let instantiate_ms = t.elapsed().as_millis() as u64;
            let result = inst
                .run("download-and-unpack", async |b, s| {
                    b.scheme_host_storage_scheme_plugin().call_download_and_unpack(s, uri, &target, &scratch, limits).await
                })
                .await?;
            (result.map_err(|e| inst.explain(inst.scheme_error(e), staging.root()))?, false, instantiate_ms)
        };
        let t = Instant::now();
        let _ = std::fs::remove_dir_all(staging.scratch());
        let links = if budgets.meter.may_hold_symlinks() { TreeLinks::Possible } else { TreeLinks::Absent };
        staging.audit_links(links)?;
        staging.apply_executables(&stats.executables, links)?;
        lock.publish(&staging.publish_root()?, overwrite)?;
        staging.finish();
        let publish_ms = t.elapsed().as_millis() as u64;
        let throttle = budgets.throttle.report();
        Ok(UnpackOutcome {
            uri: uri.into(),
            path: lock.dest().into(),
            package_name: parsed.package_name,
            reused: false,
            entries: stats.files + stats.directories,
            files: stats.files,
            directories: stats.directories,
            bytes_downloaded: stats.download.bytes_downloaded,
            bytes_written: stats.bytes_written,
            retries: stats.download.retries,
            throttled: throttle.throttled,
            throttle_wait_ms: throttle.waited.as_millis() as u64,
            verified: stats.download.verified,
            parts,
            split,
            timings_ms: Timings {
                load_ms,
                instantiate_ms,
                download_ms: stats.download.download_ms,
                unpack_ms: stats.unpack_ms,
                publish_ms,
                total_ms: started.elapsed().as_millis() as u64,
            },
            plugin: report,
        })
    }

    pub async fn download(&self, uri: &str, file: &Path, overwrite: bool, progress: Box<dyn ProgressSink>) -> Result<DownloadOutcome> {
        let Begun { started, instantiate_started: t, plugin, parsed, lock, report } = self.begin(uri, file, |_| Ok(())).await?;
        let load_ms = plugin.load_ms;
        if lock.dest_exists() && !overwrite {
            return Ok(DownloadOutcome {
                uri: uri.into(), path: lock.dest().into(), package_name: parsed.package_name, reused: true,
                bytes_downloaded: 0, retries: 0, throttled: 0, throttle_wait_ms: 0, verified: None,
                timings_ms: Timings { load_ms, total_ms: started.elapsed().as_millis() as u64, ..Default::default() },
                plugin: report,
            });
        }
        let staging = lock.stage()?;
        let budgets = self.budgets(&plugin);
        let mut inst = self.instantiate(&plugin, Some(staging.root()), progress, &budgets).await?;
        let instantiate_ms = t.elapsed().as_millis() as u64;
        let limits = types::Limits::from(self.config.limits.plugin());
        let guest_file = format!("{GUEST_STAGING}/scratch/object");
        let result = inst
            .run("download", async |b, s| b.scheme_host_storage_scheme_plugin().call_download(s, uri, &guest_file, limits).await)
            .await?;
        let stats = result.map_err(|e| inst.explain(inst.scheme_error(e), staging.root()))?;
        let t = Instant::now();
        let object = staging.scratch().join("object");
        match std::fs::symlink_metadata(&object) {
            Ok(m) if m.is_file() => {}
            _ => return Err(HostError::sandbox(format!("plugin {} reported success but wrote no file", plugin.entry.manifest.name))),
        }
        lock.publish(&object, overwrite)?;
        staging.finish();
        let throttle = budgets.throttle.report();
        Ok(DownloadOutcome {
            uri: uri.into(),
            path: lock.dest().into(),
            package_name: parsed.package_name,
            reused: false,
            bytes_downloaded: stats.bytes_downloaded,
            retries: stats.retries,
            throttled: throttle.throttled,
            throttle_wait_ms: throttle.waited.as_millis() as u64,
            verified: stats.verified,
            timings_ms: Timings {
                load_ms,
                instantiate_ms,
                download_ms: stats.download_ms,
                publish_ms: t.elapsed().as_millis() as u64,
                total_ms: started.elapsed().as_millis() as u64,
                ..Default::default()
            },
            plugin: report,
        })
    }
}

/// The plugin for one URI, with what it is granted: decided once per call, used by every
/// instance of it.
pub(crate) struct Loaded {
    pub(crate) entry: PluginEntry,
    pub(crate) component: Component,
    pub(crate) grants: Grants,
    pub(crate) load_ms: u64,
}

/// The write meter and the output budget of one call.
pub(crate) struct CallBudgets {
    meter: Arc<WriteMeter>,
    output: Arc<OutputBudget>,
    pub(crate) throttle: Arc<Throttle>,
}

/// A fetching command after [`Host::begin`].
struct Begun {
    started: Instant,
    instantiate_started: Instant,
    plugin: Loaded,
    parsed: types::PackageRef,
    lock: PackageLock,
    report: PluginReport,
}

pub(crate) async fn parse_in(inst: &mut Instance, uri: &str) -> Result<types::PackageRef> {
    inst.run("parse-uri", async |b, s| b.scheme_host_storage_scheme_plugin().call_parse_uri(s, uri).await)
        .await?
        .map_err(|e| inst.scheme_error(e))
}

pub(crate) fn plugin_report(e: &PluginEntry) -> PluginReport {
    PluginReport { name: e.manifest.name.clone(), version: e.manifest.version.clone(), path: e.path.clone(), cache: e.cache, compile_ms: e.compile_ms }
}

/// The scheme of a URI, lower-cased, checked against RFC 3986 syntax.
pub fn scheme_of(uri: &str) -> Result<String> {
    let Some((scheme, _)) = uri.split_once("://") else {
        return Err(HostError::new(ErrorKind::InvalidUri, format!("{:?} is not a URI of the form <scheme>://...", scheme_contract::text::escape(uri))));
    };
    let scheme = scheme.to_ascii_lowercase();
    if !crate::manifest::is_scheme_name(&scheme) {
        return Err(HostError::new(ErrorKind::InvalidUri, format!("invalid URI scheme {:?}", scheme_contract::text::escape(&scheme))));
    }
    Ok(scheme)
}
