//! Where objects come from, behind one small trait so the HTTP pipeline never knows the backend.
//!
//! A store answers two questions: what is the current version of this object ([`ObjectMeta`]),
//! and give me these bytes of exactly that version ([`ObjectStore::get`]). Everything the origin
//! decides about ranges and preconditions happens between the two calls, on the metadata alone.
//! The S3 backend is wrapped in [`CachedStore`], which keeps its blocks and metadata in memory;
//! either backend in [`PackagedStore`], which answers HLS and DASH made from its MP4s.

mod cache;
mod error;
mod local;
mod packaged;
mod s3;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::BoxFuture;
use http::HeaderValue;

pub use cache::{CacheLookup, CachedStore, report_lookups};
pub use error::{StoreError, StoreFault};
pub use local::{CHUNK_BYTES, LocalStore};
pub use packaged::PackagedStore;
pub use s3::{S3Store, StaticCredentials};
// The S3 mount table, compiled from the configuration at startup: reached by the fuzzing entry
// for the configuration, which runs every startup check that needs no network.
pub(crate) use s3::Mounts;

use crate::key::ObjectKey;
use crate::plan::{ByteRange, ReadHint, Validators};

/// The chunks of one ranged read, in order. Each chunk is a `Bytes` handed to hyper as is.
///
/// A store that reads into fresh memory (the local folder) sizes each read by the stream's
/// [`ChunkLimit`], which the response body sets from its client's pace: a slow or stalled client
/// then holds small chunks instead of full-size ones. Stores whose chunks come as they come (S3,
/// slices of cached blocks) ignore it; the body splits what is larger.
pub struct ByteStream {
    chunks: Pin<Box<dyn Stream<Item = Result<Bytes, StoreError>> + Send>>,
    limit: Option<ChunkLimit>,
}

/// The most bytes the next read of a [`ByteStream`] should take; 0 leaves it to the store.
#[derive(Debug, Clone, Default)]
pub struct ChunkLimit(Arc<AtomicUsize>);

impl ChunkLimit {
    /// The limit, or `default` when none is set.
    pub fn get_or(&self, default: usize) -> usize {
        match self.0.load(Ordering::Relaxed) {
            0 => default,
            limit => limit.min(default),
        }
    }

    fn set(&self, limit: usize) {
        self.0.store(limit, Ordering::Relaxed);
    }
}

impl ByteStream {
    /// Chunks whose sizes the store decides.
    pub fn new(chunks: impl Stream<Item = Result<Bytes, StoreError>> + Send + 'static) -> Self {
        Self { chunks: Box::pin(chunks), limit: None }
    }

    /// Chunks read `limit.get_or(..)` bytes at a time; `limit` is the stream's [`ChunkLimit`].
    pub fn sized(limit: ChunkLimit, chunks: impl Stream<Item = Result<Bytes, StoreError>> + Send + 'static) -> Self {
        Self { chunks: Box::pin(chunks), limit: Some(limit) }
    }

    /// Asks the store to read at most `bytes` for the next chunk, if it reads at all.
    pub fn limit_next_chunk(&self, bytes: usize) {
        if let Some(limit) = &self.limit {
            limit.set(bytes);
        }
    }
}

impl Stream for ByteStream {
    type Item = Result<Bytes, StoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.chunks.as_mut().poll_next(cx)
    }
}

/// What the origin knows about one version of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Length in bytes.
    pub len: u64,
    /// Strong entity-tag, quoted, as sent in `ETag`.
    pub etag: HeaderValue,
    /// Modification time, truncated to whole seconds (HTTP dates have no finer resolution).
    pub last_modified: SystemTime,
    /// `Content-Type` of the whole object.
    pub content_type: HeaderValue,
}

impl ObjectMeta {
    /// The validators the request planner compares preconditions against.
    pub fn validators(&self) -> Validators<'_> {
        Validators {
            // Entity-tags are built by the stores from ASCII, so this never falls back.
            etag: self.etag.to_str().unwrap_or_default(),
            last_modified: self.last_modified,
        }
    }
}

/// What [`ObjectStore::open`] found.
pub struct Opened {
    /// The current version.
    pub meta: ObjectMeta,
    /// Bytes of that version read along with it, if the store did.
    pub bytes: Option<Prefetched>,
}

