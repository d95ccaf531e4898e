//! HTTPS fixtures: a certificate authority made up for one test, the server certificates it
//! signs, and the OBS-compatible server serving HTTPS with one of them.
//!
//! Every CA is new, so no machine's trust store can know it: a test that succeeds did so
//! because the CA was configured, nothing else.

use crate::obs::{ObsFixture, AK, SK};
use obs_server::{Credential, ServerConfig, TlsIdentity};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use std::path::{Path, PathBuf};

/// The virtual-hosting domain of the HTTPS fixture; buckets are `<bucket>.obs.test`.
pub const DOMAIN: &str = "obs.test";

pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl TestCa {
    pub fn new(common_name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names to reject");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("generate CA key");
        let cert = params.self_signed(&key).expect("self-sign CA");
        TestCa { cert_pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// The CA certificate, PEM: what an operator puts in `[tls] ca-bundle`.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Writes the CA certificate to `path` and returns it.
    pub fn write_pem(&self, path: &Path) -> PathBuf {
        std::fs::write(path, &self.cert_pem).expect("write CA certificate");
        path.to_path_buf()
    }

    /// A server certificate for `names` (DNS names, wildcards or IP addresses).
    pub fn issue(&self, names: &[&str]) -> TlsIdentity {
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("valid names");
        params.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("server"));
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("generate server key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign server certificate");
        TlsIdentity::new(cert.pem(), key.serialize_pem())
    }
}

/// The OBS-compatible server over HTTPS with a `*.obs.test` certificate from `ca`, the test
/// credentials and a private bucket `ray-jobs`.
pub fn https_obs(ca: &TestCa) -> ObsFixture {
    ObsFixture::with_config(
        ServerConfig::default()
            .with_domain(DOMAIN)
            .with_credential(Credential::new(AK, SK))
            .with_bucket("ray-jobs")
            .with_tls(ca.issue(&["*.obs.test", "obs.test"])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_serves_https_with_a_certificate_from_the_ca() {
        let ca = TestCa::new("scheme-host test CA");
        assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        let id = ca.issue(&["*.obs.test"]);
        assert!(id.cert_chain_pem.contains("BEGIN CERTIFICATE") && id.key_pem.contains("PRIVATE KEY"));
        let fx = https_obs(&ca);
        assert!(fx.server.is_tls());
        assert!(fx.endpoint().starts_with("https://127.0.0.1:"), "{}", fx.endpoint());
    }
}
