//! The edge cache: a store that wraps another so that S3 sees each byte once, however many
//! viewers ask for it.
//!
//! Objects are read in aligned blocks of `storage.cache.block_size` and kept, keyed by object,
//! ETag and block index, in memory bounded by bytes; a client range is served as slices of the
//! cached blocks, with no copy. Concurrent misses on one block are one read of the inner store,
//! the block after a viewer's range is read ahead, and object metadata is kept for a few
//! seconds. Every range goes through the blocks, however long, unless `max_range` is set: a
//! slow viewer of a whole large file then holds slices of shared blocks, not an S3 connection
//! read at its pace, and the eviction rule keeps one long download from flushing the cache.
//!
//! `storage.cache.max_bytes` bounds all block memory, not only what the cache holds: three
//! quarters of it (less at least one block) is the cache, and the rest is room for blocks being
//! filled and for evicted blocks that responses are still sending. A miss that finds the whole
//! bound in use reads its range straight from the store (`bypass`), as without the cache.
//!
//! A cold block is sent to every request waiting on it as it arrives, in pieces (16 KiB, then
//! 256 KiB each): the first byte waits for the piece that holds it, not for the whole block.
//!
//! Split by role, as pingora-cache splits key, lock and eviction:
//!
//! - [`key`]: what names a block.
//! - [`blocks`]: which blocks a range touches and which part of each it takes.
//! - [`block`]: one block, as pieces a response can hold separately.
//! - [`budget`]: the reservations that bound all block memory.
//! - [`memory`]: the blocks memory keeps and the eviction rule (the one file to change it in).
//! - [`in_flight`]: the fills in progress, which collapse concurrent misses on a block.
//! - [`fill`]: the fill task, and how its waiters read the block as it arrives.
//! - [`find`]: the order a block is looked for in: memory, in flight, a new fill, or bypass.
//! - [`disk`]: the optional disk tier, read before S3 and written after it.
//! - [`metadata`]: HeadObject answers kept for the TTL.
//! - [`read_ahead`]: the bound on background prefetches.
//! - [`report`]: what a lookup found, reported to the metrics and the access log.

mod block;
mod blocks;
mod budget;
mod disk;
#[cfg(test)]
mod fake;
mod fill;
mod find;
mod in_flight;
mod key;
mod memory;
mod metadata;
mod read_ahead;
mod report;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;

use self::blocks::Blocks;
use self::disk::DiskTier;
use self::fill::{Filling, FillingPart};
use self::find::{Finder, Found};
use self::key::BlockKey;
use self::memory::Memory;
use self::metadata::MetadataCache;
use self::read_ahead::{Fetch, Prefetch, ReadAhead};
pub(in crate::store) use read_ahead::fetch_label;
pub use report::{CacheLookup, report_lookups};

use super::{ByteStream, ObjectMeta, ObjectStore, Opened, Prefetched, StoreError};
use crate::config::CacheConfig;
use crate::key::ObjectKey;
use crate::plan::{ByteRange, ReadHint};
use crate::telemetry;

/// A store in front of another, caching its blocks and metadata in memory.
#[derive(Clone)]
pub struct CachedStore {
    core: Arc<Core>,
}

/// What the store, its streams and its prefetches share.
struct Core {
    inner: Arc<dyn ObjectStore>,
    finder: Finder,
    metadata: MetadataCache,
    read_ahead: ReadAhead,
    block_size: u64,
    max_range: Option<u64>,
}

impl CachedStore {
    /// Wraps `inner` with the cache `config` describes (validated at load: a block size of at
    /// least 64 KiB, room for two blocks), opening its disk tier if it has one. The error says
    /// why the disk tier cannot be used.
    pub async fn new(inner: Arc<dyn ObjectStore>, config: &CacheConfig) -> Result<Self, String> {
        let disk = match &config.disk_dir {
            Some(dir) => Some(DiskTier::open(dir, config).await?),
            None => None,
        };
        let core = Core {
            inner,
            finder: Finder::new(Memory::new(config.max_bytes, config.block_size), disk),
            metadata: MetadataCache::new(config.metadata_ttl),
            read_ahead: ReadAhead::new(config.read_ahead_blocks),
            block_size: config.block_size.max(1),
            max_range: config.max_range,
        };
        let core = Arc::new(core);
        tokio::spawn(report_memory(Arc::downgrade(&core)));
        Ok(Self { core })
    }
}

