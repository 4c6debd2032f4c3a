//! The `[storage.cache]` section: the edge cache in front of S3, so S3 sees each byte once.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One mebibyte, for the defaults below.
const MIB: u64 = 1024 * 1024;

/// The block and metadata cache in front of the S3 backend. The local backend is never wrapped:
/// the operating system's page cache already keeps its hot files in memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Cache S3 objects at all (only the S3 backend is ever cached).
    pub enabled: bool,
    /// Objects are read from S3 and kept in aligned blocks of this many bytes. S3 recommends
    /// ranged GETs of 8 to 16 MiB: large enough to reach its per-connection throughput. A cold
    /// block is sent to its requests as it arrives, so its size costs S3 reads, not latency.
    pub block_size: u64,
    /// Memory all blocks may take, in bytes: cached, being filled, or evicted but still being
    /// sent. Three quarters of it (less at least one block) holds the cache; a miss that finds
    /// it all in use reads its range straight from S3.
    pub max_bytes: u64,
    /// Ranges longer than this many bytes stream straight from S3 without being cached. None
    /// (the default): every range goes through the blocks, whatever its length. A long range
    /// cannot flush the cache (the eviction rule keeps a block read once from pushing out
    /// popular ones), and through the blocks a slow viewer holds slices of shared blocks, where
    /// straight from S3 it holds an S3 connection and its buffers at its own pace.
    pub max_range: Option<u64>,
    /// How long an object's metadata (HeadObject) is reused. A replaced object is served in
    /// its new version at most this long after the replacement.
    #[serde(with = "super::duration")]
    pub metadata_ttl: Duration,
    /// Blocks read ahead in the background at once, across all requests: while a request sends
    /// block i of an object that goes on, block i + 1 is fetched. 0 disables read-ahead.
    pub read_ahead_blocks: usize,
    /// A folder for the disk tier: every block filled from S3 is also written there, and a
    /// block no longer in memory is read back from it instead of from S3. None: no disk tier.
    pub disk_dir: Option<PathBuf>,
    /// Bytes the disk tier may take in `disk_dir`.
    pub disk_bytes: u64,
}

impl CacheConfig {
    /// The disk tier's unit of writing and eviction: one cached block and its header must fit,
    /// and the disk engine works best with regions of at least 16 MiB.
    pub fn disk_region_bytes(&self) -> u64 {
        (self.block_size + 64 * 1024).next_multiple_of(4096).max(16 * MIB)
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            block_size: 8 * MIB,
            max_bytes: 512 * MIB,
            max_range: None,
            metadata_ttl: Duration::from_secs(5),
            read_ahead_blocks: 1,
            disk_dir: None,
            disk_bytes: 16 * 1024 * MIB,
        }
    }
}
