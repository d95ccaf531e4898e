//! TCP (optionally TLS) listener and the handle in-process tests use.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::clock::ClockSetting;
use crate::config::ServerConfig;
use crate::conn::{ConnControl, ConnIo};
use crate::error::ServerError;
use crate::faults::{FaultRule, FaultView};
use crate::rate_limit::{RateLimit, RateStats};
use crate::request_log::{KeyCounter, RequestRecord};
use crate::service::{ObsService, serve_connection};
use crate::state::{ObjectInfo, Settings, State};
use crate::tls::TlsIdentity;

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
        // A bad certificate or key must fail start-up, not every handshake.
        let tls = config.tls.as_ref().map(TlsIdentity::acceptor).transpose()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let state = Arc::new(State::new(config));
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state), tls, stop_rx));
        Ok(ServerHandle {
            state,
            addr,
            scheme,
            stop: stop_tx,
            task: Some(task),
        })
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(serve_tcp(stream, peer, Arc::clone(&state), tls.clone(), stop.clone()));
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

/// A client that never finishes its TLS handshake must not hold a task forever.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn serve_tcp(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<State>,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    // Small answers (errors, HEAD) must not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let ctl = Arc::new(ConnControl::default());
    let io = ConnIo::new(stream, Arc::clone(&ctl));
    let service = ObsService::new(state, ctl, peer);
    let served = async move {
        match tls {
            None => serve_connection(io, service)
                .await
                .map_err(|e| e.to_string()),
            Some(acceptor) => {
                let tls_io =
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
                        Ok(Ok(s)) => s,
                        // Clients that reject our certificate end up here, by design of the tests.
                        Ok(Err(e)) => return Err(format!("TLS handshake failed: {e}")),
                        Err(_) => return Err("TLS handshake timed out".to_string()),
                    };
                serve_connection(tls_io, service)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    };
    tokio::select! {
        result = served => {
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
    scheme: &'static str,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// `http://IP:PORT`, or `https://IP:PORT` when serving TLS.
    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// True when the server speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.scheme == "https"
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

    /// Sets (`Some`) or removes (`None`) the request rate limit; a new limit starts with a
    /// full bucket.
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) -> Result<(), ServerError> {
        if let Some(limit) = &limit {
            limit.validate().map_err(ServerError::InvalidConfig)?;
        }
        self.state.limiter.set(limit);
        Ok(())
    }

    /// Multipart uploads in progress (neither completed nor aborted).
    pub fn uploads(&self) -> Vec<crate::multipart::UploadSummary> {
        self.state.uploads.list()
    }

    /// Served and throttled requests, in total, per claimed access key and per client IP.
    pub fn rate_stats(&self) -> RateStats {
        self.state.limiter.stats()
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
