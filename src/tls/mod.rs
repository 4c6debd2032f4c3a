//! TLS for the HTTPS listener: rustls with TLS 1.3 and 1.2, ALPN `h2` and `http/1.1`.
//!
//! TLS 1.2 stays enabled because CloudFront connects to custom origins with at most TLS 1.2.
//! Certificates come from the configured PEM files, or from [`dev_cert`] for local use.

pub mod dev_cert;
pub mod reload;

use std::sync::Arc;

use rustls::ServerConfig;

pub use self::reload::{CertError, CertFiles, Certificates};
use crate::config::{ConfigError, LoadedConfig};

/// The HTTPS listener's TLS: the rustls configuration, and the certificate it serves, which can
/// be replaced while the server runs (see [`reload`]).
pub struct Tls {
    /// For the acceptor.
    pub config: Arc<ServerConfig>,
    /// The certificate in force.
    pub certificates: Arc<Certificates>,
}

/// Builds the TLS setup from the `[tls]` section, making a development certificate when none is
/// configured.
pub fn load(loaded: &LoadedConfig) -> Result<Tls, ConfigError> {
    let tls = &loaded.config.tls;
    let (files, chain_key, key_key) = match (&tls.cert_chain, &tls.private_key) {
        (Some(chain), Some(key)) => {
            (CertFiles { chain: chain.clone(), key: key.clone() }, "tls.cert_chain", "tls.private_key")
        }
        (None, None) => {
            let paths = dev_cert::ensure(&tls.dev_cert_dir).map_err(|e| loaded.error("tls.dev_cert_dir", e))?;
            (CertFiles { chain: paths.server_chain, key: paths.server_key }, "tls.dev_cert_dir", "tls.dev_cert_dir")
        }
        (Some(_), None) => return Err(loaded.error("tls.private_key", "missing: tls.cert_chain is set")),
        (None, Some(_)) => return Err(loaded.error("tls.cert_chain", "missing: tls.private_key is set")),
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let certificates = Certificates::load(files, Arc::clone(&provider)).map_err(|e| match e {
        CertError::Chain(reason) => loaded.error(chain_key, reason),
        CertError::Key(reason) => loaded.error(key_key, reason),
    })?;
    let certificates = Arc::new(certificates);
    let config = build(provider, Arc::clone(&certificates) as _).map_err(|e| loaded.error(key_key, e))?;
    Ok(Tls { config, certificates })
}

/// The rustls configuration serving whatever `certificates` resolves to.
fn build(
    provider: Arc<rustls::crypto::CryptoProvider>,
    certificates: Arc<dyn rustls::server::ResolvesServerCert>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(certificates);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_halves_are_named() {
        let loaded = LoadedConfig::from_toml("[tls]\ncert_chain = \"/x.pem\"").unwrap();
        assert_eq!(load(&loaded).err().unwrap().key, "tls.private_key");
        let loaded = LoadedConfig::from_toml("[tls]\ncert_chain = \"/x.pem\"\nprivate_key = \"/y.pem\"").unwrap();
        let error = load(&loaded).err().unwrap();
        assert_eq!(error.key, "tls.cert_chain");
        assert!(error.reason.contains("/x.pem"), "{error}");
    }

    #[test]
    fn dev_certificates_are_made_once_and_used() {
        let dir = tempfile::tempdir().unwrap();
        let toml = format!("[tls]\ndev_cert_dir = {:?}", dir.path());
        let loaded = LoadedConfig::from_toml(&toml).unwrap();
        let config = load(&loaded).unwrap().config;
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        let ca = std::fs::read(dir.path().join(dev_cert::CA_FILE)).unwrap();
        load(&loaded).unwrap();
        assert_eq!(std::fs::read(dir.path().join(dev_cert::CA_FILE)).unwrap(), ca, "the CA is reused");
    }
}
