//! Who may reach the origin: the CDN's secret header, the peer's address, and the scheme the
//! viewer used.
//!
//! This is the custom-origin counterpart of CloudFront's Origin Access Identity: CloudFront adds a
//! secret header to every origin request, and anything without it is refused. Several secrets are
//! accepted at once so they can be rotated without downtime (add the new one here, switch the
//! CDN, remove the old one).

use std::net::IpAddr;

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::config::{ConfigError, LoadedConfig};
use crate::error::RequestError;

/// The header CloudFront sets to the scheme the viewer used.
pub const CLOUDFRONT_FORWARDED_PROTO: HeaderName = HeaderName::from_static("cloudfront-forwarded-proto");
/// The load balancers' header for the same, believed only from trusted proxies.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Secrets shorter than this are accepted with a warning: CloudFront's header values are typed
/// by people, and a short one is guessable.
const MIN_SECRET_LEN: usize = 16;

/// The access checks, compiled from `[access]` and `server.trusted_proxies`.
#[derive(Debug, Clone)]
pub struct Guard {
    header: HeaderName,
    /// SHA-256 of each accepted secret. Comparing digests of equal length in constant time reveals
    /// neither the secret nor its length through timing.
    secret_digests: Vec<[u8; 32]>,
    allowed_cidrs: Vec<IpNet>,
    trusted_proxies: Vec<IpNet>,
}

impl Guard {
    /// Compiles the access settings.
    pub fn new(loaded: &LoadedConfig) -> Result<Self, ConfigError> {
        let access = &loaded.config.access;
        let header = HeaderName::try_from(access.header.as_str())
            .map_err(|_| loaded.error("access.header", "not a valid header name"))?;
        if access.required && access.secrets.is_empty() {
            return Err(
                loaded.error("access.secrets", "empty while access.required = true: set VOD_ORIGIN_ACCESS__SECRETS")
            );
        }
        let mut secret_digests = Vec::with_capacity(access.secrets.len());
        for (i, secret) in access.secrets.iter().enumerate() {
            if secret.expose().len() < MIN_SECRET_LEN {
                tracing::warn!("access.secrets.{i} is shorter than {MIN_SECRET_LEN} characters: easy to guess");
            }
            if secret.expose().is_empty() {
                return Err(loaded.error(&format!("access.secrets.{i}"), "empty secret"));
            }
            secret_digests.push(digest(secret.expose().as_bytes()));
        }
        Ok(Self {
            header,
            secret_digests,
            allowed_cidrs: access.allowed_cidrs.clone(),
            trusted_proxies: loaded.config.server.trusted_proxies.clone(),
        })
    }

    /// Whether the secret header is required.
    pub fn requires_secret(&self) -> bool {
        !self.secret_digests.is_empty()
    }

    /// Refuses peers outside the allow-list, when there is one.
    pub fn check_peer(&self, peer: IpAddr) -> Result<(), RequestError> {
        let peer = peer.to_canonical();
        if self.allowed_cidrs.is_empty() || self.allowed_cidrs.iter().any(|net| net.contains(&peer)) {
            Ok(())
        } else {
            Err(RequestError::PeerNotAllowed)
        }
    }

    /// Refuses requests without an accepted secret, when secrets are configured.
    pub fn check_secret(&self, headers: &HeaderMap) -> Result<(), RequestError> {
        if self.secret_digests.is_empty() {
            return Ok(());
        }
        let presented = headers.get(&self.header).map(|v| digest(v.as_bytes()));
        let presented = presented.ok_or(RequestError::SecretRejected)?;
        // Every accepted secret is compared, so timing does not tell which one matched.
        let matched = self.secret_digests.iter().fold(Choice::from(0), |acc, d| acc | d.ct_eq(&presented));
        if bool::from(matched) { Ok(()) } else { Err(RequestError::SecretRejected) }
    }

    /// Whether the viewer used plain HTTP, as the CDN (or a trusted load balancer) reports it.
    pub fn viewer_used_plain_http(&self, headers: &HeaderMap, peer: IpAddr) -> bool {
        let says_http =
            |name: &HeaderName| headers.get(name).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"http"));
        if says_http(&CLOUDFRONT_FORWARDED_PROTO) {
            return true;
        }
        let peer = peer.to_canonical();
        self.trusted_proxies.iter().any(|net| net.contains(&peer)) && says_http(&X_FORWARDED_PROTO)
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn guard(toml: &str) -> Guard {
        Guard::new(&LoadedConfig::from_toml(toml).unwrap()).unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    const TWO_SECRETS: &str = "[access]\nsecrets = [\"old-secret-0123456789\", \"new-secret-0123456789\"]";

    #[test]
    fn every_live_secret_is_accepted() {
        let guard = guard(TWO_SECRETS);
        assert!(guard.check_secret(&headers(&[("x-origin-verify", "old-secret-0123456789")])).is_ok());
        assert!(guard.check_secret(&headers(&[("x-origin-verify", "new-secret-0123456789")])).is_ok());
    }

    #[test]
    fn missing_or_wrong_secrets_are_refused() {
        let guard = guard(TWO_SECRETS);
        for h in [
            headers(&[]),
            headers(&[("x-origin-verify", "new-secret-012345678")]),
            headers(&[("x-other", "new-secret-0123456789")]),
        ] {
            assert!(matches!(guard.check_secret(&h), Err(RequestError::SecretRejected)));
        }
    }

    #[test]
    fn no_secrets_means_no_check() {
        assert!(guard("").check_secret(&headers(&[])).is_ok());
    }

    #[test]
    fn empty_secrets_are_a_config_error() {
        let error =
            Guard::new(&LoadedConfig::from_toml("[access]\nsecrets = [\"a-long-enough-secret\", \"\"]").unwrap())
                .unwrap_err();
        assert_eq!(error.key, "access.secrets.1");
    }

    #[test]
    fn a_required_secret_must_be_set() {
        let error = Guard::new(&LoadedConfig::from_toml("[access]\nrequired = true").unwrap()).unwrap_err();
        assert_eq!(error.key, "access.secrets");
        assert!(guard("[access]\nrequired = true\nsecrets = [\"a-long-enough-secret\"]").requires_secret());
    }

    #[test]
    fn peers_are_checked_against_the_allow_list() {
        let guard = guard("[access]\nallowed_cidrs = [\"10.0.0.0/8\", \"::1/128\"]");
        assert!(guard.check_peer("10.1.2.3".parse().unwrap()).is_ok());
        assert!(guard.check_peer("::ffff:10.1.2.3".parse().unwrap()).is_ok());
        assert!(guard.check_peer("::1".parse().unwrap()).is_ok());
        assert!(guard.check_peer("192.168.0.1".parse().unwrap()).is_err());
    }

    #[test]
    fn forwarded_proto_is_believed_from_cloudfront_and_trusted_proxies() {
        let guard = guard("[server]\ntrusted_proxies = [\"10.0.0.0/8\"]");
        let local: IpAddr = "10.0.0.5".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        assert!(guard.viewer_used_plain_http(&headers(&[("cloudfront-forwarded-proto", "http")]), stranger));
        assert!(!guard.viewer_used_plain_http(&headers(&[("cloudfront-forwarded-proto", "https")]), stranger));
        assert!(guard.viewer_used_plain_http(&headers(&[("x-forwarded-proto", "HTTP")]), local));
        assert!(!guard.viewer_used_plain_http(&headers(&[("x-forwarded-proto", "http")]), stranger));
    }
}
