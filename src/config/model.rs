//! The configuration file's shape: serde structs with their defaults.
//!
//! Every struct denies unknown keys, so a typo is an error at startup instead of a silently
//! ignored setting. The defaults are the local-development setup that `cargo run` gives.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub use super::cache::CacheConfig;
pub use super::demo::DemoConfig;
pub use super::packaging::PackagingConfig;
pub use super::s3::{AccessDeniedAs, S3Config, S3Mount};
use crate::cache_control::{CacheRule, DEFAULT_VALUE, default_rules};
use crate::cors::CorsRule;

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The HTTPS listener and its limits.
    pub server: ServerConfig,
    /// Certificates and HSTS.
    pub tls: TlsConfig,
    /// The plain-HTTP listener.
    pub plain_http: PlainHttpConfig,
    /// Who may reach the origin: the CDN's secret header and peer addresses.
    pub access: AccessConfig,
    /// Where objects come from.
    pub storage: StorageConfig,
    /// Cross-origin rules and policy files.
    pub cors: CorsConfig,
    /// `Cache-Control` per path.
    pub cache_control: CacheControlConfig,
    /// Logging.
    pub log: LogConfig,
    /// The admin listener (metrics, probes).
    pub admin: AdminConfig,
    /// The demo player page.
    pub demo: DemoConfig,
    /// HLS and DASH packaged on the fly from MP4s.
    pub packaging: PackagingConfig,
}

/// The admin listener: `/metrics`, `/healthz`, `/readyz`, in plain HTTP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Serve it at all.
    pub enabled: bool,
    /// Its address; keep it private (loopback, or a port only the VPC reaches).
    pub listen: SocketAddr,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self { enabled: true, listen: SocketAddr::from(([127, 0, 0, 1], 9090)) }
    }
}

