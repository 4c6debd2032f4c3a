//! The response body: nothing, a fixed payload, or a stream of store chunks of a known length.
//!
//! A stream body checks the length it promised in `Content-Length`. If the store ends early or
//! sends too much, the body fails instead of ending: hyper then closes the HTTP/1.1 connection
//! before the promised length, or resets the HTTP/2 stream, so a client can never take a short or
//! padded body for a whole one.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::store::{ByteStream, StoreError};

/// Why a body stopped before its end. hyper aborts the response on it.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The store failed after the headers were sent.
    #[error("store failed mid-body: {0}")]
    Store(#[from] StoreError),
    /// The store's stream ended before the promised length.
    #[error("store stream ended {missing} bytes short")]
    Short {
        /// Bytes still owed.
        missing: u64,
    },
    /// The store's stream gave more bytes than promised.
    #[error("store stream overran the promised length")]
    Overrun,
}

/// The body of every response the origin sends.
pub enum ResponseBody {
    /// No body (HEAD, 304, redirects).
    Empty,
    /// A payload known in full, sent as one frame.
    Full(Option<Bytes>),
    /// Chunks from a store, exactly `remaining` more bytes of them.
    Stream {
        /// The chunks.
        chunks: ByteStream,
        /// Bytes still to send.
        remaining: u64,
    },
}

impl ResponseBody {
    /// A fixed payload.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self::Full(Some(bytes.into()))
    }

    /// A stream that must yield exactly `len` bytes.
    pub fn stream(chunks: ByteStream, len: u64) -> Self {
        Self::Stream { chunks, remaining: len }
    }

    /// The payload of a fixed body, for tests and for logging sizes.
    pub fn into_static_bytes(self) -> Option<Bytes> {
        match self {
            Self::Full(bytes) => bytes,
            Self::Empty => Some(Bytes::new()),
            Self::Stream { .. } => None,
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            Self::Empty => Poll::Ready(None),
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Self::Stream { chunks, remaining } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let next = ready!(chunks.as_mut().poll_next(cx));
                let frame = match next {
                    Some(Ok(chunk)) => take_chunk(remaining, chunk),
                    Some(Err(error)) => Err(BodyError::Store(error)),
                    None => Err(BodyError::Short { missing: *remaining }),
                };
                if let Err(error) = &frame {
                    // The client sees a broken transfer; this is where the reason is recorded.
                    tracing::warn!(%error, missing = *remaining, "response aborted mid-body");
                    metrics::counter!(crate::telemetry::RESPONSES_ABORTED_TOTAL).increment(1);
                }
                Poll::Ready(Some(frame))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Full(bytes) => bytes.is_none(),
            Self::Stream { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Stream { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}

fn take_chunk(remaining: &mut u64, chunk: Bytes) -> Result<Frame<Bytes>, BodyError> {
    let len = chunk.len() as u64;
    if len > *remaining {
        return Err(BodyError::Overrun);
    }
    *remaining -= len;
    Ok(Frame::data(chunk))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn chunks(items: Vec<Result<&'static [u8], StoreError>>) -> ByteStream {
        Box::pin(futures_util::stream::iter(items.into_iter().map(|r| r.map(Bytes::from_static))))
    }

    #[tokio::test]
    async fn exact_streams_complete() {
        let body = ResponseBody::stream(chunks(vec![Ok(b"ab"), Ok(b"cd")]), 4);
        assert_eq!(body.size_hint().exact(), Some(4));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "abcd");
    }

    #[tokio::test]
    async fn short_streams_fail_instead_of_ending() {
        let body = ResponseBody::stream(chunks(vec![Ok(b"ab")]), 4);
        assert!(matches!(body.collect().await, Err(BodyError::Short { missing: 2 })));
    }

    #[tokio::test]
    async fn long_and_broken_streams_fail() {
        let body = ResponseBody::stream(chunks(vec![Ok(b"abcde")]), 4);
        assert!(matches!(body.collect().await, Err(BodyError::Overrun)));
        let body = ResponseBody::stream(chunks(vec![Ok(b"ab"), Err(StoreError::Changed)]), 4);
        assert!(matches!(body.collect().await, Err(BodyError::Store(StoreError::Changed))));
    }
}
