//! The cache's memory bound: every byte of block memory, wherever it is, holds a reservation
//! against `storage.cache.max_bytes`.
//!
//! The block cache itself is bounded by moka, but that bound sees only the blocks it holds. Two
//! more kinds of block memory are alive in a busy origin: blocks being filled from S3, and
//! pieces of blocks already evicted that responses are still sending. Counting the cache alone
//! let memory reach five times its bound under a working set larger than the cache. Here a fill
//! reserves its block's bytes before it starts, the reservation travels with the pieces it
//! becomes, and each piece gives its share back when its last reference (cache entry or
//! response) is dropped. A fill that finds no room is not started: the request is served
//! straight from the store, as without the cache.
//!
//! Written here rather than taken from a crate: it is one atomic counter, and what matters is
//! that the release rides on the memory itself (`Bytes::from_owner`), which a semaphore crate
//! cannot do without holding a permit object per piece anyway.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes of block memory allowed alive at once, and how many are.
#[derive(Clone)]
pub(super) struct MemoryBudget {
    shared: Arc<Counter>,
}

struct Counter {
    limit: u64,
    used: AtomicU64,
}

/// A claim on `bytes` of the budget, given back when dropped.
pub(super) struct Reservation {
    budget: Arc<Counter>,
    bytes: u64,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Self { shared: Arc::new(Counter { limit, used: AtomicU64::new(0) }) }
    }

    /// Claims `bytes`, or `None` when that would go over the limit.
    pub fn try_reserve(&self, bytes: u64) -> Option<Reservation> {
        let counter = &self.shared;
        counter
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|after| *after <= counter.limit)
            })
            .ok()?;
        Some(Reservation { budget: Arc::clone(&self.shared), bytes })
    }

    /// Bytes claimed now.
    pub fn used(&self) -> u64 {
        self.shared.used.load(Ordering::Acquire)
    }
}

impl Reservation {
    /// Moves `bytes` of this claim (or all it has left) into a claim of its own, so each piece
    /// of a block can carry and release its own share.
    pub fn split_off(&mut self, bytes: u64) -> Reservation {
        let bytes = bytes.min(self.bytes);
        self.bytes -= bytes;
        Reservation { budget: Arc::clone(&self.budget), bytes }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_stop_at_the_limit_and_come_back_when_dropped() {
        let budget = MemoryBudget::new(100);
        let a = budget.try_reserve(60).unwrap();
        assert!(budget.try_reserve(41).is_none(), "60 + 41 is over 100");
        let b = budget.try_reserve(40).unwrap();
        assert_eq!(budget.used(), 100);
        assert!(budget.try_reserve(1).is_none());
        drop(a);
        assert_eq!(budget.used(), 40);
        drop(b);
        assert_eq!(budget.used(), 0);
        assert!(budget.try_reserve(u64::MAX).is_none(), "no overflow");
    }

    #[test]
    fn split_claims_release_separately_and_never_more_than_claimed() {
        let budget = MemoryBudget::new(100);
        let mut whole = budget.try_reserve(100).unwrap();
        let first = whole.split_off(30);
        let second = whole.split_off(1000);
        assert_eq!((first.bytes, second.bytes, whole.bytes), (30, 70, 0));
        drop(whole);
        assert_eq!(budget.used(), 100);
        drop(second);
        assert_eq!(budget.used(), 30);
        drop(first);
        assert_eq!(budget.used(), 0);
    }
}
