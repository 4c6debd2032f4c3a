//! Pacing: what a response body may hold is set by how fast its client takes it, and all bodies
//! together hold no more than `server.body_buffer_bytes`.
//!
//! Every chunk a body hands to hyper is a *piece*: a `Bytes` whose owner carries its share of the
//! global [`BodyBudget`] and tells the body's [`Flow`] when the transport has written it and
//! dropped it. Three rules follow from that one mechanism:
//!
//! - **A window per body.** The next piece is read only once the body's unwritten pieces are
//!   below its window, so a body holds at most two windows whatever its client does.
//! - **The window follows the client.** It starts at [`MIN_WINDOW`] and is recomputed from each
//!   written piece as about [`HOLD`] of the client's rate, within [`MIN_WINDOW`] and
//!   [`MAX_WINDOW`], and never more than the client has taken so far. The rate is the lower of
//!   the rate that piece went out at and the body's average since its first piece: buffers on
//!   the way (the kernel's, the client's own receive buffer) take pieces in bursts, so a single
//!   piece can look fast for a client that takes 64 KiB a second. The bound by what was taken
//!   keeps the first pieces small: they go out at once, into those buffers, and a rule on rate
//!   alone would grow every window to the maximum just before a slow client's socket fills.
//!   What the socket keeps unsent (`server.socket_unsent_bytes`) does not count as taken: the
//!   kernel takes that much from any client, one that reads nothing included. A fast client
//!   reaches full 256 KiB pieces after its first 320 KiB; a stalled HTTP/2 stream (zero window)
//!   and a slow reader hold one 16 KiB piece. The store is asked to read no more than the
//!   window (see `store::ChunkLimit`), and a larger chunk is split without copying.
//! - **One budget for all bodies.** A piece's bytes are claimed from the budget before the store
//!   is polled for them, and given back when the piece is dropped. When the budget is spent, new
//!   reads wait; they never fail.
//!
//! The budget is a tokio semaphore counting bytes: it is fair (first come, first served) and its
//! waiters are woken by the drops that free room.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::PollSemaphore;

use crate::telemetry;

/// The smallest window: one TLS record's worth, and what a body whose client takes nothing holds.
pub const MIN_WINDOW: usize = 16 * 1024;
/// The largest window: the local store's read size, which keeps a fast client at full speed.
pub const MAX_WINDOW: usize = crate::store::CHUNK_BYTES;

/// How much of its client's throughput a body aims to hold.
pub const HOLD: Duration = Duration::from_millis(250);

/// Bytes all response bodies may hold at once: read from the store, not yet written.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    limit: usize,
    /// What a socket takes before its client has taken any: not evidence of the client's pace.
    socket_unsent: usize,
}

impl BodyBudget {
    /// A budget of `limit` bytes (at least one full window, so every body can make progress).
    pub fn new(limit: usize) -> Self {
        let limit = limit.max(MAX_WINDOW);
        Self { bytes: Arc::new(Semaphore::new(limit)), limit, socket_unsent: 0 }
    }

    /// Sockets keep up to `bytes` unsent (`server.socket_unsent_bytes`): windows grow only with
    /// what clients take beyond that.
    pub fn with_socket_unsent_bytes(mut self, bytes: usize) -> Self {
        self.socket_unsent = bytes;
        self
    }

    /// Bytes held by bodies now.
    pub fn used(&self) -> usize {
        self.limit - self.bytes.available_permits()
    }
}

/// One body's pace: its window, its unwritten pieces, and its claim on the budget.
pub struct Pace {
    budget: BodyBudget,
    flow: Arc<Flow>,
    /// The claim for the next piece, taken before the store is polled.
    claim: Option<OwnedSemaphorePermit>,
    /// Created only when the budget makes this body wait.
    waiting: Option<PollSemaphore>,
    /// The part of a chunk larger than the window, sent as the next piece.
    rest: Option<Bytes>,
}

