//! Where objects come from, behind one small trait so the HTTP pipeline never knows the backend.
//!
//! A store answers two questions: what is the current version of this object ([`ObjectMeta`]),
//! and give me these bytes of exactly that version ([`ObjectStore::get`]). Everything the origin
//! decides about ranges and preconditions happens between the two calls, on the metadata alone.
//! The S3 backend is wrapped in [`CachedStore`], which keeps its blocks and metadata in memory.

mod cache;
mod local;
mod s3;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::BoxFuture;
use http::{HeaderValue, StatusCode};

pub use cache::{CacheLookup, CachedStore, report_lookups};
pub use local::{CHUNK_BYTES, LocalStore};
pub use s3::{S3Store, StaticCredentials};
// The S3 mount table, compiled from the configuration at startup: reached by the fuzzing entry
// for the configuration, which runs every startup check that needs no network.
pub(crate) use s3::Mounts;

use crate::key::ObjectKey;
use crate::plan::{ByteRange, Validators};

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

/// A source of objects.
///
/// The futures are boxed: one allocation per request is nothing next to the I/O behind it, and it
/// keeps the trait object-safe so backends can be chosen at startup.
pub trait ObjectStore: Send + Sync + 'static {
    /// The current version's metadata. `NotFound` when there is no such object.
    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectMeta, StoreError>>;

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

/// Why a store could not answer. The HTTP status is decided here, once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// There is no such object (or its existence is not revealed).
    #[error("no such object")]
    NotFound,
    /// The object changed since its metadata was read.
    #[error("object changed while being read")]
    Changed,
    /// The store refuses access (and the configuration says to tell the client).
    #[error("access denied")]
    Forbidden,
    /// The store asks us to slow down.
    #[error("store unavailable")]
    Unavailable {
        /// Seconds the client is asked to wait.
        retry_after_secs: u32,
    },
    /// The store did not answer in time.
    #[error("store timed out")]
    Timeout,
    /// The store answered with something we cannot serve. The text is for logs only.
    #[error("upstream failure: {0}")]
    Upstream(String),
    /// A local I/O failure.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// One of the origin's own invariants failed: a bug here, never the store's fault. Made
    /// with [`StoreError::internal`], which logs it at `error`.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl StoreError {
    /// The status a client sees when this error happens before the response headers.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            // Only reached when the object keeps changing while the request is retried: the
            // client asked for nothing conditional, so it is told to come back.
            Self::Changed => StatusCode::SERVICE_UNAVAILABLE,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Io(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// An invariant of the origin's own that failed, logged at `error` where it is found: the
    /// client sees a 500, not a 502 that would blame the store.
    pub fn internal(what: &'static str) -> Self {
        tracing::error!(what, "internal invariant failed");
        Self::Internal(what)
    }

    /// The same error again, for each request that waited on one shared call (the edge cache's
    /// collapsed fills): not `Clone`, since it may hold an `io::Error`, but every waiter must see
    /// the kind and status the call met (a 404 stays a 404, a `Changed` is retried, a `SlowDown`
    /// keeps its `Retry-After`).
    pub fn duplicate(&self) -> Self {
        match self {
            Self::NotFound => Self::NotFound,
            Self::Changed => Self::Changed,
            Self::Forbidden => Self::Forbidden,
            Self::Unavailable { retry_after_secs } => Self::Unavailable { retry_after_secs: *retry_after_secs },
            Self::Timeout => Self::Timeout,
            Self::Upstream(text) => Self::Upstream(text.clone()),
            Self::Io(io) => Self::Io(std::io::Error::new(io.kind(), io.to_string())),
            Self::Internal(what) => Self::Internal(what),
        }
    }

    /// A short name for logs and metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Changed => "changed",
            Self::Forbidden => "forbidden",
            Self::Unavailable { .. } => "unavailable",
            Self::Timeout => "timeout",
            Self::Upstream(_) => "upstream_error",
            Self::Io(_) => "io_error",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The fixed body a client sees.
    pub(crate) fn client_message(&self) -> &'static str {
        match self {
            Self::NotFound => "Not found\n",
            Self::Changed => "Object being replaced, retry\n",
            Self::Forbidden => "Forbidden\n",
            Self::Unavailable { .. } => "Service unavailable\n",
            Self::Timeout => "Gateway timeout\n",
            Self::Upstream(_) => "Bad gateway\n",
            Self::Io(_) | Self::Internal(_) => "Internal server error\n",
        }
    }
}

/// Opens the backend the configuration names.
pub async fn from_config(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_error_keeps_its_kind_and_status() {
        let errors = [
            StoreError::NotFound,
            StoreError::Changed,
            StoreError::Forbidden,
            StoreError::Unavailable { retry_after_secs: 7 },
            StoreError::Timeout,
            StoreError::Upstream("x".into()),
            StoreError::Io(std::io::Error::new(std::io::ErrorKind::PermissionDenied, "no")),
            StoreError::Internal("x"),
        ];
        for error in errors {
            let again = error.duplicate();
            assert_eq!((again.kind(), again.status()), (error.kind(), error.status()));
            assert_eq!(again.to_string(), error.to_string());
        }
        let StoreError::Unavailable { retry_after_secs } = StoreError::Unavailable { retry_after_secs: 7 }.duplicate()
        else {
            unreachable!()
        };
        assert_eq!(retry_after_secs, 7);
    }

    #[test]
    fn our_own_failures_are_500_not_the_stores_502() {
        assert_eq!(StoreError::internal("block past the object").status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(StoreError::Upstream("S3 body broke".into()).status(), StatusCode::BAD_GATEWAY);
    }
}