/// Sets the memory gauges every second while the store lives (and each fill sets them as it
/// ends): off the request path, and current even when no request comes, as memory is given
/// back when responses finish.
async fn report_memory(core: Weak<Core>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let Some(core) = core.upgrade() else { return };
        core.finder.memory().report();
    }
}

/// What a request sends of one block.
enum Part {
    /// Slices of the cached block.
    Cached(Vec<Bytes>),
    /// Slices of a block being filled: those already arrived, and the rest as they come.
    Filling(Vec<Bytes>, FillingPart),
    /// The range read straight from the store: the cache had no room for the block.
    Direct(ByteStream),
}

impl Core {
    fn blocks(&self, meta: &ObjectMeta) -> Blocks {
        Blocks { size: self.block_size, object_len: meta.len }
    }

    /// Whether `range` is read straight from the inner store, uncached: only when the operator
    /// set `max_range` and the range is longer.
    fn streams_straight(&self, range: ByteRange) -> bool {
        self.max_range.is_some_and(|max| range.len() > max)
    }

    /// Block `index` of the version `meta` names: cached, being filled, or no room to fill it;
    /// `prefetched` is the fill of it the caller's prefetch found, if any.
    async fn block(
        &self,
        key: &ObjectKey,
        meta: &ObjectMeta,
        index: u64,
        prefetched: Option<Filling>,
    ) -> Result<Found, StoreError> {
        let extent = self.blocks(meta).extent(index).ok_or_else(|| StoreError::internal("block past the object"))?;
        let block_key = BlockKey { key: key.clone(), etag: meta.etag.clone(), index };
        self.finder.find(&self.inner, block_key, meta, extent, prefetched).await
    }

    /// `read` as it is, after forgetting the object's metadata if it found the object changed.
    async fn forget_if_changed<T>(&self, key: &ObjectKey, read: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(StoreError::Changed) = &read {
            self.metadata.invalidate(key).await;
        }
        read
    }

    /// What a request sends of block `index` for `range`, counted by how it was found. Waits
    /// for the part's first bytes, so that a store that fails before them gets a proper status.
    /// A read that finds the object changed forgets its metadata, so the pipeline's retry looks
    /// the new version up.
    async fn part(
        &self,
        key: &ObjectKey,
        meta: &ObjectMeta,
        index: u64,
        range: ByteRange,
        found: Result<Found, StoreError>,
    ) -> Result<(Part, CacheLookup), StoreError> {
        let part = match found {
            Ok(found) => self.part_of(key, meta, index, range, found).await,
            Err(error) => Err(error),
        };
        let part = self.forget_if_changed(key, part).await?;
        metrics::counter!(telemetry::CACHE_REQUESTS_TOTAL, "result" => part.1.as_str()).increment(1);
        Ok(part)
    }

    /// The bytes of `range` through the cache, its first block `found` already (a fill this
    /// request began) or looked up now. The first block is read before the response headers,
    /// so a store that fails gets a proper status instead of an aborted body.
    async fn respond(
        self: &Arc<Self>,
        key: &ObjectKey,
        meta: &ObjectMeta,
        range: ByteRange,
        found: Option<Found>,
    ) -> Result<ByteStream, StoreError> {
        let first = self.blocks(meta).touched(range).0;
        let found = match found {
            Some(found) => Ok(found),
            None => self.block(key, meta, first, None).await,
        };
        let (part, lookup) = self.part(key, meta, first, range, found).await?;
        report::report(lookup);
        Ok(serve(Arc::clone(self), key.clone(), meta.clone(), range, part))
    }

