//! Closing connections that carry no request: an HTTP/2 connection otherwise stays open for as
//! long as the client answers pings, holding a connection slot.
//!
//! Each request holds an [`ActiveGuard`] until its response body is finished or dropped (see
//! `request_log::Tracked`); the
//! connection is idle when none is held, and is closed gracefully after `server.idle_timeout`
//! of that.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// Requests in flight on one connection.
#[derive(Clone, Default)]
pub struct Activity(Arc<watch::Sender<usize>>);

impl Activity {
    /// Marks a request in flight until the guard is dropped.
    pub fn begin(&self) -> ActiveGuard {
        self.0.send_modify(|n| *n += 1);
        ActiveGuard(self.clone())
    }

    /// Resolves if no request has begun within `timeout`; never, once one has. Call it before
    /// the connection is first polled: it watches from the moment it is called, not from its
    /// first poll, so a request that begins in between is still seen.
    pub fn none_within(&self, timeout: Duration) -> impl Future<Output = ()> + use<> {
        let mut requests = self.0.subscribe();
        let begun = *requests.borrow_and_update() > 0;
        async move {
            // Any change is a request beginning (the count only falls after it rose).
            if begun || tokio::time::timeout(timeout, requests.changed()).await.is_ok() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Resolves once no request has been in flight for `timeout`.
    pub async fn idle_for(&self, timeout: Duration) {
        let mut in_flight = self.0.subscribe();
        loop {
            if in_flight.wait_for(|n| *n == 0).await.is_err() {
                return std::future::pending().await;
            }
            // Any change (a request starting) restarts the wait.
            if tokio::time::timeout(timeout, in_flight.changed()).await.is_err() {
                return;
            }
        }
    }
}

/// One request in flight.
pub struct ActiveGuard(Activity);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.0.send_modify(|n| *n -= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_request_that_began_before_the_first_poll_counts() {
        let activity = Activity::default();
        let first_request = activity.none_within(Duration::from_secs(10));
        // The request begins (and goes on for an hour) before the deadline is first polled.
        let _request = activity.begin();
        let deadline = tokio::spawn(first_request);
        tokio::time::advance(Duration::from_secs(3600)).await;
        tokio::task::yield_now().await;
        assert!(!deadline.is_finished(), "a long response is not a connection without requests");
        deadline.abort();
        let silent = Activity::default();
        let deadline = silent.none_within(Duration::from_secs(10));
        tokio::time::timeout(Duration::from_secs(11), deadline).await.expect("no request: the deadline fires");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_only_after_the_last_request_ends() {
        let activity = Activity::default();
        let guard = activity.begin();
        let idle = tokio::spawn({
            let activity = activity.clone();
            async move { activity.idle_for(Duration::from_secs(60)).await }
        });
        tokio::time::advance(Duration::from_secs(120)).await;
        tokio::task::yield_now().await;
        assert!(!idle.is_finished(), "a request is in flight");
        drop(guard);
        tokio::time::advance(Duration::from_secs(61)).await;
        idle.await.unwrap();
    }
}
