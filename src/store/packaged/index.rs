//! The parsed index of each MP4 version: read with ranged reads of the wrapped store, parsed
//! once per (key, ETag), and kept in memory bounded by bytes.
//!
//! Finding the `moov` takes one read when it is at the start of the file (64 KiB, enough for
//! `ftyp` and a short film's `moov`), two or three when it is after the `mdat`; then one read of
//! the `moov` itself unless the first read held it. A file that cannot be packaged is kept too,
//! as its reason, so a bad file costs one parse per version, however often it is asked for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use crate::config::PackagingConfig;
use crate::key::ObjectKey;
use crate::package::{Limits, MediaIndex, MoovSearch, PackageError, Resource, Segmentation, find_moov};
use crate::plan::ByteRange;
use crate::store::{ObjectMeta, ObjectStore, StoreError};
use crate::telemetry;

/// The first read of a file: its `ftyp` and, with the `moov` at the start, most short films'
/// whole `moov`; nginx-vod-module reads 4 KiB first, and pays a second read more often.
const FIRST_READ: u64 = 64 * 1024;

/// A read that looks for the next top-level box after a skipped one (the `mdat`).
const NEXT_READ: u64 = 16 * 1024;

/// Top-level boxes looked at before giving up on finding a `moov` (nginx-vod-module: 4).
const MAX_SEARCH_READS: usize = 6;

/// What a refusal weighs in the cache: its reason and its key.
const REFUSAL_WEIGHT: u32 = 1024;

/// Indexes built at once, of different files (concurrent requests for one file share one
/// build). A build holds its `moov` whole while it parses, up to `packaging.max_moov_bytes`, so
/// this bounds that memory: 4 × 64 MiB at the defaults, though a two-hour film's is 6 MB. The
/// parse itself runs on the blocking pool; more builds at once would only queue there.
const MAX_CONCURRENT_BUILDS: usize = 4;

/// An MP4's index, the segments it is cut into with the configured duration, and the small
/// answers made from them once asked for.
pub struct Packaging {
    /// Tracks and their sample tables.
    pub index: MediaIndex,
    /// Where segments start and end.
    pub segmentation: Segmentation,
    /// Playlists, manifests and init segments as first made: a CDN asks for a VOD playlist
    /// again every few seconds per title being watched (its `max-age`), and a two-hour film's
    /// media playlist is 40 KB of text. A std Mutex: held for a lookup or an insert, never
    /// across an await. At most three answers a track and two for the file.
    generated: Mutex<HashMap<Resource, Bytes>>,
}

impl Packaging {
    fn new(index: MediaIndex, segmentation: Segmentation) -> Self {
        Self { index, segmentation, generated: Mutex::default() }
    }

    /// The answer for `resource` made by `make`, made once.
    pub fn generated(&self, resource: Resource, make: impl FnOnce() -> Option<Bytes>) -> Option<Bytes> {
        if let Some(bytes) = self.generated.lock().unwrap_or_else(|e| e.into_inner()).get(&resource) {
            return Some(bytes.clone());
        }
        let bytes = make()?;
        self.generated.lock().unwrap_or_else(|e| e.into_inner()).insert(resource, bytes.clone());
        Some(bytes)
    }

    /// The memory it holds, for the cache's weigher: the index, and as much again as a bound on
    /// the answers made from it (a playlist line per segment is far less than a segment's
    /// index entries).
    fn weight(&self) -> u32 {
        u32::try_from(self.index.heap_bytes().saturating_mul(2)).unwrap_or(u32::MAX)
    }
}

/// The cached outcome of one build: an index, or why there is none.
type Built = Result<Arc<Packaging>, Arc<str>>;

/// The cache of indexes, keyed by the MP4's key and ETag.
pub struct Indexes {
    cache: moka::future::Cache<(ObjectKey, http::HeaderValue), Built>,
    limits: Limits,
    segment_duration: Duration,
    builds: tokio::sync::Semaphore,
}

