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
use tokio::time::Instant;

/// Requests in flight on one connection.
#[derive(Clone, Default)]
pub struct Activity(Arc<watch::Sender<Requests>>);

/// What an [`Activity`] counts.
#[derive(Debug, Clone, Copy, Default)]
struct Requests {
    in_flight: usize,
    finished: u64,
}

impl Activity {
    /// Marks a request in flight until the guard is dropped.
    pub fn begin(&self) -> ActiveGuard {
        self.0.send_modify(|requests| requests.in_flight += 1);
        ActiveGuard(self.clone())
    }

    /// How many requests have finished so far: a mark for [`Activity::finished_after`].
    pub fn finished(&self) -> u64 {
        self.0.borrow().finished
    }

    /// Resolves once a request has finished since `mark` and none is in flight.
    pub fn finished_after(&self, mark: u64) -> impl Future<Output = ()> + use<> {
        let mut requests = self.0.subscribe();
        async move {
            if requests.wait_for(|now| now.in_flight == 0 && now.finished > mark).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Resolves if no request has begun by `deadline`; never, once one has. Call it before the
    /// connection is first polled: it watches from the moment it is called, not from its first
    /// poll, so a request that begins in between is still seen.
    pub fn none_by(&self, deadline: Instant) -> impl Future<Output = ()> + use<> {
        let mut requests = self.0.subscribe();
        let now = *requests.borrow_and_update();
        let begun = now.in_flight > 0 || now.finished > 0;
        async move {
            // Any change is a request beginning (the count only falls after it rose).
            if begun || tokio::time::timeout_at(deadline, requests.changed()).await.is_ok() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Resolves once no request has been in flight for `timeout`.
    pub async fn idle_for(&self, timeout: Duration) {
        let mut requests = self.0.subscribe();
        loop {
            if requests.wait_for(|now| now.in_flight == 0).await.is_err() {
                return std::future::pending().await;
            }
            // Any change (a request starting) restarts the wait.
            if tokio::time::timeout(timeout, requests.changed()).await.is_err() {
                return;
            }
        }
    }
}

/// One request in flight.
pub struct ActiveGuard(Activity);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.0.send_modify(|requests| {
            requests.in_flight -= 1;
            requests.finished += 1;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_request_that_began_before_the_first_poll_counts() {
        let activity = Activity::default();
        let first_request = activity.none_by(Instant::now() + Duration::from_secs(10));
        // The request begins (and goes on for an hour) before the deadline is first polled.
        let _request = activity.begin();
        let deadline = tokio::spawn(first_request);
        tokio::time::advance(Duration::from_secs(3600)).await;
        tokio::task::yield_now().await;
        assert!(!deadline.is_finished(), "a long response is not a connection without requests");
        deadline.abort();
        let silent = Activity::default();
        let deadline = silent.none_by(Instant::now() + Duration::from_secs(10));
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

    #[tokio::test(start_paused = true)]
    async fn finished_after_sees_a_request_that_came_and_went_before_the_first_poll() {
        let activity = Activity::default();
        let mark = activity.finished();
        let done = activity.finished_after(mark);
        drop(activity.begin());
        let longer = activity.begin();
        let waiting = tokio::spawn(activity.finished_after(mark));
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "a request is still in flight");
        drop(longer);
        waiting.await.unwrap();
        done.await;
        let none_yet = tokio::spawn(activity.finished_after(activity.finished()));
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(!none_yet.is_finished(), "no request finished after the mark");
        none_yet.abort();
    }
}
