//! The block cache proper: blocks held in a moka cache bounded by bytes, and the fills in
//! progress beside it. A fill claims its memory from the budget first (and does not start when
//! there is none), runs in a task of its own, and publishes each piece as it is sealed: every
//! request waiting on the fill, the first and the collapsed ones alike, sends its bytes as soon
//! as they arrive from the store, not when the whole block has.
//!
//! moka's own `try_get_with` would collapse concurrent fills too, but hands out nothing until
//! the whole block is in; a small map of fills in progress, each a `watch` of its pieces, is
//! what lets waiters start at the first piece.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use moka::notification::RemovalCause;
use tokio::sync::watch;

use super::block::{Assembler, Block, PIECE_BYTES, slices_of};
use super::budget::MemoryBudget;
use super::disk::DiskTier;
use super::key::BlockKey;
use super::lookup::CacheLookup;
use crate::plan::ByteRange;
use crate::store::{ObjectMeta, ObjectStore, StoreError};
use crate::telemetry;

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
    /// The block, cached.
    Block(Block),
    /// A fill of the block, started by this lookup (`Miss`) or by an earlier one (`Collapsed`).
    Filling(Filling, CacheLookup),
    /// It was not cached and the memory budget had no room to fill it: the caller reads what
    /// it needs straight from the store.
    NoRoom,
}

/// What a fill has produced so far: its sealed pieces, in order, and once it has ended, how.
pub(super) struct Progress {
    pieces: Vec<Bytes>,
    /// The length of every piece but the last.
    piece_len: usize,
    outcome: Option<Result<(), Arc<StoreError>>>,
}

impl Progress {
    fn new(piece_len: usize) -> Self {
        Self { pieces: Vec::new(), piece_len, outcome: None }
    }
}

/// The cache, the budget its fills draw on, the fills in progress, and the disk tier if any.
#[derive(Clone)]
pub(super) struct Fills {
    cache: BlockCache,
    budget: MemoryBudget,
    disk: Option<Arc<DiskTier>>,
    /// One entry per fill in progress, removed once its block is in the cache (or it failed).
    /// A std mutex: it is never held across an await, only for a lookup or an insert.
    in_flight: Arc<Mutex<HashMap<BlockKey, watch::Receiver<Progress>>>>,
}

impl Fills {
    pub fn new(cache: BlockCache, budget: MemoryBudget, disk: Option<DiskTier>) -> Self {
        Self { cache, budget, disk: disk.map(Arc::new), in_flight: Arc::default() }
    }

    /// Sets the gauges of the bytes cached and of all block memory alive (cached, being
    /// filled, or still being sent). They are looked up at each call: the metrics recorder may
    /// be installed after the store is built.
    pub fn report_memory(&self) {
        metrics::gauge!(telemetry::CACHE_SIZE_BYTES).set(self.cache.weighted_size() as f64);
        metrics::gauge!(telemetry::CACHE_MEMORY_BYTES).set(self.budget.used() as f64);
    }

    /// Whether `key` is cached or being filled.
    pub fn contains(&self, key: &BlockKey) -> bool {
        self.cache.contains_key(key) || self.lock().contains_key(key)
    }

