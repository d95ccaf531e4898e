//! TCP listener and the handle in-process tests use.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::ClockSetting;
use crate::config::ServerConfig;
use crate::conn::{ConnControl, ConnIo};
use crate::error::ServerError;
use crate::faults::{FaultRule, FaultView};
use crate::request_log::{KeyCounter, RequestRecord};
use crate::service::{ObsService, serve_connection};
use crate::state::{ObjectInfo, Settings, State};

/// Entry point of the library.
pub struct ObsServer;

impl ObsServer {
    /// Binds `config.listen` and serves on the current tokio runtime until the handle is shut
    /// down or dropped.
    pub async fn start(config: ServerConfig) -> Result<ServerHandle, ServerError> {
        config.validate()?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        let state = Arc::new(State::new(config));
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state), stop_rx));
        Ok(ServerHandle {
            state,
            addr,
            stop: stop_tx,
            task: Some(task),
        })
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(serve_tcp(stream, peer, Arc::clone(&state), stop.clone()));
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
}

async fn serve_tcp(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) {
    // Small answers (errors, HEAD) must not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let ctl = Arc::new(ConnControl::default());
    let io = ConnIo::new(stream, Arc::clone(&ctl));
    let service = ObsService::new(state, ctl, peer);
    tokio::select! {
        result = serve_connection(io, service) => {
            if let Err(e) = result {
                // Faults end connections on purpose; real failures are for debugging only.
                tracing::debug!("connection from {peer} ended: {e}");
            }
        }
        _ = stop.changed() => {}
    }
}

/// A running server. Dropping it stops the server.
pub struct ServerHandle {
    state: Arc<State>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// `http://IP:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Creates the bucket or changes its public-read flag.
    pub fn create_bucket(&self, name: &str, public_read: bool) -> Result<(), ServerError> {
        if !crate::addressing::is_valid_bucket_name(name) {
            return Err(ServerError::InvalidBucketName(name.to_string()));
        }
        self.state.store.ensure_bucket(name, public_read);
        Ok(())
    }

    /// Stores an object (creating a private bucket if needed).
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        data: impl Into<Bytes>,
    ) -> Result<ObjectInfo, ServerError> {
        self.state.seed_object(bucket, key, data.into(), None)
    }

    /// Like `put_object`, with a Content-Type.
    pub fn put_object_with_type(
        &self,
        bucket: &str,
        key: &str,
        data: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<ObjectInfo, ServerError> {
        self.state
            .seed_object(bucket, key, data.into(), Some(content_type.to_string()))
    }

    /// The stored bytes, e.g. to check what a client uploaded.
    pub fn object(&self, bucket: &str, key: &str) -> Option<Bytes> {
        self.state
            .store
            .get(bucket, key)
            .ok()
            .flatten()
            .map(|o| o.data.clone())
    }

    pub fn delete_object(&self, bucket: &str, key: &str) -> bool {
        self.state.store.delete(bucket, key).unwrap_or(false)
    }

    /// Adds a fault rule; returns its id.
    pub fn set_fault(&self, rule: FaultRule) -> Result<u64, ServerError> {
        self.state
            .faults
            .add(rule)
            .map_err(ServerError::InvalidConfig)
    }

    pub fn remove_fault(&self, id: u64) -> bool {
        self.state.faults.remove(id)
    }

    pub fn clear_faults(&self) {
        self.state.faults.clear();
    }

    pub fn faults(&self) -> Vec<FaultView> {
        self.state.faults.list()
    }

    /// The request log, oldest first (admin calls excluded, secrets redacted).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.log.records()
    }

    /// Requests seen for `bucket`/`key` (`None`: bucket-level).
    pub fn counter(&self, bucket: &str, key: Option<&str>) -> KeyCounter {
        self.state.log.counter(bucket, key)
    }

    pub fn counters(&self) -> Vec<KeyCounter> {
        self.state.log.counters()
    }

    /// Clears faults, log and counters and restores configured settings; objects stay.
    pub fn reset(&self) {
        self.state.reset();
    }

    pub fn set_clock(&self, clock: ClockSetting) {
        self.state.clock.set(clock);
    }

    pub fn set_crc64(&self, enabled: bool) {
        self.state.set_crc64(enabled);
    }

    pub fn set_throttle(&self, bytes_per_sec: Option<u64>) -> Result<(), ServerError> {
        if bytes_per_sec == Some(0) {
            return Err(ServerError::InvalidConfig(
                "throttle must be at least 1 byte/s".into(),
            ));
        }
        self.state.set_throttle(bytes_per_sec);
        Ok(())
    }

    pub fn settings(&self) -> Settings {
        self.state.settings()
    }

    /// Stops accepting, ends open connections and waits for the accept loop.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
