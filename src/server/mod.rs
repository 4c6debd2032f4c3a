//! The listeners: accept loops, connection limits, and graceful shutdown.
//!
//! [`Server::bind`] does everything that can fail (configuration, certificates, sockets) before
//! any connection is accepted; [`Server::run`] then serves until the shutdown future resolves, so
//! tests bind port 0 and pass a oneshot.

mod admin;
mod admission;
mod connection;
mod demo;
mod idle;
mod keep_alive;
mod linger;
mod request_log;
mod room;
mod service;
mod since;
mod stall;
mod streams;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::{http1, http2};
use hyper_util::rt::TokioTimer;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::admission::{Admission, Admissions};
use self::connection::Stop;
use self::demo::DemoSite;
use self::streams::StreamExecutor;

use crate::body::BodyBudget;
use crate::config::{ConfigError, LoadedConfig, PlainHttpMode, ServerConfig};
use crate::pipeline::App;
use crate::store::ObjectStore;
use crate::tls::Certificates;

/// Pause after a failed accept (usually EMFILE): long enough not to spin, short enough not to
/// be noticed once descriptors are free again.
// The smallest body budget the configuration accepts has room for one body's full piece, so
// every response can always make progress. Checked here, where the budget is made from both.
const _: () = assert!(crate::body::MAX_WINDOW <= crate::config::MIN_BODY_BUFFER_BYTES);

const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);
/// How often histogram samples are folded into buckets.
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);
/// HTTP/2 pings find dead peers (a vanished NAT entry) that would otherwise hold a slot until
/// `server.idle_timeout`.
const H2_PING_INTERVAL: Duration = Duration::from_secs(30);

/// Bound listeners, ready to serve.
pub struct Server {
    https: TcpListener,
    plain: Option<TcpListener>,
    admin: Option<TcpListener>,
    demo: Option<TcpListener>,
    shared: Arc<Shared>,
    admissions: Admissions,
    certificates: Arc<Certificates>,
    cert_reload_interval: Duration,
    drain_timeout: Duration,
}

/// What every connection task needs.
struct Shared {
    app: App,
    tls: TlsAcceptor,
    http1: http1::Builder,
    http2: http2::Builder<StreamExecutor>,
    limits: Limits,
    /// What all response bodies may hold at once.
    budget: BodyBudget,
    https_port: u16,
    /// The demo page's files, when the demo listener is on.
    demo: Option<DemoSite>,
}

/// Which listener a connection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Listener {
    Https,
    PlainHttp,
    Admin,
    /// The demo player page (`demo.listen`), over TLS.
    Demo,
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

/// The deadlines a connection lives under (see `ServerConfig` for each one's reasoning).
struct Limits {
    handshake_timeout: Duration,
    idle_timeout: Duration,
    /// How long an HTTP/1.1 connection waits for its next request: the head's deadline starts
    /// when the previous response ends, as hyper's did, and the idle one applies too.
    keep_alive_timeout: Duration,
    send_timeout: Duration,
    refusal_timeout: Duration,
    socket_send_buffer: usize,
    socket_unsent_bytes: u32,
}

impl Limits {
    fn new(server: &ServerConfig) -> Self {
        Self {
            handshake_timeout: server.handshake_timeout,
            idle_timeout: server.idle_timeout,
            keep_alive_timeout: server.header_read_timeout.min(server.idle_timeout),
            send_timeout: server.send_timeout,
            refusal_timeout: server.refusal_timeout,
            socket_send_buffer: server.socket_send_buffer,
            socket_unsent_bytes: server.socket_unsent_bytes,
        }
    }
}

impl Server {
    /// Checks the configuration, loads certificates and binds both listeners.
    pub async fn bind(loaded: &LoadedConfig) -> Result<Self, ConfigError> {
        // The recorder first, so metrics the store records while it starts are kept.
        crate::telemetry::prometheus();
        let store = crate::store::from_config(loaded).await?;
        Self::bind_with_store(loaded, store).await
    }