    /// The block `key`: cached, being filled (joined), or filled from `inner` from now on. The
    /// fill runs in a task of its own, so a viewer who leaves or reads slowly never cancels or
    /// stalls what other viewers wait for; a block whose viewers all left is still finished and
    /// cached, within the store's own timeouts.
    pub async fn lookup(
        &self,
        inner: &Arc<dyn ObjectStore>,
        key: BlockKey,
        meta: &ObjectMeta,
        extent: ByteRange,
    ) -> Result<Found, StoreError> {
        let start = Start { inner, meta, extent };
        // A few rounds at most: the block may be cached between a look and the locked check,
        // and a full budget may be freed by the evictions moka has not run yet.
        for round in 0..3 {
            if let Some(block) = self.cache.get(&key).await {
                return Ok(Found::Block(block));
            }
            let step = {
                let mut in_flight = self.lock();
                match in_flight.get(&key) {
                    Some(progress) => Step::Found(Found::Filling(Filling(progress.clone()), CacheLookup::Collapsed)),
                    None if self.cache.contains_key(&key) => Step::LookAgain,
                    None => match self.start(&mut in_flight, &key, start)? {
                        Some(filling) => Step::Found(filling),
                        None => Step::NoRoom,
                    },
                }
            };
            match step {
                Step::Found(found) => return Ok(found),
                Step::LookAgain => {}
                // The budget may be held by blocks moka has yet to evict, or has evicted but
                // still holds: it drops an evicted value on the housekeeping run after the one
                // that evicted it (measured), so run it twice.
                Step::NoRoom if round == 0 => {
                    self.cache.run_pending_tasks().await;
                    self.cache.run_pending_tasks().await;
                }
                Step::NoRoom => break,
            }
        }
        Ok(Found::NoRoom)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BlockKey, watch::Receiver<Progress>>> {
        // Nothing panics while the map is held; if something did, the map is still consistent.
        self.in_flight.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts filling `key` and records it in `in_flight`, or `None` when the budget has no
    /// room for the block.
    fn start(
        &self,
        in_flight: &mut HashMap<BlockKey, watch::Receiver<Progress>>,
        key: &BlockKey,
        start: Start<'_>,
    ) -> Result<Option<Found>, StoreError> {
        let len = usize::try_from(start.extent.len()).map_err(|_| StoreError::internal("block too large"))?;
        let Some(reservation) = self.budget.try_reserve(start.extent.len()) else { return Ok(None) };
        let (progress, watching) = watch::channel(Progress::new(PIECE_BYTES));
        in_flight.insert(key.clone(), watching.clone());
        let (fills, inner, meta, extent) = (self.clone(), Arc::clone(start.inner), start.meta.clone(), start.extent);
        let (key, own) = (key.clone(), watching.clone());
        tokio::spawn(async move {
            // Forgotten however the task ends once it has started (a task dropped before its
            // first poll, at runtime shutdown, leaves its entry: nothing looks it up any more).
            let forget = Forget { fills: fills.clone(), key: key.clone(), own };
            let block = Assembler::new(len, PIECE_BYTES, reservation);
            let source = Source { inner: inner.as_ref(), disk: fills.disk.as_deref() };
            let (outcome, from_store) = match source.fill(&key, &meta, extent, block, &progress).await {
                Ok((block, from_store)) => {
                    fills.cache.insert(key.clone(), block.clone()).await;
                    (Ok(()), from_store.then_some(block))
                }
                Err(error) => (Err(Arc::new(error)), None),
            };
            // Cached first, forgotten second: a lookup that misses both finds it cached.
            drop(forget);
            progress.send_modify(|progress| progress.outcome = Some(outcome));
            // The pieces stay with the requests still sending them, not with this task.
            drop(progress);
            fills.report_memory();
            if let (Some(disk), Some(block)) = (&fills.disk, from_store) {
                disk.store(&key, &block);
                drop(block);
                disk.written().await;
            }
        });
        Ok(Some(Found::Filling(Filling(watching), CacheLookup::Miss)))
    }
}

/// What one round of a lookup decided.
enum Step {
    Found(Found),
    /// Cached since the first look.
    LookAgain,
    /// Not cached, not being filled, and no memory to fill it.
    NoRoom,
}

/// Removes a fill from the map of fills in progress when dropped, if the entry is still its own
/// (a later fill of the same block, started after an eviction, has its own entry).
struct Forget {
    fills: Fills,
    key: BlockKey,
    own: watch::Receiver<Progress>,
}

impl Drop for Forget {
    fn drop(&mut self) {
        let mut in_flight = self.fills.lock();
        if in_flight.get(&self.key).is_some_and(|entry| entry.same_channel(&self.own)) {
            in_flight.remove(&self.key);
        }
    }
}

/// What a new fill reads from.
#[derive(Clone, Copy)]
struct Start<'a> {
    inner: &'a Arc<dyn ObjectStore>,
    meta: &'a ObjectMeta,
    extent: ByteRange,
}

/// Where a fill reads from: the disk tier when it has the block, else the store.
struct Source<'a> {
    inner: &'a dyn ObjectStore,
    disk: Option<&'a DiskTier>,
}

