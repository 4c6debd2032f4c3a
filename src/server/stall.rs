//! The send-stall timeout: a client that stops reading entirely is let go.
//!
//! Backpressure keeps a stalled client cheap (its response stops being read from storage), but
//! it still holds a connection slot and a buffer for as long as the socket stays full. Like
//! nginx's `send_timeout`, the clock runs only while a write is blocked, and restarts with every
//! byte the socket takes: a slow viewer is never cut, one that reads nothing is, after
//! `server.send_timeout`.
//!
//! The watch sits below TLS, on the socket itself, because that is where "the client accepted
//! no byte" can be seen; above TLS and HTTP/2 a full socket looks like any other wait.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Stored in [`Progress::blocked_since`] while no write is blocked.
const NOT_BLOCKED: u64 = u64::MAX;

/// Whether, and since when, the socket has refused writes.
#[derive(Debug)]
struct Progress {
    /// When the connection began; times below are milliseconds after it.
    epoch: Instant,
    /// When the current run of refused writes began, or [`NOT_BLOCKED`].
    blocked_since: AtomicU64,
}

impl Progress {
    fn blocked(&self) {
        let now = self.epoch.elapsed().as_millis() as u64;
        // Only the first refusal of a run sets the time; later ones must not push it forward.
        let _ = self.blocked_since.compare_exchange(NOT_BLOCKED, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    fn wrote(&self) {
        self.blocked_since.store(NOT_BLOCKED, Ordering::Relaxed);
    }

    /// How long writes have been refused, if they are.
    fn blocked_for(&self) -> Option<Duration> {
        match self.blocked_since.load(Ordering::Relaxed) {
            NOT_BLOCKED => None,
            since => Some(self.epoch.elapsed().saturating_sub(Duration::from_millis(since))),
        }
    }
}

pin_project! {
    /// A stream that notes when its writes are refused and when they go through again.
    pub struct WatchedWrites<T> {
        #[pin]
        inner: T,
        progress: Arc<Progress>,
    }
}

/// The reading side of [`WatchedWrites`], for the connection's task.
#[derive(Debug, Clone)]
pub struct SendStall(Arc<Progress>);

/// Wraps a stream; the [`SendStall`] tells when it stalls.
pub fn watch<T>(inner: T) -> (WatchedWrites<T>, SendStall) {
    let progress = Arc::new(Progress { epoch: Instant::now(), blocked_since: AtomicU64::new(NOT_BLOCKED) });
    (WatchedWrites { inner, progress: Arc::clone(&progress) }, SendStall(progress))
}

impl SendStall {
    /// Resolves once a write has been blocked for `limit` without a byte going through.
    pub async fn exceeds(&self, limit: Duration) {
        loop {
            let wait = match self.0.blocked_for() {
                Some(blocked) if blocked >= limit => return,
                Some(blocked) => limit - blocked,
                // Nothing blocked: look again after a whole period. A stall that starts meanwhile
                // is caught at most `limit` late, which is precise enough for a timeout of
                // tens of seconds and costs one timer per period instead of one per write.
                None => limit,
            };
            tokio::time::sleep(wait).await;
        }
    }
}

impl<T: AsyncRead> AsyncRead for WatchedWrites<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl<T: AsyncWrite> AsyncWrite for WatchedWrites<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.project();
        note(this.progress, this.inner.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        note(this.progress, this.inner.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

fn note(progress: &Progress, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
    match &written {
        Poll::Pending => progress.blocked(),
        Poll::Ready(Ok(n)) if *n > 0 => progress.wrote(),
        Poll::Ready(_) => {}
    }
    written
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_socket_stalls_and_a_reader_clears_it() {
        let (client, server) = tokio::io::duplex(16);
        let (mut server, stall) = watch(server);
        let limit = Duration::from_secs(60);
        let timer = tokio::spawn({
            let stall = stall.clone();
            async move { stall.exceeds(limit).await }
        });
        server.write_all(&[0; 16]).await.unwrap();
        // The pipe is full: the next write blocks.
        let writer = tokio::spawn(async move { server.write_all(&[1; 8]).await });
        tokio::time::advance(Duration::from_secs(30)).await;
        tokio::task::yield_now().await;
        assert!(stall.0.blocked_for().is_some(), "the write is blocked");
        assert!(!timer.is_finished());
        // A read makes room: the write goes through and the stall is over.
        let mut client = client;
        let mut buf = [0; 16];
        tokio::io::AsyncReadExt::read_exact(&mut client, &mut buf).await.unwrap();
        writer.await.unwrap().unwrap();
        assert!(stall.0.blocked_for().is_none());
        tokio::time::advance(Duration::from_secs(300)).await;
        tokio::task::yield_now().await;
        assert!(!timer.is_finished(), "nothing is blocked any more");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_reads_nothing_is_let_go() {
        let (_client, server) = tokio::io::duplex(16);
        let (mut server, stall) = watch(server);
        let _writer = tokio::spawn(async move { server.write_all(&[0; 64]).await });
        tokio::task::yield_now().await;
        tokio::time::timeout(Duration::from_secs(121), stall.exceeds(Duration::from_secs(60)))
            .await
            .expect("the stall is noticed within two periods");
    }
}
