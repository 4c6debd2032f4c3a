//! The `[demo]` section: the demo player page, on an HTTPS listener of its own, and what the
//! built-in defaults (no configuration file: `cargo run`) set for it.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::Serialized;
use serde::{Deserialize, Serialize};

use crate::cors::CorsRule;

/// The demo player page (`demo/`): the sample played as HLS and as MP4 beside a live table of
/// the requests the players make. It is served from another port than `server.listen`, so those
/// requests are cross-origin and the CORS headers show. Off unless `listen` is set; the built-in
/// defaults set it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Address of the demo listener (HTTPS, same certificate). Unset: no demo.
    pub listen: Option<SocketAddr>,
    /// The folder with the page and the player it loads.
    pub root: PathBuf,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self { listen: None, root: PathBuf::from("demo") }
    }
}

/// Where the built-in defaults serve the demo.
pub const DEVELOPMENT_LISTEN: &str = "127.0.0.1:8444";

/// The built-in defaults beyond the structs' own, for a run without a configuration file: the
/// demo listener, the development CORS rules, and no `crossdomain.xml` or
/// `clientaccesspolicy.xml` (Flash's and Silverlight's policies cannot say "any port").
pub fn development(figment: Figment) -> Figment {
    figment
        .merge(Serialized::default("demo.listen", DEVELOPMENT_LISTEN))
        .merge(Serialized::default("cors.rules", development_cors_rules()))
        .merge(Serialized::default("cors.crossdomain_xml", false))
        .merge(Serialized::default("cors.clientaccesspolicy_xml", false))
}

/// The CORS rules of the built-in defaults: pages served from `localhost`, on any port, may GET
/// and HEAD; other origins are refused. The demo page opened as `https://127.0.0.1:8444/` is
/// such an origin, which shows what a refusal looks like in a browser.
pub fn development_cors_rules() -> Vec<CorsRule> {
    vec![CorsRule {
        id: Some("development: pages served from localhost".into()),
        allowed_origins: vec!["https://localhost:*".into(), "http://localhost:*".into()],
        allowed_methods: vec!["GET".into(), "HEAD".into()],
        allowed_headers: vec!["*".into()],
        expose_headers: ["Cache-Control", "Vary", "Age", "Access-Control-Allow-Origin", "X-Cache"]
            .map(String::from)
            .to_vec(),
        max_age_seconds: Some(3000),
    }]
}
