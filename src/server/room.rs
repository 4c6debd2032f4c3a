//! TLS writes cut to the socket's room: rustls encrypts only what the kernel will take now.
//!
//! rustls encrypts all it is handed (up to its buffer limit) and keeps the records the socket
//! refuses. For a client that reads nothing that is a whole limit of ciphertext held per
//! connection, and the body's pieces behind it counted as written by its pace (`body::pace`),
//! which then grows the body's window on the strength of bytes nobody took.
//!
//! The kernel already bounds what each socket keeps unsent (`server.socket_unsent_bytes`,
//! `TCP_NOTSENT_LOWAT`), so the room it has is known: that bound less its unsent bytes
//! (`SIOCOUTQNSD`, an `ioctl` when a write needs more room than the last answer left). Each
//! write hands rustls no more than that room. With no room, rustls may take one byte: its
//! record is what finds the socket full, so tokio's readiness, which wakes the write when the
//! socket drains, and the send-stall clock below TLS (`stall`) both see the block. A write that
//! never reached the socket would leave both blind.
//!
//! Only slow clients are fitted. A client that took its last 256 KiB within 256 ms (1 MB/s or
//! more) has 32 KiB in rustls' queue for at most 32 ms: it keeps rustls' two records, which
//! have its next bytes ready the moment its socket drains. Fitting it costs a socket query a
//! write and leaves its drained socket waiting for the connection's task (measured: up to +23%
//! CPU per GB and +37% p99 at 64 connections on two cores). A new connection is fitted until it
//! proves fast; a slow reader never does.
//!
//! rustls has no hook for this (its buffer limit is a fixed size), hence this wrapper: it sets
//! that limit to the room before each write.

use std::ffi::c_int;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::server::TlsStream;

/// What rustls may queue at most, plaintext or records: two 16 KiB TLS records. nginx's
/// `ssl_buffer_size` is one record; two keep a fast client's writes batched.
pub const TLS_BUFFER_BYTES: usize = 32 * 1024;

/// Linux's `SIOCOUTQNSD`: the bytes a TCP socket has queued and not yet sent.
const SIOCOUTQNSD: rustix::ioctl::Opcode = 0x894B;

/// A TLS stream whose writes fit the socket's room.
pub struct FitToSocket<I> {
    tls: Box<TlsStream<I>>,
    /// `server.socket_unsent_bytes`; 0 when the kernel does not bound unsent bytes.
    unsent_limit: usize,
    /// Room the socket is known to have without asking: the last measure, less what rustls
    /// was handed since. The kernel's sending only adds room, so it is never overstated by
    /// more than that measure, and a write it covers needs no `ioctl`: a fast client's socket
    /// is asked once per two writes instead of every write.
    known_room: usize,
    speed: Speed,
}

/// A client that took [`LAP_BYTES`] within [`LAP_TIME`] is fast: 1 MB/s or more.
const LAP_BYTES: usize = 256 * 1024;
const LAP_TIME: Duration = Duration::from_millis(256);

/// How fast a connection's client takes its bytes, judged once per [`LAP_BYTES`].
#[derive(Debug)]
struct Speed {
    lap_started: Instant,
    lap_bytes: usize,
    fast: bool,
}

impl Speed {
    fn new(now: Instant) -> Self {
        Self { lap_started: now, lap_bytes: 0, fast: false }
    }

    /// Notes `taken` bytes written; a lap's end judges the client, at `now()` (the clock is
    /// read once a lap, not once a write).
    fn note(&mut self, taken: usize, now: impl FnOnce() -> Instant) {
        self.lap_bytes += taken;
        if self.lap_bytes >= LAP_BYTES {
            let now = now();
            self.fast = now.duration_since(self.lap_started) <= LAP_TIME;
            (self.lap_started, self.lap_bytes) = (now, 0);
        }
    }
}

impl<I: AsFd> FitToSocket<I> {
    /// Wraps `tls`, whose socket keeps at most `unsent_limit` bytes unsent (0: no bound, and
    /// then rustls keeps its fixed limit).
    pub fn new(mut tls: Box<TlsStream<I>>, unsent_limit: u32) -> Self {
        tls.get_mut().1.set_buffer_limit(Some(TLS_BUFFER_BYTES));
        Self { tls, unsent_limit: unsent_limit as usize, known_room: 0, speed: Speed::new(Instant::now()) }
    }

    /// The TLS stream, for its handshake's results (ALPN).
    pub fn tls(&self) -> &TlsStream<I> {
        &self.tls
    }

    /// Sets rustls' limit for a write of `wanted` bytes to the socket's room, and returns it.
    fn fit(&mut self, wanted: usize) -> usize {
        if self.unsent_limit == 0 || self.speed.fast {
            self.tls.get_mut().1.set_buffer_limit(Some(TLS_BUFFER_BYTES));
            return TLS_BUFFER_BYTES;
        }
        if self.known_room < wanted.min(TLS_BUFFER_BYTES) {
            self.known_room = match unsent_bytes(self.tls.get_ref().0.as_fd()) {
                Some(unsent) => self.unsent_limit.saturating_sub(unsent),
                None => TLS_BUFFER_BYTES,
            };
        }
        let limit = self.known_room.clamp(1, TLS_BUFFER_BYTES);
        self.tls.get_mut().1.set_buffer_limit(Some(limit));
        limit
    }

    /// Notes what rustls took of a write.
    fn took(&mut self, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(taken)) = written {
            self.known_room = self.known_room.saturating_sub(taken);
            self.speed.note(taken, Instant::now);
        }
        written
    }
}

/// The bytes `socket` has queued and not yet sent, or `None` when the kernel cannot say (not a
/// TCP socket).
#[allow(unsafe_code)]
fn unsent_bytes(socket: BorrowedFd<'_>) -> Option<usize> {
    // SAFETY: SIOCOUTQNSD is a getter that writes one `int`.
    let unsent = unsafe { rustix::ioctl::ioctl(socket, rustix::ioctl::Getter::<SIOCOUTQNSD, c_int>::new()) };
    unsent.ok().and_then(|unsent| usize::try_from(unsent).ok())
}

impl<I: AsFd + AsyncRead + AsyncWrite + Unpin> AsyncRead for FitToSocket<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.tls).poll_read(cx, buf)
    }
}

impl<I: AsFd + AsyncRead + AsyncWrite + Unpin> AsyncWrite for FitToSocket<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        // tokio-rustls goes on encrypting until `buf` is taken or the socket refuses: cut `buf`.
        let limit = self.fit(buf.len());
        let written = Pin::new(&mut *self.tls).poll_write(cx, &buf[..buf.len().min(limit)]);
        self.took(written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // One pass of encryption, which rustls' limit bounds.
        self.fit(bufs.iter().map(|buf| buf.len()).sum());
        let written = Pin::new(&mut *self.tls).poll_write_vectored(cx, bufs);
        self.took(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.tls.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.tls).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.tls).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_fast_once_a_lap_went_out_within_its_time() {
        let start = Instant::now();
        let mut speed = Speed::new(start);
        speed.note(LAP_BYTES - 1, || start + Duration::from_millis(1));
        assert!(!speed.fast, "new connections are fitted until a lap is done");
        speed.note(1, || start + LAP_TIME);
        assert!(speed.fast, "256 KiB in 256 ms");
        speed.note(LAP_BYTES, || start + LAP_TIME * 3);
        assert!(!speed.fast, "the next lap took twice as long: slow again");
        speed.note(LAP_BYTES / 2, || start + LAP_TIME * 10);
        assert!(!speed.fast, "a half lap judges nothing");
    }
}
