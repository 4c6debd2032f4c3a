//! A development CA and a `localhost` certificate, made with rcgen on first start and reused.
//!
//! Reusing them matters: a developer trusts the CA once (`curl --cacert certs/dev-ca.pem`, or the
//! browser's certificate settings) and later starts keep working. The server certificate is
//! re-issued from the same CA when it is older than [`REISSUE_AFTER`], so it never expires.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, KeyPair, KeyUsagePurpose, NameConstraints,
};
use time::OffsetDateTime;

/// The CA certificate a client trusts.
pub const CA_FILE: &str = "dev-ca.pem";
const CA_KEY_FILE: &str = "dev-ca-key.pem";
const SERVER_FILE: &str = "localhost.pem";
const SERVER_KEY_FILE: &str = "localhost-key.pem";

/// Server certificates are valid for a year (browsers cap leaf lifetimes near that) and remade
/// after 300 days.
const SERVER_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Age after which the server certificate is re-issued.
pub const REISSUE_AFTER: Duration = Duration::from_secs(300 * 24 * 3600);

/// Where the development files are.
#[derive(Debug, Clone)]
pub struct DevCertPaths {
    /// The CA certificate to trust.
    pub ca: PathBuf,
    /// The server certificate chain (leaf, then CA).
    pub server_chain: PathBuf,
    /// The server's private key.
    pub server_key: PathBuf,
}

/// Makes (or reuses) the development CA and server certificate under `dir`.
pub fn ensure(dir: &Path) -> Result<DevCertPaths, String> {
    let paths = DevCertPaths {
        ca: dir.join(CA_FILE),
        server_chain: dir.join(SERVER_FILE),
        server_key: dir.join(SERVER_KEY_FILE),
    };
    if is_fresh(&paths.server_chain) && paths.server_key.exists() && paths.ca.exists() {
        return Ok(paths);
    }
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let ca_key = load_or_make_ca_key(&dir.join(CA_KEY_FILE))?;
    let ca = ca_params().self_signed(&ca_key).map_err(|e| e.to_string())?;
    // The CA file is only written when missing: a re-issued server certificate must chain to the
    // CA the developer already trusts, and the same name and key make an equivalent issuer.
    if !paths.ca.exists() {
        write_file(&paths.ca, ca.pem().as_bytes(), 0o644)?;
    }
    let server_key = KeyPair::generate().map_err(|e| e.to_string())?;
    let server = server_params()?.signed_by(&server_key, &ca, &ca_key).map_err(|e| e.to_string())?;
    write_file(&paths.server_key, server_key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&paths.server_chain, format!("{}{}", server.pem(), ca.pem()).as_bytes(), 0o644)?;
    tracing::info!(
        ca = %paths.ca.display(),
        "made a development certificate for localhost; trust it with: curl --cacert {}",
        paths.ca.display()
    );
    Ok(paths)
}

fn is_fresh(path: &Path) -> bool {
    let age = fs::metadata(path).and_then(|m| m.modified()).map(|t| SystemTime::now().duration_since(t));
    matches!(age, Ok(Ok(age)) if age < REISSUE_AFTER)
}

fn load_or_make_ca_key(path: &Path) -> Result<KeyPair, String> {
    if let Ok(pem) = fs::read_to_string(path) {
        return KeyPair::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()));
    }
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    write_file(path, key.serialize_pem().as_bytes(), 0o600)?;
    Ok(key)
}

/// The CA can only vouch for the loopback names (name constraints), so trusting it, or leaking
/// its key, exposes nothing beyond this machine's own services.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name("vod-origin development CA (localhost only)");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName("localhost".into()),
            GeneralSubtree::IpAddress(CidrSubnet::V4([127, 0, 0, 0], [255, 0, 0, 0])),
            GeneralSubtree::IpAddress(CidrSubnet::V6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0xff; 16])),
        ],
        excluded_subtrees: Vec::new(),
    });
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    params
}

fn server_params() -> Result<CertificateParams, String> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    let mut params = CertificateParams::new(names).map_err(|e| e.to_string())?;
    params.distinguished_name = name("localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // Strict validators (sslyze's) want the leaf to name its issuer's key (RFC 5280 §4.2.1.1).
    params.use_authority_key_identifier_extension = true;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + SERVER_VALIDITY;
    Ok(params)
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

fn write_file(path: &Path, content: &[u8], mode: u32) -> Result<(), String> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(content).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    use super::*;

    #[test]
    fn the_leaf_names_its_issuers_key() {
        let dir = tempfile::tempdir().unwrap();
        let paths = ensure(dir.path()).unwrap();
        let leaf = CertificateDer::pem_file_iter(&paths.server_chain).unwrap().next().unwrap().unwrap();
        // The DER of the authorityKeyIdentifier extension's OID, 2.5.29.35.
        let authority_key_identifier = [0x06, 0x03, 0x55, 0x1d, 0x23];
        assert!(leaf.windows(5).any(|w| w == authority_key_identifier), "no authorityKeyIdentifier");
    }
}
