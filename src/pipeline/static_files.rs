//! `/crossdomain.xml` and `/clientaccesspolicy.xml`, rendered once at startup from the CORS rules
//! and then served like any object (ranges, conditionals and HEAD included).

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderValue;
use sha2::{Digest, Sha256};

use crate::config::CorsConfig;
use crate::cors::{CorsRule, render_clientaccesspolicy_xml, render_crossdomain_xml};
use crate::store::ObjectMeta;

/// Policy files change only with the configuration, so caches may keep them for an hour.
const POLICY_CACHE_CONTROL: &str = "public, max-age=3600";

/// One rendered file.
#[derive(Debug)]
pub struct StaticFile {
    /// Its metadata (entity-tag from the content, so it is stable across restarts).
    pub meta: ObjectMeta,
    /// Its content.
    pub bytes: Bytes,
    /// Its `Cache-Control`.
    pub cache_control: HeaderValue,
}

/// The policy files that are switched on.
pub struct StaticFiles {
    crossdomain: Option<StaticFile>,
    clientaccesspolicy: Option<StaticFile>,
}

impl StaticFiles {
    /// Renders the files the configuration switches on (and warns only about those).
    pub fn new(config: &CorsConfig, rules: &[CorsRule]) -> Self {
        type Render = fn(&[CorsRule]) -> (Bytes, Vec<String>);
        let render = |enabled: bool, name: &str, render: Render, content_type: &'static str| {
            if !enabled {
                return None;
            }
            let (bytes, warnings) = render(rules);
            for warning in warnings {
                tracing::warn!("{name}: {warning}");
            }
            Some(file(bytes, content_type))
        };
        Self {
            crossdomain: render(
                config.crossdomain_xml,
                "crossdomain.xml",
                render_crossdomain_xml,
                "text/x-cross-domain-policy",
            ),
            clientaccesspolicy: render(
                config.clientaccesspolicy_xml,
                "clientaccesspolicy.xml",
                render_clientaccesspolicy_xml,
                "text/xml; charset=utf-8",
            ),
        }
    }

    /// The file served at `path`, if any.
    pub fn get(&self, path: &str) -> Option<&StaticFile> {
        match path {
            "/crossdomain.xml" => self.crossdomain.as_ref(),
            "/clientaccesspolicy.xml" => self.clientaccesspolicy.as_ref(),
            _ => None,
        }
    }
}

fn file(bytes: Bytes, content_type: &'static str) -> StaticFile {
    let digest = Sha256::digest(&bytes);
    let etag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    StaticFile {
        meta: ObjectMeta {
            len: bytes.len() as u64,
            etag: HeaderValue::try_from(format!("\"{etag}\"")).expect("hex is a valid header value"),
            last_modified: UNIX_EPOCH + std::time::Duration::from_secs(now.as_secs()),
            content_type: HeaderValue::from_static(content_type),
        },
        bytes,
        cache_control: HeaderValue::from_static(POLICY_CACHE_CONTROL),
    }
}
