//! Which reads of the MP4 make up a range of a media segment, and how its bytes are cut out of
//! what the reads return.
//!
//! A track's samples in an MP4 are rarely contiguous: muxers interleave the tracks, often one
//! video frame and a few audio frames at a time, so a six-second video segment can be 150
//! runs a few kilobytes apart. A read per run would be 150 store reads (150 cache lookups, or
//! 150 `pread`s) per segment; instead, runs less than [`MAX_GAP`] apart are one read, and the
//! other track's bytes between them are cut away, as slices of the chunks read, never copied.

use std::ops::Range;

use bytes::Bytes;

use crate::plan::ByteRange;

/// Runs closer than this share one read. A quarter MiB: what one read of the local store or one
/// piece of a cached block holds, so a read never spans more than one extra chunk to skip; a
/// second of the other track (an audio second is a few KiB, a video second a few hundred) is
/// usually below it.
pub const MAX_GAP: u64 = 256 * 1024;

/// One part of a segment's bytes within a requested range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// These bytes of the generated header.
    Header(Range<usize>),
    /// One read of the MP4, and the bytes of it to keep, in order, within it.
    Source { read: ByteRange, keep: Vec<ByteRange> },
}

/// The pieces of `range` of a segment whose header is `header_len` bytes and whose sample data
/// is `runs` (offset, length) in the MP4, in order.
pub fn plan(header_len: usize, runs: &[(u64, u64)], range: ByteRange) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let (want_start, want_end) = (range.start(), range.end());
    let header_end = (header_len as u64).min(want_end);
    if want_start < header_end {
        pieces.push(Piece::Header(want_start as usize..header_end as usize));
    }
    let mut at = header_len as u64;
    for &(offset, len) in runs {
        let (run_start, run_end) = (at, at.saturating_add(len));
        let (start, end) = (want_start.max(run_start), want_end.min(run_end));
        if let Some(part) = ByteRange::new(offset + (start - run_start), offset + (end.max(start) - run_start)) {
            add(&mut pieces, part);
        }
        at = run_end;
        if at >= want_end {
            break;
        }
    }
    pieces
}

/// Adds `part` to the last read when it follows it closely, else as a new read.
fn add(pieces: &mut Vec<Piece>, part: ByteRange) {
    if let Some(Piece::Source { read, keep }) = pieces.last_mut()
        && part.start() >= read.end()
        && part.start() - read.end() < MAX_GAP
        && let Some(longer) = ByteRange::new(read.start(), part.end())
    {
        *read = longer;
        keep.push(part);
        return;
    }
    pieces.push(Piece::Source { read: part, keep: vec![part] });
}

/// Cuts the kept bytes out of a read's chunks, in order, as slices of them.
pub struct Cutter {
    keep: Vec<ByteRange>,
    /// The first kept range not yet wholly cut.
    next: usize,
    /// The MP4 offset of the next chunk's first byte.
    at: u64,
}

impl Cutter {
    /// For a read that starts at `read.start()`.
    pub fn new(read: ByteRange, keep: Vec<ByteRange>) -> Self {
        Self { keep, next: 0, at: read.start() }
    }

    /// The kept slices of the read's next chunk (none when it is all gap).
    pub fn cut(&mut self, chunk: &Bytes) -> Vec<Bytes> {
        let (start, end) = (self.at, self.at + chunk.len() as u64);
        let mut slices = Vec::new();
        while let Some(keep) = self.keep.get(self.next) {
            let (from, to) = (keep.start().max(start), keep.end().min(end));
            if from < to {
                slices.push(chunk.slice((from - start) as usize..(to - start) as usize));
            }
            if keep.end() > end {
                break;
            }
            self.next += 1;
        }
        self.at = end;
        slices
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: u64, end: u64) -> ByteRange {
        ByteRange::new(start, end).unwrap()
    }

    fn source(read: (u64, u64), keep: &[(u64, u64)]) -> Piece {
        Piece::Source { read: range(read.0, read.1), keep: keep.iter().map(|&(s, e)| range(s, e)).collect() }
    }

    #[test]
    fn a_range_takes_the_header_and_the_runs_it_overlaps_close_runs_in_one_read() {
        // A 100-byte header, then 50 bytes at 1000 and 30 bytes at 5000 (close: one read), and
        // 20 bytes at 10 MB (far: a read of its own): 200 bytes in all.
        let runs = [(1000, 50), (5000, 30), (10_000_000, 20)];
        let cases = [
            (
                range(0, 200),
                vec![
                    Piece::Header(0..100),
                    source((1000, 5030), &[(1000, 1050), (5000, 5030)]),
                    source((10_000_000, 10_000_020), &[(10_000_000, 10_000_020)]),
                ],
            ),
            (range(0, 10), vec![Piece::Header(0..10)]),
            (range(90, 110), vec![Piece::Header(90..100), source((1000, 1010), &[(1000, 1010)])]),
            (range(120, 160), vec![source((1020, 5010), &[(1020, 1050), (5000, 5010)])]),
            (
                range(179, 181),
                vec![
                    source((5029, 5030), &[(5029, 5030)]),
                    source((10_000_000, 10_000_001), &[(10_000_000, 10_000_001)]),
                ],
            ),
        ];
        for (wanted, expected) in cases {
            assert_eq!(plan(100, &runs, wanted), expected, "{wanted:?}");
        }
    }

    #[test]
    fn runs_out_of_order_are_separate_reads() {
        let pieces = plan(0, &[(5000, 10), (1000, 10)], range(0, 20));
        assert_eq!(pieces, vec![source((5000, 5010), &[(5000, 5010)]), source((1000, 1010), &[(1000, 1010)])]);
    }

    /// The bytes a plan's pieces give, cutting each read's bytes of `file` in chunks of `chunk`.
    fn assemble(header: &[u8], file: &Bytes, pieces: &[Piece], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Header(part) => out.extend_from_slice(&header[part.clone()]),
                Piece::Source { read, keep } => {
                    let mut cutter = Cutter::new(*read, keep.clone());
                    let bytes = file.slice(read.start() as usize..read.end() as usize);
                    for at in (0..bytes.len()).step_by(chunk) {
                        for slice in cutter.cut(&bytes.slice(at..(at + chunk).min(bytes.len()))) {
                            out.extend_from_slice(&slice);
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn every_range_cut_from_any_chunking_is_the_segments_bytes() {
        let file = Bytes::from((0..4000u32).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>());
        let header = [0xAAu8; 16];
        let runs = [(100, 30), (131, 1), (500, 200), (3000, 50), (200, 10)];
        let whole: Vec<u8> = header
            .iter()
            .copied()
            .chain(runs.iter().flat_map(|&(o, l)| file[o as usize..(o + l) as usize].to_vec()))
            .collect();
        for chunk in [1, 3, 64, 4096] {
            for start in (0..whole.len() as u64).step_by(7) {
                for end in [start + 1, start + 40, whole.len() as u64] {
                    let end = end.min(whole.len() as u64);
                    let pieces = plan(header.len(), &runs, range(start, end));
                    let got = assemble(&header, &file, &pieces, chunk);
                    assert_eq!(got, whole[start as usize..end as usize], "{start}..{end} in chunks of {chunk}");
                }
            }
        }
    }
}
