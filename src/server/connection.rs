//! One connection's life: TLS handshake under a deadline, then HTTP/1.1 or HTTP/2 until the
//! client leaves, the connection idles out, or shutdown drains it. Runs in the connection's own
//! task, so a slow handshake never holds up the accept loop.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::idle::{Activity, PauseAfter};
use super::keep_alive::{Exchange, Rewind};
use super::linger::{Lingering, ResetOnClose};
use super::room::FitToSocket;
use super::service::{Ending, service};
use super::stall::{self, SendStall};
use super::{Accepted, Listener, Shared};
use crate::telemetry;

/// Counts a connection in the active-connections gauge while it lives.
struct Counted(&'static str);

impl Counted {
    fn new(protocol: &'static str) -> Self {
        metrics::gauge!(telemetry::CONNECTIONS_ACTIVE, "protocol" => protocol).increment(1.0);
        Self(protocol)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        metrics::gauge!(telemetry::CONNECTIONS_ACTIVE, "protocol" => self.0).decrement(1.0);
    }
}

/// How the server tells a connection to finish.
#[derive(Clone)]
pub(super) struct Stop {
    /// Finish the requests in flight, take no more.
    pub draining: CancellationToken,
    /// The drain deadline passed: close now.
    pub stopping: CancellationToken,
}

/// Serves one accepted connection until it ends or `shutdown` drains it. A shed connection gets
/// the handshake deadline for everything, its one answer included.
pub(super) async fn serve(stream: TcpStream, accepted: Accepted, shared: Arc<Shared>, shutdown: Stop) {
    if accepted.shed {
        let deadline = shared.limits.handshake_timeout;
        let _ = tokio::time::timeout(deadline, serve_protocol(stream, accepted, shared, shutdown)).await;
    } else {
        serve_protocol(stream, accepted, shared, shutdown).await;
    }
}

async fn serve_protocol(stream: TcpStream, accepted: Accepted, shared: Arc<Shared>, shutdown: Stop) {
    let reset = ResetOnClose::default();
    let (stream, send_stall) = stall::watch(Lingering::new(stream, reset.clone()));
    let peer = accepted.peer;
    let connection = Connection { accepted, send_stall, reset, shared, shutdown };
    match accepted.listener {
        Listener::PlainHttp => http1(stream, "http1-plain", connection).await,
        Listener::Admin => http1(stream, "admin", connection).await,
        Listener::Https | Listener::Demo => {
            let limits = &connection.shared.limits;
            // Boxed: the stream lives as long as the connection, and each layer of future below
            // would otherwise keep room for its own copy of it (1.2 KiB), idle or not.
            let tls = match tokio::time::timeout(limits.handshake_timeout, connection.shared.tls.accept(stream)).await {
                Ok(Ok(tls)) => FitToSocket::new(Box::new(tls), limits.socket_unsent_bytes),
                // A failed handshake is the client's problem (plain text on the TLS port, an old
                // protocol, a scanner): note it and close.
                Ok(Err(error)) => {
                    metrics::counter!(telemetry::TLS_HANDSHAKE_FAILURES_TOTAL, "reason" => "error").increment(1);
                    return tracing::debug!(%peer, %error, "TLS handshake failed");
                }
                Err(_) => {
                    metrics::counter!(telemetry::TLS_HANDSHAKE_FAILURES_TOTAL, "reason" => "timeout").increment(1);
                    return tracing::debug!(%peer, "TLS handshake timed out");
                }
            };
            if tls.tls().get_ref().1.alpn_protocol() == Some(b"h2") {
                http2(tls, connection).await;
            } else {
                http1(tls, "http1", connection).await;
            }
        }
    }
}

/// What serving a connection's requests needs besides its stream.
struct Connection {
    accepted: Accepted,
    send_stall: SendStall,
    /// Set when the server abandons the connection: its socket is then reset, not closed.
    reset: ResetOnClose,
    shared: Arc<Shared>,
    shutdown: Stop,
}

/// Serves HTTP/1.1 one exchange at a time (see `keep_alive`): between requests the connection
/// holds its stream alone, and waits for the next request's first byte.
async fn http1<I>(io: I, protocol: &'static str, connection: Connection)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watch = Watch::new(protocol, connection.shared.limits.handshake_timeout);
    let mut stream = Rewind::new(io);
    let (mut deadline, mut reason) = (watch.first_request_by, "no_request");
    loop {
        match next_request(&mut stream, deadline, reason, &connection).await {
            Waited::Request => {}
            Waited::Close => return close(stream.into_inner(), &connection).await,
            Waited::Left => return,
        }
        let mark = watch.activity.finished();
        // Boxed, like HTTP/2's: what serving takes lives only while it serves, and the
        // connection's task keeps no room for it while the connection waits.
        let served = Box::pin(drive(
            Exchange::new(
                &connection.shared.http1,
                stream,
                service(connection.accepted, protocol, &connection.shared, &watch.activity, &watch.ending),
            ),
            Exchange::graceful_shutdown,
            &connection,
            &watch,
            Some(mark),
        ));
        stream = match served.await {
            Driven::Paused(stream) => stream,
            Driven::Finished(stream) => return close(stream.into_inner(), &connection).await,
            Driven::Gone => return,
        };
        (deadline, reason) = (Instant::now() + connection.shared.limits.keep_alive_timeout, "idle");
    }
}

async fn http2<I>(io: I, connection: Connection)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watch = Watch::new("h2", connection.shared.limits.handshake_timeout);
    let service = service(connection.accepted, "h2", &connection.shared, &watch.activity, &watch.ending);
    let served = connection.shared.http2.serve_connection(TokioIo::new(io), service);
    // Boxed so that the task of every connection is not sized for HTTP/2's state.
    Box::pin(drive(served, hyper::server::conn::http2::Connection::graceful_shutdown, &connection, &watch, None)).await;
}

