//! One cached block, kept as pieces so that a response pins only the bytes it still has to send.
//!
//! A block is assembled from the store's chunks into pieces of [`PIECE_BYTES`], but for a short
//! first piece of [`FIRST_PIECE_BYTES`]: a cold request at the start of a block (a segment, an
//! object's first bytes) gets its first bytes when 16 KiB have arrived, not 256 KiB. One copy
//! per block filled, never per request (an 8 MiB copy takes about a millisecond, next to tens of
//! milliseconds to download it). Keeping the store's chunks instead would save that copy but
//! pin whatever larger buffers the HTTP client split them from, so the byte bound would lie.
//! One buffer per block would be simplest, but a 1 MiB response would then keep a whole 8 MiB
//! block alive after its eviction. Each piece carries its share of the memory budget, given
//! back when the cache and every response are done with it.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use super::budget::Reservation;

/// Bytes per piece. Also the largest slice handed to hyper at once, which keeps the access log's
/// byte count and the send-stall clock close to what the client actually took, as S3's own
/// chunks would.
const PIECE_BYTES: usize = 256 * 1024;

/// Bytes of a block's first piece: one TLS record, what a response's first write sends.
const FIRST_PIECE_BYTES: usize = 16 * 1024;

/// Where a block's pieces start: a first piece of `first` bytes, then pieces of `rest` (the
/// block's last piece takes what is left).
#[derive(Clone, Copy, Debug)]
pub(super) struct Layout {
    first: usize,
    rest: usize,
}

impl Layout {
    /// The layout of every block filled from the store.
    pub const BLOCKS: Self = Self { first: FIRST_PIECE_BYTES, rest: PIECE_BYTES };

    /// A first piece of `first` bytes (at most `rest`), then pieces of `rest`; both at least 1.
    /// For tests, which lay blocks out at small sizes.
    #[cfg(test)]
    pub fn new(first: usize, rest: usize) -> Self {
        let rest = rest.max(1);
        Self { first: first.clamp(1, rest), rest }
    }

    /// The piece holding byte `offset` of the block.
    fn index_of(self, offset: usize) -> usize {
        if offset < self.first { 0 } else { 1 + (offset - self.first) / self.rest }
    }

    /// The block offset piece `index` starts at: also the bytes held by the `index` pieces
    /// before it, when they are full.
    pub fn start_of(self, index: usize) -> usize {
        match index {
            0 => 0,
            _ => self.first + (index - 1) * self.rest,
        }
    }

    /// The length of piece `index` when it is full.
    fn full_len(self, index: usize) -> usize {
        if index == 0 { self.first } else { self.rest }
    }
}

/// The bytes of one block, in pieces laid out as its [`Layout`] says. Cloning it is a reference
/// count.
#[derive(Clone)]
pub(super) struct Block {
    pieces: Arc<[Bytes]>,
    layout: Layout,
    len: usize,
}

impl Block {
    /// The block's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// A copy of the whole block in one buffer (for the disk tier, which must not hold the
    /// pieces).
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(self.pieces.concat())
    }

    /// The bytes `part` covers (offsets into the block, clamped to it), as slices of the pieces:
    /// no copy, and a response holding them keeps only these pieces alive.
    pub fn slices(&self, part: Range<usize>) -> Vec<Bytes> {
        slices_of(&self.pieces, self.layout, part)
    }
}

/// The bytes `part` covers of consecutive `pieces`, laid out as `layout` says (the last may be
/// shorter), as slices of them. `part` is clamped to the bytes the pieces hold: a block still
/// being filled answers with what has arrived.
pub(super) fn slices_of(pieces: &[Bytes], layout: Layout, part: Range<usize>) -> Vec<Bytes> {
    let held = pieces.last().map_or(0, |last| layout.start_of(pieces.len() - 1) + last.len());
    let end = part.end.min(held);
    if part.start >= end {
        return Vec::new();
    }
    let touched = layout.index_of(part.start)..=layout.index_of(end - 1);
    touched
        .map(|index| {
            let base = layout.start_of(index);
            let piece = &pieces[index];
            piece.slice(part.start.max(base) - base..end.min(base + piece.len()) - base)
        })
        .collect()
}

/// A block being filled: chunks are copied into pieces, each sealed with its share of the
/// block's reservation when full.
pub(super) struct Assembler {
    len: usize,
    layout: Layout,
    pieces: Vec<Bytes>,
    current: Vec<u8>,
    received: usize,
    reservation: Reservation,
}

/// The store sent more bytes than the block holds.
#[derive(Debug)]
pub(super) struct Overrun;

impl Assembler {
    /// An empty block of `len` bytes in pieces laid out as `layout` says, its memory claimed
    /// by `reservation` (which should cover `len`).
    pub fn new(len: usize, layout: Layout, reservation: Reservation) -> Self {
        Self {
            len,
            layout,
            pieces: Vec::with_capacity(layout.index_of(len) + 1),
            current: Vec::new(),
            received: 0,
            reservation,
        }
    }

