//! One connection's life: TLS handshake under a deadline, then HTTP/1.1 or HTTP/2 until the
//! client leaves, the connection idles out, or shutdown drains it. Runs in the connection's own
//! task, so a slow handshake never holds up the accept loop.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::idle::Activity;
use super::linger::{Lingering, ResetOnClose};
use super::request_log::{RequestLog, Tracked};
use super::stall::{self, SendStall};
use super::streams;
use crate::body::ResponseBody;
use crate::telemetry;

/// What rustls may queue for a connection, plaintext or records: two 16 KiB TLS records.
const TLS_BUFFER_BYTES: usize = 32 * 1024;

/// Which listener a connection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Listener {
    Https,
    PlainHttp,
    Admin,
}

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

/// A connection the accept loop let in.
#[derive(Debug, Clone, Copy)]
pub(super) struct Accepted {
    /// The client's address.
    pub peer: SocketAddr,
    /// Where it came in.
    pub listener: Listener,
    /// Over the connection limit: every request gets 503 (see `admission`).
    pub shed: bool,
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
        Listener::Https => {
            let limits = &connection.shared.limits;
            let mut tls =
                match tokio::time::timeout(limits.handshake_timeout, connection.shared.tls.accept(stream)).await {
                    Ok(Ok(tls)) => tls,
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
            // rustls queues up to 64 KiB of records by default; a client that does not read then
            // holds that much. nginx's ssl_buffer_size is one record; two keep writes batched.
            tls.get_mut().1.set_buffer_limit(Some(TLS_BUFFER_BYTES));
            // ALPN decides the protocol (RFC 9113 §3.3): an HTTP/2 preface on a connection that
            // chose `http/1.1`, or none, is a malformed HTTP/1.1 request.
            if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
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

async fn http1<I>(io: I, protocol: &'static str, connection: Connection)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watch = Watch::new(protocol);
    let service = connection.service(protocol, &watch);
    let served = connection.shared.http1.serve_connection(TokioIo::new(io), service);
    drive(served, hyper::server::conn::http1::Connection::graceful_shutdown, connection, watch).await;
}

async fn http2<I>(io: I, connection: Connection)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watch = Watch::new("h2");
    let service = connection.service("h2", &watch);
    let served = connection.shared.http2.serve_connection(TokioIo::new(io), service);
    drive(served, hyper::server::conn::http2::Connection::graceful_shutdown, connection, watch).await;
}

/// What the connection's task watches besides the protocol: requests in flight, and answers
/// after which the connection must close.
struct Watch {
    _counted: Counted,
    activity: Activity,
    closing_answer: Arc<Notify>,
}

impl Watch {
    fn new(protocol: &'static str) -> Self {
        Self { _counted: Counted::new(protocol), activity: Activity::default(), closing_answer: Arc::default() }
    }
}

impl Connection {
    /// The service hyper calls for each request of this connection.
    fn service(
        &self,
        protocol: &'static str,
        watch: &Watch,
    ) -> impl hyper::service::Service<
        http::Request<Incoming>,
        Response = http::Response<Tracked<ResponseBody>>,
        Error = Infallible,
        Future: Send + 'static,
    > + Send
    + 'static {
        let Accepted { peer, listener, shed } = self.accepted;
        let (shared, activity, closing_answer) =
            (Arc::clone(&self.shared), watch.activity.clone(), Arc::clone(&watch.closing_answer));
        service_fn(move |request: http::Request<Incoming>| {
            let (shared, guard, closing_answer) = (Arc::clone(&shared), activity.begin(), Arc::clone(&closing_answer));
            async move {
                let start = std::time::Instant::now();
                // The body is never read: the pipeline refuses requests that declare one.
                let (parts, _body) = request.into_parts();
                let mut response = match listener {
                    Listener::Https | Listener::PlainHttp if shed => shared.app.answer_overloaded(&parts),
                    Listener::Https => shared.app.handle(&parts, peer.ip()).await,
                    Listener::PlainHttp => shared.app.answer_plain_http(&parts, shared.https_port),
                    Listener::Admin => super::admin::answer(&parts, &shared.app),
                };
                if closes_connection(&response) {
                    closing_answer.notify_one();
                    if protocol == "h2" {
                        response = without_body(response);
                    }
                }
                let mut log = RequestLog::new(&parts, start, peer, protocol);
                log.respond(&mut response);
                let response = response.map(|body| body.paced(&shared.budget));
                Ok::<_, Infallible>(response.map(|body| Tracked::new(body, guard, log, streams::current())))
            }
        })
    }
}

/// Whether the pipeline decided that this answer ends the connection (`Connection: close`,
/// which hyper strips on HTTP/2, where the connection task sends GOAWAY instead).
fn closes_connection<B>(response: &http::Response<B>) -> bool {
    response.headers().get(http::header::CONNECTION).is_some_and(|value| value == "close")
}

/// A refusal that ends an HTTP/2 connection goes without its short text: HEADERS need no
/// flow-control window, DATA does, and a client that keeps its window shut would otherwise hold
/// the answer, and the connection, until `server.refusal_timeout`.
fn without_body(response: http::Response<ResponseBody>) -> http::Response<ResponseBody> {
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(0));
    parts.headers.remove(http::header::CONTENT_TYPE);
    http::Response::from_parts(parts, ResponseBody::Empty)
}