/// What a body's pieces report back when they are written.
struct Flow {
    /// Bytes handed to the transport and not yet dropped by it.
    unwritten: AtomicUsize,
    /// The current window in bytes.
    window: AtomicUsize,
    /// Bytes written so far: what the client and the buffers on its way have taken.
    written: AtomicUsize,
    /// The part of `written` the socket may keep unsent, whatever the client does.
    socket_unsent: usize,
    /// When the body was paced, for its average rate.
    started: Instant,
    /// The body's task, when it waits for its pieces to be written.
    waker: AtomicWaker,
}

impl Pace {
    /// A pace for one body, drawing on `budget`.
    pub fn new(budget: &BodyBudget) -> Self {
        let flow = Flow {
            unwritten: AtomicUsize::new(0),
            window: AtomicUsize::new(MIN_WINDOW),
            written: AtomicUsize::new(0),
            socket_unsent: budget.socket_unsent,
            started: Instant::now(),
            waker: AtomicWaker::new(),
        };
        Self { budget: budget.clone(), flow: Arc::new(flow), claim: None, waiting: None, rest: None }
    }

    /// The window: the most bytes the next piece may have.
    pub fn window(&self) -> usize {
        self.flow.window.load(Ordering::Relaxed)
    }

    /// Ready once the body may read its next piece: its earlier pieces are below the window and
    /// the budget has room for one more.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.flow.unwritten.load(Ordering::Acquire) >= self.window() {
            // Registered before the second look, so a piece written in between still wakes us.
            self.flow.waker.register(cx.waker());
            if self.flow.unwritten.load(Ordering::Acquire) >= self.window() {
                return Poll::Pending;
            }
        }
        if self.claim.is_none() {
            let want = u32::try_from(self.window()).expect("windows are at most MAX_WINDOW");
            self.claim = match Arc::clone(&self.budget.bytes).try_acquire_many_owned(want) {
                Ok(claim) => Some(claim),
                Err(_) => Some(std::task::ready!(self.wait_for_budget(cx, want))),
            };
        }
        Poll::Ready(())
    }

    fn wait_for_budget(&mut self, cx: &mut Context<'_>, want: u32) -> Poll<OwnedSemaphorePermit> {
        let waiting = self.waiting.get_or_insert_with(|| {
            metrics::counter!(telemetry::BODY_BUDGET_WAITS_TOTAL).increment(1);
            PollSemaphore::new(Arc::clone(&self.budget.bytes))
        });
        match std::task::ready!(waiting.poll_acquire_many(cx, want)) {
            Some(claim) => {
                self.waiting = None;
                Poll::Ready(claim)
            }
            // The semaphore is never closed.
            None => Poll::Pending,
        }
    }

    /// A piece left over from a chunk larger than the window, sent before the store is polled.
    pub fn take_rest(&mut self) -> Option<Bytes> {
        self.rest.take()
    }

    /// Turns `chunk` into a piece of at most the window, carrying its claim; the rest of a larger
    /// chunk is kept for the next call. Only after [`Pace::poll_ready`] was ready.
    pub fn piece(&mut self, mut chunk: Bytes) -> Bytes {
        let mut claim = self.claim.take().expect("poll_ready claimed the budget first");
        if chunk.len() > claim.num_permits() {
            self.rest = Some(chunk.split_off(claim.num_permits()));
        }
        let len = chunk.len();
        // What the piece does not use goes back to the budget now.
        let claim = claim.split(len).unwrap_or(claim);
        self.flow.unwritten.fetch_add(len, Ordering::AcqRel);
        Bytes::from_owner(Piece { bytes: chunk, _claim: claim, flow: Arc::clone(&self.flow), sent: Instant::now() })
    }
}

/// A chunk on its way out: gives back its budget and reports its pace when dropped.
struct Piece {
    bytes: Bytes,
    _claim: OwnedSemaphorePermit,
    flow: Arc<Flow>,
    sent: Instant,
}

