//! The optional disk tier (`storage.cache.disk_dir`): every block filled from S3 is also
//! written to local disk, and a block that memory no longer holds is read back from there
//! instead of from S3. An instance with an NVMe disk (or an ECS task with ephemeral storage) can
//! keep a catalogue's hot hours, where memory keeps its hot minutes.
//!
//! The disk engine is foyer's (a hybrid cache whose block engine writes in large regions and
//! evicts whole regions, bounded by `disk_bytes`); its own memory tier is kept empty, so the
//! blocks in memory are the edge cache's, under its budget. A block is handed to the disk engine
//! as a copy (one memcpy per block filled from S3), never as the cache's own pieces: the engine
//! keeps what it is given for a while after writing it, and that must not hold the cache's
//! budget. A block is read back as one buffer, which the fill copies into pieces under the
//! budget, as it would S3's bytes. Memory outside `max_bytes`: the engine's write buffers and
//! queue (four regions), and the buffers of blocks being read back (docs/cache.md).
//!
//! Writes are best effort: a block the engine drops (its queue full, the disk slow) is simply
//! read from S3 next time. A read error is logged and treated as a miss. Entries are keyed by
//! object, ETag and block index like memory's, so a replaced object is never read back.

use std::path::Path;

use bytes::Bytes;
use foyer::{
    BlockEngineConfig, DeviceBuilder, FsDeviceBuilder, HybridCache, HybridCacheBuilder, HybridCachePolicy, RecoverMode,
};

use super::block::Block;
use super::key::BlockKey;
use crate::config::CacheConfig;
use crate::telemetry;

/// Blocks on local disk.
pub(super) struct DiskTier {
    blocks: HybridCache<String, Bytes>,
}

impl DiskTier {
    /// Opens (or creates) the tier in `dir`, with the bounds `config` gives.
    pub async fn open(dir: &Path, config: &CacheConfig) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let region = usize::try_from(config.disk_region_bytes()).map_err(|_| "block size too large".to_string())?;
        let capacity = usize::try_from(config.disk_bytes).unwrap_or(usize::MAX);
        let device = FsDeviceBuilder::new(dir)
            .with_capacity(capacity)
            .build()
            .map_err(|e| format!("cannot use {} for the disk tier: {e}", dir.display()))?;
        // Two regions of write buffer, so that one block can be written while the next waits.
        let engine = BlockEngineConfig::new(device)
            .with_block_size(region)
            .with_buffer_pool_size(2 * region)
            .with_submit_queue_size_threshold(2 * region);
        let blocks = HybridCacheBuilder::new()
            .with_name("vod-origin-disk")
            .with_policy(HybridCachePolicy::WriteOnInsertion)
            // No memory tier to speak of: blocks are written past it, and a block read back
            // from disk is held by the edge cache, under its budget (foyer may keep the last
            // one it read: one block outside max_bytes).
            .memory(1)
            .with_shards(1)
            .with_weighter(|_: &String, block: &Bytes| block.len())
            .storage()
            .with_engine_config(engine)
            // What an earlier process wrote is kept: an entry never changes (its key names one
            // block of one version of one object), so nothing read back can be stale.
            .with_recover_mode(RecoverMode::Quiet)
            .build()
            .await
            .map_err(|e| format!("cannot open the disk tier in {}: {e}", dir.display()))?;
        Ok(Self { blocks })
    }

    /// Writes a copy of `block` in the background (best effort), straight to the disk engine's
    /// queue rather than through foyer's memory tier.
    pub fn store(&self, key: &BlockKey, block: &Block) {
        self.blocks.storage_writer(disk_key(key)).insert(block.to_bytes());
    }

    /// Waits until the writes queued so far are on disk, and counts one.
    pub async fn written(&self) {
        self.blocks.storage().wait().await;
        metrics::counter!(telemetry::CACHE_DISK_WRITES_TOTAL).increment(1);
    }

    /// The bytes of block `key` if the tier has them.
    pub async fn load(&self, key: &BlockKey) -> Option<Bytes> {
        let found = match self.blocks.get(&disk_key(key)).await {
            Ok(found) => found.map(|entry| entry.value().clone()),
            Err(error) => {
                tracing::warn!(%error, "disk tier read failed; reading the block from the store");
                None
            }
        };
        let result = if found.is_some() { "hit" } else { "miss" };
        metrics::counter!(telemetry::CACHE_DISK_REQUESTS_TOTAL, "result" => result).increment(1);
        found
    }
}

/// The tier's key for a block: the object key, ETag and index, which no object key can
/// confuse (ETags are quoted and have no newline; the index is last).
fn disk_key(key: &BlockKey) -> String {
    format!("{}\n{}\n{}", key.key, String::from_utf8_lossy(key.etag.as_bytes()), key.index)
}