/// The HTTPS listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address of the HTTPS listener.
    pub listen: SocketAddr,
    /// Host (and port, if not 443) that clients use; redirects go there, never to the request's
    /// `Host` when this is set.
    pub public_host: Option<String>,
    /// Peers whose `X-Forwarded-Proto` is believed (load balancers in front of the origin).
    pub trusted_proxies: Vec<IpNet>,
    /// Connections served at once over the HTTPS and plain-HTTP listeners. Above it, connections
    /// are shed: a bounded overflow gets `503` with `Retry-After`, the rest are closed on accept.
    pub max_connections: usize,
    /// Time a client has to finish the TLS handshake.
    #[serde(with = "super::duration")]
    pub handshake_timeout: Duration,
    /// Time a client has to send a request's headers (HTTP/1.1), idle keep-alive included.
    #[serde(with = "super::duration")]
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed (HTTP/2 included). Keep
    /// it above the CDN's origin keep-alive timeout (CloudFront: 5 s by default, 60 s at most).
    #[serde(with = "super::duration")]
    pub idle_timeout: Duration,
    /// Time in-flight responses get to finish on shutdown before connections are closed: 25 s
    /// fits inside ECS's default 30 s stopTimeout, leaving time to exit.
    #[serde(with = "super::duration")]
    pub drain_timeout: Duration,
    /// A response whose client accepts no byte for this long is abandoned and its connection
    /// closed (nginx's `send_timeout`). A slow reader that takes any bytes is never cut.
    #[serde(with = "super::duration")]
    pub send_timeout: Duration,
    /// Time a connection has, after a refusal that ends it (no or a wrong CDN secret, a peer
    /// outside `access.allowed_cidrs`, a request body), to take the answer before it is closed.
    /// A client that keeps its receive window shut could otherwise hold the slot forever.
    #[serde(with = "super::duration")]
    pub refusal_timeout: Duration,
    /// Bytes all response bodies may hold at once: read from the store, not yet written to a
    /// socket. When it is spent, reads wait for room. Each body holds what its client takes in
    /// about a quarter of a second, between 16 KiB and 256 KiB twice over.
    pub body_buffer_bytes: usize,
    /// Cap on each accepted socket's kernel send buffer, in bytes (the kernel doubles it for
    /// bookkeeping); 0 leaves it to the kernel's autotuning.
    pub socket_send_buffer: usize,
    /// Most bytes the kernel keeps queued for a socket and not yet sent (`TCP_NOTSENT_LOWAT`);
    /// 0: no limit. What a slow reader's socket holds, whatever the send buffer.
    pub socket_unsent_bytes: u32,
    /// Largest request head (HTTP/1.1) or header list (HTTP/2), in bytes; beyond it, 431.
    pub max_header_bytes: usize,
    /// Most header fields in an HTTP/1.1 request; beyond it, 431.
    pub max_headers: usize,
    /// Concurrent streams per HTTP/2 connection.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2 streams a client may open and reset before the server has accepted them, before
    /// the connection is closed (the Rapid Reset attack, CVE-2023-44487).
    pub h2_max_pending_accept_reset_streams: usize,
    /// HTTP/2 streams the server may reset for a client's protocol errors on one connection
    /// before it closes the connection (the MadeYouReset attack, CVE-2025-8671).
    pub h2_max_local_error_reset_streams: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            public_host: None,
            trusted_proxies: Vec::new(),
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
            // hyper's header-read clock also runs while a keep-alive connection waits for its
            // next request, so this is the keep-alive timeout too: above CloudFront's longest
            // origin keep-alive (60 s), or CloudFront may reuse a connection as we close it.
            header_read_timeout: Duration::from_secs(65),
            idle_timeout: Duration::from_secs(75),
            drain_timeout: Duration::from_secs(25),
            // nginx's send_timeout: a minute of no progress is no viewer.
            send_timeout: Duration::from_secs(60),
            // A refusal is a few hundred bytes: a real client takes it in one round trip.
            refusal_timeout: Duration::from_secs(5),
            // A thousand full-speed bodies, or 16,000 slow ones (docs/resources.md).
            body_buffer_bytes: 256 * 1024 * 1024,
            // Enough for full speed at 1 Gbit/s up to a 4 ms round trip, CloudFront to an origin
            // in its region (docs/resources.md); autotuning would give every slow reader 4 MiB.
            socket_send_buffer: 256 * 1024,
            // Four TLS records: the next write is due when less than this is left to send, which
            // at 1 Gbit/s leaves half a millisecond to read and encrypt it.
            socket_unsent_bytes: 64 * 1024,
            // Video requests carry a few hundred bytes of headers; 64 KiB leaves room for long
            // cookies and signed URLs while bounding what a connection can make us buffer.
            max_header_bytes: 64 * 1024,
            // httparse's and nginx's order of magnitude; CloudFront sends a dozen.
            max_headers: 100,
            // RFC 9113 recommends at least 100; more lets one connection hold more of our memory.
            h2_max_concurrent_streams: 100,
            // The h2 crate's defaults, set here so they are visible and tunable.
            h2_max_pending_accept_reset_streams: 20,
            h2_max_local_error_reset_streams: 1024,
        }
    }
}

/// Certificates and HSTS.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM file with the certificate chain, leaf first. Unset: a development certificate.
    pub cert_chain: Option<PathBuf>,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key: Option<PathBuf>,
    /// Where the development CA and certificate are made on first start and reused after.
    pub dev_cert_dir: PathBuf,
    /// `Strict-Transport-Security` max-age; 0 sends no HSTS header.
    #[serde(with = "super::duration")]
    pub hsts_max_age: Duration,
    /// Adds `includeSubDomains` to HSTS.
    pub hsts_include_subdomains: bool,
    /// How often the certificate files are checked for a replacement; SIGHUP checks at once.
    #[serde(with = "super::duration")]
    pub reload_interval: Duration,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_chain: None,
            private_key: None,
            dev_cert_dir: PathBuf::from("certs"),
            hsts_max_age: Duration::from_secs(2 * 365 * 24 * 3600),
            hsts_include_subdomains: false,
            reload_interval: Duration::from_secs(10),
        }
    }
}

