//! The edge cache: a store that wraps another so that S3 sees each byte once, however many
//! viewers ask for it.
//!
//! Objects are read in aligned blocks of `storage.cache.block_size` and kept, keyed by object,
//! ETag and block index, in memory bounded by bytes; a client range is served as slices of the
//! cached blocks, with no copy. Concurrent misses on one block are one read of the inner store,
//! the block after a viewer's range is read ahead, and object metadata is kept for a few
//! seconds. Ranges too large to cache stream straight through the inner store, as uncached.
//!
//! Known limitation: a request for a cold block waits for the whole block before its first
//! byte (8 MiB at S3's 50-100 MB/s per connection is roughly 100-200 ms). The alternative is
//! to stream the fill to its waiters as it arrives (a broadcast of chunks beside the cache),
//! at the cost of a second path for partially filled blocks; `docs/cache.md` has the numbers.
//!
//! - [`blocks`]: which blocks a range touches and which part of each it takes.
//! - [`fill`]: the block cache, and collapsed fills from the inner store.
//! - [`metadata`]: HeadObject answers kept for the TTL.
//! - [`read_ahead`]: the bound on background prefetches.
//! - [`lookup`]: what a lookup found, for metrics and the access log.

mod blocks;
mod fill;
mod lookup;
mod metadata;
mod read_ahead;

use std::sync::Arc;

use futures_util::future::BoxFuture;

use self::blocks::{Blocks, FRAME_BYTES, frames};
use self::fill::{BlockCache, BlockKey};
use self::metadata::MetadataCache;
use self::read_ahead::ReadAhead;
pub use lookup::{CacheLookup, report_lookups};

use super::{ByteStream, ObjectMeta, ObjectStore, StoreError};
use crate::config::CacheConfig;
use crate::key::ObjectKey;
use crate::plan::ByteRange;
use crate::telemetry;

/// A store in front of another, caching its blocks and metadata in memory.
#[derive(Clone)]
pub struct CachedStore {
    shared: Arc<Shared>,
}

/// What the store, its streams and its prefetches share.
struct Shared {
    inner: Arc<dyn ObjectStore>,
    blocks: BlockCache,
    metadata: MetadataCache,
    read_ahead: ReadAhead,
    block_size: u64,
    max_range: u64,
}

impl CachedStore {
    /// Wraps `inner` with the cache `config` describes (validated at load: a block size of at
    /// least 64 KiB, room for one block).
    pub fn new(inner: Arc<dyn ObjectStore>, config: &CacheConfig) -> Self {
        let shared = Shared {
            inner,
            blocks: fill::block_cache(config.max_bytes),
            metadata: MetadataCache::new(config.metadata_ttl),
            read_ahead: ReadAhead::new(config.read_ahead_blocks),
            block_size: config.block_size.max(1),
            max_range: config.max_range,
        };
        Self { shared: Arc::new(shared) }
    }
}

impl Shared {
    fn blocks(&self, meta: &ObjectMeta) -> Blocks {
        Blocks { size: self.block_size, object_len: meta.len }
    }

    /// Block `index` of the version `meta` names. A block read that finds the object changed
    /// forgets its metadata, so the pipeline's retry looks the new version up.
    async fn block(
        &self,
        key: &ObjectKey,
        meta: &ObjectMeta,
        index: u64,
    ) -> Result<(bytes::Bytes, CacheLookup), StoreError> {
        let extent = self.blocks(meta).extent(index).ok_or(StoreError::Upstream("block past the object".into()))?;
        let block_key = BlockKey { key: key.clone(), etag: meta.etag.clone(), index };
        let found = fill::lookup(&self.blocks, &self.inner, block_key, meta, extent).await;
        if let Err(StoreError::Changed) = &found {
            self.metadata.invalidate(key).await;
        }
        metrics::gauge!(telemetry::CACHE_SIZE_BYTES).set(self.blocks.weighted_size() as f64);
        found
    }

    /// A block a request serves: counted by how it was found.
    async fn block_for_request(
        &self,
        key: &ObjectKey,
        meta: &ObjectMeta,
        index: u64,
    ) -> Result<(bytes::Bytes, CacheLookup), StoreError> {
        let found = self.block(key, meta, index).await?;
        metrics::counter!(telemetry::CACHE_REQUESTS_TOTAL, "result" => found.1.as_str()).increment(1);
        Ok(found)
    }

    /// Fetches block `index` in the background when it exists, is not cached, and a read-ahead
    /// permit is free.
    fn read_ahead(self: &Arc<Self>, key: &ObjectKey, meta: &ObjectMeta, index: u64) {
        if index >= self.blocks(meta).count() {
            return;
        }
        let block_key = BlockKey { key: key.clone(), etag: meta.etag.clone(), index };
        if self.blocks.contains_key(&block_key) {
            return;
        }
        let Some(permit) = self.read_ahead.permit() else { return };
        let (this, key, meta) = (Arc::clone(self), key.clone(), meta.clone());
        tokio::spawn(async move {
            // A failed prefetch was logged by the store; the request that needs the block
            // will try again and report it.
            let _ = this.block(&key, &meta, index).await;
            drop(permit);
        });
    }
}

impl ObjectStore for CachedStore {
    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectMeta, StoreError>> {
        Box::pin(self.shared.metadata.head(&self.shared.inner, key))
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        meta: &'a ObjectMeta,
        range: ByteRange,
    ) -> BoxFuture<'a, Result<ByteStream, StoreError>> {
        Box::pin(async move {
            if range.len() > self.shared.max_range {
                return self.shared.inner.get(key, meta, range).await;
            }
            let (first, _) = self.shared.blocks(meta).touched(range);
            // The first block is read before the response headers, so a store that fails gets
            // a proper status instead of an aborted body.
            let (block, lookup) = self.shared.block_for_request(key, meta, first).await?;
            lookup::report(lookup);
            Ok(serve(Arc::clone(&self.shared), key.clone(), meta.clone(), range, block))
        })
    }

    fn warm_up(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.shared.inner.warm_up()
    }
}

/// Awaits a lookup running in a task of its own (fills and metadata lookups: a viewer who
/// leaves must not cancel what others wait for), as the store error it ended with.
async fn detached<T>(task: tokio::task::JoinHandle<Result<T, StoreError>>, what: &str) -> Result<T, StoreError> {
    task.await.map_err(|e| StoreError::Upstream(format!("{what} task failed: {e}")))?
}

/// The bytes of `range` as slices of its blocks, starting with the already-read `first` block.
/// Each later block is looked up when the client has taken the one before, and the block after
/// the one being sent is read ahead.
fn serve(shared: Arc<Shared>, key: ObjectKey, meta: ObjectMeta, range: ByteRange, first: bytes::Bytes) -> ByteStream {
    Box::pin(async_stream::try_stream! {
        let blocks = shared.blocks(&meta);
        let (first_index, last_index) = blocks.touched(range);
        // One registry lookup per response; each slice is then an atomic add.
        let served = metrics::counter!(telemetry::CACHE_BYTES_TOTAL, "source" => "cache");
        let mut ready = Some(first);
        for index in first_index..=last_index {
            shared.read_ahead(&key, &meta, index + 1);
            let block = match ready.take() {
                Some(block) => block,
                None => shared.block_for_request(&key, &meta, index).await?.0,
            };
            for slice in frames(&block, blocks.within(index, range), FRAME_BYTES) {
                served.increment(slice.len() as u64);
                yield slice;
            }
        }
    })
}
