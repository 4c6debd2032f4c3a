//! The bytes of a packaged answer: generated text and boxes, and for a media segment its
//! `moof` and `mdat` header followed by the sample data as the wrapped store's own chunks.
//!
//! A media segment is never assembled: its header is written (a few KiB), and each run of its
//! samples in the MP4 is a ranged read of the wrapped store, streamed as that store's `Bytes`
//! (slices of the edge cache's blocks, or the local store's reads), so the sample data is not
//! copied. A range of a segment reads only the runs it overlaps.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;

use super::index::Packaging;
use crate::key::ObjectKey;
use crate::package::{self, Resource};
use crate::plan::ByteRange;
use crate::store::{ByteStream, ChunkLimit, ObjectMeta, ObjectStore, StoreError};

/// One part of a segment's bytes within a requested range.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// These bytes of the generated header.
    Header(std::ops::Range<usize>),
    /// These bytes of the MP4.
    Source(ByteRange),
}

/// The length of an answer, computed without reading any sample data; `None` when it names a
/// track or segment the file does not have.
pub fn len(packaging: &Packaging, resource: Resource) -> Option<u64> {
    match resource {
        Resource::Segment { track, number } => {
            package::media_segment_len(packaging.index.track(track)?, &packaging.segmentation, number)
        }
        _ => generated(packaging, resource).map(|bytes| bytes.len() as u64),
    }
}

/// Playlists, manifests and init segments: small, generated whole.
fn generated(packaging: &Packaging, resource: Resource) -> Option<Bytes> {
    let Packaging { index, segmentation } = packaging;
    let bytes = match resource {
        Resource::Master => package::master_playlist(index, segmentation).into_bytes(),
        Resource::Mpd => package::manifest(index, segmentation).into_bytes(),
        Resource::MediaPlaylist { track } => package::media_playlist(index.track(track)?, segmentation).into_bytes(),
        Resource::Init { track } => package::init_segment(index.track(track)?),
        Resource::Segment { .. } => return None,
    };
    Some(Bytes::from(bytes))
}

/// The bytes `range` of an answer (a range within [`len`]).
pub async fn open(
    store: &Arc<dyn ObjectStore>,
    key: &ObjectKey,
    meta: &ObjectMeta,
    packaging: &Packaging,
    resource: Resource,
    range: ByteRange,
) -> Result<ByteStream, StoreError> {
    let Resource::Segment { track, number } = resource else {
        let bytes = generated(packaging, resource).ok_or(StoreError::NotFound)?;
        let slice = slice(&bytes, range)?;
        return Ok(ByteStream::new(futures_util::stream::once(async move { Ok(slice) })));
    };
    let track = packaging.index.track(track).ok_or(StoreError::NotFound)?;
    let segment = package::media_segment(track, &packaging.segmentation, number).ok_or(StoreError::NotFound)?;
    let header = Bytes::from(segment.header);
    let pieces = pieces(header.len(), &segment.runs, range);
    stream(Arc::clone(store), key.clone(), meta.clone(), header, pieces).await
}

/// `range` of `bytes`, or an internal error if the length computed before disagrees.
fn slice(bytes: &Bytes, range: ByteRange) -> Result<Bytes, StoreError> {
    let (start, end) = (range.start() as usize, range.end() as usize);
    if end > bytes.len() {
        return Err(StoreError::internal("a packaged answer is shorter than its length"));
    }
    Ok(bytes.slice(start..end))
}

/// The header's bytes and the MP4's bytes that make up `range` of a segment whose header is
/// `header_len` bytes and whose sample data is `runs` (offset, length) in order.
fn pieces(header_len: usize, runs: &[(u64, u64)], range: ByteRange) -> Vec<Piece> {
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
            pieces.push(Piece::Source(part));
        }
        at = run_end;
        if at >= want_end {
            break;
        }
    }
    pieces
}

/// The pieces in order, each source piece a read of `store` when its turn comes. The first
/// source read is opened before returning, so a store that fails at once fails the request
/// before its headers go out, as every other body does.
async fn stream(
    store: Arc<dyn ObjectStore>,
    key: ObjectKey,
    meta: ObjectMeta,
    header: Bytes,
    pieces: Vec<Piece>,
) -> Result<ByteStream, StoreError> {
    let first = match pieces.iter().find_map(|piece| match piece {
        Piece::Source(range) => Some(*range),
        Piece::Header(_) => None,
    }) {
        Some(range) => Some(store.get(&key, &meta, range).await?),
        None => None,
    };
    // The body's pace reaches the store's reads through this stream's own limit.
    let limit = ChunkLimit::default();
    Ok(ByteStream::sized(
        limit.clone(),
        async_stream::try_stream! {
            let mut first = first;
            for piece in pieces {
                match piece {
                    Piece::Header(part) => yield header.slice(part),
                    Piece::Source(range) => {
                        let mut part = match first.take() {
                            Some(part) => part,
                            None => store.get(&key, &meta, range).await?,
                        };
                        while let Some(chunk) = {
                            part.limit_next_chunk(limit.get_or(usize::MAX));
                            part.next().await
                        } {
                            yield chunk?;
                        }
                    }
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: u64, end: u64) -> ByteRange {
        ByteRange::new(start, end).unwrap()
    }

    #[test]
    fn a_range_takes_the_header_and_the_runs_it_overlaps() {
        // A 100-byte header, then 50 bytes at 1000 and 30 bytes at 5000: 180 bytes in all.
        let runs = [(1000, 50), (5000, 30)];
        let cases = [
            (
                range(0, 180),
                vec![Piece::Header(0..100), Piece::Source(range(1000, 1050)), Piece::Source(range(5000, 5030))],
            ),
            (range(0, 10), vec![Piece::Header(0..10)]),
            (range(90, 110), vec![Piece::Header(90..100), Piece::Source(range(1000, 1010))]),
            (range(120, 160), vec![Piece::Source(range(1020, 1050)), Piece::Source(range(5000, 5010))]),
            (range(150, 180), vec![Piece::Source(range(5000, 5030))]),
            (range(179, 180), vec![Piece::Source(range(5029, 5030))]),
        ];
        for (wanted, expected) in cases {
            assert_eq!(pieces(100, &runs, wanted), expected, "{wanted:?}");
        }
    }

    #[test]
    fn the_pieces_add_up_to_the_range() {
        let runs = [(7, 3), (100, 1), (50, 20), (0, 5)];
        let total = 40 + 3 + 1 + 20 + 5;
        for start in 0..total {
            for end in start + 1..=total {
                let sum: u64 = pieces(40, &runs, range(start, end))
                    .iter()
                    .map(|piece| match piece {
                        Piece::Header(part) => part.len() as u64,
                        Piece::Source(part) => part.len(),
                    })
                    .sum();
                assert_eq!(sum, end - start, "{start}..{end}");
            }
        }
    }
}
