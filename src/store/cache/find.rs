//! Where a block is found, in order: in memory, in a fill in flight (joined), in a fill this
//! lookup starts, or nowhere, when all block memory is in use (the caller then reads its range
//! straight from the store). Each place is its own file; the order between them, and the races
//! it closes, are here.

use std::sync::Arc;

use super::block::Block;
use super::disk::DiskTier;
use super::fill::{Fill, Filling};
use super::in_flight::{InFlight, Slot};
use super::key::BlockKey;
use super::memory::Memory;
use super::report::CacheLookup;
use crate::plan::ByteRange;
use crate::store::{ByteStream, ObjectMeta, ObjectStore, StoreError};

/// What a block lookup found.
pub(super) enum Found {
    /// The block, in memory.
    Block(Block),
    /// A fill of the block, started by this lookup (`Miss`) or by an earlier one (`Collapsed`).
    Filling(Filling, CacheLookup),
    /// It was not cached and the memory budget had no room to fill it: the caller reads what
    /// it needs straight from the store.
    NoRoom,
}

/// The places a block is looked for.
pub(super) struct Finder {
    memory: Arc<Memory>,
    in_flight: InFlight<Filling>,
    disk: Option<Arc<DiskTier>>,
}

/// What one round of a lookup decided.
enum Step {
    Found(Found),
    /// In memory since the first look.
    LookAgain,
    /// Not in memory, not being filled, and no memory to fill it.
    NoRoom,
}

impl Finder {
    pub fn new(memory: Memory, disk: Option<DiskTier>) -> Self {
        Self { memory: Arc::new(memory), in_flight: InFlight::default(), disk: disk.map(Arc::new) }
    }

    /// Block memory, for its gauges.
    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    /// Whether `key` is in memory or being filled.
    pub fn contains(&self, key: &BlockKey) -> bool {
        self.memory.contains(key) || self.in_flight.contains(key)
    }

    /// The block `key` (`extent` of the version `meta` names): in memory, in the fill the
    /// caller `prefetched` (unless it failed: a prefetch that memory did not keep is not read
    /// again), being filled (joined), filled from `inner` from now on, or no room to fill it.
    pub async fn find(
        &self,
        inner: &Arc<dyn ObjectStore>,
        key: BlockKey,
        meta: &ObjectMeta,
        extent: ByteRange,
        mut prefetched: Option<Filling>,
    ) -> Result<Found, StoreError> {
        // A few rounds at most: the block may reach memory between a look and the locked check,
        // and a full budget may be freed by the evictions moka has not run yet.
        for round in 0..3 {
            if let Some(block) = self.memory.get(&key).await {
                return Ok(Found::Block(block));
            }
            if let Some(filling) = prefetched.take().filter(|filling| !filling.failed()) {
                let lookup = if filling.ended() { CacheLookup::Hit } else { CacheLookup::Collapsed };
                return Ok(Found::Filling(filling, lookup));
            }
            match self.join_or_start(inner, &key, meta, extent)? {
                Step::Found(found) => return Ok(found),
                Step::LookAgain => {}
                Step::NoRoom if round == 0 => self.memory.make_room().await,
                Step::NoRoom => break,
            }
        }
        Ok(Found::NoRoom)
    }

    /// With the in-flight map locked: joins the fill of `key`, or starts one if the block is
    /// still not in memory and its bytes can be claimed. Under one lock, so that two misses
    /// never both start a fill, and a fill that ends meanwhile is found in memory.
    fn join_or_start(
        &self,
        inner: &Arc<dyn ObjectStore>,
        key: &BlockKey,
        meta: &ObjectMeta,
        extent: ByteRange,
    ) -> Result<Step, StoreError> {
        let slot = match self.in_flight.slot(key) {
            Slot::Filling(filling) => return Ok(Step::Found(Found::Filling(filling, CacheLookup::Collapsed))),
            Slot::Vacant(_) if self.memory.contains(key) => return Ok(Step::LookAgain),
            Slot::Vacant(slot) => slot,
        };
        let Some(reservation) = self.memory.try_reserve(extent.len()) else { return Ok(Step::NoRoom) };
        let fill = Fill {
            inner: Arc::clone(inner),
            memory: Arc::clone(&self.memory),
            disk: self.disk.clone(),
            key: key.clone(),
            meta: meta.clone(),
            extent,
            opened: None,
        };
        Ok(Step::Found(Found::Filling(fill.start(reservation, slot)?, CacheLookup::Miss)))
    }

    /// Fills the block `key` from `chunks`, its bytes already asked of the store, unless it is
    /// in memory or being filled, or there is no room for it (the chunks are then dropped
    /// unread). The fill's handle, if it started.
    pub fn adopt(
        &self,
        inner: &Arc<dyn ObjectStore>,
        key: BlockKey,
        meta: &ObjectMeta,
        extent: ByteRange,
        chunks: ByteStream,
    ) -> Option<Filling> {
        let Slot::Vacant(slot) = self.in_flight.slot(&key) else { return None };
        if self.memory.contains(&key) {
            return None;
        }
        let reservation = self.memory.try_reserve(extent.len())?;
        let fill = Fill {
            inner: Arc::clone(inner),
            memory: Arc::clone(&self.memory),
            disk: self.disk.clone(),
            key,
            meta: meta.clone(),
            extent,
            opened: Some(chunks),
        };
        fill.start(reservation, slot).ok()
    }
}
