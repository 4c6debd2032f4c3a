//! The response body: nothing, a fixed payload, or a stream of store chunks of a known length.
//!
//! A stream body checks the length it promised in `Content-Length`. If the store ends early or
//! sends too much, the body fails instead of ending: hyper then closes the HTTP/1.1 connection
//! before the promised length, or resets the HTTP/2 stream, so a client can never take a short or
//! padded body for a whole one.
//!
//! A stream body can also be paced ([`pace`]): what it holds then follows its client's speed and
//! counts against the budget all bodies share.

mod pace;

use pace::Pace;
pub use pace::{BodyBudget, MAX_WINDOW, MIN_WINDOW};

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::StreamExt;
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
        /// The pace, once the server has set one (see [`ResponseBody::paced`]).
        pace: Option<Box<Pace>>,
    },
}

impl ResponseBody {
    /// A fixed payload.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self::Full(Some(bytes.into()))
    }

    /// A stream that must yield exactly `len` bytes.
    pub fn stream(chunks: ByteStream, len: u64) -> Self {
        Self::Stream { chunks, remaining: len, pace: None }
    }

    /// Paces a stream body from `budget`; other bodies are fixed and tiny, and stay as they are.
    pub fn paced(self, budget: &BodyBudget) -> Self {
        match self {
            Self::Stream { chunks, remaining, pace: None } => {
                Self::Stream { chunks, remaining, pace: Some(Box::new(Pace::new(budget))) }
            }
            other => other,
        }
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
            Self::Stream { chunks, remaining, pace } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let next = match pace {
                    Some(pace) => ready!(next_piece(chunks, pace, cx)),
                    None => ready!(chunks.poll_next_unpin(cx)),
                };
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

/// The next chunk of a paced body: once the pace allows, the rest of a split chunk or the next
/// chunk from the store (asked to read no more than the window), cut to the window.
fn next_piece(
    chunks: &mut ByteStream,
    pace: &mut Pace,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Bytes, StoreError>>> {
    ready!(pace.poll_ready(cx));
    let next = match pace.take_rest() {
        Some(rest) => Some(Ok(rest)),
        None => {
            chunks.limit_next_chunk(pace.window());
            ready!(chunks.poll_next_unpin(cx))
        }
    };
    Poll::Ready(next.map(|chunk| chunk.map(|chunk| pace.piece(chunk))))
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
        ByteStream::new(futures_util::stream::iter(items.into_iter().map(|r| r.map(Bytes::from_static))))
    }

    #[tokio::test]
    async fn exact_streams_complete() {
        let body = ResponseBody::stream(chunks(vec![Ok(b"ab"), Ok(b"cd")]), 4);
        assert_eq!(body.size_hint().exact(), Some(4));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "abcd");
    }

    #[tokio::test]
    async fn a_paced_stream_sends_every_byte_in_pieces_that_follow_its_client() {
        let content: Vec<u8> = (0..MAX_WINDOW * 3 + 5).map(|i| (i % 251) as u8).collect();
        let chunks = content.chunks(MAX_WINDOW).map(|c| Ok(Bytes::copy_from_slice(c))).collect::<Vec<_>>();
        let budget = BodyBudget::new(MAX_WINDOW);
        let mut body = ResponseBody::stream(ByteStream::new(futures_util::stream::iter(chunks)), content.len() as u64)
            .paced(&budget);
        let mut sent = Vec::new();
        let mut sizes = Vec::new();
        // Like a transport: each frame is written (dropped) before the next is asked for.
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(budget.used() >= data.len(), "a piece holds its bytes of the budget");
            sizes.push(data.len());
            sent.extend_from_slice(&data);
        }
        assert_eq!(sent, content);
        assert_eq!(sizes[0], MIN_WINDOW, "a new body starts small");
        assert!(sizes.iter().all(|&size| size <= MAX_WINDOW));
        assert!(sizes.contains(&MAX_WINDOW), "a client that takes everything at once gets full pieces");
        assert_eq!(budget.used(), 0);
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
