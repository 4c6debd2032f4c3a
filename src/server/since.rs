//! A moment shared between tasks, and a wait for it to be long enough ago: the one clock behind
//! both stall deadlines (a socket that refuses writes, an HTTP/2 stream whose body stands still).
//!
//! One task marks the moment (an atomic store, cheap enough for every write or body frame);
//! another waits until it lies `limit` in the past. The waiter sleeps until the earliest time
//! that could be, and looks again: there is no timer per mark.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Stored while no moment is marked.
const UNMARKED: u64 = u64::MAX;

/// A moment, or none, in milliseconds after the value was made.
#[derive(Debug)]
pub struct Since {
    epoch: Instant,
    at: AtomicU64,
}

impl Default for Since {
    fn default() -> Self {
        Self { epoch: Instant::now(), at: AtomicU64::new(UNMARKED) }
    }
}

impl Since {
    /// Marks now, replacing any earlier mark.
    pub fn mark(&self) {
        self.at.store(self.now(), Ordering::Relaxed);
    }

    /// Marks now unless a mark is already set: the start of a run is kept.
    pub fn mark_if_unmarked(&self) {
        let _ = self.at.compare_exchange(UNMARKED, self.now(), Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Removes the mark.
    pub fn clear(&self) {
        self.at.store(UNMARKED, Ordering::Relaxed);
    }

    /// How long ago the mark was set, if it is.
    pub fn elapsed(&self) -> Option<Duration> {
        match self.at.load(Ordering::Relaxed) {
            UNMARKED => None,
            at => Some(self.epoch.elapsed().saturating_sub(Duration::from_millis(at))),
        }
    }

    /// Resolves once a mark is at least `limit` old. With no mark it looks again after a whole
    /// `limit`, so a mark set meanwhile is noticed at most `limit` late: precise enough for
    /// timeouts of tens of seconds, for one timer per period instead of one per mark.
    pub async fn older_than(&self, limit: Duration) {
        loop {
            let wait = match self.elapsed() {
                Some(elapsed) if elapsed >= limit => return,
                Some(elapsed) => limit - elapsed,
                None => limit,
            };
            tokio::time::sleep(wait).await;
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(UNMARKED - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_mark_ages_and_a_new_one_starts_again() {
        let since = Since::default();
        assert_eq!(since.elapsed(), None);
        since.mark();
        tokio::time::advance(Duration::from_secs(30)).await;
        since.mark_if_unmarked();
        assert_eq!(since.elapsed(), Some(Duration::from_secs(30)), "the first mark of a run is kept");
        since.mark();
        assert_eq!(since.elapsed(), Some(Duration::ZERO));
        since.clear();
        assert_eq!(since.elapsed(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_ends_when_the_mark_is_old_enough() {
        let since = std::sync::Arc::new(Since::default());
        let waiter = tokio::spawn({
            let since = std::sync::Arc::clone(&since);
            async move { since.older_than(Duration::from_secs(60)).await }
        });
        tokio::time::advance(Duration::from_secs(600)).await;
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "no mark, no end");
        since.mark();
        tokio::time::timeout(Duration::from_secs(121), waiter).await.expect("within two periods").unwrap();
    }
}
