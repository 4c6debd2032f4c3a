//! What the requests in flight on a connection decide: when it is idle and closed (an HTTP/2
//! connection otherwise stays open for as long as the client answers pings, holding a connection
//! slot), and when an HTTP/1.1 exchange is done ([`PauseAfter`]).
//!
//! Each request holds an [`ActiveGuard`] until its response body is finished or dropped (see
//! `request_log::Tracked`); the connection is idle when none is held, and is closed gracefully
//! after `server.idle_timeout` of that.
//!
//! The counts are atomics, read where they are needed (when a deadline fires, or right after the
//! connection is polled), never announced: a request beginning or ending wakes no task. Requests
//! begin, and on HTTP/1.1 end, inside the connection task's own poll, and a task woken from inside
//! its own poll is put back at the end of its worker's queue with a second worker woken to steal
//! it: a futex call and a needless wake-up per request, ahead of the response's first byte
//! (`strace -f`, before: one `futex` wake and two `epoll_wait` calls of the other worker per
//! request).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;

/// Requests in flight on one connection.
#[derive(Clone)]
pub struct Activity(Arc<Counts>);

/// What an [`Activity`] counts.
struct Counts {
    in_flight: AtomicUsize,
    finished: AtomicU64,
    /// When the last request ended (or the connection began), in nanoseconds since `origin`;
    /// meaningful while `in_flight` is zero.
    idle_since_ns: AtomicU64,
    origin: Instant,
}

impl Default for Activity {
    fn default() -> Self {
        let counts = Counts {
            in_flight: AtomicUsize::new(0),
            finished: AtomicU64::new(0),
            idle_since_ns: AtomicU64::new(0),
            origin: Instant::now(),
        };
        Self(Arc::new(counts))
    }
}

impl Activity {
    /// Marks a request in flight until the guard is dropped.
    pub fn begin(&self) -> ActiveGuard {
        self.0.in_flight.fetch_add(1, Ordering::AcqRel);
        ActiveGuard(self.clone())
    }

    /// How many requests have finished so far: a mark for [`PauseAfter`].
    pub fn finished(&self) -> u64 {
        self.0.finished.load(Ordering::Acquire)
    }

    /// Whether a request has finished since `mark` and none is in flight.
    fn finished_since(&self, mark: u64) -> bool {
        self.0.in_flight.load(Ordering::Acquire) == 0 && self.finished() > mark
    }

    /// Since when no request has been in flight; `None` while one is.
    fn idle_since(&self) -> Option<Instant> {
        if self.0.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(self.0.origin + Duration::from_nanos(self.0.idle_since_ns.load(Ordering::Acquire)))
    }

    /// Resolves if no request has begun by `deadline`; never, once one has.
    pub fn none_by(&self, deadline: Instant) -> impl Future<Output = ()> + use<> {
        let activity = self.clone();
        async move {
            if !activity.begun() {
                tokio::time::sleep_until(deadline).await;
            }
            if activity.begun() {
                std::future::pending::<()>().await;
            }
        }
    }

    fn begun(&self) -> bool {
        self.0.in_flight.load(Ordering::Acquire) > 0 || self.finished() > 0
    }

    /// Resolves once no request has been in flight for `timeout`. Wakes once per `timeout` to
    /// look, however many requests come and go.
    pub async fn idle_for(&self, timeout: Duration) {
        let sleep = tokio::time::sleep(timeout);
        tokio::pin!(sleep);
        loop {
            sleep.as_mut().await;
            let now = Instant::now();
            match self.idle_since() {
                Some(since) if since + timeout <= now => return,
                Some(since) => sleep.as_mut().reset(since + timeout),
                None => sleep.as_mut().reset(now + timeout),
            }
        }
    }
}

/// One request in flight.
pub struct ActiveGuard(Activity);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let counts = &self.0.0;
        let since_origin = Instant::now().saturating_duration_since(counts.origin);
        // Both before the count falls, so that whoever sees it at zero sees them too.
        counts.idle_since_ns.store(since_origin.as_nanos() as u64, Ordering::Release);
        counts.finished.fetch_add(1, Ordering::AcqRel);
        counts.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

