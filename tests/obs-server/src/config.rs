//! Server configuration: listener, virtual-host domains, credentials, buckets, options.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::clock::ClockSetting;
use crate::error::ServerError;
use crate::rate_limit::RateLimit;
use crate::tls::TlsIdentity;

/// One access key pair. A `security_token` marks temporary credentials: requests signed with
/// this access key must then carry exactly that token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key: String,
    pub secret_key: String,
    pub security_token: Option<String>,
}

impl Credential {
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Credential {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            security_token: None,
        }
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.security_token = Some(token.into());
        self
    }

    /// Parses the CLI form `AK:SK[:TOKEN]`. The token may itself contain `:`.
    pub fn parse_cli(spec: &str) -> Result<Self, ServerError> {
        let mut parts = spec.splitn(3, ':');
        let ak = parts.next().unwrap_or_default();
        let sk = parts.next().unwrap_or_default();
        if ak.is_empty() || sk.is_empty() {
            // The spec holds a secret: never echo it.
            return Err(ServerError::InvalidConfig(
                "--cred expects AK:SK[:TOKEN] with a non-empty access key and secret key".into(),
            ));
        }
        let cred = Credential::new(ak, sk);
        Ok(match parts.next() {
            Some(token) if !token.is_empty() => cred.with_token(token),
            _ => cred,
        })
    }
}

// Secrets must never reach logs, panics or test output.
impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key", &"<redacted>")
            .field("secret_key", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A bucket created at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    pub name: String,
    /// Anonymous GET/HEAD allowed.
    pub public_read: bool,
}

/// Everything `ObsServer::start` needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Domains for virtual-hosted addressing: a Host of `<bucket>.<domain>` names the bucket.
    /// Any other Host (an IP, `localhost`, the bare domain) means path-style.
    pub domains: Vec<String>,
    pub credentials: Vec<Credential>,
    pub buckets: Vec<BucketSpec>,
    /// Send `x-obs-checksum-crc64ecma` on GET/HEAD of objects.
    pub crc64: bool,
    /// Pace every object body to this many bytes per second (per connection).
    pub throttle_bytes_per_sec: Option<u64>,
    pub clock: ClockSetting,
    /// Largest accepted PUT body (OBS's single-PUT limit is 5 GiB).
    pub max_put_bytes: u64,
    /// Allowed difference between the request date and the server clock.
    pub max_skew: Duration,
    /// Body frame size for object downloads; large frames keep the hot path cheap.
    pub frame_bytes: usize,
    /// Entries kept in the request log (oldest dropped first).
    pub request_log_capacity: usize,
    /// Serve HTTPS with this certificate instead of plain HTTP.
    pub tls: Option<TlsIdentity>,
    /// Signature V4: the region credential scopes must name; `None` accepts any region.
    pub s3_region: Option<String>,
    /// Requests per second and burst past which requests get 503 `SlowDown`; `None`: no limit.
    pub rate_limit: Option<RateLimit>,
    /// Smallest multipart part but the last (S3 and OBS: 5 MiB); tests lower it.
    pub min_part_bytes: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            domains: Vec::new(),
            credentials: Vec::new(),
            buckets: Vec::new(),
            crc64: false,
            throttle_bytes_per_sec: None,
            clock: ClockSetting::System,
            max_put_bytes: 5 * 1024 * 1024 * 1024,
            max_skew: Duration::from_secs(15 * 60),
            frame_bytes: 2 * 1024 * 1024,
            request_log_capacity: 10_000,
            tls: None,
            s3_region: None,
            rate_limit: None,
            min_part_bytes: 5 * 1024 * 1024,
        }
    }
}

/// Smallest body frame: the hot path must not degrade into many tiny writes.
pub const MIN_FRAME_BYTES: usize = 256 * 1024;

