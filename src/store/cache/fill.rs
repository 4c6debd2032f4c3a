//! The block cache proper: blocks held in a moka cache bounded by bytes, filled from the inner
//! store with concurrent misses collapsed into one read, each fill claiming its memory from the
//! budget first (and not starting when there is none).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use http::HeaderValue;
use moka::notification::RemovalCause;

use super::block::{Assembler, Block, PIECE_BYTES};
use super::budget::MemoryBudget;
use super::lookup::CacheLookup;
use crate::key::ObjectKey;
use crate::plan::ByteRange;
use crate::store::{ObjectMeta, ObjectStore, StoreError};
use crate::telemetry;

/// One block of one object version. The key is the request's object key, which names exactly
/// one bucket and S3 key for the lifetime of the store (the mounts are fixed at startup, and a
/// cache wraps one store), so blocks of two buckets never meet; the ETag pins the version, so
/// a replaced object's old blocks are never served for the new one and just age out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct BlockKey {
    pub key: ObjectKey,
    pub etag: HeaderValue,
    pub index: u64,
}

/// Blocks by key, bounded by the sum of their lengths.
pub(super) type BlockCache = moka::future::Cache<BlockKey, Block>;

/// A cache holding at most `max_bytes` of blocks (and the budget the rest of the block memory). moka's default admission policy (TinyLFU)
/// keeps a block read once, by a crawler or a single viewer, from pushing out popular ones.
pub(super) fn block_cache(max_bytes: u64) -> BlockCache {
    moka::future::Cache::builder()
        .max_capacity(max_bytes)
        // Blocks are at most 1 GiB (validated), so the weight always fits.
        .weigher(|_, block: &Block| u32::try_from(block.len()).unwrap_or(u32::MAX))
        // The counter is looked up at each eviction, not once here: the store is built before
        // the server installs the metrics recorder, and a handle taken earlier counts nowhere.
        .eviction_listener(|_, _, cause| {
            if cause == RemovalCause::Size {
                metrics::counter!(telemetry::CACHE_EVICTIONS_TOTAL).increment(1);
            }
        })
        .build()
}

/// What a block lookup found.
pub(super) enum Found {
    /// The block, and whether it was cached, fetched or waited for.
    Block(Block, CacheLookup),
    /// It was not cached and the memory budget had no room to fill it: the caller reads what
    /// it needs straight from the store.
    NoRoom,
}

/// Why a fill did not produce a block.
enum FillError {
    NoRoom,
    Store(StoreError),
}

/// The block `key`, from the cache or filled from `inner`, with how it was found. The fill and
/// the wait for it run in a task of their own, so a viewer who leaves or reads slowly never
/// cancels or stalls a fill other viewers wait for; a block whose viewers all left is still
/// finished and cached, within the store's own timeouts. Requests collapsed on a fill that
/// found no room are all told so, and each reads its own range from the store.
pub(super) async fn lookup(
    cache: &BlockCache,
    budget: &MemoryBudget,
    inner: &Arc<dyn ObjectStore>,
    key: BlockKey,
    meta: &ObjectMeta,
    extent: ByteRange,
) -> Result<Found, StoreError> {
    if let Some(block) = cache.get(&key).await {
        return Ok(Found::Block(block, CacheLookup::Hit));
    }
    let (cache, budget, inner, meta) = (cache.clone(), budget.clone(), Arc::clone(inner), meta.clone());
    let waiting = tokio::spawn(async move {
        let filled = AtomicBool::new(false);
        let object = key.key.clone();
        let init = async {
            filled.store(true, Ordering::Relaxed);
            fill(inner.as_ref(), &budget, &object, &meta, extent).await
        };
        let lookup = |filled: &AtomicBool| {
            if filled.load(Ordering::Relaxed) { CacheLookup::Miss } else { CacheLookup::Collapsed }
        };
        match cache.try_get_with(key, init).await {
            Ok(block) => Ok(Found::Block(block, lookup(&filled))),
            Err(failed) => match failed.as_ref() {
                FillError::NoRoom => Ok(Found::NoRoom),
                FillError::Store(error) => Err(error.duplicate()),
            },
        }
    });
    super::detached(waiting, "block fill").await
}

/// Reads `extent` of the version `meta` names into a block, once the budget has room for it.
async fn fill(
    inner: &dyn ObjectStore,
    budget: &MemoryBudget,
    key: &ObjectKey,
    meta: &ObjectMeta,
    extent: ByteRange,
) -> Result<Block, FillError> {
    let upstream = |text: String| FillError::Store(StoreError::Upstream(text));
    let len = usize::try_from(extent.len()).map_err(|_| upstream("block too large".into()))?;
    let reservation = budget.try_reserve(extent.len()).ok_or(FillError::NoRoom)?;
    let mut stream = inner.get(key, meta, extent).await.map_err(FillError::Store)?;
    let mut block = Assembler::new(len, PIECE_BYTES, reservation);
    let s3_bytes = metrics::counter!(telemetry::CACHE_BYTES_TOTAL, "source" => "s3");
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(FillError::Store)?;
        block.push(&chunk).map_err(|_| upstream("store sent more than the block".into()))?;
        s3_bytes.increment(chunk.len() as u64);
    }
    let received = block.received();
    block.finish().ok_or_else(|| upstream(format!("block ended after {received} of {len} bytes")))
}