    /// Like [`Server::bind`], with a store built by the caller (tests, embedders).
    pub async fn bind_with_store(loaded: &LoadedConfig, store: Arc<dyn ObjectStore>) -> Result<Self, ConfigError> {
        let config = &loaded.config;
        let app = App::new(loaded, store)?;
        let tls = crate::tls::load(loaded)?;
        let https = bind_listener(loaded, "server.listen", config.server.listen).await?;
        let plain = match config.plain_http.mode {
            PlainHttpMode::Off => None,
            _ => Some(bind_listener(loaded, "plain_http.listen", config.plain_http.listen).await?),
        };
        let admin = match config.admin.enabled {
            true => Some(bind_listener(loaded, "admin.listen", config.admin.listen).await?),
            false => None,
        };
        let demo = match config.demo.listen {
            Some(listen) => Some(bind_listener(loaded, "demo.listen", listen).await?),
            None => None,
        };
        let https_port = https.local_addr().map_err(|e| loaded.error("server.listen", e))?.port();
        let shared = Shared {
            app,
            tls: TlsAcceptor::from(tls.config),
            http1: http1_builder(&config.server),
            http2: http2_builder(&config.server),
            limits: Limits::new(&config.server),
            budget: BodyBudget::new(config.server.body_buffer_bytes)
                .with_socket_unsent_bytes(config.server.socket_unsent_bytes as usize),
            https_port,
            demo: match &demo {
                Some(listener) => Some(DemoSite {
                    root: config.demo.root.clone(),
                    https_port,
                    port: listener.local_addr().map_err(|e| loaded.error("demo.listen", e))?.port(),
                }),
                None => None,
            },
        };
        crate::telemetry::prometheus();
        Ok(Self {
            https,
            plain,
            admin,
            demo,
            shared: Arc::new(shared),
            admissions: Admissions::new(config.server.max_connections),
            certificates: tls.certificates,
            cert_reload_interval: config.tls.reload_interval,
            drain_timeout: config.server.drain_timeout,
        })
    }

    /// The HTTPS listener's address.
    pub fn https_addr(&self) -> SocketAddr {
        self.https.local_addr().expect("a bound listener has an address")
    }

    /// The readiness `/readyz` reports, for callers that want to await it.
    pub fn readiness(&self) -> Arc<crate::pipeline::Readiness> {
        self.shared.app.readiness()
    }

    /// The admin listener's address, when there is one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|l| l.local_addr().expect("a bound listener has an address"))
    }

    /// The demo listener's address, when there is one.
    pub fn demo_addr(&self) -> Option<SocketAddr> {
        self.demo.as_ref().map(|l| l.local_addr().expect("a bound listener has an address"))
    }

    /// The plain-HTTP listener's address, when there is one.
    pub fn plain_addr(&self) -> Option<SocketAddr> {
        self.plain.as_ref().map(|l| l.local_addr().expect("a bound listener has an address"))
    }

    /// The certificate served to new handshakes, which SIGHUP or a change of its files replaces.
    pub fn certificates(&self) -> Arc<Certificates> {
        Arc::clone(&self.certificates)
    }

    /// Serves until `shutdown` resolves, then drains: no new connections, in-flight responses get
    /// `server.drain_timeout` to finish, then the rest are closed.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let connections = TaskTracker::new();
        let draining = CancellationToken::new();
        // Cancelled when the drain deadline passes: connections then close at once.
        let stopping = CancellationToken::new();
        let warm_up = {
            let shared = Arc::clone(&self.shared);
            tokio::spawn(async move { shared.app.warm_up().await })
        };
        let cert_reload =
            tokio::spawn(crate::tls::reload::watch(Arc::clone(&self.certificates), self.cert_reload_interval));
        let upkeep = tokio::spawn(metrics_upkeep(self.shared.budget.clone()));
        let stop = Stop { draining: draining.clone(), stopping: stopping.clone() };
        self.accept_until(shutdown, &connections, &stop).await;
        self.shared.app.start_draining();
        warm_up.abort();
        cert_reload.abort();
        drop(self.https);
        drop(self.plain);
        drop(self.admin);
        drop(self.demo);
        upkeep.abort();
        tracing::info!(connections = connections.len(), "draining connections");
        draining.cancel();
        connections.close();
        if tokio::time::timeout(self.drain_timeout, connections.wait()).await.is_err() {
            tracing::warn!(
                timeout = ?self.drain_timeout,
                remaining = connections.len(),
                "drain deadline passed; closing the remaining connections"
            );
            stopping.cancel();
            connections.wait().await;
        }
    }

    /// Accepts connections on every listener, and gives each admitted one its own task, until
    /// `shutdown` resolves.
    async fn accept_until(&self, shutdown: impl Future<Output = ()>, connections: &TaskTracker, stop: &Stop) {
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => return,
                accepted = accept(&self.https) => accepted.map(|a| (a, Listener::Https)),
                accepted = accept_optional(self.plain.as_ref()) => accepted.map(|a| (a, Listener::PlainHttp)),
                accepted = accept_optional(self.admin.as_ref()) => accepted.map(|a| (a, Listener::Admin)),
                accepted = accept_optional(self.demo.as_ref()) => accepted.map(|a| (a, Listener::Demo)),
            };
            let Some(((stream, peer), listener)) = accepted else { continue };
            cap_socket_buffers(&stream, &self.shared.limits);
            let (permit, shed) = match self.admissions.admit(listener) {
                Admission::Serve(permit) => (permit, false),
                Admission::Shed(permit) => (permit, true),
                Admission::Refuse => {
                    tracing::debug!(%peer, "connection closed on accept: over the connection limit");
                    continue;
                }
            };
            let (shared, stop) = (Arc::clone(&self.shared), stop.clone());
            let accepted = Accepted { peer, listener, shed };
            connections.spawn(async move {
                connection::serve(stream, accepted, shared, stop).await;
                drop(permit);
            });
        }
    }
}

