//! A fault-injecting HTTP/1.1 proxy between the origin and the S3 server.
//!
//! An outage (refuse, reset, hang) applies to every connection and request while it is set, so
//! it holds whatever the client's pool and retries do; each GET takes the next queued body fault
//! (cut after N body bytes, optionally pausing there until released, or delay the response).
//! Everything else passes through unchanged, so the faults land exactly where a test wants them.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// S3 down, in one of its forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Connections are closed at once; requests on open ones get no answer and a close.
    Refuse,
    /// Connections are reset at once; requests on open ones get no answer and a close.
    Reset,
    /// Nothing is ever answered.
    Hang,
    /// Every request is answered 503 SlowDown, as S3 throttles.
    SlowDown,
}

/// What happens to a GET's response.
#[derive(Clone)]
pub enum BodyFault {
    /// Nothing happens to this GET (a placeholder to target a later one).
    Pass,
    /// The body breaks after this many bytes.
    CutAfter(usize),
    /// The body stops after this many bytes until `release` is notified, then breaks.
    PauseThenCut(usize, Arc<Notify>, Arc<Notify>),
    /// The response waits this long before its headers.
    Delay(Duration),
    /// The request waits, before reaching S3, until `release` is notified.
    Hold(Arc<Notify>, Arc<Notify>),
}