impl Source<'_> {
    /// Reads block `key` (`extent` of the version `meta` names) into `block`, publishing each
    /// piece as it is sealed; says whether it came from the store (and so is new to the disk).
    async fn fill(
        &self,
        key: &BlockKey,
        meta: &ObjectMeta,
        extent: ByteRange,
        block: Assembler,
        progress: &watch::Sender<Progress>,
    ) -> Result<(Block, bool), StoreError> {
        if let Some(disk) = self.disk
            && let Some(bytes) = disk.load(key).await
        {
            let chunks = futures_util::stream::iter([Ok(bytes)]);
            return Ok((assemble(chunks, block, progress, "disk").await?, false));
        }
        let chunks = self.inner.get(&key.key, meta, extent).await?;
        Ok((assemble(chunks, block, progress, "s3").await?, true))
    }
}

/// Copies `chunks` into `block`, publishing each piece as it is sealed; `source` labels the
/// bytes in the metrics.
async fn assemble(
    mut chunks: impl Stream<Item = Result<Bytes, StoreError>> + Unpin,
    mut block: Assembler,
    progress: &watch::Sender<Progress>,
    source: &'static str,
) -> Result<Block, StoreError> {
    let bytes_in = metrics::counter!(telemetry::CACHE_BYTES_TOTAL, "source" => source);
    let mut published = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        block.push(&chunk).map_err(|_| StoreError::Upstream("store sent more than the block".into()))?;
        bytes_in.increment(chunk.len() as u64);
        let sealed = block.sealed();
        if sealed.len() > published {
            progress.send_modify(|progress| progress.pieces.extend_from_slice(&sealed[published..]));
            published = sealed.len();
        }
    }
    let (received, len) = (block.received(), block.len());
    block.finish().ok_or_else(|| StoreError::Upstream(format!("block ended after {received} of {len} bytes")))
}

/// A fill in progress, as one request waits on it.
pub(super) struct Filling(watch::Receiver<Progress>);

impl Filling {
    /// Waits until the fill has ended, however it did (read-ahead holds its permit until then).
    pub async fn finished(mut self) {
        let _ = self.0.wait_for(|progress| progress.outcome.is_some()).await;
    }

    /// The bytes `part` covers (offsets into the block), as they arrive.
    pub fn part(self, part: Range<usize>) -> FillingPart {
        FillingPart { progress: Some(self.0), next: part.start, end: part.end }
    }
}

/// The part of a block being filled that one response sends.
pub(super) struct FillingPart {
    /// Dropped once every slice has been taken, so the response no longer pins the fill.
    progress: Option<watch::Receiver<Progress>>,
    next: usize,
    end: usize,
}

impl FillingPart {
    /// The slices of the part sealed since the last call, waiting for at least one; `None`
    /// once the whole part has been taken. An error is the fill's (each waiter gets the same
    /// kind and status), after whatever bytes arrived before it.
    pub async fn next(&mut self) -> Result<Option<Vec<Bytes>>, StoreError> {
        let Some(progress) = self.progress.as_mut().filter(|_| self.next < self.end) else {
            self.progress = None;
            return Ok(None);
        };
        let next = self.next;
        let arrived = progress
            .wait_for(|progress| progress.outcome.is_some() || progress.pieces.len() * progress.piece_len > next)
            .await
            .map_err(|_| StoreError::internal("block fill abandoned"))?;
        let slices = slices_of(&arrived.pieces, arrived.piece_len, next..self.end);
        if slices.is_empty() {
            return Err(match &arrived.outcome {
                Some(Err(error)) => error.duplicate(),
                _ => StoreError::Upstream("block fill ended short of the range".into()),
            });
        }
        drop(arrived);
        self.next += slices.iter().map(Bytes::len).sum::<usize>();
        if self.next >= self.end {
            // Everything is taken: stop pinning the rest of the fill's pieces.
            self.progress = None;
        }
        Ok(Some(slices))
    }
}