    /// What a request sends of block `index` for `range`, now that the block is `found`.
    async fn part_of(
        &self,
        key: &ObjectKey,
        meta: &ObjectMeta,
        index: u64,
        range: ByteRange,
        found: Found,
    ) -> Result<(Part, CacheLookup), StoreError> {
        let within = self.blocks(meta).within(index, range);
        Ok(match found {
            Found::Block(block) => (Part::Cached(block.slices(within)), CacheLookup::Hit),
            Found::Filling(filling, lookup) => {
                let mut rest = filling.part(within);
                let first = rest.next().await?.unwrap_or_default();
                (Part::Filling(first, rest), lookup)
            }
            Found::NoRoom => {
                let start = index * self.block_size;
                let direct = ByteRange::new(start + within.start as u64, start + within.end as u64)
                    .ok_or_else(|| StoreError::internal("empty part of a block"))?;
                (Part::Direct(self.inner.get(key, meta, direct).await?), CacheLookup::Bypass)
            }
        })
    }

    /// The metadata of `key` and, when it was not cached, the fill of the block holding the
    /// hint's first byte: one GetObject of that block answers both (one round trip for a cold
    /// object). The fill is this request's only if its GetObject was the one made; concurrent
    /// lookups of the same key wait for that answer and join the fill like any miss.
    async fn open(
        self: &Arc<Self>,
        key: &ObjectKey,
        hint: ReadHint,
    ) -> Result<(ObjectMeta, Option<Filling>), StoreError> {
        let Some(first) = hint.first_byte() else { return Ok((self.metadata.head(&self.inner, key).await?, None)) };
        // A hit (most requests) costs one lookup; only a miss builds the read that adopts a block.
        if let Some(answer) = self.metadata.fresh(key).await {
            return Ok((answer?, None));
        }
        let index = first / self.block_size;
        let block = ReadHint::Between(index * self.block_size, (index + 1) * self.block_size - 1);
        let (adopted, mut filling) = tokio::sync::oneshot::channel();
        let (core, owned) = (Arc::clone(self), key.clone());
        let fetch = async move {
            let Opened { meta, bytes } = core.inner.open(&owned, Some(block)).await?;
            if let Some(bytes) = bytes
                && let Some(filling) = core.adopt(&owned, &meta, bytes)
            {
                let _ = adopted.send(filling);
            }
            Ok(meta)
        };
        let meta = self.metadata.lookup(key, fetch).await?;
        Ok((meta, filling.try_recv().ok()))
    }

    /// Fills a block from bytes the store has already sent, when they are exactly one block.
    fn adopt(&self, key: &ObjectKey, meta: &ObjectMeta, bytes: Prefetched) -> Option<Filling> {
        let index = bytes.range.start() / self.block_size;
        let extent = self.blocks(meta).extent(index).filter(|extent| *extent == bytes.range)?;
        let block_key = BlockKey { key: key.clone(), etag: meta.etag.clone(), index };
        self.finder.adopt(&self.inner, block_key, meta, extent, bytes.chunks)
    }

    /// The response for `hint`'s bytes, starting with the block whose fill this request began.
    async fn serve_filling(
        self: &Arc<Self>,
        key: &ObjectKey,
        meta: &ObjectMeta,
        hint: ReadHint,
        filling: Filling,
    ) -> Result<Option<Prefetched>, StoreError> {
        let Some(range) = hint.resolve(meta.len).filter(|range| !self.streams_straight(*range)) else {
            return Ok(None);
        };
        let chunks = self.respond(key, meta, range, Some(Found::Filling(filling, CacheLookup::Miss))).await?;
        Ok(Some(Prefetched { range, chunks }))
    }

