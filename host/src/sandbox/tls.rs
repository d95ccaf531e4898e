//! TLS for plugin requests: which roots are trusted, and what a failed handshake means.
//!
//! Verification is always on; there is deliberately no setting that turns it off. Trusted
//! roots, read once per process on the first HTTPS request:
//! - `SSL_CERT_FILE` / `SSL_CERT_DIR` from the host's environment when set, replacing the
//!   system store (OpenSSL's and curl's meaning); else
//! - the system trust store (where on-premises clouds and TLS-inspecting proxies install
//!   their CAs); else, when it is empty or unreadable (slim containers without
//!   `ca-certificates`), the bundled Mozilla roots (`webpki-roots`);
//! - plus the operator's `[tls] ca-bundle`, always, read when the host starts.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, ClientConfig, RootCertStore};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use wasmtime_wasi_http::Error as HttpError;

/// The host's environment variables that choose the trusted roots; plugins never see them.
pub const TRUST_VARS: [&str; 2] = ["SSL_CERT_FILE", "SSL_CERT_DIR"];

/// A client configuration ready to use, and the roots it trusts in words.
pub struct Verifier {
    pub config: Arc<ClientConfig>,
    pub roots: String,
}

pub struct Trust {
    ca_bundle: Option<(PathBuf, Vec<CertificateDer<'static>>)>,
    cert_file: Option<PathBuf>,
    cert_dirs: Vec<PathBuf>,
    verifier: OnceLock<Result<Verifier, String>>,
}

impl Trust {
    /// Reads the operator's CA bundle now (a broken one is a configuration error) and
    /// notes the environment's choice of roots for later.
    pub fn new(ca_bundle: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Trust, String> {
        let ca_bundle = match ca_bundle {
            Some(path) => {
                let certs = load_pem_file(path).map_err(|e| format!("tls.ca-bundle {}: {e}", path.display()))?;
                let mut check = RootCertStore::empty();
                for c in &certs {
                    check.add(c.clone()).map_err(|e| format!("tls.ca-bundle {}: not a usable CA certificate: {e}", path.display()))?;
                }
                Some((path.to_path_buf(), certs))
            }
            None => None,
        };
        let set = |name: &str| env(name).filter(|v| !v.is_empty());
        Ok(Trust {
            ca_bundle,
            cert_file: set("SSL_CERT_FILE").map(PathBuf::from),
            cert_dirs: set("SSL_CERT_DIR").map(|v| v.split(':').filter(|d| !d.is_empty()).map(PathBuf::from).collect()).unwrap_or_default(),
            verifier: OnceLock::new(),
        })
    }

    /// The verifier, built on first use. The error says which root source failed.
    pub fn verifier(&self) -> Result<&Verifier, &str> {
        self.verifier.get_or_init(|| self.build()).as_ref().map_err(String::as_str)
    }

    fn build(&self) -> Result<Verifier, String> {
        let mut roots = RootCertStore::empty();
        let mut described = Vec::new();
        if self.cert_file.is_some() || !self.cert_dirs.is_empty() {
            if let Some(file) = &self.cert_file {
                let certs = load_pem_file(file).map_err(|e| format!("cannot load the trusted roots from SSL_CERT_FILE {}: {e}", file.display()))?;
                roots.add_parsable_certificates(certs);
                described.push(format!("SSL_CERT_FILE {}", file.display()));
            }
            for dir in &self.cert_dirs {
                let found = rustls_native_certs::load_certs_from_paths(None, Some(dir));
                for e in &found.errors {
                    tracing::warn!("SSL_CERT_DIR {}: {e}", dir.display());
                }
                roots.add_parsable_certificates(found.certs);
                described.push(format!("SSL_CERT_DIR {}", dir.display()));
            }
            if roots.is_empty() {
                return Err(format!("no usable CA certificate in {}", described.join(", ")));
            }
        } else {
            let native = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                for e in &native.errors {
                    tracing::debug!("system trust store: {e}");
                }
                tracing::info!("the system trust store is empty or unreadable; trusting the bundled Mozilla roots");
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                described.push("the bundled Mozilla roots (the system trust store is empty)".to_string());
            } else {
                described.push("the system trust store".to_string());
            }
        }
        if let Some((path, certs)) = &self.ca_bundle {
            roots.add_parsable_certificates(certs.iter().cloned());
            described.push(format!("tls.ca-bundle {}", path.display()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        // The sender speaks HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Verifier { config: Arc::new(config), roots: described.join(" + ") })
    }
}

/// Every certificate in a PEM file; an unreadable file or one without any is an error.
fn load_pem_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let certs = CertificateDer::pem_slice_iter(&bytes).collect::<Result<Vec<_>, _>>().map_err(|e| format!("invalid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) found".into());
    }
    Ok(certs)
}

/// `DnsName("*.obs.test")` / `IpAddress(10.0.0.1)`, as the verifier words a certificate's
/// names, to the name itself; other kinds as they are.
fn plain_name(n: &str) -> &str {
    n.strip_prefix("DnsName(\"")
        .and_then(|r| r.strip_suffix("\")"))
        .or_else(|| n.strip_prefix("IpAddress(").and_then(|r| r.strip_suffix(')')))
        .unwrap_or(n)
}

/// Why a handshake failed, in terms an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsReason {
    /// The chain does not lead to a trusted root.
    UnknownIssuer,
    /// The certificate does not name the host; `presented` is what it does name.
    NameMismatch { presented: Vec<String> },
    Expired,
    NotValidYet,
    Revoked,
    /// Any other certificate problem (bad signature, wrong purpose, ...).
    BadCertificate(String),
    /// The server refused our side of the handshake.
    AlertReceived { alert: String, id: u8 },
    /// Not TLS at all, a broken exchange, or the connection closed.
    Handshake(String),
}

/// A failed TLS handshake with one authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFailure {
    /// `host:port` the plugin asked for (the name verified, whatever address it resolved to).
    pub authority: String,
    pub reason: TlsReason,
    /// The trusted roots, as [`Verifier::roots`] describes them.
    pub roots: String,
}

impl TlsFailure {
    /// Classifies the error tokio-rustls returned from a handshake.
    pub fn classify(authority: &str, roots: &str, err: &std::io::Error) -> TlsFailure {
        let reason = match err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            Some(rustls::Error::InvalidCertificate(c)) => match c {
                CertificateError::UnknownIssuer => TlsReason::UnknownIssuer,
                CertificateError::NotValidForName => TlsReason::NameMismatch { presented: vec![] },
                CertificateError::NotValidForNameContext { presented, .. } => {
                    TlsReason::NameMismatch { presented: presented.iter().map(|n| plain_name(n).to_string()).collect() }
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => TlsReason::Expired,
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => TlsReason::NotValidYet,
                CertificateError::Revoked => TlsReason::Revoked,
                other => TlsReason::BadCertificate(other.to_string()),
            },
            Some(rustls::Error::AlertReceived(a)) => TlsReason::AlertReceived { alert: format!("{a:?}"), id: u8::from(*a) },
            Some(other) => TlsReason::Handshake(other.to_string()),
            None if err.kind() == std::io::ErrorKind::UnexpectedEof => TlsReason::Handshake("the server closed the connection".into()),
            None => TlsReason::Handshake(err.to_string()),
        };
        TlsFailure { authority: authority.to_string(), reason, roots: roots.to_string() }
    }

