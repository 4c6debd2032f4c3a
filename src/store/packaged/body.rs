//! The bytes of a packaged answer: generated text and boxes, and for a media segment its
//! `moof` and `mdat` header followed by the sample data as the wrapped store's own chunks.
//!
//! A media segment is never assembled: its header is written (a few KiB), and its samples are
//! ranged reads of the wrapped store (`reads`: close runs share one read), streamed as that
//! store's `Bytes` (slices of the edge cache's blocks, or the local store's reads) with the
//! other tracks' bytes cut away, so the sample data is not copied. A range of a segment reads
//! only what it overlaps.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;

use super::index::Packaging;
use super::reads::{self, Cutter, Piece};
use crate::key::ObjectKey;
use crate::package::{self, Resource};
use crate::plan::ByteRange;
use crate::store::{ByteStream, ChunkLimit, ObjectMeta, ObjectStore, StoreError};

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

/// Playlists, manifests and init segments: small, generated whole, once per index.
fn generated(packaging: &Packaging, resource: Resource) -> Option<Bytes> {
    let Packaging { index, segmentation, .. } = packaging;
    packaging.generated(resource, || {
        let bytes = match resource {
            Resource::Master => package::master_playlist(index, segmentation).into_bytes(),
            Resource::Mpd => package::manifest(index, segmentation).into_bytes(),
            Resource::MediaPlaylist { track } => {
                package::media_playlist(index.track(track)?, segmentation).into_bytes()
            }
            Resource::Init { track } => package::init_segment(index.track(track)?),
            Resource::Segment { .. } => return None,
        };
        Some(Bytes::from(bytes))
    })
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
    let pieces = reads::plan(header.len(), &segment.runs, range);
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

/// The pieces in order, each read of the MP4 made when its turn comes. The first read is opened
/// before returning, so a store that fails at once fails the request before its headers go
/// out, as every other body does.
async fn stream(
    store: Arc<dyn ObjectStore>,
    key: ObjectKey,
    meta: ObjectMeta,
    header: Bytes,
    pieces: Vec<Piece>,
) -> Result<ByteStream, StoreError> {
    let first = match pieces.iter().find_map(|piece| match piece {
        Piece::Source { read, .. } => Some(*read),
        Piece::Header(_) => None,
    }) {
        Some(read) => Some(store.get(&key, &meta, read).await?),
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
                    Piece::Source { read, keep } => {
                        let mut chunks = match first.take() {
                            Some(chunks) => chunks,
                            None => store.get(&key, &meta, read).await?,
                        };
                        let mut cutter = Cutter::new(read, keep);
                        while let Some(chunk) = {
                            chunks.limit_next_chunk(limit.get_or(usize::MAX));
                            chunks.next().await
                        } {
                            for slice in cutter.cut(&chunk?) {
                                yield slice;
                            }
                        }
                    }
                }
            }
        },
    ))
}