impl Indexes {
    pub fn new(config: &PackagingConfig) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(config.index_cache_bytes)
            .weigher(|_key, built: &Built| match built {
                Ok(packaging) => packaging.weight(),
                Err(_) => REFUSAL_WEIGHT,
            })
            .build();
        let limits = Limits { max_moov_bytes: config.max_moov_bytes, ..Limits::default() };
        let builds = tokio::sync::Semaphore::new(MAX_CONCURRENT_BUILDS);
        Self { cache, limits, segment_duration: config.segment_duration, builds }
    }

    /// The index of this version of `key`, built on first use; concurrent first uses build once.
    pub async fn get(
        &self,
        store: &dyn ObjectStore,
        key: &ObjectKey,
        meta: &ObjectMeta,
    ) -> Result<Arc<Packaging>, StoreError> {
        let cache_key = (key.clone(), meta.etag.clone());
        if let Some(built) = self.cache.get(&cache_key).await {
            metrics::counter!(telemetry::PACKAGING_INDEX_TOTAL, "result" => "hit").increment(1);
            return built.map_err(|_| StoreError::NotFound);
        }
        let built = self.cache.try_get_with(cache_key, self.build(store, key, meta)).await;
        // The new entry weighs once moka has admitted it.
        self.cache.run_pending_tasks().await;
        metrics::gauge!(telemetry::PACKAGING_INDEX_BYTES).set(self.cache.weighted_size() as f64);
        match built {
            Ok(Ok(packaging)) => Ok(packaging),
            Ok(Err(_)) => Err(StoreError::NotFound),
            Err(error) => Err(error.duplicate()),
        }
    }

    /// Reads and parses the index; a file that cannot be packaged is an `Ok(Err(reason))`, cached
    /// like an index, and the store's own faults are errors, not cached.
    async fn build(&self, store: &dyn ObjectStore, key: &ObjectKey, meta: &ObjectMeta) -> Result<Built, StoreError> {
        let _build = self.builds.acquire().await.map_err(|_| StoreError::internal("the build semaphore closed"))?;
        let started = Instant::now();
        let parsed = match read_moov(store, key, meta, &self.limits).await? {
            Ok(moov) => parse(moov, meta.len, self.limits, self.segment_duration).await?,
            Err(refusal) => Err(refusal),
        };
        metrics::histogram!(telemetry::PACKAGING_BUILD_SECONDS).record(started.elapsed().as_secs_f64());
        Ok(match parsed {
            Ok(packaging) => {
                metrics::counter!(telemetry::PACKAGING_INDEX_TOTAL, "result" => "built").increment(1);
                let samples: u64 = packaging.index.tracks.iter().map(|track| u64::from(track.sample_count())).sum();
                let index_bytes = packaging.index.heap_bytes();
                let build_ms = started.elapsed().as_millis() as u64;
                tracing::info!(key = %key, samples, index_bytes, build_ms, "packaging: index built");
                for skipped in &packaging.index.skipped {
                    tracing::info!(key = %key, skipped = %skipped, "packaging: a track is not packaged");
                }
                Ok(packaging)
            }
            Err(refusal) => {
                metrics::counter!(telemetry::PACKAGING_INDEX_TOTAL, "result" => "refused").increment(1);
                tracing::warn!(key = %key, reason = %refusal, "packaging: the file cannot be packaged");
                Err(Arc::from(refusal.to_string()))
            }
        })
    }
}

/// Parses on the blocking pool: a two-hour film's `moov` is megabytes of tables, milliseconds of
/// work that would otherwise hold a runtime thread and every connection on it.
async fn parse(
    moov: Bytes,
    file_len: u64,
    limits: Limits,
    segment_duration: Duration,
) -> Result<Result<Arc<Packaging>, PackageError>, StoreError> {
    tokio::task::spawn_blocking(move || {
        let index = MediaIndex::parse(&moov, file_len, &limits)?;
        let segmentation = Segmentation::new(&index, segment_duration);
        Ok(Arc::new(Packaging::new(index, segmentation)))
    })
    .await
    .map_err(|_| StoreError::internal("the index parse panicked"))
}

/// The whole `moov` box of this version of `key`, or why it cannot be had.
async fn read_moov(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    meta: &ObjectMeta,
    limits: &Limits,
) -> Result<Result<Bytes, PackageError>, StoreError> {
    let mut at = 0;
    let mut bytes = read(store, key, meta, 0, FIRST_READ).await?;
    for _ in 0..MAX_SEARCH_READS {
        match find_moov(at, &bytes, meta.len, limits) {
            Ok(MoovSearch::Found { offset, len }) => {
                let start = offset.saturating_sub(at);
                let end = start.saturating_add(len);
                if offset >= at && end <= bytes.len() as u64 {
                    return Ok(Ok(bytes.slice(start as usize..end as usize)));
                }
                return Ok(Ok(read(store, key, meta, offset, len).await?));
            }
            Ok(MoovSearch::ReadAt(next)) => {
                at = next;
                bytes = read(store, key, meta, next, NEXT_READ).await?;
            }
            Err(refusal) => return Ok(Err(refusal)),
        }
    }
    Ok(Err(PackageError::NoMoov))
}

/// Up to `len` bytes of the file from `offset` (fewer at its end), gathered into one buffer:
/// box headers and tables, never sample data.
async fn read(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    meta: &ObjectMeta,
    offset: u64,
    len: u64,
) -> Result<Bytes, StoreError> {
    let end = offset.saturating_add(len).min(meta.len);
    let Some(range) = ByteRange::new(offset, end) else { return Ok(Bytes::new()) };
    let mut chunks = store.get(key, meta, range).await?;
    let mut gathered = BytesMut::with_capacity(range.len() as usize);
    while let Some(chunk) = chunks.next().await {
        gathered.extend_from_slice(&chunk?);
    }
    Ok(gathered.freeze())
}
