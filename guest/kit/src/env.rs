//! What a plugin reads from its surroundings, behind a trait so credential and endpoint
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

/// The process environment (inside the sandbox: only what the manifest declared) and the
/// host's `read-config-file` import, which exists only in a plugin's own generated bindings
/// and so is handed in.
#[derive(Clone, Copy)]
pub struct HostEnv {
    pub read_config_file: fn(&str) -> Option<Vec<u8>>,
}

impl Env for HostEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn config_file(&self, id: &str) -> Option<Vec<u8>> {
        (self.read_config_file)(id)
    }
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_env_answers_what_it_holds() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(7);
        let e = MapEnv::new().var("A", "1").file("f", "x").at(t);
        assert_eq!((Env::var(&e, "A").as_deref(), Env::var(&e, "B")), (Some("1"), None));
        assert_eq!((e.config_file("f"), e.config_file("g")), (Some(b"x".to_vec()), None));
        assert_eq!(e.now(), t);
        let h = HostEnv { read_config_file: |id| (id == "f").then(|| b"host".to_vec()) };
        assert_eq!(h.config_file("f"), Some(b"host".to_vec()));
        assert_eq!(h.config_file("g"), None);
    }
}
