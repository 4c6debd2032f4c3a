//! Limits under abuse: connections over the limit are shed with a 503 instead of hanging,
//! oversized request heads get 431, and a client that stops reading holds one piece of its body
//! and is let go (reset).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Origin, Protocol, eventually, fixture_dir, media_root};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PATH: &str = "/sample/hls/index.m3u8";
const STALLS: &str = "vod_origin_send_stalls_total{scope=\"connection\"}";

fn get(path: &str, extra_headers: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra_headers}Connection: close\r\n\r\n").into_bytes()
}

#[tokio::test]
async fn connections_over_the_limit_get_503_and_slots_come_back() {
    let origin = Origin::start_with(&media_root(), |c| c.server.max_connections = 1).await;
    // One keep-alive connection holds the only slot. Its body is read to the end, so the
    // connection goes back to the client's pool instead of being closed.
    let holder = origin.client(Protocol::Http1);
    let response = holder.get(origin.url(PATH)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();

    let shed = origin.raw(&get(PATH, "")).await;
    assert_eq!(shed.status, 503);
    assert_eq!(shed.header("retry-after"), Some("1"));
    assert_eq!(shed.header("connection"), Some("close"));
    assert_eq!(shed.body, b"Server busy, retry shortly\n");

    // The plain-HTTP listener shares the limit.
    let mut plain = tokio::net::TcpStream::connect(origin.plain.unwrap()).await.unwrap();
    plain.write_all(&get(PATH, "")).await.unwrap();
    let mut answer = String::new();
    plain.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");

    // Once the holder leaves, its slot serves again.
    drop(holder);
    eventually("the slot never came back", || async {
        let status = origin.raw(&get(PATH, "")).await.status;
        if status != 200 {
            assert_eq!(status, 503);
        }
        status == 200
    })
    .await;
}

#[tokio::test]
async fn too_many_header_fields_get_431() {
    let origin = Origin::start_with(&media_root(), |c| c.server.max_headers = 20).await;
    let fields = |n: usize| (0..n).map(|i| format!("X-Filler-{i}: x\r\n")).collect::<String>();
    // Host and Connection count too: 18 more make 20.
    assert_eq!(origin.raw(&get(PATH, &fields(18))).await.status, 200);
    assert_eq!(origin.raw(&get(PATH, &fields(19))).await.status, 431);
}

#[tokio::test]
async fn an_oversized_request_head_gets_431() {
    let origin = Origin::start_with(&media_root(), |c| c.server.max_header_bytes = 16 * 1024).await;
    let cookie = format!("Cookie: {}\r\n", "c".repeat(20 * 1024));
    assert_eq!(origin.raw(&get(PATH, &cookie)).await.status, 431);
}

/// A TLS client with a 4 KiB receive buffer, so that the server's writes block soon.
async fn small_window_client(origin: &Origin) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&origin.https.into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    let tcp = tokio::net::TcpStream::from_std(socket.into()).unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(origin.ca.client_config(&[b"http/1.1"])));
    connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap()
}

#[tokio::test]
async fn a_client_that_reads_nothing_is_let_go() {
    let size = 48 << 20;
    let media = fixture_dir(&[("big.mp4", size)]);
    let origin = Origin::start_with(media.path(), |c| c.server.send_timeout = Duration::from_millis(500)).await;

    let mut tls = small_window_client(&origin).await;
    let stalls = origin.metric(STALLS).await;
    tls.write_all(&get("/big.mp4", "")).await.unwrap();

    // Read nothing until the server gives up on this client...
    eventually("the stalled client was never let go", || async { origin.metric(STALLS).await > stalls }).await;
    // ...which it does with a reset, so the kernel drops what it still had queued for it.
    let mut received = Vec::new();
    let ended = tls.read_to_end(&mut received).await;
    assert_eq!(
        ended.map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::ConnectionReset),
        "{} bytes",
        received.len()
    );
    assert!(received.len() < size, "the server gave up instead of waiting for ever");

    // A client that reads gets the whole object.
    let body = origin.client(Protocol::Http1).get(origin.url("/big.mp4")).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(body.len(), size);
}

#[tokio::test]
async fn a_client_that_reads_nothing_holds_one_piece_of_its_body() {
    let media = fixture_dir(&[("big.mp4", 48 << 20)]);
    let origin = Origin::start_with(media.path(), |c| c.server.send_timeout = Duration::from_secs(600)).await;
    let mut tls = small_window_client(&origin).await;
    tls.write_all(&get("/big.mp4", "")).await.unwrap();
    // The socket takes its unsent bytes and the client's window at once; past them, the body
    // reads one 16 KiB piece and holds it, however long the client waits. (Without the TLS
    // writes fitted to the socket's room, rustls took 32 KiB more and the window grew on it.)
    eventually("the stalled body never settled on one 16 KiB piece", || async {
        origin.metric("vod_origin_body_buffer_bytes").await == 16384.0
    })
    .await;
    drop(tls);
}
