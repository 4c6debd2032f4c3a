//! Read-ahead: the block after the one a viewer is reading is fetched in the background, so the
//! player's next request (the next segment, the next range of a progressive MP4) finds it cached.
//!
//! Bounded by a semaphore shared by all requests (`storage.cache.read_ahead_blocks` permits):
//! a prefetch that finds no free permit is skipped, never queued, so read-ahead can neither pile
//! up work nor delay a request. A prefetch is an ordinary block lookup, so it collapses with a
//! request that wants the same block, and a block already cached costs one hash lookup.
//!
//! A prefetch runs in a [`Fetch::ReadAhead`] scope, and so does the fill it starts: the store
//! below labels what it does for it (`vod_origin_s3_resumes_total{fetch="read_ahead"}`), so
//! that resumes of blocks nobody may need are told apart from those a response waits on.
//!
//! The response that starts a prefetch holds it ([`Prefetch`]) until it reaches the block. With
//! memory full, moka's admission refuses a new block asked for no more often than those it would
//! push out, and a prefetched block has been asked for once, by the prefetch: without the hold,
//! a prefetch that finished before its response got there was dropped and read from the store
//! again. A response holds at most one prefetched block, whose pieces count in the memory
//! budget like any other; a response that ends drops it.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// The prefetches allowed in flight at once.
pub(super) struct ReadAhead {
    /// `None` when read-ahead is disabled.
    permits: Option<Arc<Semaphore>>,
}

impl ReadAhead {
    /// At most `blocks` prefetches in flight; 0 disables read-ahead.
    pub fn new(blocks: usize) -> Self {
        Self { permits: (blocks > 0).then(|| Arc::new(Semaphore::new(blocks))) }
    }

    /// A permit for one prefetch, held until it finishes; `None` when none is free.
    pub fn permit(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.as_ref()?.clone().try_acquire_owned().ok()
    }
}

/// A prefetch of block `index`, as the response that started it holds it: the fill the prefetch
/// found or started (`T`), once its lookup has found one.
pub(super) struct Prefetch<T> {
    index: u64,
    found: oneshot::Receiver<T>,
}

impl<T> Prefetch<T> {
    /// A prefetch of block `index`, and where its lookup sends the fill it finds.
    pub fn new(index: u64) -> (oneshot::Sender<T>, Self) {
        let (send, found) = oneshot::channel();
        (send, Self { index, found })
    }

    /// The prefetched fill if this prefetch was of block `index` and its lookup found one.
    pub fn take(mut self, index: u64) -> Option<T> {
        (self.index == index).then(|| self.found.try_recv().ok()).flatten()
    }
}

/// Why a block is being fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fetch {
    /// A request wants it now (also: anything outside the cache's scopes).
    Request,
    /// A prefetch expects a request to want it; one may have joined the fill since.
    ReadAhead,
}

tokio::task_local! {
    static FETCH: Fetch;
}

impl Fetch {
    /// The fetch the current task is doing.
    pub fn current() -> Self {
        FETCH.try_with(|fetch| *fetch).unwrap_or(Self::Request)
    }

    /// Runs `work` as this kind of fetch.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        FETCH.scope(self, work).await
    }

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::ReadAhead => "read_ahead",
        }
    }
}

/// The `fetch` label of the read the current task does, for the store's metrics: `read_ahead`
/// in a fill a prefetch started, `request` anywhere else.
pub(in crate::store) fn fetch_label() -> &'static str {
    Fetch::current().as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_bounded_and_zero_disables() {
        assert!(ReadAhead::new(0).permit().is_none());
        let read_ahead = ReadAhead::new(2);
        let (a, b) = (read_ahead.permit(), read_ahead.permit());
        assert!(a.is_some() && b.is_some());
        assert!(read_ahead.permit().is_none(), "a third prefetch is skipped");
        drop(a);
        assert!(read_ahead.permit().is_some());
    }

    #[test]
    fn a_prefetch_is_taken_for_its_own_block_once_found() {
        let (send, prefetch) = Prefetch::<&str>::new(3);
        assert_eq!(prefetch.take(3), None, "its lookup has not found the fill yet");
        let (send_again, prefetch) = Prefetch::new(3);
        send_again.send("fill").unwrap();
        assert_eq!(prefetch.take(4), None, "another block");
        let (send_again, prefetch) = Prefetch::new(3);
        send_again.send("fill").unwrap();
        assert_eq!(prefetch.take(3), Some("fill"));
        drop(send);
    }

    #[tokio::test]
    async fn a_fetch_is_a_request_unless_a_prefetch_says_otherwise() {
        assert_eq!(fetch_label(), "request");
        assert_eq!(Fetch::ReadAhead.scope(async { fetch_label() }).await, "read_ahead");
        assert_eq!(Fetch::Request.scope(async { fetch_label() }).await, "request");
    }
}
