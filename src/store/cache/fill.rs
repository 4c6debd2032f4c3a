//! The fill task: one block read from the disk tier or the store into pieces, each published to
//! the block's waiters as it is sealed, then offered to memory and written to disk; and the
//! other end of what it publishes, a waiter reading its part of the block as it arrives.
//!
//! A fill runs in a task of its own, so a viewer who leaves or reads slowly never cancels or
//! stalls what other viewers wait for; a block whose viewers all left is still finished and
//! offered to memory, within the store's own timeouts. Every waiter, the request that started
//! the fill and the collapsed ones alike, sends its bytes as soon as they arrive from the store,
//! not when the whole block has: moka's own `try_get_with` would collapse concurrent fills too,
//! but hands out nothing until the whole block is in, so the fill publishes a `watch` of the
//! pieces sealed so far instead.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::watch;

use super::block::{Assembler, Block, Layout, slices_of};
use super::budget::Reservation;
use super::disk::DiskTier;
use super::in_flight::{Claim, Vacant};
use super::key::BlockKey;
use super::memory::Memory;
use super::read_ahead::Fetch;
use crate::plan::ByteRange;
use crate::store::{ByteStream, ObjectMeta, ObjectStore, StoreError};
use crate::telemetry;

/// What a fill has published so far: its sealed pieces, in order, and once it has ended, how.
pub(super) struct Published {
    pieces: Vec<Bytes>,
    /// Where each piece starts.
    layout: Layout,
    outcome: Option<Result<(), Arc<StoreError>>>,
}

/// A fill in progress, as its waiters hold it: each clone is one waiter.
#[derive(Clone)]
pub(super) struct Filling(watch::Receiver<Published>);

/// One block to fill, and where it goes.
pub(super) struct Fill {
    pub inner: Arc<dyn ObjectStore>,
    pub memory: Arc<Memory>,
    pub disk: Option<Arc<DiskTier>>,
    pub key: BlockKey,
    /// The version the block is read from.
    pub meta: ObjectMeta,
    /// The object's bytes the block holds.
    pub extent: ByteRange,
    /// The block's bytes, already asked of the store (the GetObject that also answered the
    /// object's metadata); `None`: the fill asks for them.
    pub opened: Option<ByteStream>,
}

impl Fill {
    /// Starts the fill in a task of its own, its memory claimed by `reservation`, and records it
    /// in the vacant in-flight slot until it ends. The handle is the first waiter's. The task
    /// is the same kind of fetch as the lookup that starts it (a request's, or a prefetch's).
    pub fn start(self, reservation: Reservation, slot: Vacant<'_, Filling>) -> Result<Filling, StoreError> {
        let len = usize::try_from(self.extent.len()).map_err(|_| StoreError::internal("block too large"))?;
        let block = Assembler::new(len, Layout::BLOCKS, reservation);
        let (published, filling) =
            watch::channel(Published { pieces: Vec::new(), layout: Layout::BLOCKS, outcome: None });
        let filling = Filling(filling);
        let claim = slot.claim(filling.clone());
        tokio::spawn(Fetch::current().scope(self.run(claim, block, published)));
        Ok(filling)
    }

    /// Reads the block, offers it to memory, then forgets the claim and tells the waiters how it
    /// ended; a block read from the store is written to disk last. The claim is dropped with
    /// this future however it ends, even unpolled (at runtime shutdown).
    async fn run(mut self, claim: Claim<Filling>, block: Assembler, published: watch::Sender<Published>) {
        let (outcome, from_store) = match self.read(block, &published).await {
            Ok((block, from_store)) => {
                self.memory.insert(self.key.clone(), block.clone()).await;
                (Ok(()), from_store.then_some(block))
            }
            Err(error) => (Err(Arc::new(error)), None),
        };
        // In memory first, forgotten second: a lookup that misses both finds it in memory.
        drop(claim);
        published.send_modify(|published| published.outcome = Some(outcome));
        // The pieces stay with the requests still sending them, not with this task.
        drop(published);
        self.memory.report();
        if let (Some(disk), Some(block)) = (&self.disk, from_store) {
            disk.store(&self.key, &block);
            drop(block);
            disk.written().await;
        }
    }