impl ServerConfig {
    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domains.push(domain.into());
        self
    }

    pub fn with_credential(mut self, cred: Credential) -> Self {
        self.credentials.push(cred);
        self
    }

    pub fn with_bucket(mut self, name: impl Into<String>) -> Self {
        self.buckets.push(BucketSpec {
            name: name.into(),
            public_read: false,
        });
        self
    }

    pub fn with_public_bucket(mut self, name: impl Into<String>) -> Self {
        self.buckets.push(BucketSpec {
            name: name.into(),
            public_read: true,
        });
        self
    }

    pub fn with_crc64(mut self, enabled: bool) -> Self {
        self.crc64 = enabled;
        self
    }

    pub fn with_throttle(mut self, bytes_per_sec: Option<u64>) -> Self {
        self.throttle_bytes_per_sec = bytes_per_sec;
        self
    }

    pub fn with_clock(mut self, clock: ClockSetting) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_tls(mut self, identity: TlsIdentity) -> Self {
        self.tls = Some(identity);
        self
    }

    pub fn with_s3_region(mut self, region: impl Into<String>) -> Self {
        self.s3_region = Some(region.into());
        self
    }

    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    pub fn with_min_part_bytes(mut self, bytes: u64) -> Self {
        self.min_part_bytes = bytes;
        self
    }

    pub fn validate(&self) -> Result<(), ServerError> {
        for domain in &self.domains {
            if domain.is_empty() || domain.starts_with('.') || domain.contains(['/', ':']) {
                return Err(ServerError::InvalidConfig(format!(
                    "domain {domain:?} must be a bare host name such as obs.test"
                )));
            }
        }
        for bucket in &self.buckets {
            if !crate::addressing::is_valid_bucket_name(&bucket.name) {
                return Err(ServerError::InvalidConfig(format!(
                    "bucket name {:?} breaks the OBS naming rules",
                    bucket.name
                )));
            }
        }
        if self.frame_bytes < MIN_FRAME_BYTES {
            return Err(ServerError::InvalidConfig(format!(
                "frame_bytes {} is below the {MIN_FRAME_BYTES}-byte minimum",
                self.frame_bytes
            )));
        }
        if self.throttle_bytes_per_sec == Some(0) {
            return Err(ServerError::InvalidConfig(
                "throttle must be at least 1 byte/s".into(),
            ));
        }
        if let Some(limit) = &self.rate_limit {
            limit.validate().map_err(ServerError::InvalidConfig)?;
        }
        if let Some(region) = &self.s3_region
            && (region.is_empty() || region.contains(['/', ' ']))
        {
            return Err(ServerError::InvalidConfig(format!(
                "S3 region {region:?} must be a bare region name such as us-east-1"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for cred in &self.credentials {
            if !seen.insert(cred.access_key.as_str()) {
                return Err(ServerError::InvalidConfig(
                    "two credential sets share one access key".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_credential_forms() {
        let c = Credential::parse_cli("AK1:SK1").unwrap();
        assert_eq!(
            (c.access_key.as_str(), c.secret_key.as_str()),
            ("AK1", "SK1")
        );
        assert_eq!(c.security_token, None);
        let t = Credential::parse_cli("AK2:SK2:tok:with:colons").unwrap();
        assert_eq!(t.security_token.as_deref(), Some("tok:with:colons"));
        assert!(Credential::parse_cli("AKONLY").is_err());
        assert!(Credential::parse_cli(":SK").is_err());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credential::new("AKVISIBLE", "SKSECRET").with_token("TOKSECRET");
        let shown = format!(
            "{c:?} {:?}",
            ServerConfig::default().with_credential(c.clone())
        );
        assert!(
            !shown.contains("AKVISIBLE")
                && !shown.contains("SKSECRET")
                && !shown.contains("TOKSECRET")
        );
    }

    #[test]
    fn validation_rejects_bad_settings() {
        assert!(
            ServerConfig::default()
                .with_domain("obs.test")
                .validate()
                .is_ok()
        );
        assert!(
            ServerConfig::default()
                .with_domain("http://obs.test")
                .validate()
                .is_err()
        );
        assert!(
            ServerConfig::default()
                .with_bucket("Bad_Bucket")
                .validate()
                .is_err()
        );
        assert!(
            ServerConfig::default()
                .with_throttle(Some(0))
                .validate()
                .is_err()
        );
        let dup = ServerConfig::default()
            .with_credential(Credential::new("A", "1"))
            .with_credential(Credential::new("A", "2"));
        assert!(dup.validate().is_err());
        assert!(
            ServerConfig::default()
                .with_rate_limit(RateLimit::new(0.0, 1))
                .validate()
                .is_err()
        );
        assert!(
            ServerConfig::default()
                .with_rate_limit(RateLimit::new(5.0, 10))
                .with_s3_region("eu-west-1")
                .validate()
                .is_ok()
        );
        assert!(
            ServerConfig::default()
                .with_s3_region("")
                .validate()
                .is_err()
        );
        let small = ServerConfig {
            frame_bytes: 4096,
            ..ServerConfig::default()
        };
        assert!(small.validate().is_err());
    }
}
