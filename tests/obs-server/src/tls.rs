//! HTTPS: the server's certificate and key, and the acceptor built from them.
//!
//! The acceptor wraps `ConnIo<TcpStream>`, so faults that act on the socket (RST, bytes past
//! Content-Length) still reach the wire underneath the TLS records.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::error::ServerError;

/// A certificate chain (leaf first) and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsIdentity {
    pub cert_chain_pem: String,
    pub key_pem: String,
}

// The key is a secret like any credential: keep it out of logs and panics.
impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_chain_pem", &format_args!("{} bytes", self.cert_chain_pem.len()))
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

impl TlsIdentity {
    pub fn new(cert_chain_pem: impl Into<String>, key_pem: impl Into<String>) -> Self {
        TlsIdentity {
            cert_chain_pem: cert_chain_pem.into(),
            key_pem: key_pem.into(),
        }
    }

    pub fn from_files(cert: &Path, key: &Path) -> Result<Self, ServerError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| ServerError::ReadFile {
                path: path.to_path_buf(),
                source,
            })
        };
        Ok(TlsIdentity::new(read(cert)?, read(key)?))
    }

    /// Parses both PEM texts; errors say which one is wrong, never what the key holds.
    pub fn acceptor(&self) -> Result<TlsAcceptor, ServerError> {
        let chain = CertificateDer::pem_slice_iter(self.cert_chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ServerError::InvalidConfig(format!("TLS certificate chain: {e}")))?;
        if chain.is_empty() {
            return Err(ServerError::InvalidConfig(
                "TLS certificate chain holds no PEM certificate".into(),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|_| {
            ServerError::InvalidConfig("TLS private key is not a PEM private key".into())
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ServerError::InvalidConfig(format!("TLS protocol versions: {e}")))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| ServerError::InvalidConfig(format!("TLS certificate and key: {e}")))?;
        // The server speaks HTTP/1.1 only; saying so keeps an h2-capable client from asking.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key_and_bad_pem_is_refused() {
        let id = TlsIdentity::new("not a cert", "-----BEGIN PRIVATE KEY-----\nSECRETKEYBYTES\n");
        assert!(!format!("{id:?}").contains("SECRETKEYBYTES"));
        let err = id.acceptor().err().expect("garbage must be refused").to_string();
        assert!(err.contains("certificate chain"), "{err}");
        assert!(!err.contains("SECRETKEYBYTES"), "{err}");
    }
}