impl AsRef<[u8]> for Piece {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Piece {
    fn drop(&mut self) {
        let len = self.bytes.len();
        let written = self.flow.written.fetch_add(len, Ordering::Relaxed) + len;
        let taken = written.saturating_sub(self.flow.socket_unsent);
        let window = next_window(Taken { len, took: self.sent.elapsed() }, written, taken, self.flow.started.elapsed());
        self.flow.window.store(window, Ordering::Relaxed);
        self.flow.unwritten.fetch_sub(len, Ordering::AcqRel);
        self.flow.waker.wake();
    }
}

/// `len` bytes written in `took`: one piece, or a body's whole life.
#[derive(Debug, Clone, Copy)]
struct Taken {
    len: usize,
    took: Duration,
}

impl Taken {
    /// What the client takes in [`HOLD`] at this rate.
    fn in_hold(self) -> usize {
        let took = self.took.as_nanos().max(1);
        usize::try_from(self.len as u128 * HOLD.as_nanos() / took).unwrap_or(usize::MAX)
    }
}

/// The window after `piece` was written, `written` bytes having been written in all over `life`
/// and `taken` of them being past the socket's unsent bytes: [`HOLD`] of the lower of the
/// piece's and the life's rates, no more than `taken`, within [`MIN_WINDOW`] and [`MAX_WINDOW`].
fn next_window(piece: Taken, written: usize, taken: usize, life: Duration) -> usize {
    let average = Taken { len: written, took: life };
    piece.in_hold().min(average.in_hold()).min(taken).clamp(MIN_WINDOW, MAX_WINDOW)
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;

    const KIB: usize = 1024;

    #[test]
    fn the_window_follows_the_rate_a_piece_went_out_at() {
        let ms = Duration::from_millis;
        let taken = |len, took| Taken { len, took };
        let cases = [
            // (piece, written in all, taken past the socket's unsent bytes, over) -> next window
            (taken(16 * KIB, ms(1)), 16 * KIB, 16 * KIB, ms(1), MIN_WINDOW), // fast, but only 16 KiB taken
            (taken(16 * KIB, ms(1)), 48 * KIB, 48 * KIB, ms(3), 48 * KIB),   // grows with what was taken
            (taken(64 * KIB, ms(1)), 4096 * KIB, 4032 * KIB, ms(40), MAX_WINDOW), // fast and proven: capped
            (taken(MAX_WINDOW, ms(250)), 4096 * KIB, 4032 * KIB, ms(4000), MAX_WINDOW), // exactly HOLD of its rate
            (taken(MAX_WINDOW, ms(1000)), 4096 * KIB, 4032 * KIB, ms(4000), 64 * KIB), // a quarter of the rate
            // A burst: one piece taken at once, by a client that took 64 KiB a second all along.
            (taken(MAX_WINDOW, ms(1)), 3840 * KIB, 3776 * KIB, Duration::from_secs(60), MIN_WINDOW),
            (taken(16 * KIB, Duration::from_secs(30)), 4096 * KIB, 4032 * KIB, ms(4000), MIN_WINDOW), // stalled
            (taken(0, Duration::ZERO), 0, 0, Duration::ZERO, MIN_WINDOW), // nothing sent, nothing learnt
            // A slow reader's first burst: its socket's unsent bytes and receive window filled at
            // once, 4 KiB of it taken by the client.
            (taken(16 * KIB, ms(1)), 68 * KIB, 4 * KIB, ms(2), MIN_WINDOW),
        ];
        for (piece, written, taken, life, next) in cases {
            assert_eq!(next_window(piece, written, taken, life), next, "{piece:?} {written} {taken} {life:?}");
        }
    }

    #[tokio::test]
    async fn a_fast_client_reaches_full_pieces_once_it_has_taken_more_than_its_socket_holds() {
        let budget = BodyBudget::new(8 * MAX_WINDOW).with_socket_unsent_bytes(64 * KIB);
        let mut pace = Pace::new(&budget);
        let (mut written, mut pieces) = (0, Vec::new());
        while pace.window() < MAX_WINDOW {
            ready(&mut pace).await;
            let piece = pace.piece(Bytes::from(vec![0u8; MAX_WINDOW]));
            written += piece.len();
            pieces.push(piece.len() / KIB);
            drop(piece);
        }
        assert_eq!(pieces, [16, 16, 16, 16, 16, 16, 32, 64, 128], "KiB; the first 64 KiB prove nothing");
        assert_eq!(written, 320 * KIB);
    }

    async fn ready(pace: &mut Pace) {
        poll_fn(|cx| pace.poll_ready(cx)).await;
    }

    fn is_ready(pace: &mut Pace) -> bool {
        let waker = futures_util::task::noop_waker();
        pace.poll_ready(&mut Context::from_waker(&waker)).is_ready()
    }

    #[tokio::test]
    async fn a_piece_holds_its_bytes_of_the_budget_until_written() {
        let budget = BodyBudget::new(MAX_WINDOW);
        let mut pace = Pace::new(&budget);
        ready(&mut pace).await;
        assert_eq!(budget.used(), MIN_WINDOW, "the claim is taken before the store is polled");
        let piece = pace.piece(Bytes::from(vec![7u8; 1000]));
        assert_eq!(budget.used(), 1000, "what the chunk did not use went back");
        assert_eq!(&piece[..], &[7u8; 1000][..]);
        drop(piece);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn a_chunk_larger_than_the_window_is_split_without_a_copy() {
        let budget = BodyBudget::new(MAX_WINDOW);
        let mut pace = Pace::new(&budget);
        let chunk = Bytes::from(vec![1u8; MIN_WINDOW + 10]);
        let start = chunk.as_ptr();
        ready(&mut pace).await;
        let piece = pace.piece(chunk);
        assert_eq!((piece.len(), piece.as_ptr()), (MIN_WINDOW, start));
        let rest = pace.take_rest().expect("the rest is kept");
        assert_eq!(rest.len(), 10);
        assert_eq!(rest.as_ptr(), start.wrapping_add(MIN_WINDOW));
    }

    #[tokio::test]
    async fn a_body_waits_while_its_pieces_are_unwritten() {
        let budget = BodyBudget::new(8 * MAX_WINDOW);
        let mut pace = Pace::new(&budget);
        ready(&mut pace).await;
        let piece = pace.piece(Bytes::from(vec![0u8; MIN_WINDOW]));
        assert!(!is_ready(&mut pace), "a whole window is unwritten");
        let waiting = tokio::spawn(async move {
            ready(&mut pace).await;
            pace
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(piece);
        let mut pace = waiting.await.unwrap();
        assert_eq!(pace.window(), MIN_WINDOW, "16 KiB taken proves nothing yet");
        ready(&mut pace).await;
        drop(pace.piece(Bytes::from(vec![0u8; MIN_WINDOW])));
        assert_eq!(pace.window(), 2 * MIN_WINDOW, "a client that takes pieces at once gets larger ones");
    }

    #[tokio::test]
    async fn a_spent_budget_makes_new_reads_wait_and_never_fail() {
        let budget = BodyBudget::new(MAX_WINDOW);
        let mut first = Pace::new(&budget);
        let mut pieces = Vec::new();
        while budget.used() + MIN_WINDOW <= MAX_WINDOW {
            ready(&mut first).await;
            pieces.push(first.piece(Bytes::from(vec![0u8; MIN_WINDOW])));
            // Each piece is written "slowly": the window stays at the floor, and the gate is
            // opened by hand so that one body can spend the whole budget.
            first.flow.unwritten.store(0, Ordering::Release);
        }
        let mut second = Pace::new(&budget);
        assert!(!is_ready(&mut second), "no room left");
        let waiting = tokio::spawn(async move { ready(&mut second).await });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        pieces.pop();
        waiting.await.unwrap();
    }
}
