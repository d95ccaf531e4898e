//! What the plugin reads from its surroundings, behind a trait so credential and endpoint
//! resolution is tested natively with a map instead of a real environment.

use std::collections::HashMap;
use std::time::SystemTime;

pub trait Env {
    /// An environment variable, if set (the host exposes only the ones `info()` declares).
    fn var(&self, name: &str) -> Option<String>;
    /// A declared configuration file's bytes, or `None` when it does not exist.
    fn config_file(&self, id: &str) -> Option<Vec<u8>>;
    fn now(&self) -> SystemTime;
}

/// A fixed environment for tests and for callers that resolved everything up front.
#[derive(Debug, Clone, Default)]
pub struct MapEnv {
    pub vars: HashMap<String, String>,
    pub files: HashMap<String, Vec<u8>>,
    pub now: Option<SystemTime>,
}

impl MapEnv {
    pub fn new() -> Self {
        MapEnv::default()
    }

    pub fn var(mut self, k: &str, v: &str) -> Self {
        self.vars.insert(k.to_string(), v.to_string());
        self
    }

    pub fn file(mut self, id: &str, content: &str) -> Self {
        self.files.insert(id.to_string(), content.as_bytes().to_vec());
        self
    }

    pub fn at(mut self, now: SystemTime) -> Self {
        self.now = Some(now);
        self
    }
}

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
    fn config_file(&self, id: &str) -> Option<Vec<u8>> {
        self.files.get(id).cloned()
    }
    fn now(&self) -> SystemTime {
        self.now.unwrap_or_else(SystemTime::now)
    }
}

/// The process environment and the host's config-file import.
#[cfg(target_family = "wasm")]
pub struct HostEnv;

#[cfg(target_family = "wasm")]
impl Env for HostEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn config_file(&self, id: &str) -> Option<Vec<u8>> {
        crate::bindings::scheme_host::storage_scheme::host::read_config_file(id)
    }
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
