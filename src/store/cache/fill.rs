//! The block cache proper: blocks held in a moka cache bounded by bytes, filled from the inner
//! store with concurrent misses collapsed into one read.
//!
//! A block is assembled into one contiguous buffer as its chunks arrive: one copy per block
//! fill, never per request (an 8 MiB copy takes about a millisecond, next to tens of
//! milliseconds to download it). Keeping the store's chunks instead would save that copy but
//! pin whatever larger buffers the HTTP client split them from, so the byte bound would lie;
//! one buffer weighs exactly its length, and every client range is then a `Bytes::slice` of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::HeaderValue;
use moka::notification::RemovalCause;

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
pub(super) type BlockCache = moka::future::Cache<BlockKey, Bytes>;

/// A cache holding at most `max_bytes` of blocks. moka's default admission policy (TinyLFU)
/// keeps a block read once, by a crawler or a single viewer, from pushing out popular ones.
pub(super) fn block_cache(max_bytes: u64) -> BlockCache {
    moka::future::Cache::builder()
        .max_capacity(max_bytes)
        // Blocks are at most 1 GiB (validated), so the weight always fits.
        .weigher(|_, block: &Bytes| u32::try_from(block.len()).unwrap_or(u32::MAX))
        // The counter is looked up at each eviction, not once here: the store is built before
        // the server installs the metrics recorder, and a handle taken earlier counts nowhere.
        .eviction_listener(|_, _, cause| {
            if cause == RemovalCause::Size {
                metrics::counter!(telemetry::CACHE_EVICTIONS_TOTAL).increment(1);
            }
        })
        .build()
}

/// The block `key`, from the cache or filled from `inner`, with how it was found. The fill and
/// the wait for it run in a task of their own, so a viewer who leaves or reads slowly never
/// cancels or stalls a fill other viewers wait for; a block whose viewers all left is still
/// finished and cached, within the store's own timeouts.
pub(super) async fn lookup(
    cache: &BlockCache,
    inner: &Arc<dyn ObjectStore>,
    key: BlockKey,
    meta: &ObjectMeta,
    extent: ByteRange,
) -> Result<(Bytes, CacheLookup), StoreError> {
    if let Some(block) = cache.get(&key).await {
        return Ok((block, CacheLookup::Hit));
    }
    let (cache, inner, meta) = (cache.clone(), Arc::clone(inner), meta.clone());
    let waiting = tokio::spawn(async move {
        let filled = AtomicBool::new(false);
        let object = key.key.clone();
        let init = async {
            filled.store(true, Ordering::Relaxed);
            fill(inner.as_ref(), &object, &meta, extent).await
        };
        let block = cache.try_get_with(key, init).await;
        let lookup = if filled.load(Ordering::Relaxed) { CacheLookup::Miss } else { CacheLookup::Collapsed };
        block.map(|block| (block, lookup)).map_err(|shared| shared.duplicate())
    });
    super::detached(waiting, "block fill").await
}

/// Reads `extent` of the version `meta` names into one buffer.
async fn fill(
    inner: &dyn ObjectStore,
    key: &ObjectKey,
    meta: &ObjectMeta,
    extent: ByteRange,
) -> Result<Bytes, StoreError> {
    let len = usize::try_from(extent.len()).map_err(|_| StoreError::Upstream("block too large".into()))?;
    let mut stream = inner.get(key, meta, extent).await?;
    let mut block = BytesMut::with_capacity(len);
    let s3_bytes = metrics::counter!(telemetry::CACHE_BYTES_TOTAL, "source" => "s3");
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if chunk.len() > len - block.len() {
            return Err(StoreError::Upstream("store sent more than the block".into()));
        }
        s3_bytes.increment(chunk.len() as u64);
        block.extend_from_slice(&chunk);
    }
    if block.len() != len {
        return Err(StoreError::Upstream(format!("block ended after {} of {len} bytes", block.len())));
    }
    Ok(block.freeze())
}
