//! The sandbox one plugin call runs in: a fresh store whose WASI context sees only the
//! staging directory, the declared environment variables and (through the `host`
//! import) the declared config files; outbound HTTP through [`net::HttpPolicy`]; memory
//! capped by [`MemoryCap`]; time capped by a wall-clock timeout (wasm blocked in a host
//! call) and the [`watchdog`] (wasm running its own code).

pub mod bounded;
mod explain;
mod fs;
pub mod grant;
pub mod meter;
pub mod methods;
pub mod net;
pub mod netlog;
pub mod pattern;
pub mod outbound;
pub mod proxy;
pub mod resolve;
mod send;
pub mod throttle;
pub mod tls;
mod tunnel;
pub mod watchdog;

use crate::bindings::{host_api, parts_api, types, upload_api, StorageScheme, CONTRACT_PACKAGE, CONTRACT_VERSION};
use crate::config::{Config, Limits};
use crate::error::{ErrorKind, HostError, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Guest path of the one directory a plugin may touch.
pub const GUEST_STAGING: &str = "/staging";

/// Config file reads are capped so a plugin cannot make the host read a huge file.
const MAX_CONFIG_FILE: u64 = 1 << 20;

/// Receives progress reports from a plugin.
pub trait ProgressSink: Send {
    fn report(&mut self, phase: types::Phase, done: u64, total: Option<u64>, entries: u64);
    /// The store is throttling: the plugin now waits `wait`; `so_far` is the call's tally.
    fn throttled(&mut self, _wait: Duration, _so_far: throttle::ThrottleReport) {}
}

impl ProgressSink for () {
    fn report(&mut self, _: types::Phase, _: u64, _: Option<u64>, _: u64) {}
}

/// Denies memory growth past the cap and remembers that it did, so a guest that then
/// aborts is reported as "out of memory", not as an anonymous trap.
pub struct MemoryCap {
    max_bytes: usize,
    denied: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let ok = desired <= self.max_bytes;
        self.denied |= !ok;
        Ok(ok)
    }
    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
    fn instances(&self) -> usize {
        64
    }
    fn tables(&self) -> usize {
        64
    }
    fn memories(&self) -> usize {
        16
    }
}

pub struct StoreState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    policy: net::HttpPolicy,
    memory: MemoryCap,
    plugin_name: String,
    config_files: HashMap<String, PathBuf>,
    progress: Box<dyn ProgressSink>,
    meter: Arc<meter::WriteMeter>,
    fs_paths: fs::Paths,
    output: Arc<bounded::OutputBudget>,
    throttle: Arc<throttle::Throttle>,
    throttle_budget: Duration,
}

fn metered_fs(s: &mut StoreState) -> fs::MeteredFs<'_> {
    fs::MeteredFs {
        fs: wasmtime_wasi::filesystem::WasiFilesystemCtxView { ctx: s.wasi.filesystem(), table: &mut s.table },
        meter: &s.meter,
        paths: &mut s.fs_paths,
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for StoreState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.policy }
    }
}

impl types::Host for StoreState {}

impl host_api::Host for StoreState {
    async fn progress(&mut self, phase: types::Phase, done: u64, total: Option<u64>, entries: u64) -> wasmtime::Result<()> {
        if self.output.progress() {
            self.progress.report(phase, done, total, entries);
        }
        Ok(())
    }

    async fn read_config_file(&mut self, id: String) -> wasmtime::Result<Option<Vec<u8>>> {
        let Some(path) = self.config_files.get(&id) else {
            if let Some(id) = self.output.log_line(&id) {
                tracing::warn!(plugin = %self.plugin_name, id = %id, "plugin asked for a config file it was not granted");
            }
            return Ok(None);
        };
        Ok(read_capped(path))
    }

    async fn throttled(&mut self, wait_ms: u64) -> wasmtime::Result<()> {
        let wait = Duration::from_millis(wait_ms);
        let so_far = self.throttle.note(wait);
        tracing::debug!(plugin = %self.plugin_name, wait_ms, throttled = so_far.throttled, "the store is throttling");
        if self.output.progress() {
            self.progress.throttled(wait, so_far);
        }
        Ok(())
    }

