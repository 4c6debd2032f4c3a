//! HLS and DASH made on the fly from one MP4: a store that wraps another and answers the keys
//! under the packaging prefixes with playlists, manifests, init segments and media segments of
//! the MP4 they name, as objects with a length, an ETag and a modification time like any other.
//!
//! Because a packaged answer is an object, everything the pipeline does for objects holds for it
//! unchanged: ranges, conditionals, HEAD, CORS, `Cache-Control`, the access log. The MP4 itself
//! is read through the wrapped store: its `moov` once per version (`index`), its sample data
//! for each media segment as the wrapped store's own chunks (`body`, `reads`), never copied.
//!
//! `hls/<key>/master.m3u8` is the playlist of the MP4 at `<key>`; the grammar below a prefix is
//! `package::split`'s. A key under a prefix that names no packaged answer (another shape, or no
//! such MP4) is read from the store as it is.

mod body;
mod index;
mod reads;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::HeaderValue;
use sha2::{Digest, Sha256};

use super::{ByteStream, ObjectMeta, ObjectStore, Opened, Prefetched, StoreError};
use crate::config::PackagingConfig;
use crate::key::{ObjectKey, key_from_path};
use crate::package::{self, Resource};
use crate::plan::{ByteRange, ReadHint};
use crate::telemetry;

use self::index::Indexes;
pub use self::index::Packaging;

/// Changes whenever the bytes made from the same MP4 and settings change (a fix in the box
/// writer, a new playlist tag), so that the ETags change with them and no cache mixes versions.
const PACKAGER_VERSION: &str = "vod-origin packager 1";

/// Which protocol a prefix serves: each answers its own manifest and both the same segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Hls,
    Dash,
}

/// A store whose keys under the packaging prefixes are made from MP4s in the wrapped store.
pub struct PackagedStore {
    inner: Arc<dyn ObjectStore>,
    config: PackagingConfig,
    indexes: Indexes,
}

/// One packaged answer, resolved: the MP4 it is made from, at which version, and what of it.
struct Resolved {
    source: ObjectKey,
    source_meta: ObjectMeta,
    packaging: Arc<Packaging>,
    resource: Resource,
    meta: ObjectMeta,
}

impl PackagedStore {
    /// `inner` with packaging in front, as `config` says.
    pub fn new(inner: Arc<dyn ObjectStore>, config: &PackagingConfig) -> Self {
        Self { indexes: Indexes::new(config), inner, config: config.clone() }
    }

    /// The protocol and the rest of the key, when `key` is under a packaging prefix.
    fn split_prefix<'k>(&self, key: &'k ObjectKey) -> Option<(Protocol, &'k str)> {
        let (first, rest) = key.as_str().split_once('/')?;
        if first == self.config.hls_prefix {
            Some((Protocol::Hls, rest))
        } else if first == self.config.dash_prefix {
            Some((Protocol::Dash, rest))
        } else {
            None
        }
    }

    /// The packaged answer `key` names, at the MP4's current version. `None` when it names
    /// none: not the grammar below the prefix, or no such MP4; the key is then read from the
    /// store as it is, so a folder that happens to be named like a prefix keeps being served.
    /// `NotFound` for an MP4 that cannot be packaged (the reason is logged once per version,
    /// where the index is built), or a track or segment it does not have.
    async fn resolve(&self, protocol: Protocol, rest: &str) -> Result<Option<Resolved>, StoreError> {
        let Some((source, resource)) = package::split(rest) else { return Ok(None) };
        let allowed = match resource {
            Resource::Master | Resource::MediaPlaylist { .. } => protocol == Protocol::Hls,
            Resource::Mpd => protocol == Protocol::Dash,
            Resource::Init { .. } | Resource::Segment { .. } => true,
        };
        let Ok(source) = key_from_path(&format!("/{source}")) else { return Ok(None) };
        if !allowed {
            return Ok(None);
        }
        let source_meta = match self.inner.head(&source).await {
            Err(StoreError::NotFound) => return Ok(None),
            found => found?,
        };
        let packaging = self.indexes.get(&*self.inner, &source, &source_meta).await?;
        let len = body::len(&packaging, resource).ok_or(StoreError::NotFound)?;
        let meta = ObjectMeta {
            len,
            etag: etag(&source_meta, &self.config, rest),
            last_modified: source_meta.last_modified,
            content_type: HeaderValue::from_static(resource.content_type()),
        };
        Ok(Some(Resolved { source, source_meta, packaging, resource, meta }))
    }

    /// The bytes `range` of a resolved answer.
    async fn bytes(&self, resolved: &Resolved, range: ByteRange) -> Result<ByteStream, StoreError> {
        body::open(&self.inner, &resolved.source, &resolved.source_meta, &resolved.packaging, resolved.resource, range)
            .await
    }
}

/// A strong entity-tag for a packaged answer: it changes with the MP4's version, the settings
/// that shape the answer and the packager's own version, and differs between answers.
fn etag(source: &ObjectMeta, config: &PackagingConfig, resource: &str) -> HeaderValue {
    let mut digest = Sha256::new();
    for part in [PACKAGER_VERSION.as_bytes(), source.etag.as_bytes(), resource.as_bytes()] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part);
    }
    digest.update(config.segment_duration.as_millis().to_be_bytes());
    let hex: String = digest.finalize()[..16].iter().map(|byte| format!("{byte:02x}")).collect();
    HeaderValue::try_from(format!("\"{hex}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// Counts an answer by its kind, once per request (at `open`, which every request makes once).
fn count(resource: Resource) {
    let kind = match resource {
        Resource::Master | Resource::Mpd | Resource::MediaPlaylist { .. } => "playlist",
        Resource::Init { .. } => "init",
        Resource::Segment { .. } => "media",
    };
    metrics::counter!(telemetry::PACKAGING_REQUESTS_TOTAL, "kind" => kind).increment(1);
}

impl ObjectStore for PackagedStore {
    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectMeta, StoreError>> {
        let Some((protocol, rest)) = self.split_prefix(key) else { return self.inner.head(key) };
        Box::pin(async move {
            match self.resolve(protocol, rest).await? {
                Some(resolved) => Ok(resolved.meta),
                None => self.inner.head(key).await,
            }
        })
    }

    fn open<'a>(&'a self, key: &'a ObjectKey, hint: Option<ReadHint>) -> BoxFuture<'a, Result<Opened, StoreError>> {
        let Some((protocol, rest)) = self.split_prefix(key) else { return self.inner.open(key, hint) };
        Box::pin(async move {
            let Some(resolved) = self.resolve(protocol, rest).await? else { return self.inner.open(key, hint).await };
            count(resolved.resource);
            let bytes = match hint.and_then(|hint| hint.resolve(resolved.meta.len)) {
                Some(range) => Some(Prefetched { range, chunks: self.bytes(&resolved, range).await? }),
                None => None,
            };
            Ok(Opened { meta: resolved.meta, bytes })
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        meta: &'a ObjectMeta,
        range: ByteRange,
    ) -> BoxFuture<'a, Result<ByteStream, StoreError>> {
        let Some((protocol, rest)) = self.split_prefix(key) else { return self.inner.get(key, meta, range) };
        Box::pin(async move {
            let Some(resolved) = self.resolve(protocol, rest).await? else {
                return self.inner.get(key, meta, range).await;
            };
            // Another version of the MP4 since `meta` was read: its answer would mix versions.
            if resolved.meta.etag != meta.etag || resolved.meta.len != meta.len {
                return Err(StoreError::Changed);
            }
            self.bytes(&resolved, range).await
        })
    }

    fn warm_up(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.warm_up()
    }
}