/// Bytes of an object read before the answer was planned.
pub struct Prefetched {
    /// Which bytes.
    pub range: ByteRange,
    /// The bytes, not yet read from the store's connection.
    pub chunks: ByteStream,
}

/// A source of objects.
///
/// The futures are boxed: one allocation per request is nothing next to the I/O behind it, and it
/// keeps the trait object-safe so backends can be chosen at startup.
pub trait ObjectStore: Send + Sync + 'static {
    /// The current version's metadata. `NotFound` when there is no such object.
    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectMeta, StoreError>>;

    /// The current version's metadata and, when the store can answer both with one call, the
    /// bytes `hint` names, of that same version: S3 answers a ranged GetObject with the
    /// object's length, ETag and dates, one round trip where HeadObject then GetObject are two.
    /// A store may always answer with the metadata alone; by default it does, with `head`.
    fn open<'a>(&'a self, key: &'a ObjectKey, hint: Option<ReadHint>) -> BoxFuture<'a, Result<Opened, StoreError>> {
        let _ = hint;
        Box::pin(async move { Ok(Opened { meta: self.head(key).await?, bytes: None }) })
    }

    /// The bytes of `range` of exactly the version `meta` describes. A store that finds a different
    /// version answers `Changed`, before or during the stream, and never mixes versions.
    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        meta: &'a ObjectMeta,
        range: ByteRange,
    ) -> BoxFuture<'a, Result<ByteStream, StoreError>>;

    /// Makes a first call to the backend (opening connections, checking credentials). The
    /// server is ready once this succeeds; it is retried until then.
    fn warm_up(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Opens the backend the configuration names, behind on-the-fly packaging when it is enabled.
pub async fn from_config(
    loaded: &crate::config::LoadedConfig,
) -> Result<std::sync::Arc<dyn ObjectStore>, crate::config::ConfigError> {
    let store = backend(loaded).await?;
    Ok(packaged(loaded, store))
}

/// The backend alone: the local folder, or S3 behind the edge cache.
async fn backend(
    loaded: &crate::config::LoadedConfig,
) -> Result<std::sync::Arc<dyn ObjectStore>, crate::config::ConfigError> {
    let storage = &loaded.config.storage;
    match storage.backend {
        crate::config::Backend::S3 => cached(loaded, std::sync::Arc::new(S3Store::new(loaded, None).await?)).await,
        crate::config::Backend::Local => {
            let store = LocalStore::new(&storage.root)
                .map_err(|e| loaded.error("storage.root", format!("cannot serve {}: {e}", storage.root.display())))?;
            if !store.root().is_dir() {
                return Err(loaded.error("storage.root", format!("{} is not a directory", storage.root.display())));
            }
            Ok(std::sync::Arc::new(store))
        }
    }
}

/// `store` behind on-the-fly packaging when `packaging.enabled`, or as it is. Packaging goes in
/// front of the edge cache, so an MP4's index and samples are read through its blocks.
pub fn packaged(
    loaded: &crate::config::LoadedConfig,
    store: std::sync::Arc<dyn ObjectStore>,
) -> std::sync::Arc<dyn ObjectStore> {
    let packaging = &loaded.config.packaging;
    if !packaging.enabled {
        return store;
    }
    std::sync::Arc::new(PackagedStore::new(store, packaging))
}

/// `s3` behind the edge cache when `storage.cache.enabled`, or as it is. Only the S3 backend is
/// ever cached: the local backend's files are already in the operating system's page cache, and
/// a second copy in the origin's memory would only take memory from it.
pub async fn cached(
    loaded: &crate::config::LoadedConfig,
    s3: std::sync::Arc<dyn ObjectStore>,
) -> Result<std::sync::Arc<dyn ObjectStore>, crate::config::ConfigError> {
    let cache = &loaded.config.storage.cache;
    if !cache.enabled {
        return Ok(s3);
    }
    let store = CachedStore::new(s3, cache).await.map_err(|reason| loaded.error("storage.cache.disk_dir", reason))?;
    Ok(std::sync::Arc::new(store))
}
