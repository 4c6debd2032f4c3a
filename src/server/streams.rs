//! The HTTP/2 stream deadline: a stream whose response makes no progress for
//! `server.send_timeout` is reset, and everything it holds (its store stream, its buffered chunk,
//! its share of the body budget) is released.
//!
//! The socket-level watch (`stall`) cannot see this case: a client that gives a stream a zero
//! flow-control window, and keeps the connection busy with pings, never blocks the socket, yet
//! the stream pins a chunk and an open file forever. hyper runs every HTTP/2 stream as a task of
//! the connection's executor, so the executor here wraps each one: the task races its stream
//! against a deadline that every body frame pushes back, and on expiry the stream future is
//! dropped. h2 answers the drop with `RST_STREAM(CANCEL)` and frees the stream's send queue,
//! which is nginx's behaviour for an HTTP/2 stream past its `send_timeout`.
//!
//! The clock starts when the response head is ready (see [`current`]): time spent waiting for the
//! store is the store's timeouts' business. The body moves one paced piece at a time (at least
//! 16 KiB, `body::MIN_WINDOW`), so a stream must take that much per `send_timeout`: 273 bytes/s at
//! the default, the only minimum rate the origin sets.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::telemetry;

/// Stored in [`StreamProgress::last`] until the response head is ready.
const NOT_STARTED: u64 = u64::MAX;

tokio::task_local! {
    /// The progress of the HTTP/2 stream whose task is running.
    static STREAM: Arc<StreamProgress>;
}

/// When a stream's body last moved.
#[derive(Debug)]
pub struct StreamProgress {
    /// When the stream began; `last` is in milliseconds after it.
    epoch: Instant,
    last: AtomicU64,
}

impl StreamProgress {
    fn new() -> Self {
        Self { epoch: Instant::now(), last: AtomicU64::new(NOT_STARTED) }
    }

    /// Notes that the body moved (or, the first time, that its head is ready): the deadline
    /// starts again from now.
    pub fn moved(&self) {
        self.last.store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Resolves once the body has not moved for `limit`.
    async fn stalled_for(&self, limit: Duration) {
        loop {
            let wait = match self.last.load(Ordering::Relaxed) {
                // Not sending yet: look again after a whole period, as `stall` does.
                NOT_STARTED => limit,
                last => {
                    let idle = self.epoch.elapsed().saturating_sub(Duration::from_millis(last));
                    match limit.checked_sub(idle) {
                        Some(left) if !left.is_zero() => left,
                        _ => return,
                    }
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// The progress of the HTTP/2 stream this task serves; `None` on HTTP/1.1, where the socket's
/// own stall watch applies.
pub fn current() -> Option<Arc<StreamProgress>> {
    STREAM.try_with(Arc::clone).ok()
}

/// The executor hyper spawns HTTP/2 streams on: tokio's, with the stream deadline around each.
#[derive(Debug, Clone, Copy)]
pub struct StreamExecutor {
    /// `server.send_timeout`.
    pub send_timeout: Duration,
}

impl<F> hyper::rt::Executor<F> for StreamExecutor
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, stream: F) {
        tokio::spawn(with_deadline(stream, self.send_timeout));
    }
}

/// Runs `stream` until it ends or stalls for `limit`; a stalled stream is dropped, which resets it.
async fn with_deadline<F: Future<Output = ()>>(stream: F, limit: Duration) {
    let progress = Arc::new(StreamProgress::new());
    let stream = STREAM.scope(Arc::clone(&progress), stream);
    tokio::select! {
        () = stream => {}
        () = progress.stalled_for(limit) => {
            metrics::counter!(telemetry::SEND_STALLS_TOTAL, "scope" => "stream").increment(1);
            tracing::debug!(timeout = ?limit, "resetting an HTTP/2 stream that made no progress");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_stops_moving_is_dropped() {
        let limit = Duration::from_secs(60);
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        let stream = async move {
            let _dropped = dropped_tx;
            let progress = current().expect("inside a stream task");
            progress.moved();
            // Moves three times, 50 s apart, then stops.
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_secs(50)).await;
                progress.moved();
            }
            std::future::pending::<()>().await;
        };
        let task = tokio::spawn(with_deadline(stream, limit));
        tokio::time::advance(Duration::from_secs(150 + 59)).await;
        tokio::task::yield_now().await;
        assert!(!task.is_finished(), "each move pushed the deadline back");
        tokio::time::advance(Duration::from_secs(2)).await;
        task.await.unwrap();
        assert!(dropped_rx.await.is_err(), "the stream future was dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_waits_for_the_response_head() {
        let task = tokio::spawn(with_deadline(std::future::pending::<()>(), Duration::from_secs(1)));
        tokio::time::advance(Duration::from_secs(3600)).await;
        tokio::task::yield_now().await;
        assert!(!task.is_finished(), "a stream still waiting for its store is not stalled");
        task.abort();
    }

    #[test]
    fn no_stream_outside_a_stream_task() {
        assert!(current().is_none());
    }
}