    /// Fetches block `index` in the background when it exists, is not cached, and a read-ahead
    /// permit is free; the caller holds the prefetch until it reaches the block.
    fn read_ahead(self: &Arc<Self>, key: &ObjectKey, meta: &ObjectMeta, index: u64) -> Option<Prefetch<Filling>> {
        if index >= self.blocks(meta).count() {
            return None;
        }
        let block_key = BlockKey { key: key.clone(), etag: meta.etag.clone(), index };
        if self.finder.contains(&block_key) {
            return None;
        }
        let permit = self.read_ahead.permit()?;
        let (found, prefetch) = Prefetch::new(index);
        let (this, key, meta) = (Arc::clone(self), key.clone(), meta.clone());
        tokio::spawn(Fetch::ReadAhead.scope(async move {
            // A failed prefetch was logged by the store, and one that found no room is simply
            // not done; the request that needs the block will try again and report it.
            if let Ok(Found::Filling(filling, _)) = this.block(&key, &meta, index, None).await {
                let _ = found.send(filling.clone());
                filling.finished().await;
            }
            drop(permit);
        }));
        Some(prefetch)
    }
}

impl ObjectStore for CachedStore {
    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectMeta, StoreError>> {
        Box::pin(self.core.metadata.head(&self.core.inner, key))
    }

    fn open<'a>(&'a self, key: &'a ObjectKey, hint: Option<ReadHint>) -> BoxFuture<'a, Result<Opened, StoreError>> {
        Box::pin(async move {
            let Some(hint) = hint else { return Ok(Opened { meta: self.head(key).await?, bytes: None }) };
            let (meta, filling) = self.core.open(key, hint).await?;
            let bytes = match filling {
                Some(filling) => self.core.serve_filling(key, &meta, hint, filling).await?,
                None => None,
            };
            Ok(Opened { meta, bytes })
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        meta: &'a ObjectMeta,
        range: ByteRange,
    ) -> BoxFuture<'a, Result<ByteStream, StoreError>> {
        Box::pin(async move {
            if self.core.streams_straight(range) {
                return self.core.forget_if_changed(key, self.core.inner.get(key, meta, range).await).await;
            }
            self.core.respond(key, meta, range, None).await
        })
    }

    fn warm_up(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.core.inner.warm_up()
    }
}

/// The bytes of `range` block by block, starting with the already-found `first` part. Each
/// later block is looked up when the client has taken the one before, and the block after the
/// one being sent is read ahead (the response holds that prefetch until it gets there). A
/// response holds only the slices it has yet to send.
fn serve(core: Arc<Core>, key: ObjectKey, meta: ObjectMeta, range: ByteRange, first: Part) -> ByteStream {
    ByteStream::new(async_stream::try_stream! {
        let (first_index, last_index) = core.blocks(&meta).touched(range);
        // One registry lookup per response; each slice is then an atomic add.
        let from_cache = metrics::counter!(telemetry::CACHE_BYTES_TOTAL, "source" => "cache");
        let bypassed = metrics::counter!(telemetry::CACHE_BYTES_TOTAL, "source" => "bypass");
        let (mut ready, mut prefetch) = (Some(first), None);
        for index in first_index..=last_index {
            let prefetched = prefetch.take().and_then(|prefetch: Prefetch<Filling>| prefetch.take(index));
            prefetch = core.read_ahead(&key, &meta, index + 1);
            let part = match ready.take() {
                Some(part) => part,
                None => {
                    let found = core.block(&key, &meta, index, prefetched).await;
                    core.part(&key, &meta, index, range, found).await?.0
                }
            };
            match part {
                Part::Cached(slices) => for slice in slices {
                    from_cache.increment(slice.len() as u64);
                    yield slice;
                },
                Part::Filling(first, mut rest) => {
                    let mut arrived = Some(first);
                    while let Some(slices) = arrived.take() {
                        for slice in slices {
                            from_cache.increment(slice.len() as u64);
                            yield slice;
                        }
                        arrived = core.forget_if_changed(&key, rest.next().await).await?;
                    }
                },
                Part::Direct(mut chunks) => while let Some(chunk) = chunks.next().await {
                    let chunk = core.forget_if_changed(&key, chunk).await?;
                    bypassed.increment(chunk.len() as u64);
                    yield chunk;
                },
            }
        }
    })
}
