//! One connection's life: TLS handshake under a deadline, then HTTP/1.1 or HTTP/2 until the
//! client leaves or shutdown drains it. Runs in the connection's own task, so a slow handshake
//! never holds up the accept loop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::Watcher;
use tokio::net::TcpStream;

use super::Shared;
use crate::body::ResponseBody;

/// Serves one connection of the HTTPS listener.
pub(super) async fn serve_tls(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, watcher: Watcher) {
    let tls = match tokio::time::timeout(shared.handshake_timeout, shared.tls.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        // A failed handshake is the client's problem (plain text on the TLS port, an old
        // protocol, a scanner): note it and close.
        Ok(Err(error)) => return tracing::debug!(%peer, %error, "TLS handshake failed"),
        Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
    };
    let service_shared = Arc::clone(&shared);
    let service = service_fn(move |request: http::Request<Incoming>| {
        let shared = Arc::clone(&service_shared);
        async move {
            // The body is never read: the pipeline refuses requests that declare one.
            let (parts, _body) = request.into_parts();
            Ok::<_, Infallible>(shared.app.handle(&parts, peer.ip()).await)
        }
    });
    let connection = shared.http.serve_connection(TokioIo::new(tls), service);
    if let Err(error) = watcher.watch(connection.into_owned()).await {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// Serves one connection of the plain-HTTP listener: every request gets the plain-HTTP policy.
pub(super) async fn serve_plain(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, watcher: Watcher) {
    let service_shared = Arc::clone(&shared);
    let service = service_fn(move |request: http::Request<Incoming>| {
        let shared = Arc::clone(&service_shared);
        async move {
            let (parts, _body) = request.into_parts();
            let response = shared.app.answer_plain_http(&parts, shared.https_port);
            Ok::<http::Response<ResponseBody>, Infallible>(response)
        }
    });
    let connection = shared.http.serve_connection(TokioIo::new(stream), service);
    if let Err(error) = watcher.watch(connection.into_owned()).await {
        tracing::debug!(%peer, %error, "plain connection ended with an error");
    }
}