    async fn throttle_budget_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(u64::try_from(self.throttle_budget.as_millis()).unwrap_or(u64::MAX))
    }

    async fn crc32(&mut self, crc: u32, bytes: Vec<u8>) -> wasmtime::Result<u32> {
        let mut h = crc32fast::Hasher::new_with_initial(crc);
        h.update(&bytes);
        Ok(h.finalize())
    }

    async fn log(&mut self, level: types::LogLevel, message: String) -> wasmtime::Result<()> {
        let Some(message) = self.output.log_line(&message) else { return Ok(()) };
        let plugin = &self.plugin_name;
        match level {
            types::LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            types::LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            types::LogLevel::Info => tracing::info!(plugin, "{message}"),
            types::LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            types::LogLevel::Error => tracing::error!(plugin, "{message}"),
        }
        Ok(())
    }
}

fn read_capped(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut buf = Vec::new();
    file.take(MAX_CONFIG_FILE).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// Owns the engine's linker and the host's network settings; builds one fresh store per call.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<StoreState>,
    outbound: Arc<outbound::Outbound>,
}

/// What one call is granted.
pub struct Grant<'a> {
    /// What policy grants the plugin ([`grant::decide`]); none while the host asks an
    /// unknown plugin for its manifest, which then gets nothing at all.
    pub grants: Option<&'a grant::Grants>,
    /// Name used in logs and errors.
    pub name: &'a str,
    /// Host directory mounted read-write at [`GUEST_STAGING`]; none for metadata calls.
    pub staging: Option<&'a Path>,
    pub limits: &'a Limits,
    pub progress: Box<dyn ProgressSink>,
    /// Counts what this call writes; the instances of one call's parts share it.
    pub meter: Arc<meter::WriteMeter>,
    /// Bounds what this call's plugin says; shared like `meter`.
    pub output: Arc<bounded::OutputBudget>,
    /// The call's throttling tally and request gate; shared like `meter`.
    pub throttle: Arc<throttle::Throttle>,
}

pub struct Instance {
    pub store: Store<StoreState>,
    pub bindings: StorageScheme,
    /// The optional `parts` export, when the plugin has it.
    parts: Option<parts_api::Guest>,
    /// The optional `upload` export (0.1.3), when the plugin has it.
    upload: Option<upload_api::Guest>,
    deadline: Duration,
    net_log: Arc<Mutex<netlog::NetLog>>,
}

