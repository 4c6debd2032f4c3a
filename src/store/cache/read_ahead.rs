//! Read-ahead: the block after the one a viewer is reading is fetched in the background, so the
//! player's next request (the next segment, the next range of a progressive MP4) finds it cached.
//!
//! Bounded by a semaphore shared by all requests (`storage.cache.read_ahead_blocks` permits):
//! a prefetch that finds no free permit is skipped, never queued, so read-ahead can neither pile
//! up work nor delay a request. A prefetch is an ordinary block lookup, so it collapses with a
//! request that wants the same block, and a block already cached costs one hash lookup.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
}
