//! Block memory and its eviction: which blocks memory keeps, what frees room for a new one, and
//! the bound on all block memory. The eviction rule lives here and nowhere else.
//!
//! Two bounds, one inside the other. The budget ([`MemoryBudget`], `storage.cache.max_bytes`)
//! counts every byte of block memory wherever it is: cached, being filled, or evicted but still
//! being sent. The cache proper, a moka cache weighted by block length, holds at most three
//! quarters of it (less at least one block); the rest is room for fills and for evicted pieces
//! that slow viewers still hold. A fill claims its block's bytes here before it starts, and a
//! miss that finds no room is not filled (the caller reads its range straight from the store).
//!
//! The rule is moka's TinyLFU admission with LRU eviction: once the cache is full, a new block
//! is kept only if it has been asked for more often (a count-min sketch of recent lookups) than
//! the least recently used blocks it would push out, and is dropped at moka's next housekeeping
//! otherwise. A block read once, by a crawler or a single viewer, never pushes out popular ones;
//! the price is that with memory full, a block read once is read again by the next request that
//! wants it. Evictions and refused blocks alike count in `vod_origin_cache_evictions_total`.

use moka::notification::RemovalCause;

use super::block::Block;
use super::budget::{MemoryBudget, Reservation};
use super::key::BlockKey;
use crate::telemetry;

/// The blocks memory holds, and the budget of all block memory.
pub(super) struct Memory {
    cache: moka::future::Cache<BlockKey, Block>,
    budget: MemoryBudget,
}

impl Memory {
    /// Block memory of `max_bytes` in all (validated at load: room for two blocks of
    /// `block_size` at least), of which the cache holds [`held_bytes`].
    pub fn new(max_bytes: u64, block_size: u64) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(held_bytes(max_bytes, block_size))
            // Blocks are at most 1 GiB (validated), so the weight always fits.
            .weigher(|_, block: &Block| u32::try_from(block.len()).unwrap_or(u32::MAX))
            // The counter is looked up at each eviction, not once here: the store is built
            // before the server installs the metrics recorder, and a handle taken earlier counts
            // nowhere.
            .eviction_listener(|_, _, cause| {
                if cause == RemovalCause::Size {
                    metrics::counter!(telemetry::CACHE_EVICTIONS_TOTAL).increment(1);
                }
            })
            .build();
        Self { cache, budget: MemoryBudget::new(max_bytes) }
    }

    /// The block `key`, if memory holds it (counted as an access by the eviction rule).
    pub async fn get(&self, key: &BlockKey) -> Option<Block> {
        self.cache.get(key).await
    }

    /// Whether memory holds `key` (not counted as an access).
    pub fn contains(&self, key: &BlockKey) -> bool {
        self.cache.contains_key(key)
    }

    /// Offers a block just filled to the cache, which keeps it or not by the rule above.
    pub async fn insert(&self, key: BlockKey, block: Block) {
        self.cache.insert(key, block).await;
    }

    /// Claims `bytes` for a fill, or `None` when all block memory is in use.
    pub fn try_reserve(&self, bytes: u64) -> Option<Reservation> {
        self.budget.try_reserve(bytes)
    }

    /// Frees what evictions owe the budget, before a fill that found no room tries again: moka
    /// evicts at its housekeeping, not at insertion, and its hash table drops a removed value
    /// through deferred destruction (crossbeam-epoch), usually by the run after the one that
    /// evicted it (measured), so it is run twice. Not a guarantee: the epoch is process-wide, and
    /// a miss that still finds no room reads its range straight from the store.
    pub async fn make_room(&self) {
        self.cache.run_pending_tasks().await;
        self.cache.run_pending_tasks().await;
    }

    /// Sets the gauges of the bytes cached and of all block memory alive (cached, being
    /// filled, or still being sent). They are looked up at each call: the metrics recorder may
    /// be installed after the store is built.
    pub fn report(&self) {
        metrics::gauge!(telemetry::CACHE_SIZE_BYTES).set(self.cache.weighted_size() as f64);
        metrics::gauge!(telemetry::CACHE_MEMORY_BYTES).set(self.budget.used() as f64);
    }

    /// Drops `key` from memory, as an eviction would.
    #[cfg(test)]
    pub async fn forget(&self, key: &BlockKey) {
        self.cache.invalidate(key).await;
    }

    /// Bytes of block memory alive now.
    #[cfg(test)]
    pub fn used(&self) -> u64 {
        self.budget.used()
    }
}

/// The part of `max_bytes` the cache holds blocks in: three quarters, leaving at least one
/// block of room for fills and for evicted blocks still being sent. With no room at all, a full
/// cache could never take a new block, and would keep what it had forever.
fn held_bytes(max_bytes: u64, block_size: u64) -> u64 {
    max_bytes - (max_bytes / 4).max(block_size).min(max_bytes)
}

#[cfg(test)]
mod tests {
    use super::held_bytes;

    #[test]
    fn the_cache_leaves_room_for_fills() {
        const MIB: u64 = 1024 * 1024;
        assert_eq!(held_bytes(512 * MIB, 8 * MIB), 384 * MIB, "a quarter kept free");
        assert_eq!(held_bytes(16 * MIB, 8 * MIB), 8 * MIB, "but at least one block");
        assert_eq!(held_bytes(8 * MIB, 8 * MIB), 0, "refused by validation; never underflows");
    }
}