impl Sandbox {
    /// Reads the network settings (`[tls]`, `[resolve]`, proxy and trust variables) once;
    /// a malformed one is a configuration error here rather than a failed download later.
    pub fn new(engine: Engine, config: &Config) -> Result<Sandbox> {
        let outbound = Arc::new(outbound::Outbound::from_config(config)?);
        let mut linker = Linker::new(&engine);
        let wire = |r: wasmtime::Result<()>| r.map_err(|e| HostError::plugin(format!("cannot set up the plugin linker: {e}")));
        wire(wasmtime_wasi::p2::add_to_linker_async(&mut linker))?;
        wire(fs::add_to_linker(&mut linker, metered_fs))?;
        wire(wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))?;
        wire(host_api::add_to_linker::<_, HasSelf<StoreState>>(&mut linker, |s| s))?;
        wire(types::add_to_linker::<_, HasSelf<StoreState>>(&mut linker, |s| s))?;
        Ok(Sandbox { engine, linker, outbound })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether `component` exports the optional `parts` interface (any semver-compatible
    /// version), so one package may be unpacked by several instances.
    pub fn has_parts(component: &Component) -> bool {
        component.get_export_index(None, &format!("{CONTRACT_PACKAGE}/parts@{CONTRACT_VERSION}")).is_some()
    }

    /// Whether `component` exports the optional `upload` interface (0.1.3 on).
    pub fn has_upload(component: &Component) -> bool {
        component.get_export_index(None, &format!("{CONTRACT_PACKAGE}/upload@{CONTRACT_VERSION}")).is_some()
    }

    /// Instantiates `component` in a fresh store that holds exactly `grant`.
    pub async fn instantiate(&self, component: &Component, grant: Grant<'_>) -> Result<Instance> {
        let mut wasi = WasiCtx::builder();
        // Plugins get no stdio: they log through `host.log`, which escapes what they say.
        wasi.allow_blocking_current_thread(true);
        let (env_vars, config_files, hosts) = match grant.grants {
            Some(g) => (&g.env_vars[..], g.config_files.iter().cloned().collect(), g.hosts.clone()),
            None => (&[][..], HashMap::new(), vec![]),
        };
        for var in env_vars {
            if let Ok(value) = std::env::var(var) {
                wasi.env(var, value);
            }
        }
        if let Some(dir) = grant.staging {
            wasi.preopened_dir(dir, GUEST_STAGING, FsPerms::ReadWrite)
                .map_err(|e| HostError::sandbox(format!("cannot grant the staging directory: {e}")))?;
        }
        let policy = net::HttpPolicy::new(hosts, grant.limits, self.outbound.clone(), grant.throttle.clone());
        let net_log = policy.log.clone();
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(grant.limits.max_header_bytes as usize);
        let state = StoreState {
            wasi: wasi.build(),
            http,
            table: ResourceTable::new(),
            policy,
            memory: MemoryCap { max_bytes: (grant.limits.memory_mib as usize) << 20, denied: false },
            plugin_name: grant.name.to_string(),
            config_files,
            progress: grant.progress,
            meter: grant.meter,
            fs_paths: fs::Paths::default(),
            output: grant.output,
            throttle: grant.throttle,
            throttle_budget: Duration::from_secs(grant.limits.throttle_budget_secs),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.memory);
        let deadline = grant.limits.timeout();
        let failed = |e: wasmtime::Error| HostError::plugin(format!("cannot instantiate plugin {}: {e:#}", grant.name));
        let pre = self.linker.instantiate_pre(component).map_err(failed)?;
        // Instantiation runs the plugin's start code: armed like any call.
        let armed = watchdog::arm(grant.name, "instantiation", deadline, store.data().meter.clone());
        let instance = pre.instantiate_async(&mut store).await.map_err(failed)?;
        drop(armed);
        let bindings = StorageScheme::new(&mut store, &instance).map_err(failed)?;
        let parts = match parts_api::GuestIndices::new(&pre) {
            Ok(indices) => Some(indices.load(&mut store, &instance).map_err(failed)?),
            Err(_) => None,
        };
        let upload = match upload_api::GuestIndices::new(&pre) {
            Ok(indices) => Some(indices.load(&mut store, &instance).map_err(failed)?),
            Err(_) => None,
        };
        Ok(Instance { store, bindings, parts, upload, deadline, net_log })
    }
}

impl Instance {
    /// Runs one export call under the wall-clock deadline and turns traps into typed
    /// sandbox errors that say which rule the plugin broke.
    pub async fn run<T, F>(&mut self, what: &str, call: F) -> Result<T>
    where
        F: AsyncFnOnce(&StorageScheme, &mut Store<StoreState>) -> wasmtime::Result<T>,
    {
        let _armed = self.arm(what);
        let outcome = tokio::time::timeout(self.deadline, call(&self.bindings, &mut self.store)).await;
        self.judge(what, outcome)
    }

    /// `parts.download-and-unpack-part`, under the same rules as [`Instance::run`].
    pub async fn run_part(
        &mut self,
        uri: &str,
        target: &str,
        scratch: &str,
        limits: types::Limits,
        part: types::Part,
    ) -> Result<std::result::Result<types::PartStats, types::SchemeError>> {
        let name = self.store.data().plugin_name.clone();
        let Some(parts) = &self.parts else {
            return Err(HostError::plugin(format!("plugin {name} does not export {CONTRACT_PACKAGE}/parts")));
        };
        let _armed = self.arm("download-and-unpack");
        let call = parts.call_download_and_unpack_part(&mut self.store, uri, target, scratch, limits, part);
        let outcome = tokio::time::timeout(self.deadline, call).await;
        self.judge("download-and-unpack", outcome)
    }