    /// Reads the block into `block` from the disk tier when it has it, else from the store,
    /// publishing each piece as it is sealed; says whether it came from the store (and so is
    /// new to the disk).
    async fn read(
        &mut self,
        block: Assembler,
        published: &watch::Sender<Published>,
    ) -> Result<(Block, bool), StoreError> {
        if let Some(chunks) = self.opened.take() {
            return Ok((assemble(chunks, block, published, "s3").await?, true));
        }
        if let Some(disk) = &self.disk
            && let Some(bytes) = disk.load(&self.key).await
        {
            let chunks = futures_util::stream::iter([Ok(bytes)]);
            return Ok((assemble(chunks, block, published, "disk").await?, false));
        }
        let chunks = self.inner.get(&self.key.key, &self.meta, self.extent).await?;
        Ok((assemble(chunks, block, published, "s3").await?, true))
    }
}

/// Copies `chunks` into `block`, publishing each piece as it is sealed; `source` labels the
/// bytes in the metrics.
async fn assemble(
    mut chunks: impl Stream<Item = Result<Bytes, StoreError>> + Unpin,
    mut block: Assembler,
    published: &watch::Sender<Published>,
    source: &'static str,
) -> Result<Block, StoreError> {
    let bytes_in = metrics::counter!(telemetry::CACHE_BYTES_TOTAL, "source" => source);
    let mut sent = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        block.push(&chunk).map_err(|_| StoreError::Upstream("store sent more than the block".into()))?;
        bytes_in.increment(chunk.len() as u64);
        let sealed = block.sealed();
        if sealed.len() > sent {
            published.send_modify(|published| published.pieces.extend_from_slice(&sealed[sent..]));
            sent = sealed.len();
        }
    }
    let (received, len) = (block.received(), block.len());
    block.finish().ok_or_else(|| StoreError::Upstream(format!("block ended after {received} of {len} bytes")))
}

impl Filling {
    /// Waits until the fill has ended, however it did (read-ahead holds its permit until then).
    pub async fn finished(mut self) {
        let _ = self.0.wait_for(|published| published.outcome.is_some()).await;
    }

    /// Whether the fill has ended, well or not.
    pub fn ended(&self) -> bool {
        self.0.borrow().outcome.is_some()
    }

    /// Whether the fill has failed.
    pub fn failed(&self) -> bool {
        matches!(self.0.borrow().outcome, Some(Err(_)))
    }

    /// The bytes `part` covers (offsets into the block), as they arrive.
    pub fn part(self, part: Range<usize>) -> FillingPart {
        FillingPart { published: Some(self.0), next: part.start, end: part.end }
    }
}

/// The part of a block being filled that one response sends.
pub(super) struct FillingPart {
    /// Dropped once every slice has been taken, so the response no longer pins the fill.
    published: Option<watch::Receiver<Published>>,
    next: usize,
    end: usize,
}

impl FillingPart {
    /// The slices of the part sealed since the last call, waiting for at least one; `None`
    /// once the whole part has been taken. An error is the fill's (each waiter gets the same
    /// kind and status), after whatever bytes arrived before it.
    pub async fn next(&mut self) -> Result<Option<Vec<Bytes>>, StoreError> {
        let Some(published) = self.published.as_mut().filter(|_| self.next < self.end) else {
            self.published = None;
            return Ok(None);
        };
        let next = self.next;
        let arrived = published
            .wait_for(|published| {
                published.outcome.is_some() || published.layout.start_of(published.pieces.len()) > next
            })
            .await
            .map_err(|_| StoreError::internal("block fill abandoned"))?;
        let slices = slices_of(&arrived.pieces, arrived.layout, next..self.end);
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
            self.published = None;
        }
        Ok(Some(slices))
    }
}