/// What came of waiting for a request on an idle HTTP/1.1 connection.
enum Waited {
    /// Its first byte arrived.
    Request,
    /// The deadline passed or the server drains: close the connection.
    Close,
    /// The client closed the connection, or it failed.
    Left,
}

/// Waits until `deadline` for the first byte of a request, holding nothing but the stream.
async fn next_request<I>(
    stream: &mut Rewind<I>,
    deadline: Instant,
    reason: &'static str,
    connection: &Connection,
) -> Waited
where
    I: AsyncRead + Unpin,
{
    tokio::select! {
        arrived = stream.next_request() => if arrived { Waited::Request } else { Waited::Left },
        () = tokio::time::sleep_until(deadline) => {
            closed(connection.accepted.peer, reason);
            Waited::Close
        }
        () = connection.shutdown.draining.cancelled() => Waited::Close,
    }
}

/// Ends an HTTP/1.1 connection cleanly (TLS `close_notify`, then a lingering close), unless the
/// client takes nothing for `send_timeout` or the drain deadline passes: then it is reset.
async fn close<I: AsyncWrite + Unpin>(mut stream: I, connection: &Connection) {
    tokio::select! {
        _ = stream.shutdown() => {}
        () = tokio::time::sleep(connection.shared.limits.send_timeout) => connection.reset.set(),
        () = connection.shutdown.stopping.cancelled() => connection.reset.set(),
    }
}

/// What the connection's task watches besides the protocol: requests in flight, and answers
/// after which the connection must close.
struct Watch {
    _counted: Counted,
    activity: Activity,
    ending: Arc<Ending>,
    /// When the connection is closed if no request has begun.
    first_request_by: Instant,
}

impl Watch {
    fn new(protocol: &'static str, handshake_timeout: Duration) -> Self {
        Self {
            _counted: Counted::new(protocol),
            activity: Activity::default(),
            ending: Arc::default(),
            first_request_by: Instant::now() + handshake_timeout,
        }
    }
}

/// How a driven connection ended.
enum Driven<T> {
    /// hyper stopped when asked to, between exchanges: the connection goes on with what it gave
    /// back (HTTP/1.1's stream).
    Paused(T),
    /// hyper finished cleanly and the connection ends: what it gave back is to be closed.
    Finished(T),
    /// It failed, or was abandoned: nothing is left to close.
    Gone,
}

