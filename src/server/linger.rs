//! Lingering close: after the server shuts down its side of a connection, it keeps reading (and
//! discarding) for a moment before closing the socket.
//!
//! Closing a socket with unread input makes the kernel send a reset, and a reset can destroy
//! response bytes the client has received but not yet read. HTTP/2 clients keep sending
//! WINDOW_UPDATE frames while they read, so the end of a drained download would be lost without
//! this. nginx does the same (`lingering_close`).
//!
//! The opposite case is a connection the server abandons (its client took nothing for
//! `send_timeout`, or would not take a refusal): closing it normally leaves the unsent bytes
//! queued in the kernel, which keeps retrying them for minutes, up to a send buffer per socket.
//! Such a connection is reset instead ([`ResetOnClose`]), as nginx's `reset_timedout_connection`
//! does: the kernel frees its buffers at once.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Longest time spent reading after our side is shut down.
pub const LINGER: Duration = Duration::from_secs(2);

pin_project! {
    /// A socket whose shutdown lingers until the peer closes or [`LINGER`] passes, and which is
    /// reset instead of closed when its [`ResetOnClose`] says so.
    pub struct Lingering<T: AsFd> {
        #[pin]
        inner: T,
        linger: Option<Pin<Box<Sleep>>>,
        reset: ResetOnClose,
    }

    impl<T: AsFd> PinnedDrop for Lingering<T> {
        fn drop(this: Pin<&mut Self>) {
            if this.reset.0.load(Ordering::Relaxed) {
                // SO_LINGER with a zero timeout: close() sends a reset and drops the send queue.
                let _ = socket2::SockRef::from(&this.inner).set_linger(Some(Duration::ZERO));
            }
        }
    }
}

/// Marks a connection as abandoned: its socket is reset when it is dropped.
#[derive(Debug, Clone, Default)]
pub struct ResetOnClose(Arc<AtomicBool>);

impl ResetOnClose {
    /// The socket will be reset, not closed.
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl<T: AsFd> Lingering<T> {
    /// Wraps a socket; `reset` decides, at the end, how it is closed.
    pub fn new(inner: T, reset: ResetOnClose) -> Self {
        Self { inner, linger: None, reset }
    }
}

impl<T: AsFd> AsFd for Lingering<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl<T: AsFd + AsyncRead> AsyncRead for Lingering<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl<T: AsFd + AsyncRead + AsyncWrite> AsyncWrite for Lingering<T> {
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
    use tokio::net::{TcpListener, TcpStream};

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        (listener.accept().await.unwrap().0, client)
    }

    #[tokio::test]
    async fn shutdown_reads_until_the_peer_closes() {
        let (server, mut client) = pair().await;
        let mut server = Lingering::new(server, ResetOnClose::default());
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

    #[tokio::test]
    async fn an_abandoned_connection_is_reset() {
        let (server, mut client) = pair().await;
        let reset = ResetOnClose::default();
        let server = Lingering::new(server, reset.clone());
        reset.set();
        drop(server);
        let mut seen = Vec::new();
        let error = client.read_to_end(&mut seen).await.expect_err("a reset, not an end of stream");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    }
}
