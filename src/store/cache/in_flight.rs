//! The fills in flight, by block: what collapses concurrent misses on one block into one read of
//! the store (the lock of pingora-cache's key/lock/eviction split).
//!
//! A lookup that misses memory asks [`InFlight::slot`]: a block being filled is joined, and a
//! block nobody fills is claimed, under one lock, so two misses can never both start a fill. The
//! claim removes its entry when it is dropped, which the fill does once its block is in memory
//! (or it failed): a lookup that arrives after that finds the block in memory.
//!
//! What bounds it: one entry per fill in progress, and every fill holds its block's bytes of the
//! memory budget before it is recorded, so the entries are bounded by `storage.cache.max_bytes`.
//! An entry is a handle (a `watch` receiver, a few words) that each waiter clones; the waiters
//! are requests, bounded by the server's connection and stream limits
//! (`server.max_connections` × `server.h2_max_concurrent_streams`), plus at most
//! `storage.cache.read_ahead_blocks` prefetches. No waiter holds the map: a waiter that leaves
//! only drops its handle, and the fill goes on for the others.
//!
//! A std mutex: it is held for one hash lookup or insert, never across an await (the guard is not
//! `Send`, so the compiler keeps it so).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::key::BlockKey;

/// The fills in flight, each recorded as the handle `T` its waiters clone.
pub(super) struct InFlight<T> {
    shared: Arc<Map<T>>,
}

struct Map<T> {
    /// Each entry with the number of the claim that made it.
    entries: Mutex<HashMap<BlockKey, (u64, T)>>,
    claims: AtomicU64,
}

/// What [`InFlight::slot`] found for a block.
pub(super) enum Slot<'a, T> {
    /// A fill is in flight: its handle.
    Filling(T),
    /// None is: the block may be claimed while the map is still locked.
    Vacant(Vacant<'a, T>),
}

/// A block nobody fills, with the map locked until it is claimed or dropped.
pub(super) struct Vacant<'a, T> {
    key: BlockKey,
    entries: MutexGuard<'a, HashMap<BlockKey, (u64, T)>>,
    map: &'a Arc<Map<T>>,
}

/// A recorded fill: its entry is removed when this is dropped, if the entry is still its own.
pub(super) struct Claim<T> {
    key: BlockKey,
    number: u64,
    map: Arc<Map<T>>,
}

impl<T> Default for InFlight<T> {
    fn default() -> Self {
        Self { shared: Arc::new(Map { entries: Mutex::default(), claims: AtomicU64::new(0) }) }
    }
}

impl<T: Clone> InFlight<T> {
    /// The fill in flight for `key`, or the vacant slot to record one in.
    pub fn slot(&self, key: &BlockKey) -> Slot<'_, T> {
        let entries = self.shared.lock();
        match entries.get(key) {
            Some((_, handle)) => Slot::Filling(handle.clone()),
            None => Slot::Vacant(Vacant { key: key.clone(), entries, map: &self.shared }),
        }
    }

    /// Whether `key` is being filled.
    pub fn contains(&self, key: &BlockKey) -> bool {
        self.shared.lock().contains_key(key)
    }
}

impl<T> Vacant<'_, T> {
    /// Records the fill whose waiters clone `handle`, until the returned claim is dropped.
    pub fn claim(mut self, handle: T) -> Claim<T> {
        let number = self.map.claims.fetch_add(1, Ordering::Relaxed);
        self.entries.insert(self.key.clone(), (number, handle));
        Claim { key: self.key, number, map: Arc::clone(self.map) }
    }
}

impl<T> Map<T> {
    fn lock(&self) -> MutexGuard<'_, HashMap<BlockKey, (u64, T)>> {
        // Nothing panics while the map is held; if something did, the map is still consistent.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Drop for Claim<T> {
    fn drop(&mut self) {
        // A later fill of the same block (started after an eviction) has an entry of its own.
        let mut entries = self.map.lock();
        if entries.get(&self.key).is_some_and(|(number, _)| *number == self.number) {
            entries.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::key_from_path;

    fn key(index: u64) -> BlockKey {
        BlockKey { key: key_from_path("/a.mp4").unwrap(), etag: http::HeaderValue::from_static("\"e\""), index }
    }

    fn claim(in_flight: &InFlight<&'static str>, index: u64, handle: &'static str) -> Claim<&'static str> {
        match in_flight.slot(&key(index)) {
            Slot::Vacant(vacant) => vacant.claim(handle),
            Slot::Filling(found) => panic!("block {index} already filled by {found}"),
        }
    }

    #[test]
    fn a_claimed_block_is_joined_until_its_claim_is_dropped() {
        let in_flight = InFlight::default();
        let first = claim(&in_flight, 0, "first");
        assert!(matches!(in_flight.slot(&key(0)), Slot::Filling("first")));
        assert!(in_flight.contains(&key(0)));
        assert!(!in_flight.contains(&key(1)), "other blocks are their own");
        drop(first);
        assert!(matches!(in_flight.slot(&key(0)), Slot::Vacant(_)));
    }

    #[test]
    fn an_old_claim_never_forgets_a_newer_fill() {
        let in_flight = InFlight::default();
        let old = claim(&in_flight, 0, "old");
        // As if the old fill's entry had been replaced (the block filled again after an eviction).
        in_flight.shared.lock().remove(&key(0));
        let new = claim(&in_flight, 0, "new");
        drop(old);
        assert!(matches!(in_flight.slot(&key(0)), Slot::Filling("new")));
        drop(new);
        assert!(!in_flight.contains(&key(0)));
    }

    #[test]
    fn a_vacant_slot_dropped_unclaimed_records_nothing() {
        let in_flight: InFlight<&str> = InFlight::default();
        let Slot::Vacant(vacant) = in_flight.slot(&key(0)) else { panic!("empty map") };
        drop(vacant);
        assert!(!in_flight.contains(&key(0)));
    }
}