/// Drives a served connection until it ends, applying every deadline the server sets on it.
/// `graceful_shutdown` is the protocol's own: finish what is in flight, take nothing new (GOAWAY
/// on HTTP/2). With `pause_after`, the connection is asked to stop as soon as a request has
/// finished after that mark and none is in flight (HTTP/1.1, one exchange at a time).
async fn drive<C, T>(
    served: C,
    graceful_shutdown: fn(Pin<&mut C>),
    connection: &Connection,
    watch: &Watch,
    pause_after: Option<u64>,
) -> Driven<T>
where
    C: Future<Output = Result<T, hyper::Error>>,
{
    let Connection { accepted: Accepted { peer, .. }, send_stall, reset, shared, shutdown } = connection;
    let (peer, limits) = (*peer, &shared.limits);
    let served = PauseAfter::new(served, graceful_shutdown, &watch.activity, pause_after);
    let idle = watch.activity.idle_for(limits.idle_timeout);
    let first_request = watch.activity.none_by(watch.first_request_by);
    let refusal_deadline = tokio::time::sleep(Duration::MAX);
    tokio::pin!(served, idle, first_request, refusal_deadline);
    let (mut closing, mut refused) = (false, false);
    loop {
        tokio::select! {
            result = served.as_mut() => {
                let paused = served.paused() && !closing && !refused;
                return driven(peer, result, paused, watch);
            }
            () = shutdown.stopping.cancelled() => return abandon(peer, "drain_timeout", reset),
            () = send_stall.exceeds(limits.send_timeout) => return stalled(peer, limits.send_timeout, reset),
            () = &mut first_request => return gone(peer, "no_request"),
            () = &mut refusal_deadline, if refused => return abandon(peer, "refusal_timeout", reset),
            () = watch.ending.answer.notified(), if !refused => {
                refused = true;
                closed(peer, "refused");
                refusal_deadline.as_mut().reset(Instant::now() + limits.refusal_timeout);
                served.as_mut().stop();
            }
            () = shutdown.draining.cancelled(), if !closing => {
                closing = true;
                served.as_mut().stop();
            }
            () = &mut idle, if !closing => {
                closing = true;
                closed(peer, "idle");
                served.as_mut().stop();
            }
        }
    }
}

/// What a connection hyper finished leaves: paused if it stopped because it was asked to
/// between exchanges (and nothing said the connection should end), else finished; an error
/// is noted.
fn driven<T>(peer: SocketAddr, result: Result<T, hyper::Error>, paused: bool, watch: &Watch) -> Driven<T> {
    match result {
        Ok(rest) if paused && !watch.ending.is_set() => Driven::Paused(rest),
        Ok(rest) => Driven::Finished(rest),
        Err(error) => {
            tracing::debug!(%peer, %error, "connection ended with an error");
            if let Some(reason) = close_reason(&error) {
                closed(peer, reason);
            }
            Driven::Gone
        }
    }
}

/// Gives a connection up for `reason`: `reset` says whether its socket is reset (so the kernel
/// drops what it still had to send) or closed.
fn abandon<T>(peer: SocketAddr, reason: &'static str, reset: &ResetOnClose) -> Driven<T> {
    reset.set();
    gone(peer, reason)
}

/// Lets a connection go for `reason`: it is closed as it stands.
fn gone<T>(peer: SocketAddr, reason: &'static str) -> Driven<T> {
    closed(peer, reason);
    Driven::Gone
}

/// Abandons a connection whose socket took nothing for `timeout`: it will be reset.
fn stalled<T>(peer: SocketAddr, timeout: Duration, reset: &ResetOnClose) -> Driven<T> {
    metrics::counter!(telemetry::SEND_STALLS_TOTAL, "scope" => "connection").increment(1);
    tracing::info!(%peer, ?timeout, "closing a connection whose client reads nothing");
    reset.set();
    Driven::Gone
}

/// Why hyper itself ended a connection, when it was the server's decision: the request head
/// took too long (HTTP/1.1), could not be parsed, or the client broke the HTTP/2 protocol (a
/// flood, a reset storm: h2 sent GOAWAY). A client that simply left is not counted.
fn close_reason(error: &hyper::Error) -> Option<&'static str> {
    if error.is_timeout() {
        return Some("header_timeout");
    }
    if error.is_parse() || error.is_parse_too_large() {
        return Some("bad_request");
    }
    let h2 = std::error::Error::source(error).and_then(|source| source.downcast_ref::<h2::Error>());
    h2.filter(|h2| h2.is_go_away() && h2.is_library()).map(|_| "protocol_error")
}

/// Counts a connection the server ends (or starts ending) for `reason`.
fn closed(peer: SocketAddr, reason: &'static str) {
    metrics::counter!(telemetry::CONNECTIONS_CLOSED_TOTAL, "reason" => reason).increment(1);
    tracing::debug!(%peer, reason, "closing a connection");
}