pin_project! {
    /// A served connection asked to stop (its protocol's graceful shutdown) once a request has
    /// finished after `mark` and none is in flight: HTTP/1.1's one exchange. Looked at right
    /// after each poll of the connection, in which HTTP/1.1's response bodies end, so no wake-up
    /// is needed; without a mark (HTTP/2) it is the connection alone.
    pub struct PauseAfter<C> {
        #[pin]
        served: C,
        stop: fn(Pin<&mut C>),
        activity: Activity,
        mark: Option<u64>,
        paused: bool,
    }
}

impl<C> PauseAfter<C> {
    pub fn new(served: C, stop: fn(Pin<&mut C>), activity: &Activity, mark: Option<u64>) -> Self {
        Self { served, stop, activity: activity.clone(), mark, paused: false }
    }

    /// Asks the connection to stop, for another reason than the exchange being done.
    pub fn stop(self: Pin<&mut Self>) {
        let this = self.project();
        (this.stop)(this.served);
    }

    /// Whether it was asked to stop because its exchange was done.
    pub fn paused(&self) -> bool {
        self.paused
    }
}

impl<C: Future> Future for PauseAfter<C> {
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let mut this = self.project();
        loop {
            let poll = this.served.as_mut().poll(cx);
            let done = this.mark.is_some_and(|mark| this.activity.finished_since(mark));
            if poll.is_ready() || *this.paused || !done {
                return poll;
            }
            *this.paused = true;
            (this.stop)(this.served.as_mut());
        }
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
    async fn the_idle_time_counts_from_the_end_of_the_last_request() {
        let activity = Activity::default();
        let start = Instant::now();
        let guard = activity.begin();
        let idle = tokio::spawn({
            let activity = activity.clone();
            async move {
                activity.idle_for(Duration::from_secs(60)).await;
                Instant::now()
            }
        });
        tokio::time::sleep(Duration::from_secs(50)).await;
        drop(guard);
        let idle_at = idle.await.unwrap() - start;
        assert!(idle_at >= Duration::from_secs(110) && idle_at < Duration::from_secs(111), "{idle_at:?}");
    }

    /// A connection stand-in: pending until stopped, then done.
    #[derive(Default)]
    struct Served {
        stopped: bool,
    }

    impl Future for Served {
        type Output = ();

        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            if self.stopped { Poll::Ready(()) } else { Poll::Pending }
        }
    }

    fn stop(served: Pin<&mut Served>) {
        served.get_mut().stopped = true;
    }

    fn poll(future: Pin<&mut PauseAfter<Served>>) -> Poll<()> {
        future.poll(&mut Context::from_waker(std::task::Waker::noop()))
    }

    #[test]
    fn an_exchange_pauses_once_a_request_after_the_mark_is_done_and_none_is_in_flight() {
        let activity = Activity::default();
        let mark = activity.finished();
        // A request that came and went before the first poll counts.
        drop(activity.begin());
        let longer = activity.begin();
        let mut exchange = std::pin::pin!(PauseAfter::new(Served::default(), stop, &activity, Some(mark)));
        assert!(poll(exchange.as_mut()).is_pending(), "a request is still in flight");
        drop(longer);
        assert!(poll(exchange.as_mut()).is_ready());
        assert!(exchange.paused());
        let later = std::pin::pin!(PauseAfter::new(Served::default(), stop, &activity, Some(activity.finished())));
        assert!(poll(later).is_pending(), "no request finished after the mark");
    }

    #[test]
    fn without_a_mark_only_a_stop_ends_it() {
        let activity = Activity::default();
        drop(activity.begin());
        let mut connection = std::pin::pin!(PauseAfter::new(Served::default(), stop, &activity, None));
        assert!(poll(connection.as_mut()).is_pending());
        connection.as_mut().stop();
        assert!(poll(connection.as_mut()).is_ready());
        assert!(!connection.paused());
    }
}