/// What the plain-HTTP listener (and a request the CDN received over HTTP) gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlainHttpMode {
    /// 301 to the same path over HTTPS (GET and HEAD; other methods get 403).
    Redirect,
    /// 403 with a short body.
    Reject,
    /// No plain-HTTP listener; CDN-reported plain HTTP is rejected.
    Off,
}

/// The plain-HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlainHttpConfig {
    /// Address of the plain-HTTP listener.
    pub listen: SocketAddr,
    /// `redirect`, `reject` or `off`.
    pub mode: PlainHttpMode,
}

impl Default for PlainHttpConfig {
    fn default() -> Self {
        Self { listen: SocketAddr::from(([127, 0, 0, 1], 8080)), mode: PlainHttpMode::Redirect }
    }
}

/// Who may reach the origin.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// The header the CDN adds to every origin request.
    pub header: String,
    /// Refuse to start without a secret (production configurations set this).
    pub required: bool,
    /// Accepted values of that header; several at once during a rotation. Empty: no check.
    pub secrets: Vec<Secret>,
    /// Peer networks allowed to connect; empty allows every peer.
    pub allowed_cidrs: Vec<IpNet>,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self { header: "X-Origin-Verify".into(), required: false, secrets: Vec::new(), allowed_cidrs: Vec::new() }
    }
}

/// A secret value: readable by the program, never printed by `Debug` or serialized.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for building the matcher.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.into())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

/// Which backend serves objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Files under `storage.root`.
    Local,
    /// Objects in S3 or an S3-compatible server, per `[storage.s3]`.
    S3,
}

/// Where objects come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// The backend.
    pub backend: Backend,
    /// Directory served by the local backend.
    pub root: PathBuf,
    /// The S3 backend.
    pub s3: S3Config,
    /// The cache in front of the S3 backend.
    pub cache: CacheConfig,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Local,
            root: PathBuf::from("media"),
            s3: S3Config::default(),
            cache: CacheConfig::default(),
        }
    }
}

/// Cross-origin rules, with the semantics of an S3 bucket's CORS configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Refuse (403) requests whose `Origin` no rule allows; off serves them without CORS headers.
    pub enforce: bool,
    /// An S3 CORS configuration file (XML or JSON) to load the rules from.
    pub rules_file: Option<PathBuf>,
    /// Rules written here; unset (and no `rules_file`): any origin may GET and HEAD.
    pub rules: Option<Vec<CorsRule>>,
    /// Serve `/crossdomain.xml` rendered from the rules.
    pub crossdomain_xml: bool,
    /// Serve `/clientaccesspolicy.xml` rendered from the rules.
    pub clientaccesspolicy_xml: bool,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self { enforce: true, rules_file: None, rules: None, crossdomain_xml: true, clientaccesspolicy_xml: true }
    }
}

/// The rules used when none are configured: any origin may read, as a public video bucket allows.
pub fn default_cors_rules() -> Vec<CorsRule> {
    vec![CorsRule {
        id: Some("default".into()),
        allowed_origins: vec!["*".into()],
        allowed_methods: vec!["GET".into(), "HEAD".into()],
        allowed_headers: vec!["*".into()],
        expose_headers: Vec::new(),
        max_age_seconds: Some(3000),
    }]
}

/// `Cache-Control` per path.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheControlConfig {
    /// Value for paths no rule matches.
    pub default: String,
    /// Rules, first match wins; unset: the built-in rules for playlists, segments and files.
    pub rules: Option<Vec<CacheRule>>,
}

impl Default for CacheControlConfig {
    fn default() -> Self {
        Self { default: DEFAULT_VALUE.into(), rules: None }
    }
}

impl CacheControlConfig {
    /// The rules in force.
    pub fn effective_rules(&self) -> Vec<CacheRule> {
        self.rules.clone().unwrap_or_else(default_rules)
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `vod_origin=debug,info`.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: "info".into(), format: LogFormat::Text }
    }
}
