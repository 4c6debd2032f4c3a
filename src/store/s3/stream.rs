//! A ranged S3 read that survives a broken connection.
//!
//! The AWS SDK retries a request only until the response headers arrive; a body that breaks
//! afterwards is the caller's problem. Here, a break (an error, an early end, or a stall) opens a
//! new ranged GET from the next byte, pinned to the same ETag, so the client receives the same
//! bytes it would have without the fault. A replaced object (412, or a different ETag) or a spent
//! budget fails the stream, which aborts the response: never a short body, never two versions.
//!
//! The budget (`storage.s3.max_resumes`) belongs to one ranged read, the unit S3 answers: an
//! uncached range (or one part of a multi-range response), or one block the edge cache fills.
//! A response through the cache that spans several blocks may so see more resumes in all, each
//! block's within the budget.

use std::sync::Arc;

use bytes::Bytes;

use super::{Inner, Target};
use crate::plan::ByteRange;
use crate::store::{ByteStream, StoreError};

/// Streams `range` of `target`, starting with the already-open `first` body.
pub(super) fn resumable(
    inner: Arc<Inner>,
    target: Target,
    range: ByteRange,
    first: aws_sdk_s3::primitives::ByteStream,
) -> ByteStream {
    ByteStream::new(async_stream::try_stream! {
        let mut body = first;
        let mut offset = range.start();
        let mut resumes = 0u32;
        // One registry lookup per stream; each chunk is then an atomic add.
        let s3_bytes = metrics::counter!(crate::telemetry::S3_BYTES_TOTAL);
        while offset < range.end() {
            let broke = match body.next().await {
                Some(Ok(chunk)) => {
                    let chunk = within(chunk, range.end() - offset)?;
                    offset += chunk.len() as u64;
                    s3_bytes.increment(chunk.len() as u64);
                    // An empty chunk is legal and carries nothing; skip it rather than yield it.
                    if !chunk.is_empty() {
                        yield chunk;
                    }
                    continue;
                }
                Some(Err(error)) => error.to_string(),
                None => "connection closed early".to_string(),
            };
            // What the read is for: a response's, or the edge cache's prefetch of a block.
            let fetch = crate::store::cache::fetch_label();
            if resumes >= inner.max_resumes {
                tracing::warn!(bucket = %target.bucket, key = %target.key, offset, resumes, fetch, cause = %broke, "S3 body broke; resume budget spent, aborting the read");
                Err(StoreError::Upstream("S3 body broke".into()))?;
            }
            resumes += 1;
            tracing::info!(bucket = %target.bucket, key = %target.key, offset, resumes, fetch, cause = %broke, "S3 body broke; resuming");
            metrics::counter!(crate::telemetry::S3_RESUMES_TOTAL, "fetch" => fetch).increment(1);
            let rest = ByteRange::new(offset, range.end()).expect("offset is before the end");
            body = inner.open(&target, rest).await?;
        }
    })
}

/// A chunk is never allowed past the end of the range: S3 sending more than asked is a fault.
fn within(chunk: Bytes, remaining: u64) -> Result<Bytes, StoreError> {
    if chunk.len() as u64 > remaining {
        return Err(StoreError::Upstream("S3 sent more bytes than the range".into()));
    }
    Ok(chunk)
}
