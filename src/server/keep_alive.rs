//! HTTP/1.1 keep-alive that costs only the stream while the connection waits.
//!
//! hyper keeps an 8 KiB read buffer, an 8 KiB header buffer, its dispatcher and the service's
//! future slot for a connection's whole life, and has no way to release them between requests:
//! an idle keep-alive connection cost twice what nginx's does, which frees its buffers as soon as
//! a response is sent. So each exchange gets a hyper connection of its own ([`Exchange`]): when
//! its response is done the connection task takes the stream back from hyper (with anything the
//! client already sent, [`Rewind`]), drops hyper's state, and waits for the next request's first
//! byte holding the TLS stream alone ([`Rewind::next_request`]).
//!
//! hyper has no public type for a stream with bytes put back in front (its own `Rewind` is
//! private), hence the small one here. It also never lets hyper shut the stream down: hyper's
//! `poll_without_shutdown` reports a finished connection before its write buffer is flushed, so
//! an exchange is polled as a plain future (which flushes everything, then shuts down) and the
//! shutdown is only a flush; the connection task closes the stream itself when it ends.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::HttpService;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// Every byte value, so that the one byte read while waiting is put back as a static slice
/// rather than a one-byte allocation per request.
static EVERY_BYTE: [u8; 256] = {
    let mut table = [0; 256];
    let mut value = 0;
    while value < 256 {
        table[value] = value as u8;
        value += 1;
    }
    table
};

/// A stream that yields `prefix` before anything more is read from `inner`.
pub struct Rewind<T> {
    prefix: Bytes,
    inner: T,
}

impl<T> Rewind<T> {
    pub fn new(inner: T) -> Self {
        Self { prefix: Bytes::new(), inner }
    }

    /// The stream itself, to close it (what was put back is of no use then).
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// Puts `bytes` back in front of what is still to be read.
    fn rewind(&mut self, bytes: Bytes) {
        self.prefix = if self.prefix.is_empty() { bytes } else { [bytes, self.prefix.split_off(0)].concat().into() };
    }
}

impl<T: AsyncRead + Unpin> Rewind<T> {
    /// Waits for the first byte of the client's next request and puts it back: `false` when the
    /// client closed the connection (or it failed) instead.
    pub async fn next_request(&mut self) -> bool {
        if !self.prefix.is_empty() {
            return true;
        }
        let mut first = [0u8; 1];
        match self.inner.read(&mut first).await {
            Ok(1) => {
                let at = usize::from(first[0]);
                self.rewind(Bytes::from_static(&EVERY_BYTE[at..=at]));
                true
            }
            _ => false,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.prefix.is_empty() {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        let taken = self.prefix.len().min(buf.remaining());
        buf.put_slice(&self.prefix[..taken]);
        self.prefix.advance(taken);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// Only a flush: hyper's end of an exchange is not the connection's (see the module).
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What hyper asks of a service to serve HTTP/1.1 with it, and what polling its connection
/// from an `Unpin` box asks besides (an `Unpin` service and future), named once.
pub trait Http1Service:
    HttpService<Incoming, ResBody: Body<Error: Into<BoxError>> + 'static, Error: Into<BoxError>, Future: Unpin> + Unpin
{
}

impl<S> Http1Service for S where
    S: HttpService<Incoming, ResBody: Body<Error: Into<BoxError>> + 'static, Error: Into<BoxError>, Future: Unpin>
        + Unpin
{
}

/// One hyper HTTP/1.1 connection, polled until hyper is done (the client closed, or
/// [`Exchange::graceful_shutdown`] asked it to stop once idle) and has flushed everything, then
/// taken apart: the output is the stream, with what hyper had read ahead put back.
pub struct Exchange<T, S: HttpService<Incoming>>(Option<http1::Connection<TokioIo<Rewind<T>>, S>>);

impl<T: AsyncRead + AsyncWrite + Unpin, S: Http1Service> Exchange<T, S> {
    pub fn new(builder: &http1::Builder, stream: Rewind<T>, service: S) -> Self {
        Self(Some(builder.serve_connection(TokioIo::new(stream), service)))
    }

    /// Finish the exchange in flight, if any, then stop (hyper's own graceful shutdown, which
    /// with [`Future::poll`] here leaves the stream open).
    pub fn graceful_shutdown(self: Pin<&mut Self>) {
        if let Some(connection) = self.get_mut().0.as_mut() {
            Pin::new(connection).graceful_shutdown();
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin, S: Http1Service> Future for Exchange<T, S> {
    type Output = Result<Rewind<T>, hyper::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let connection = this.0.as_mut().expect("an exchange is not polled after it ended");
        ready!(Pin::new(connection).poll(cx))?;
        let parts = this.0.take().expect("the connection is there until it ends").into_parts();
        let mut stream = parts.io.into_inner();
        if !parts.read_buf.is_empty() {
            stream.rewind(parts.read_buf);
        }
        Poll::Ready(Ok(stream))
    }
}

/// Whether a request asks for its connection to end after the response (RFC 9112 §9.3): HTTP/1.0
/// unless it asks to be kept alive, HTTP/1.1 when it says `close`.
pub fn request_ends_connection(request: &http::request::Parts) -> bool {
    let says = |option: &str| {
        request.headers.get_all(http::header::CONNECTION).iter().any(|value| {
            value.to_str().is_ok_and(|list| list.split(',').any(|token| token.trim().eq_ignore_ascii_case(option)))
        })
    };
    match request.version {
        http::Version::HTTP_10 => !says("keep-alive"),
        http::Version::HTTP_11 => says("close"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(version: http::Version, connection: Option<&str>) -> http::request::Parts {
        let mut builder = http::Request::builder().version(version);
        if let Some(value) = connection {
            builder = builder.header(http::header::CONNECTION, value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn which_requests_end_their_connection() {
        use http::Version;
        assert!(!request_ends_connection(&request(Version::HTTP_11, None)));
        assert!(request_ends_connection(&request(Version::HTTP_11, Some("close"))));
        assert!(request_ends_connection(&request(Version::HTTP_11, Some("TE, Close"))));
        assert!(!request_ends_connection(&request(Version::HTTP_11, Some("keep-alive"))));
        assert!(request_ends_connection(&request(Version::HTTP_10, None)));
        assert!(!request_ends_connection(&request(Version::HTTP_10, Some("Keep-Alive"))));
        assert!(!request_ends_connection(&request(Version::HTTP_2, Some("close"))));
    }

    #[tokio::test]
    async fn a_rewound_stream_reads_the_prefix_then_the_rest() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut stream = Rewind::new(server);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"GET / HTTP/1.1\r\n").await.unwrap();
        assert!(stream.next_request().await, "the first byte arrived");
        stream.rewind(Bytes::from_static(b"read ahead:"));
        drop(client);
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"read ahead:GET / HTTP/1.1\r\n");
        assert!(!stream.next_request().await, "the client closed");
    }
}
