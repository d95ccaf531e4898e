//! What one call's network attempts left for the error report: refused authorities and
//! failures the plugin could not name. Written by the HTTP policy and the sender, read when
//! the host explains a failed call.

const MAX_DENIED_SHOWN: usize = 16;

#[derive(Debug, Default)]
pub struct NetLog {
    /// Distinct authorities the plugin tried to reach and was refused, in order (the first
    /// [`MAX_DENIED_SHOWN`]).
    pub denied: Vec<String>,
    /// Connection failures the plugin only sees as a bare wasi:http error code (TLS
    /// certificates, proxies, trusted roots), one sentence each, in order, without repeats
    /// (a plugin may retry), free of credentials.
    pub failures: Vec<String>,
    /// Requests refused for their method ([`super::methods::MethodRule`]), one sentence
    /// each, without repeats.
    pub refused_methods: Vec<String>,
}

impl NetLog {
    /// Records a refused authority; true the first time it is seen (and while there is
    /// room), so a plugin that retries or sweeps addresses cannot flood the log.
    pub fn note_denied(&mut self, authority: String) -> bool {
        let fresh = self.denied.len() < MAX_DENIED_SHOWN && !self.denied.contains(&authority);
        if fresh {
            self.denied.push(authority);
        }
        fresh
    }

    /// Records a request refused for its method; true the first time it is seen.
    pub fn note_refused_method(&mut self, what: String) -> bool {
        let fresh = self.refused_methods.len() < MAX_DENIED_SHOWN && !self.refused_methods.contains(&what);
        if fresh {
            self.refused_methods.push(what);
        }
        fresh
    }

    pub fn note_failure(&mut self, what: String) {
        if self.failures.len() < MAX_DENIED_SHOWN && !self.failures.contains(&what) {
            self.failures.push(what);
        }
    }
}