    /// What the plugin sees: a wasi:http error code without the detail.
    pub fn http_error(&self) -> HttpError {
        match &self.reason {
            TlsReason::AlertReceived { alert, id } => HttpError::TlsAlertReceived { alert_id: Some(*id), alert_message: Some(alert.clone()) },
            TlsReason::Handshake(_) => HttpError::TlsProtocolError,
            _ => HttpError::TlsCertificateError,
        }
    }
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = scheme_contract::text::escape(&self.authority);
        match &self.reason {
            TlsReason::UnknownIssuer => write!(
                f,
                "TLS certificate of {a} is not trusted: it was not issued by a trusted certificate authority (trusted roots: {}); add the issuing CA to `[tls] ca-bundle` in the config or to SSL_CERT_FILE",
                self.roots
            ),
            TlsReason::NameMismatch { presented } if presented.is_empty() => write!(f, "TLS certificate of {a} is not valid for that name"),
            TlsReason::NameMismatch { presented } => {
                let names: Vec<String> = presented.iter().map(|n| scheme_contract::text::escape(n)).collect();
                write!(f, "TLS certificate of {a} is not valid for that name: it is only valid for {}", names.join(", "))
            }
            TlsReason::Expired => write!(f, "TLS certificate of {a} has expired"),
            TlsReason::NotValidYet => write!(f, "TLS certificate of {a} is not valid yet (check this machine's clock)"),
            TlsReason::Revoked => write!(f, "TLS certificate of {a} has been revoked"),
            TlsReason::BadCertificate(d) => write!(f, "TLS certificate of {a} is invalid: {}", scheme_contract::text::escape(d)),
            TlsReason::AlertReceived { alert, .. } => write!(f, "TLS handshake with {a} failed: the server sent the alert {alert}"),
            TlsReason::Handshake(d) => write!(f, "TLS handshake with {a} failed: {} (is it an HTTPS port?)", scheme_contract::text::escape(d)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn io_err(e: rustls::Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }

    #[test]
    fn certificate_errors_are_named() {
        let f = TlsFailure::classify("b.obs.test:8443", "the system trust store", &io_err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)));
        assert_eq!(f.reason, TlsReason::UnknownIssuer);
        assert!(matches!(f.http_error(), HttpError::TlsCertificateError));
        let shown = f.to_string();
        assert!(shown.starts_with("TLS certificate of b.obs.test:8443 is not trusted"), "{shown}");
        assert!(shown.contains("trusted roots: the system trust store") && shown.contains("[tls] ca-bundle") && shown.contains("SSL_CERT_FILE"), "{shown}");

        let mismatch = CertificateError::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("b.obs.wrong").unwrap().to_owned(),
            presented: vec!["DnsName(\"*.obs.test\")".into(), "DnsName(\"obs.test\")".into()],
        };
        let f = TlsFailure::classify("b.obs.wrong:8443", "r", &io_err(rustls::Error::InvalidCertificate(mismatch)));
        assert_eq!(f.to_string(), "TLS certificate of b.obs.wrong:8443 is not valid for that name: it is only valid for *.obs.test, obs.test");