    /// One call of the `upload` export under `rule` ([`methods::MethodRule`]: `stat` reads,
    /// the others may write to the upload's bucket), with the rules of [`Instance::run`].
    pub async fn run_upload<T, F>(&mut self, what: &str, rule: methods::MethodRule, call: F) -> Result<T>
    where
        F: AsyncFnOnce(&upload_api::Guest, &mut Store<StoreState>) -> wasmtime::Result<T>,
    {
        let Some(upload) = self.upload.clone() else {
            let name = self.store.data().plugin_name.clone();
            return Err(HostError::new(ErrorKind::Unsupported, format!("plugin {name} cannot upload: it does not export {CONTRACT_PACKAGE}/upload (added in 0.1.3)")));
        };
        self.store.data_mut().policy.methods = rule;
        let armed = self.arm(what);
        let outcome = tokio::time::timeout(self.deadline, call(&upload, &mut self.store)).await;
        drop(armed);
        self.store.data_mut().policy.methods = methods::MethodRule::ReadOnly;
        self.judge(what, outcome)
    }

    /// Arms the watchdog for one call of this instance.
    fn arm(&self, what: &str) -> watchdog::Armed {
        let state = self.store.data();
        watchdog::arm(&state.plugin_name, what, self.deadline, state.meter.clone())
    }

    /// Turns a call's outcome into a typed result that says which rule the plugin broke.
    fn judge<T>(&self, what: &str, outcome: std::result::Result<wasmtime::Result<T>, tokio::time::error::Elapsed>) -> Result<T> {
        let deadline = self.deadline;
        let name = self.store.data().plugin_name.clone();
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Err(_) => Err(HostError::sandbox(watchdog::deadline_message(&name, deadline, what))),
            Ok(Err(e)) => {
                if let Some(over) = self.store.data().meter.exceeded() {
                    return Err(HostError::new(ErrorKind::LimitExceeded, format!("plugin {name} wrote past a limit during {what}: {over}; nothing was published")));
                }
                if self.store.data().memory.denied {
                    return Err(HostError::sandbox(format!(
                        "plugin {name} exceeded its memory limit of {} MiB during {what}",
                        self.store.data().memory.max_bytes >> 20
                    )));
                }
                Err(HostError::sandbox(format!("plugin {name} crashed during {what}: {}", self.store.data().output.error_text(&format!("{e:#}")))))
            }
        }
    }

    /// A plugin's own error, its text escaped and capped by `[output]`.
    pub fn scheme_error(&self, e: types::SchemeError) -> HostError {
        let out = &self.store.data().output;
        HostError {
            kind: e.kind.into(),
            message: out.error_text(&e.message),
            store_code: e.store_code.map(|s| out.error_text(&s)),
            request_id: e.request_id.map(|s| out.error_text(&s)),
            http_status: e.http_status,
        }
    }

    /// Plugin text shown to the operator (a URI's display form), escaped and capped.
    pub fn display_text(&self, s: &str) -> String {
        self.store.data().output.error_text(s)
    }

    pub fn plugin_name(&self) -> &str {
        &self.store.data().plugin_name
    }

    /// Requests this instance's calls sent with a method their call may not send.
    pub fn refused_methods(&self) -> Vec<String> {
        self.net_log.lock().unwrap().refused_methods.clone()
    }

    /// Authorities this call tried to reach and was refused.
    pub fn denied_hosts(&self) -> Vec<String> {
        self.net_log.lock().unwrap().denied.clone()
    }

    /// What the host knows about this call's failed connections that the plugin could not
    /// say (certificate, proxy and trusted-root problems), one sentence each.
    pub fn network_failures(&self) -> Vec<String> {
        self.net_log.lock().unwrap().failures.clone()
    }
}
