//! Block arithmetic: which aligned blocks a byte range touches, and which bytes of each block it
//! takes. Pure functions, so the cache's answers are right by construction and tested here.
//!
//! Blocks are aligned on multiples of the block size from the start of the object, so every
//! client range maps to the same blocks whatever its own boundaries: a thousand different ranges
//! inside one block are one S3 read.

use std::ops::Range;

use crate::plan::ByteRange;

/// The aligned blocks of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Blocks {
    /// Bytes per block (the last block of an object may be shorter).
    pub size: u64,
    /// The object's length.
    pub object_len: u64,
}

impl Blocks {
    /// How many blocks the object has.
    pub fn count(&self) -> u64 {
        self.object_len.div_ceil(self.size)
    }

    /// The first and last block `range` touches, inclusive.
    pub fn touched(&self, range: ByteRange) -> (u64, u64) {
        (range.start() / self.size, range.last() / self.size)
    }

    /// The object's bytes that block `index` holds; `None` past the end of the object.
    pub fn extent(&self, index: u64) -> Option<ByteRange> {
        let start = index.checked_mul(self.size)?;
        ByteRange::new(start, start.saturating_add(self.size).min(self.object_len))
    }

    /// The part of block `index` that `range` covers, as offsets into the block. Empty when the
    /// range does not touch the block.
    pub fn within(&self, index: u64, range: ByteRange) -> Range<usize> {
        let Some(extent) = self.extent(index) else { return 0..0 };
        let start = range.start().clamp(extent.start(), extent.end()) - extent.start();
        let end = range.end().clamp(extent.start(), extent.end()) - extent.start();
        // A block is at most `block_size` bytes, which the configuration bounds to 1 GiB.
        start as usize..end.max(start) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange::new(start, end).unwrap()
    }

    const B: Blocks = Blocks { size: 100, object_len: 250 };

    #[test]
    fn ranges_touch_the_blocks_they_overlap() {
        let cases = [
            (r(0, 1), (0, 0)),
            (r(0, 100), (0, 0)),
            (r(99, 101), (0, 1)),
            (r(100, 200), (1, 1)),
            (r(150, 250), (1, 2)),
            (r(0, 250), (0, 2)),
            (r(249, 250), (2, 2)),
        ];
        for (range, touched) in cases {
            assert_eq!(B.touched(range), touched, "{range:?}");
        }
    }

    #[test]
    fn the_last_block_ends_with_the_object() {
        assert_eq!(B.count(), 3);
        assert_eq!(B.extent(0), Some(r(0, 100)));
        assert_eq!(B.extent(2), Some(r(200, 250)));
        assert_eq!(B.extent(3), None);
        assert_eq!(Blocks { size: 100, object_len: 200 }.count(), 2);
        assert_eq!(Blocks { size: 100, object_len: 0 }.count(), 0);
        assert_eq!(Blocks { size: 100, object_len: u64::MAX }.extent(u64::MAX), None);
    }

    #[test]
    fn a_range_takes_its_part_of_each_block() {
        let range = r(150, 230);
        assert!(B.within(0, range).is_empty());
        assert_eq!(B.within(1, range), 50..100);
        assert_eq!(B.within(2, range), 0..30);
        assert!(B.within(3, range).is_empty());
        assert_eq!(B.within(0, r(10, 20)), 10..20);
    }

    proptest! {
        /// Invariant: the parts of the touched blocks, in order, are exactly the range's bytes.
        #[test]
        fn touched_blocks_reassemble_the_range(len in 1u64..5000, size in 1u64..700, a in 0u64..5000, b in 0u64..5000) {
            let object: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let (start, end) = (a.min(b) % len, (a.max(b) % len) + 1);
            prop_assume!(start < end);
            let range = r(start, end);
            let blocks = Blocks { size, object_len: len };
            let (first, last) = blocks.touched(range);
            let mut out = Vec::new();
            for index in first..=last {
                let extent = blocks.extent(index).unwrap();
                let block = &object[extent.start() as usize..extent.end() as usize];
                let part = blocks.within(index, range);
                prop_assert!(!part.is_empty());
                out.extend_from_slice(&block[part]);
            }
            prop_assert_eq!(&out[..], &object[start as usize..end as usize]);
        }
    }
}