    /// Appends `chunk`, refusing bytes beyond the block's length.
    pub fn push(&mut self, mut chunk: &[u8]) -> Result<(), Overrun> {
        if chunk.len() > self.len - self.received {
            return Err(Overrun);
        }
        self.received += chunk.len();
        while !chunk.is_empty() {
            // Every piece is full but the block's last, which takes what is left.
            let index = self.pieces.len();
            let target = (self.len - self.layout.start_of(index)).min(self.layout.full_len(index));
            if self.current.capacity() == 0 {
                self.current.reserve_exact(target);
            }
            let (now, rest) = chunk.split_at((target - self.current.len()).min(chunk.len()));
            self.current.extend_from_slice(now);
            chunk = rest;
            if self.current.len() == target {
                self.seal();
            }
        }
        Ok(())
    }

    /// The pieces sealed so far, in order: all but the block's last are full.
    pub fn sealed(&self) -> &[Bytes] {
        &self.pieces
    }

    /// The block's length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes received so far.
    pub fn received(&self) -> usize {
        self.received
    }

    /// The finished block, or `None` when fewer bytes than its length arrived.
    pub fn finish(self) -> Option<Block> {
        (self.received == self.len).then(|| Block { pieces: self.pieces.into(), layout: self.layout, len: self.len })
    }

    /// Turns the full current buffer into a piece that gives its share back when dropped.
    fn seal(&mut self) {
        let bytes = std::mem::take(&mut self.current);
        let reservation = self.reservation.split_off(bytes.len() as u64);
        self.pieces.push(Bytes::from_owner(Piece { bytes, _reservation: reservation }));
    }
}

/// The memory of one piece and its claim on the budget, freed together.
struct Piece {
    bytes: Vec<u8>,
    _reservation: Reservation,
}

impl AsRef<[u8]> for Piece {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::super::budget::MemoryBudget;
    use super::*;
    use proptest::prelude::*;

    fn assemble(data: &[u8], layout: Layout, chunk: usize, budget: &MemoryBudget) -> Block {
        let reservation = budget.try_reserve(data.len() as u64).unwrap();
        let mut assembler = Assembler::new(data.len(), layout, reservation);
        for part in data.chunks(chunk.max(1)) {
            assembler.push(part).unwrap();
        }
        assembler.finish().expect("complete")
    }

    #[test]
    fn a_response_pins_only_the_pieces_of_its_range() {
        let budget = MemoryBudget::new(1000);
        let data: Vec<u8> = (0..250u32).map(|i| i as u8).collect();
        let block = assemble(&data, Layout::new(30, 100), 7, &budget);
        assert_eq!(budget.used(), 250);
        let sent = block.slices(140..200);
        assert_eq!(sent.concat(), &data[140..200]);
        drop(block);
        assert_eq!(budget.used(), 100, "only the piece holding 130..230 is still alive");
        drop(sent);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_short_or_long_fill_is_refused_and_gives_its_memory_back() {
        let budget = MemoryBudget::new(1000);
        let mut assembler = Assembler::new(10, Layout::new(4, 4), budget.try_reserve(10).unwrap());
        assembler.push(b"0123456").unwrap();
        assert!(assembler.push(b"7890").is_err(), "11 bytes for a block of 10");
        assert_eq!(assembler.received(), 7);
        assert!(assembler.finish().is_none());
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn slices_outside_the_block_are_empty() {
        let budget = MemoryBudget::new(1000);
        let block = assemble(b"abcdef", Layout::new(4, 4), 3, &budget);
        assert!(block.slices(6..9).is_empty());
        assert!(block.slices(3..3).is_empty());
        assert_eq!(block.slices(4..100).concat(), b"ef");
        assert_eq!(&block.to_bytes()[..], b"abcdef");
        assert_eq!(block.len(), 6);
    }

    proptest! {
        /// Invariant: whatever the chunking and piece sizes, any part of the block is its bytes,
        /// in slices of at most one piece, and all memory comes back once everything is dropped.
        #[test]
        fn any_part_is_the_blocks_bytes(len in 1usize..2000, first in 1usize..300, piece in 1usize..300, chunk in 1usize..500, a in 0usize..2000, b in 0usize..2000) {
            let budget = MemoryBudget::new(4000);
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let block = assemble(&data, Layout::new(first, piece), chunk, &budget);
            let (start, end) = (a.min(b) % len, a.max(b) % len + 1);
            let slices = block.slices(start..end);
            prop_assert!(slices.iter().all(|s| s.len() <= piece));
            prop_assert_eq!(slices.concat(), &data[start.min(end)..end]);
            drop((block, slices));
            prop_assert_eq!(budget.used(), 0);
        }
    }
}
