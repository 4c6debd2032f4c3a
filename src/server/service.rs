//! The service hyper calls for each request of a connection: the listener's answer (the
//! pipeline, the plain-HTTP redirect, the admin endpoints, or 503 when shed), its access log
//! line and pacing, and what the connection's task must know of it (a request in flight, an
//! exchange that ends the connection).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::sync::Notify;

use super::idle::Activity;
use super::request_log::{RequestLog, Tracked};
use super::{Accepted, Listener, Shared, keep_alive, streams};
use crate::body::ResponseBody;

/// Exchanges after which the connection ends.
#[derive(Default)]
pub(super) struct Ending {
    /// Told of an answer that ends the connection (a refusal: it has a deadline of its own).
    pub answer: Notify,
    /// Set by an answer that ends the connection, or by an HTTP/1.x request that asks to.
    last_exchange: AtomicBool,
}

impl Ending {
    pub fn is_set(&self) -> bool {
        self.last_exchange.load(Ordering::Relaxed)
    }
}

/// The future the service answers with: boxed, so that it costs nothing while no request is in
/// flight, and `Unpin`, as taking an HTTP/1.1 connection apart needs (`keep_alive::Exchange`).
pub(super) type Answer =
    Pin<Box<dyn Future<Output = Result<http::Response<Tracked<ResponseBody>>, Infallible>> + Send>>;

/// The service for the requests of one connection, which came in as `accepted` and speaks
/// `protocol`.
pub(super) fn service(
    accepted: Accepted,
    protocol: &'static str,
    shared: &Arc<Shared>,
    activity: &Activity,
    ending: &Arc<Ending>,
) -> impl hyper::service::Service<
    http::Request<Incoming>,
    Response = http::Response<Tracked<ResponseBody>>,
    Error = Infallible,
    Future = Answer,
> + Send
+ Unpin
+ 'static {
    let peer = accepted.peer;
    let (shared, activity, ending) = (Arc::clone(shared), activity.clone(), Arc::clone(ending));
    service_fn(move |request: http::Request<Incoming>| -> Answer {
        let (shared, guard, ending) = (Arc::clone(&shared), activity.begin(), Arc::clone(&ending));
        Box::pin(async move {
            let start = std::time::Instant::now();
            // The body is never read: the pipeline refuses requests that declare one.
            let (parts, _body) = request.into_parts();
            if keep_alive::request_ends_connection(&parts) {
                ending.last_exchange.store(true, Ordering::Relaxed);
            }
            let mut response = answer(&parts, accepted, &shared).await;
            if closes_connection(&response) {
                ending.last_exchange.store(true, Ordering::Relaxed);
                ending.answer.notify_one();
                if protocol == "h2" {
                    response = without_body(response);
                }
            }
            let mut log = RequestLog::new(&parts, start, peer, protocol);
            log.respond(&mut response);
            let response = response.map(|body| body.paced(&shared.budget));
            Ok(response.map(|body| Tracked::new(body, guard, log, streams::current())))
        })
    })
}

/// The answer to one request, by the listener it came in on.
async fn answer(request: &http::request::Parts, accepted: Accepted, shared: &Shared) -> http::Response<ResponseBody> {
    match accepted.listener {
        Listener::Https | Listener::PlainHttp if accepted.shed => shared.app.answer_overloaded(request),
        Listener::Https => match (&shared.demo, request.uri.path()) {
            (Some(site), "/") => super::demo::lead_to(site),
            _ => shared.app.handle(request, accepted.peer.ip()).await,
        },
        Listener::PlainHttp => shared.app.answer_plain_http(request, shared.https_port),
        Listener::Admin => super::admin::answer(request, &shared.app),
        Listener::Demo => super::demo::answer(request, shared.demo.as_ref()).await,
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
