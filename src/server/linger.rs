//! Lingering close: after the server shuts down its side of a connection, it keeps reading (and
//! discarding) for a moment before closing the socket.
//!
//! Closing a socket with unread input makes the kernel send a reset, and a reset can destroy
//! response bytes the client has received but not yet read. HTTP/2 clients keep sending
//! WINDOW_UPDATE frames while they read, so the end of a drained download would be lost without
//! this. nginx does the same (`lingering_close`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Longest time spent reading after our side is shut down.
pub const LINGER: Duration = Duration::from_secs(2);

pin_project! {
    /// A stream whose shutdown lingers until the peer closes or [`LINGER`] passes.
    pub struct Lingering<T> {
        #[pin]
        inner: T,
        linger: Option<Pin<Box<Sleep>>>,
    }
}

impl<T> Lingering<T> {
    /// Wraps a stream.
    pub fn new(inner: T) -> Self {
        Self { inner, linger: None }
    }
}

impl<T: AsyncRead> AsyncRead for Lingering<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite> AsyncWrite for Lingering<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut this = self.project();
        if this.linger.is_none() {
            ready!(this.inner.as_mut().poll_shutdown(cx))?;
            *this.linger = Some(Box::pin(tokio::time::sleep(LINGER)));
        }
        let mut scratch = [0u8; 2048];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match this.inner.as_mut().poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Pending => {
                    let linger = this.linger.as_mut().expect("set above");
                    return linger.as_mut().poll(cx).map(Ok);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn shutdown_reads_until_the_peer_closes() {
        let (server, mut client) = tokio::io::duplex(64);
        let mut server = Lingering::new(server);
        client.write_all(b"late window updates").await.unwrap();
        let closer = tokio::spawn(async move {
            let mut seen = Vec::new();
            client.read_to_end(&mut seen).await.unwrap();
            seen
        });
        server.write_all(b"the end of the body").await.unwrap();
        server.shutdown().await.unwrap();
        assert_eq!(closer.await.unwrap(), b"the end of the body");
    }
}