#[derive(Default)]
struct Plan {
    outage: Option<Outage>,
    bodies: VecDeque<BodyFault>,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    plan: Arc<Mutex<Plan>>,
    /// Requests forwarded, by method and path, in order.
    pub log: Arc<Mutex<Vec<String>>>,
    /// Upstream body streams open right now.
    pub open_bodies: Arc<std::sync::atomic::AtomicUsize>,
    /// Notified whenever an upstream body stream is dropped.
    pub body_closed: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let plan = Arc::new(Mutex::new(Plan::default()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let open_bodies = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let body_closed = Arc::new(Notify::new());
        let shared = Shared {
            upstream,
            plan: plan.clone(),
            log: log.clone(),
            open_bodies: open_bodies.clone(),
            body_closed: body_closed.clone(),
        };
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(shared.clone().connection(socket));
            }
        });
        Self { addr, plan, log, open_bodies, body_closed, task }
    }

    /// Starts (or, with `None`, ends) an outage.
    pub fn set_outage(&self, outage: Option<Outage>) {
        self.plan.lock().unwrap().outage = outage;
    }

    pub fn fail_body(&self, fault: BodyFault) {
        self.plan.lock().unwrap().bodies.push_back(fault);
    }

    /// Forgets the faults not yet used.
    pub fn clear(&self) {
        *self.plan.lock().unwrap() = Plan::default();
    }

    pub fn gets(&self) -> usize {
        self.log.lock().unwrap().iter().filter(|l| l.starts_with("GET ")).count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Shared {
    upstream: SocketAddr,
    plan: Arc<Mutex<Plan>>,
    log: Arc<Mutex<Vec<String>>>,
    open_bodies: Arc<std::sync::atomic::AtomicUsize>,
    body_closed: Arc<Notify>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
type ProxyBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

impl Shared {
    async fn connection(self, socket: TcpStream) {
        let outage = self.plan.lock().unwrap().outage;
        match outage {
            Some(Outage::Refuse) => return drop(socket),
            Some(Outage::Reset) => {
                // SO_LINGER 0 turns the close into a reset. Setting it through the std socket:
                // tokio deprecates its setter because lingering blocks on drop, which a zero
                // timeout does not.
                if let Ok(std) = socket.into_std() {
                    let _ = socket2::SockRef::from(&std).set_linger(Some(Duration::ZERO));
                }
                return;
            }
            Some(Outage::SlowDown) | None => {}
            Some(Outage::Hang) => {
                // Hold the socket open without answering until the peer gives up.
                let mut socket = socket;
                let mut sink = tokio::io::sink();
                let _ = tokio::io::copy(&mut socket, &mut sink).await;
                return;
            }
        }
        let Ok(upstream) = TcpStream::connect(self.upstream).await else {
            return;
        };
        let Ok((sender, connection)) = hyper::client::conn::http1::handshake(TokioIo::new(upstream)).await else {
            return;
        };
        tokio::spawn(connection);
        let sender = Arc::new(tokio::sync::Mutex::new(sender));
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let this = self.clone();
            let sender = sender.clone();
            async move { this.forward(request, sender).await }
        });
        let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(socket), service).await;
    }

    async fn forward(
        self,
        request: hyper::Request<Incoming>,
        sender: Arc<tokio::sync::Mutex<hyper::client::conn::http1::SendRequest<Incoming>>>,
    ) -> Result<hyper::Response<ProxyBody>, std::io::Error> {
        let is_get = request.method() == hyper::Method::GET;
        self.log.lock().unwrap().push(format!("{} {}", request.method(), request.uri()));
        let outage = self.plan.lock().unwrap().outage;
        match outage {
            // An error from the service makes hyper close the connection without an answer.
            Some(Outage::Refuse | Outage::Reset) => return Err(std::io::Error::other("injected outage")),
            Some(Outage::Hang) => std::future::pending::<()>().await,
            Some(Outage::SlowDown) => return Ok(slow_down()),
            None => {}
        }
        let fault = if is_get { self.plan.lock().unwrap().bodies.pop_front() } else { None };
        if let Some(BodyFault::Hold(reached, release)) = &fault {
            reached.notify_one();
            release.notified().await;
        }
        let response = sender.lock().await.send_request(request).await.map_err(std::io::Error::other)?;
        if let Some(BodyFault::Delay(delay)) = &fault {
            tokio::time::sleep(*delay).await;
        }
        let (parts, body) = response.into_parts();
        let body = self.watch(body, fault);
        Ok(hyper::Response::from_parts(parts, body))
    }

    /// Passes the body through, counting it open, and applies a cut.
    fn watch(&self, body: Incoming, fault: Option<BodyFault>) -> ProxyBody {
        let (cut, pause) = match fault {
            Some(BodyFault::CutAfter(n)) => (Some(n), None),
            Some(BodyFault::PauseThenCut(n, reached, release)) => (Some(n), Some((reached, release))),
            _ => (None, None),
        };
        let guard = OpenBody::new(self.open_bodies.clone(), self.body_closed.clone());
        let stream = async_stream::stream! {
            let _guard = guard;
            let mut body = body;
            let mut sent = 0usize;
            while let Some(frame) = body.frame().await {
                let frame = match frame {
                    Ok(frame) => frame,
                    Err(error) => { yield Err(Box::new(error) as Box<dyn std::error::Error + Send + Sync>); return; }
                };
                let Ok(data) = frame.into_data() else { continue };
                if let Some(limit) = cut && sent + data.len() >= limit {
                    let head = data.slice(..limit - sent);
                    if !head.is_empty() {
                        yield Ok(Frame::data(head));
                    }
                    if let Some((reached, release)) = &pause {
                        reached.notify_one();
                        release.notified().await;
                    }
                    yield Err("injected cut".into());
                    return;
                }
                sent += data.len();
                yield Ok(Frame::data(data));
            }
        };
        StreamBody::new(stream).boxed()
    }
}

/// S3's throttling answer, with its XML error body.
fn slow_down() -> hyper::Response<ProxyBody> {
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
    let body = http_body_util::Full::new(Bytes::from_static(xml.as_bytes())).map_err(|never| match never {}).boxed();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/xml"));
    response.headers_mut().insert("x-amz-request-id", hyper::header::HeaderValue::from_static("0123456789ABCDEF"));
    response
}

/// Counts an upstream body as open while it lives.
struct OpenBody(Arc<std::sync::atomic::AtomicUsize>, Arc<Notify>);

impl OpenBody {
    fn new(count: Arc<std::sync::atomic::AtomicUsize>, closed: Arc<Notify>) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(count, closed)
    }
}

impl Drop for OpenBody {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.1.notify_waiters();
    }
}