/// Histograms keep raw samples between scrapes; upkeep folds them so memory stays flat even when
/// nobody scrapes. Gauges that are cheaper to read now and then than to keep exact are set here.
async fn metrics_upkeep(budget: BodyBudget) {
    let mut tick = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
    loop {
        tick.tick().await;
        metrics::gauge!(crate::telemetry::BODY_BUFFER_BYTES).set(budget.used() as f64);
        crate::telemetry::prometheus().run_upkeep();
    }
}

/// Waits for a connection. Connections over the limit are accepted too, and shed: see
/// [`admission`].
async fn accept(listener: &TcpListener) -> Option<(tokio::net::TcpStream, SocketAddr)> {
    match listener.accept().await {
        Ok((stream, peer)) => {
            let _ = stream.set_nodelay(true);
            Some((stream, peer))
        }
        Err(error) => {
            tracing::warn!(%error, "accept failed");
            tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
            None
        }
    }
}

async fn accept_optional(listener: Option<&TcpListener>) -> Option<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => accept(listener).await,
        None => std::future::pending().await,
    }
}

async fn bind_listener(loaded: &LoadedConfig, key: &str, addr: SocketAddr) -> Result<TcpListener, ConfigError> {
    TcpListener::bind(addr).await.map_err(|e| loaded.error(key, format!("cannot listen on {addr}: {e}")))
}

/// Bounds what the kernel queues for an accepted socket. The send buffer cap bounds sent and
/// unsent bytes together (0 leaves it to autotuning, which grows it to `net.ipv4.tcp_wmem`'s
/// maximum, 4 MiB by default); `TCP_NOTSENT_LOWAT` bounds the bytes not yet sent, which is what a
/// client that reads slowly makes pile up, without limiting what a fast link keeps in flight.
fn cap_socket_buffers(stream: &TcpStream, limits: &Limits) {
    let socket = socket2::SockRef::from(stream);
    if limits.socket_send_buffer > 0
        && let Err(error) = socket.set_send_buffer_size(limits.socket_send_buffer)
    {
        tracing::debug!(%error, "cannot cap a socket's send buffer");
    }
    if limits.socket_unsent_bytes > 0
        && let Err(error) = socket.set_tcp_notsent_lowat(limits.socket_unsent_bytes)
    {
        tracing::debug!(%error, "cannot cap a socket's unsent bytes");
    }
}

fn http1_builder(server: &ServerConfig) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(server.header_read_timeout)
        .max_buf_size(server.max_header_bytes)
        .max_headers(server.max_headers);
    builder
}

fn http2_builder(server: &ServerConfig) -> http2::Builder<StreamExecutor> {
    let mut builder = http2::Builder::new(StreamExecutor { send_timeout: server.send_timeout });
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(server.h2_max_concurrent_streams)
        // Also the CONTINUATION flood limit: h2 derives the most CONTINUATION frames one header
        // block may take from this size and the frame size, and answers 431 past the size.
        .max_header_list_size(u32::try_from(server.max_header_bytes).unwrap_or(u32::MAX))
        .max_pending_accept_reset_streams(server.h2_max_pending_accept_reset_streams)
        .max_local_error_reset_streams(server.h2_max_local_error_reset_streams)
        .keep_alive_interval(Some(H2_PING_INTERVAL));
    builder
}
