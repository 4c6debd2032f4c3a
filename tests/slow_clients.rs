//! Clients that hold what they take without taking it: HTTP/2 streams whose window stays shut,
//! and refused clients that keep their window shut so the refusal can never be sent. Each is
//! cut off under a deadline, and what it held comes back; the server keeps serving throughout.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{Origin, Protocol, eventually, fixture_dir};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use vod_origin::config::Secret;

const SECRET: &str = "cdn-secret-3c9a";
const BIG: usize = 8 << 20;
const FINISHED: &str = "vod_origin_requests_total{route=\"object\",status=\"2xx\"}";

/// An HTTP/2 client whose streams get a zero receive window and never a WINDOW_UPDATE; the
/// connection itself (pings, settings) is driven in the background until the server ends it.
async fn zero_window_client(origin: &Origin) -> (h2::client::SendRequest<Bytes>, JoinHandle<()>) {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(origin.ca.client_config(&[b"h2"])));
    let tcp = tokio::net::TcpStream::connect(origin.https).await.unwrap();
    let tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    let (client, connection) = h2::client::Builder::new().initial_window_size(0).handshake(tls).await.unwrap();
    let connection = tokio::spawn(async move {
        let _ = connection.await;
    });
    (client, connection)
}

/// Awaits what the server must do under a deadline of its own; a regression fails here instead
/// of hanging the test run. Never a measure of speed: the server's deadlines are below a second.
async fn surely<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future).await.unwrap_or_else(|_| panic!("{what} never happened"))
}

fn get(path: &str, secret: Option<&str>) -> http::Request<()> {
    let mut request = http::Request::get(format!("https://localhost{path}"));
    if let Some(secret) = secret {
        request = request.header("x-origin-verify", secret);
    }
    request.body(()).unwrap()
}

#[tokio::test]
async fn stalled_http2_streams_are_reset_and_release_what_they_hold() {
    let media = fixture_dir(&[("big.mp4", BIG)]);
    let origin = Origin::start_with(media.path(), |c| c.server.send_timeout = Duration::from_millis(500)).await;
    let resets = origin.metric("vod_origin_send_stalls_total{scope=\"stream\"}").await;
    let finished = origin.metric(FINISHED).await;
    let (mut client, _connection) = zero_window_client(&origin).await;
    let mut streams = Vec::new();
    for _ in 0..20 {
        client = client.ready().await.unwrap();
        let (response, _) = client.send_request(get("/big.mp4", None), true).unwrap();
        streams.push(tokio::spawn(async move {
            let response = response.await.unwrap();
            assert_eq!(response.status(), 200);
            let mut body = response.into_body();
            // Nothing can arrive through a zero window: the next thing is the reset.
            match body.data().await {
                Some(Err(error)) => error.reason(),
                other => panic!("a stalled stream got {other:?}"),
            }
        }));
    }
    for stream in streams {
        assert_eq!(surely("a stalled stream's reset", stream).await.unwrap(), Some(h2::Reason::CANCEL));
    }
    assert!(origin.metric("vod_origin_send_stalls_total{scope=\"stream\"}").await >= resets + 20.0);
    // A response is counted when its body is dropped, and with it its file and its pieces.
    eventually("the stalled streams' bodies were never dropped", || async {
        origin.metric(FINISHED).await >= finished + 20.0
    })
    .await;
    // The connection and the server still serve a client that reads.
    let body = origin.client(Protocol::Http2).get(origin.url("/big.mp4")).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(body, common::pattern(BIG, "big.mp4".len() as u64));
}

#[tokio::test]
async fn refused_clients_cannot_hold_connection_slots() {
    let media = fixture_dir(&[("big.mp4", BIG)]);
    let origin = Origin::start_with(media.path(), |c| {
        c.access.secrets = vec![Secret::from(SECRET)];
        c.server.max_connections = 2;
        c.server.refusal_timeout = Duration::from_millis(500);
    })
    .await;
    // Two clients without the secret take both slots, and keep their windows shut so that no
    // response body could ever be sent to them.
    let mut holders = Vec::new();
    for _ in 0..2 {
        let (mut client, connection) = zero_window_client(&origin).await;
        client = client.ready().await.unwrap();
        let (response, _) = client.send_request(get("/big.mp4", None), true).unwrap();
        let response = response.await.unwrap();
        assert_eq!(response.status(), 403);
        // So the refusal has none: HEADERS alone, which need no window.
        assert!(response.body().is_end_stream());
        // The body is kept, unread: dropping it would cancel the stream and free the server.
        holders.push((client, response.into_body(), connection));
    }
    // The server closes both (GOAWAY, and nothing left in flight); the slots come back.
    for (_client, _body, connection) in holders {
        surely("closing a refused connection", connection).await.unwrap();
    }
    assert!(origin.metric("vod_origin_connections_closed_total{reason=\"refused\"}").await >= 2.0);
    let response = origin
        .client(Protocol::Http2)
        .get(origin.url("/big.mp4"))
        .header("x-origin-verify", SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().len(), BIG);
}

#[tokio::test]
async fn a_connection_that_sends_no_request_is_closed() {
    let origin =
        Origin::start_with(&common::media_root(), |c| c.server.handshake_timeout = Duration::from_millis(500)).await;
    let (_client, connection) = zero_window_client(&origin).await;
    // Settings and pings only, never a request: closed at the handshake deadline.
    surely("closing a connection without requests", connection).await.unwrap();
    assert!(origin.metric("vod_origin_connections_closed_total{reason=\"no_request\"}").await >= 1.0);
}

#[tokio::test]
async fn an_http11_connection_that_says_nothing_is_closed() {
    let origin = Origin::start_with(&common::media_root(), |c| {
        c.server.handshake_timeout = Duration::from_millis(500);
        c.server.header_read_timeout = Duration::from_millis(500);
    })
    .await;
    // Before its first request: the handshake deadline.
    let mut silent = origin.http1_connection().await;
    let mut rest = Vec::new();
    let read = surely("closing a connection without requests", silent.read_to_end(&mut rest)).await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?} {rest:?}");
    assert!(origin.metric("vod_origin_connections_closed_total{reason=\"no_request\"}").await >= 1.0);
    // After a response, waiting for the next request: the keep-alive deadline, then a clean close.
    let mut kept = tokio::io::BufReader::new(origin.http1_connection().await);
    kept.write_all(b"HEAD /sample/sample.mp4 HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    assert_eq!(common::RawResponse::read_one(&mut kept, true).await.status, 200);
    let read = surely("closing an idle keep-alive connection", kept.read_to_end(&mut rest)).await;
    assert!(matches!(read, Ok(0)), "closed with close_notify, nothing more sent: {read:?} {rest:?}");
    assert!(origin.metric("vod_origin_connections_closed_total{reason=\"idle\"}").await >= 1.0);
}
