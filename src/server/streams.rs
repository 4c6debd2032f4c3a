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
use std::time::Duration;

use super::since::Since;
use crate::telemetry;

tokio::task_local! {
    /// The progress of the HTTP/2 stream whose task is running.
    static STREAM: Arc<StreamProgress>;
}

/// When a stream's body last moved; unmarked until its response head is ready.
#[derive(Debug, Default)]
pub struct StreamProgress(Since);

impl StreamProgress {
    /// Notes that the body moved (or, the first time, that its head is ready): the deadline
    /// starts again from now.
    pub fn moved(&self) {
        self.0.mark();
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
    let progress = Arc::new(StreamProgress::default());
    let stream = STREAM.scope(Arc::clone(&progress), stream);
    tokio::select! {
        () = stream => {}
        () = progress.0.older_than(limit) => {
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
        let (progress_tx, progress_rx) = tokio::sync::oneshot::channel();
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        // A stream that hands its progress out, then waits for ever: the test moves it.
        let stream = async move {
            let _dropped = dropped_tx;
            let _ = progress_tx.send(current().expect("inside a stream task"));
            std::future::pending::<()>().await;
        };
        let task = tokio::spawn(with_deadline(stream, limit));
        let progress = progress_rx.await.unwrap();
        progress.moved();
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(50)).await;
            progress.moved();
        }
        tokio::time::advance(Duration::from_secs(59)).await;
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
