//! One connection's life: TLS handshake under a deadline, then HTTP/1.1 or HTTP/2 until the
//! client leaves, the connection idles out, or shutdown drains it. Runs in the connection's own
//! task, so a slow handshake never holds up the accept loop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::idle::Activity;
use super::linger::Lingering;
use super::request_log::{RequestLog, Tracked};
use super::stall::{self, SendStall};
use crate::telemetry;

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
        let deadline = shared.handshake_timeout;
        let _ = tokio::time::timeout(deadline, serve_protocol(stream, accepted, shared, shutdown)).await;
    } else {
        serve_protocol(stream, accepted, shared, shutdown).await;
    }
}

async fn serve_protocol(stream: TcpStream, accepted: Accepted, shared: Arc<Shared>, shutdown: Stop) {
    let (stream, send_stall) = stall::watch(Lingering::new(stream));
    let peer = accepted.peer;
    let connection = Connection { accepted, send_stall, shared, shutdown };
    match accepted.listener {
        Listener::PlainHttp => http(stream, "http1-plain", connection).await,
        Listener::Admin => http(stream, "admin", connection).await,
        Listener::Https => {
            let shared = &connection.shared;
            let tls = match tokio::time::timeout(shared.handshake_timeout, shared.tls.accept(stream)).await {
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
            let protocol = if tls.get_ref().1.alpn_protocol() == Some(b"h2") { "h2" } else { "http1" };
            http(tls, protocol, connection).await;
        }
    }
}

/// What serving a connection's requests needs besides its stream.
struct Connection {
    accepted: Accepted,
    send_stall: SendStall,
    shared: Arc<Shared>,
    shutdown: Stop,
}

async fn http<I>(io: I, protocol: &'static str, connection: Connection)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Connection { accepted: Accepted { peer, listener, shed }, send_stall, shared, shutdown } = connection;
    let _counted = Counted::new(protocol);
    let activity = Activity::default();
    let service = {
        let (shared, activity) = (Arc::clone(&shared), activity.clone());
        service_fn(move |request: http::Request<Incoming>| {
            let (shared, guard) = (Arc::clone(&shared), activity.begin());
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
                let mut log = RequestLog::new(&parts, start, peer, protocol);
                log.respond(&mut response);
                Ok::<_, Infallible>(response.map(|body| Tracked::new(body, guard, log)))
            }
        })
    };
    let connection = shared.http.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let idle = activity.idle_for(shared.idle_timeout);
    tokio::pin!(idle);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            () = shutdown.stopping.cancelled() => {
                tracing::debug!(%peer, "closing a connection at the drain deadline");
                return;
            }
            () = shutdown.draining.cancelled(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = send_stall.exceeds(shared.send_timeout) => {
                metrics::counter!(telemetry::SEND_STALLS_TOTAL).increment(1);
                tracing::info!(%peer, timeout = ?shared.send_timeout, "closing a connection whose client reads nothing");
                return;
            }
            () = &mut idle, if !closing => {
                closing = true;
                tracing::debug!(%peer, "closing an idle connection");
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}
