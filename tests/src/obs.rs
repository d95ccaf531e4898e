//! The OBS-compatible server, started in-process for a test, and the environment that
//! points `scheme-host`'s OBS plugin at it.

use obs_server::{Credential, ObsServer, ServerConfig, ServerHandle};

/// Test credentials. Long and distinctive so a scan for leaks cannot miss them.
pub const AK: &str = "AKSUITE0000000000001";
pub const SK: &str = "SKsuiteSecretKeyNeverPrint0000000000001";
pub const TOKEN: &str = "TOKENsuiteSecurityTokenNeverPrint000001";

/// A running server. The runtime lives as long as the fixture.
pub struct ObsFixture {
    pub server: ServerHandle,
    runtime: Option<tokio::runtime::Runtime>,
}

impl ObsFixture {
    /// A server accepting [`AK`]/[`SK`] with a private bucket `ray-jobs` and a public bucket
    /// `public-jobs`, answering virtual-hosted requests for `*.obs.test`.
    pub fn start() -> ObsFixture {
        Self::with_config(
            ServerConfig::default()
                .with_domain("obs.test")
                .with_credential(Credential::new(AK, SK))
                .with_bucket("ray-jobs")
                .with_public_bucket("public-jobs"),
        )
    }

    pub fn with_config(config: ServerConfig) -> ObsFixture {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let server = runtime.block_on(ObsServer::start(config)).expect("start obs-server");
        ObsFixture { server, runtime: Some(runtime) }
    }

    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }

    pub fn put(&self, bucket: &str, key: &str, data: Vec<u8>) {
        self.server.put_object(bucket, key, data).unwrap();
    }

    /// Points `env` at this server with the test credentials in `OBS_*`.
    pub fn configure(&self, env: &mut crate::Env) {
        env.set("OBS_ENDPOINT", self.endpoint())
            .set("OBS_ACCESS_KEY_ID", AK)
            .set("OBS_SECRET_ACCESS_KEY", SK)
            // Deterministic: never consult an ECS metadata service from a test.
            .set("OBS_METADATA_DISABLED", "true");
    }
}

impl Drop for ObsFixture {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
