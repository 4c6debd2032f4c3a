//! Certificate hot reload: the certificate served to new handshakes can be replaced while the
//! server runs, on SIGHUP or when its files change, without touching open connections.
//!
//! rustls asks a [`ResolvesServerCert`] for the certificate on every handshake, so the current
//! one sits behind a lock that is held only to clone an `Arc`; connections already established
//! keep the keys they negotiated. A new pair that cannot be used (unreadable, not PEM, a key
//! that does not match the certificate) is refused with a warning and the old one stays.
//!
//! Changes are found by polling the files' metadata rather than through inotify (the `notify`
//! crate): certificate renewals replace files by rename (certbot) or by swapping a symlinked
//! directory (Kubernetes and ECS secret mounts), which inode watches miss unless every parent
//! is watched, while two `stat` calls every few seconds see every kind of replacement.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

use crate::telemetry;

/// Which of the two files a problem is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertError {
    /// The certificate chain.
    Chain(String),
    /// The private key, or its match with the certificate.
    Key(String),
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Chain(reason) | Self::Key(reason) => f.write_str(reason),
        }
    }
}

/// The certificate chain and key files the HTTPS listener serves.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// PEM certificate chain, leaf first.
    pub chain: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// What the files looked like when last read: a change of any part means they were replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp([Option<(SystemTime, u64, u64)>; 2]);

impl Stamp {
    fn of(files: &CertFiles) -> Self {
        // Follows symlinks: a swapped link target is a new inode.
        let stat =
            |path: &Path| std::fs::metadata(path).ok().and_then(|m| Some((m.modified().ok()?, m.len(), m.ino())));
        Self([stat(&files.chain), stat(&files.key)])
    }
}

/// The certificate in force, and where it comes from.
#[derive(Debug)]
pub struct Certificates {
    files: CertFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    seen: RwLock<Stamp>,
}

impl Certificates {
    /// Reads the files; a problem names the file it is in.
    pub fn load(files: CertFiles, provider: Arc<CryptoProvider>) -> Result<Self, CertError> {
        let seen = Stamp::of(&files);
        let key = read(&files, &provider)?;
        Ok(Self { files, provider, current: RwLock::new(Arc::new(key)), seen: RwLock::new(seen) })
    }

    /// Reads the files again and serves them to new handshakes; on a problem the current
    /// certificate stays. Returns the new leaf certificate's SHA-256 fingerprint.
    pub fn reload(&self) -> Result<String, CertError> {
        self.reload_seen(Stamp::of(&self.files))
    }

    /// `reload`, with the files' stamp already taken.
    fn reload_seen(&self, stamp: Stamp) -> Result<String, CertError> {
        *self.seen.write().unwrap_or_else(PoisonError::into_inner) = stamp;
        let key = read(&self.files, &self.provider)?;
        let fingerprint = fingerprint(&key);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        Ok(fingerprint)
    }

    /// Reloads when the files changed since they were last read, or when `forced`; logs and
    /// counts the outcome.
    pub fn refresh(&self, forced: bool) {
        let stamp = Stamp::of(&self.files);
        let changed = stamp != *self.seen.read().unwrap_or_else(PoisonError::into_inner);
        if !(forced || changed) {
            return;
        }
        let (chain, key) = (self.files.chain.display(), self.files.key.display());
        match self.reload_seen(stamp) {
            Ok(fingerprint) => {
                metrics::counter!(telemetry::TLS_CERTIFICATE_RELOADS_TOTAL, "outcome" => "loaded").increment(1);
                tracing::info!(%chain, %key, sha256 = %fingerprint, "certificate reloaded");
            }
            Err(error) => {
                metrics::counter!(telemetry::TLS_CERTIFICATE_RELOADS_TOTAL, "outcome" => "failed").increment(1);
                tracing::warn!(%chain, %key, %error, "new certificate refused; still serving the previous one");
            }
        }
    }

    /// The SHA-256 fingerprint of the leaf certificate served now.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner)))
    }
}

/// Checks the files every `interval`, and at once on SIGHUP, for as long as the server runs.
pub async fn watch(certificates: Arc<Certificates>, interval: Duration) {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .inspect_err(|error| tracing::warn!(%error, "cannot listen for SIGHUP; certificate files are still polled"))
        .ok();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        let forced = tokio::select! {
            _ = tick.tick() => false,
            Some(()) = async { hangups.as_mut()?.recv().await } => true,
        };
        certificates.refresh(forced);
    }
}

fn read(files: &CertFiles, provider: &CryptoProvider) -> Result<CertifiedKey, CertError> {
    let chain = read_chain(&files.chain).map_err(CertError::Chain)?;
    let key = read_key(&files.key).map_err(CertError::Key)?;
    CertifiedKey::from_der(chain, key, provider).map_err(|error| {
        CertError::Key(match error {
            rustls::Error::InconsistentKeys(_) => {
                format!("{} does not match the certificate in {}", files.key.display(), files.chain.display())
            }
            other => format!("{}: {other}", files.key.display()),
        })
    })
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

fn fingerprint(key: &CertifiedKey) -> String {
    let leaf = key.cert.first().map(|c| c.as_ref()).unwrap_or_default();
    Sha256::digest(leaf).iter().map(|b| format!("{b:02x}")).collect()
}
