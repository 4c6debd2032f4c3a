//! One cached block, kept as pieces so that a response pins only the bytes it still has to send.
//!
//! A block is assembled from the store's chunks into pieces of [`PIECE_BYTES`]: one copy per
//! block filled, never per request (an 8 MiB copy takes about a millisecond, next to tens of
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
pub(super) const PIECE_BYTES: usize = 256 * 1024;

/// The bytes of one block, in pieces of equal size (the last may be shorter). Cloning it is a
/// reference count.
#[derive(Clone)]
pub(super) struct Block {
    pieces: Arc<[Bytes]>,
    piece_len: usize,
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
        slices_of(&self.pieces, self.piece_len, part)
    }
}

/// The bytes `part` covers of consecutive `pieces`, all `piece_len` long but the last, as
/// slices of them. `part` is clamped to the bytes the pieces hold: a block still being filled
/// answers with what has arrived.
pub(super) fn slices_of(pieces: &[Bytes], piece_len: usize, part: Range<usize>) -> Vec<Bytes> {
    let held = pieces.last().map_or(0, |last| (pieces.len() - 1) * piece_len + last.len());
    let end = part.end.min(held);
    if part.start >= end {
        return Vec::new();
    }
    let touched = part.start / piece_len..=(end - 1) / piece_len;
    touched
        .map(|index| {
            let base = index * piece_len;
            let piece = &pieces[index];
            piece.slice(part.start.max(base) - base..end.min(base + piece.len()) - base)
        })
        .collect()
}

/// A block being filled: chunks are copied into pieces, each sealed with its share of the
/// block's reservation when full.
pub(super) struct Assembler {
    len: usize,
    piece_len: usize,
    pieces: Vec<Bytes>,
    current: Vec<u8>,
    received: usize,
    reservation: Reservation,
}

/// The store sent more bytes than the block holds.
#[derive(Debug)]
pub(super) struct Overrun;

impl Assembler {
    /// An empty block of `len` bytes in pieces of `piece_len`, its memory claimed by
    /// `reservation` (which should cover `len`).
    pub fn new(len: usize, piece_len: usize, reservation: Reservation) -> Self {
        let piece_len = piece_len.max(1);
        Self {
            len,
            piece_len,
            pieces: Vec::with_capacity(len.div_ceil(piece_len)),
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
            // Every piece is `piece_len` long but the block's last, which takes what is left.
            let target = (self.len - self.pieces.len() * self.piece_len).min(self.piece_len);
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

    /// The pieces sealed so far, in order: all but the block's last are `piece_len` long.
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
        (self.received == self.len).then(|| Block {
            pieces: self.pieces.into(),
            piece_len: self.piece_len,
            len: self.len,
        })
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

    fn assemble(data: &[u8], piece_len: usize, chunk: usize, budget: &MemoryBudget) -> Block {
        let reservation = budget.try_reserve(data.len() as u64).unwrap();
        let mut assembler = Assembler::new(data.len(), piece_len, reservation);
        for part in data.chunks(chunk.max(1)) {
            assembler.push(part).unwrap();
        }
        assembler.finish().expect("complete")
    }

    #[test]
    fn a_response_pins_only_the_pieces_of_its_range() {
        let budget = MemoryBudget::new(1000);
        let data: Vec<u8> = (0..250u32).map(|i| i as u8).collect();
        let block = assemble(&data, 100, 7, &budget);
        assert_eq!(budget.used(), 250);
        let sent = block.slices(120..180);
        assert_eq!(sent.concat(), &data[120..180]);
        drop(block);
        assert_eq!(budget.used(), 100, "only the piece holding 100..200 is still alive");
        drop(sent);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_short_or_long_fill_is_refused_and_gives_its_memory_back() {
        let budget = MemoryBudget::new(1000);
        let mut assembler = Assembler::new(10, 4, budget.try_reserve(10).unwrap());
        assembler.push(b"0123456").unwrap();
        assert!(assembler.push(b"7890").is_err(), "11 bytes for a block of 10");
        assert_eq!(assembler.received(), 7);
        assert!(assembler.finish().is_none());
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn slices_outside_the_block_are_empty() {
        let budget = MemoryBudget::new(1000);
        let block = assemble(b"abcdef", 4, 3, &budget);
        assert!(block.slices(6..9).is_empty());
        assert!(block.slices(3..3).is_empty());
        assert_eq!(block.slices(4..100).concat(), b"ef");
        assert_eq!(&block.to_bytes()[..], b"abcdef");
        assert_eq!(block.len(), 6);
    }

    proptest! {
        /// Invariant: whatever the chunking and piece size, any part of the block is its bytes,
        /// in slices of at most one piece, and all memory comes back once everything is dropped.
        #[test]
        fn any_part_is_the_blocks_bytes(len in 1usize..2000, piece in 1usize..300, chunk in 1usize..500, a in 0usize..2000, b in 0usize..2000) {
            let budget = MemoryBudget::new(4000);
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let block = assemble(&data, piece, chunk, &budget);
            let (start, end) = (a.min(b) % len, a.max(b) % len + 1);
            let slices = block.slices(start..end);
            prop_assert!(slices.iter().all(|s| s.len() <= piece));
            prop_assert_eq!(slices.concat(), &data[start.min(end)..end]);
            drop((block, slices));
            prop_assert_eq!(budget.used(), 0);
        }
    }
}
