//! The only step of the pipeline that reads bytes: a rendered answer's body, opened from the
//! object's source once its headers are decided.
//!
//! The first read of every body is opened before the headers go out, so a store that fails at
//! once still gets a proper status instead of a broken transfer.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http::Response;

use super::render::{BodyPlan, Rendered};
use crate::body::ResponseBody;
use crate::key::ObjectKey;
use crate::plan::ByteRange;
use crate::plan::multipart::MultipartLayout;
use crate::store::{ByteStream, ChunkLimit, ObjectMeta, ObjectStore, Prefetched, StoreError};

/// Where an object's bytes come from.
#[derive(Clone)]
pub enum Source {
    /// A store, pinned to the version `meta` describes.
    Store {
        /// The store.
        store: Arc<dyn ObjectStore>,
        /// The object.
        key: ObjectKey,
        /// Its version.
        meta: ObjectMeta,
    },
    /// A payload rendered at startup.
    Static(Bytes),
}

impl Source {
    async fn open(&self, range: ByteRange) -> Result<ByteStream, StoreError> {
        match self {
            Self::Store { store, key, meta } => store.get(key, meta, range).await,
            Self::Static(bytes) => {
                let slice = bytes.slice(range.start() as usize..range.end() as usize);
                Ok(ByteStream::new(futures_util::stream::once(async move { Ok(slice) })))
            }
        }
    }
}

impl Rendered {
    /// The answer with its body: the `prefetched` bytes if they are exactly the ones planned,
    /// else opened from `source` (unneeded prefetched bytes are dropped unread).
    pub async fn with_body(
        self,
        source: Source,
        prefetched: Option<Prefetched>,
    ) -> Result<Response<ResponseBody>, StoreError> {
        let body = match self.body {
            BodyPlan::Empty => ResponseBody::Empty,
            BodyPlan::Range(range) => {
                let chunks = match prefetched.filter(|bytes| bytes.range == range) {
                    Some(bytes) => bytes.chunks,
                    None => source.open(range).await?,
                };
                ResponseBody::stream(chunks, range.len())
            }
            BodyPlan::Multipart(layout) => {
                let len = layout.content_length;
                ResponseBody::stream(multipart_body(source, layout).await?, len)
            }
        };
        let (parts, ()) = self.head.into_parts();
        Ok(Response::from_parts(parts, body))
    }
}

/// The parts of a multipart/byteranges body, one store read per part.
async fn multipart_body(source: Source, layout: MultipartLayout) -> Result<ByteStream, StoreError> {
    let first_range = layout.parts.first().map(|(_, range)| *range);
    let mut first = match first_range {
        Some(range) => Some(source.open(range).await?),
        None => None,
    };
    // The body's pace reaches each part's reads through the multipart stream's own limit.
    let limit = ChunkLimit::default();
    Ok(ByteStream::sized(
        limit.clone(),
        async_stream::try_stream! {
            for (part_header, range) in layout.parts {
                yield part_header;
                let mut part = match first.take() {
                    Some(stream) => stream,
                    None => source.open(range).await?,
                };
                let mut sent = 0u64;
                while let Some(chunk) = {
                    part.limit_next_chunk(limit.get_or(usize::MAX));
                    part.next().await
                } {
                    let chunk = chunk?;
                    sent += chunk.len() as u64;
                    yield chunk;
                }
                // A short part would shift every later byte; fail the body instead.
                if sent != range.len() {
                    Err(StoreError::Upstream(format!("multipart part ended after {sent} of {} bytes", range.len())))?;
                }
            }
            yield layout.trailer;
        },
    ))
}