        let f = TlsFailure::classify("h:443", "r", &io_err(rustls::Error::InvalidCertificate(CertificateError::Expired)));
        assert_eq!(f.to_string(), "TLS certificate of h:443 has expired");
    }

    #[test]
    fn handshake_errors_are_not_certificate_errors() {
        let f = TlsFailure::classify("h:443", "r", &io_err(rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure)));
        assert!(matches!(f.http_error(), HttpError::TlsAlertReceived { alert_id: Some(40), .. }));
        assert_eq!(f.to_string(), "TLS handshake with h:443 failed: the server sent the alert HandshakeFailure");
        let f = TlsFailure::classify("h:80", "r", &io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake eof"));
        assert!(matches!(f.http_error(), HttpError::TlsProtocolError));
        assert!(f.to_string().contains("closed the connection"));
    }

    #[test]
    fn ca_bundles_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        let e = Trust::new(Some(&empty), |_| None).err().unwrap();
        assert!(e.starts_with("tls.ca-bundle ") && e.contains("no PEM certificate"), "{e}");
        let e = Trust::new(Some(&dir.path().join("missing.pem")), |_| None).err().unwrap();
        assert!(e.contains("missing.pem"), "{e}");
    }

    #[test]
    fn ssl_cert_file_replaces_the_system_store_and_must_be_usable() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
        let path = bad.to_str().unwrap().to_string();
        let t = Trust::new(None, move |k| (k == "SSL_CERT_FILE").then(|| path.clone())).unwrap();
        let e = t.verifier().err().unwrap();
        assert!(e.contains("SSL_CERT_FILE") && e.contains("bad.pem"), "{e}");
        let missing = Trust::new(None, |k| (k == "SSL_CERT_FILE").then(|| "/nonexistent/ca.pem".to_string())).unwrap();
        assert!(missing.verifier().err().unwrap().contains("/nonexistent/ca.pem"));
    }

    #[test]
    fn without_settings_some_roots_are_always_trusted() {
        let t = Trust::new(None, |_| None).unwrap();
        let v = t.verifier().unwrap();
        assert!(v.roots == "the system trust store" || v.roots.starts_with("the bundled Mozilla roots"), "{}", v.roots);
    }
}