/// Drives a served connection until it ends, applying every deadline the server sets on it.
/// `graceful_shutdown` is the protocol's own: finish what is in flight, take nothing new (GOAWAY
/// on HTTP/2).
async fn drive<C>(served: C, graceful_shutdown: fn(Pin<&mut C>), connection: Connection, watch: Watch)
where
    C: Future<Output = Result<(), hyper::Error>>,
{
    let Connection { accepted: Accepted { peer, .. }, send_stall, reset, shared, shutdown } = connection;
    // Abandoning a connection resets it, so the kernel drops what it still had to send.
    let abandon = |reason| {
        reset.set();
        closed(peer, reason);
    };
    let limits = &shared.limits;
    tokio::pin!(served);
    let idle = watch.activity.idle_for(limits.idle_timeout);
    tokio::pin!(idle);
    let first_request = watch.activity.none_within(limits.handshake_timeout);
    tokio::pin!(first_request);
    let refusal_deadline = tokio::time::sleep(Duration::MAX);
    tokio::pin!(refusal_deadline);
    let (mut closing, mut refused) = (false, false);
    loop {
        tokio::select! {
            result = served.as_mut() => return ended(peer, result),
            () = shutdown.stopping.cancelled() => return abandon("drain_timeout"),
            () = send_stall.exceeds(limits.send_timeout) => return stalled(peer, limits.send_timeout, &reset),
            () = &mut first_request => return closed(peer, "no_request"),
            () = &mut refusal_deadline, if refused => return abandon("refusal_timeout"),
            () = watch.closing_answer.notified(), if !refused => {
                refused = true;
                closed(peer, "refused");
                refusal_deadline.as_mut().reset(tokio::time::Instant::now() + limits.refusal_timeout);
                graceful_shutdown(served.as_mut());
            }
            () = shutdown.draining.cancelled(), if !closing => {
                closing = true;
                graceful_shutdown(served.as_mut());
            }
            () = &mut idle, if !closing => {
                closing = true;
                closed(peer, "idle");
                graceful_shutdown(served.as_mut());
            }
        }
    }
}

/// Notes how a connection hyper finished ended.
fn ended(peer: SocketAddr, result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
        if let Some(reason) = close_reason(&error) {
            closed(peer, reason);
        }
    }
}

/// Abandons a connection whose socket took nothing for `timeout`: it will be reset.
fn stalled(peer: SocketAddr, timeout: Duration, reset: &ResetOnClose) {
    metrics::counter!(telemetry::SEND_STALLS_TOTAL, "scope" => "connection").increment(1);
    tracing::info!(%peer, ?timeout, "closing a connection whose client reads nothing");
    reset.set();
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
