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
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::since::Since;

pin_project! {
    /// A stream that notes when its writes are refused and when they go through again.
    pub struct WatchedWrites<T> {
        #[pin]
        inner: T,
        // Since when writes have been refused, while they are.
        blocked: Arc<Since>,
    }
}

/// The reading side of [`WatchedWrites`], for the connection's task.
#[derive(Debug, Clone)]
pub struct SendStall(Arc<Since>);

/// Wraps a stream; the [`SendStall`] tells when it stalls.
pub fn watch<T>(inner: T) -> (WatchedWrites<T>, SendStall) {
    let blocked = Arc::new(Since::default());
    (WatchedWrites { inner, blocked: Arc::clone(&blocked) }, SendStall(blocked))
}

impl SendStall {
    /// Resolves once a write has been blocked for `limit` without a byte going through.
    pub async fn exceeds(&self, limit: Duration) {
        self.0.older_than(limit).await;
    }
}

impl<T: AsFd> AsFd for WatchedWrites<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
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
        note(this.blocked, this.inner.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        note(this.blocked, this.inner.poll_write_vectored(cx, bufs))
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

fn note(blocked: &Since, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
    match &written {
        // Only the first refusal of a run sets the time; later ones must not push it forward.
        Poll::Pending => blocked.mark_if_unmarked(),
        Poll::Ready(Ok(n)) if *n > 0 => blocked.clear(),
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
        assert!(stall.0.elapsed().is_some(), "the write is blocked");
        assert!(!timer.is_finished());
        // A read makes room: the write goes through and the stall is over.
        let mut client = client;
        let mut buf = [0; 16];
        tokio::io::AsyncReadExt::read_exact(&mut client, &mut buf).await.unwrap();
        writer.await.unwrap().unwrap();
        assert!(stall.0.elapsed().is_none());
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
