//! TLS for the HTTPS listener: rustls with TLS 1.3 and 1.2, ALPN `h2` and `http/1.1`.
//!
//! TLS 1.2 stays enabled because CloudFront connects to custom origins with at most TLS 1.2.
//! Certificates come from the configured PEM files, or from [`dev_cert`] for local use.

pub mod dev_cert;

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{ConfigError, LoadedConfig};

/// Builds the rustls configuration from the `[tls]` section, making a development certificate
/// when none is configured.
pub fn server_config(loaded: &LoadedConfig) -> Result<Arc<ServerConfig>, ConfigError> {
    let tls = &loaded.config.tls;
    let (chain, key) = match (&tls.cert_chain, &tls.private_key) {
        (Some(chain), Some(key)) => (
            read_chain(chain).map_err(|reason| loaded.error("tls.cert_chain", reason))?,
            read_key(key).map_err(|reason| loaded.error("tls.private_key", reason))?,
        ),
        (None, None) => {
            let paths = dev_cert::ensure(&tls.dev_cert_dir).map_err(|e| loaded.error("tls.dev_cert_dir", e))?;
            (
                read_chain(&paths.server_chain).map_err(|reason| loaded.error("tls.dev_cert_dir", reason))?,
                read_key(&paths.server_key).map_err(|reason| loaded.error("tls.dev_cert_dir", reason))?,
            )
        }
        (Some(_), None) => return Err(loaded.error("tls.private_key", "missing: tls.cert_chain is set")),
        (None, Some(_)) => return Err(loaded.error("tls.cert_chain", "missing: tls.private_key is set")),
    };
    build(chain, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => {
            loaded.error("tls.private_key", "does not match the certificate in tls.cert_chain")
        }
        other => loaded.error("tls.private_key", other),
    })
}

/// The rustls configuration for a chain and its key.
pub fn build(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM certificate chain: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate in the file", path.display()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{}: no usable private key: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_halves_are_named() {
        let loaded = LoadedConfig::from_toml("[tls]\ncert_chain = \"/x.pem\"").unwrap();
        assert_eq!(server_config(&loaded).unwrap_err().key, "tls.private_key");
        let loaded = LoadedConfig::from_toml("[tls]\ncert_chain = \"/x.pem\"\nprivate_key = \"/y.pem\"").unwrap();
        let error = server_config(&loaded).unwrap_err();
        assert_eq!(error.key, "tls.cert_chain");
        assert!(error.reason.contains("/x.pem"), "{error}");
    }

    #[test]
    fn dev_certificates_are_made_once_and_used() {
        let dir = tempfile::tempdir().unwrap();
        let toml = format!("[tls]\ndev_cert_dir = {:?}", dir.path());
        let loaded = LoadedConfig::from_toml(&toml).unwrap();
        let config = server_config(&loaded).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        let ca = std::fs::read(dir.path().join(dev_cert::CA_FILE)).unwrap();
        server_config(&loaded).unwrap();
        assert_eq!(std::fs::read(dir.path().join(dev_cert::CA_FILE)).unwrap(), ca, "the CA is reused");
    }
}
