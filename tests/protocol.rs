//! The HTTP surface: methods, request bodies, paths, TLS oddities, media headers, health.

mod common;

use common::{BACKENDS, Origin, PROTOCOLS, Protocol, RawResponse, media_root, sample};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn only_get_head_and_options_are_answered() {
    let origin = Origin::start().await;
    for protocol in PROTOCOLS {
        let client = origin.client(protocol);
        for method in ["PUT", "DELETE", "PATCH", "TRACE", "PROPFIND"] {
            let response =
                client.request(method.parse().unwrap(), origin.url("/sample/sample.mp4")).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
            assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS");
        }
        let response = client.request(reqwest::Method::OPTIONS, origin.url("/sample/sample.mp4")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS");
    }
}

#[tokio::test]
async fn a_request_body_is_refused_and_the_connection_closed() {
    let origin = Origin::start().await;
    for request in [
        "GET /sample/sample.mp4 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
        "GET /sample/sample.mp4 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ] {
        let response = origin.raw(request.as_bytes()).await;
        assert_eq!(response.status, 400, "{}", response.head);
        assert_eq!(response.header("connection"), Some("close"));
        assert_eq!(response.body, b"Request body not allowed\n");
    }
    // Refused for another reason first, the body is still unread: the connection closes too
    // (`raw` reads until it does).
    let chunked = "POST /sample/sample.mp4 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let response = origin.raw(chunked.as_bytes()).await;
    assert_eq!(response.status, 405, "{}", response.head);
    assert_eq!(response.header("connection"), Some("close"));
}

#[tokio::test]
async fn http11_requests_need_exactly_one_valid_host() {
    let origin = Origin::start().await;
    for request in [
        "HEAD /sample/sample.mp4 HTTP/1.1\r\nConnection: close\r\n\r\n",
        "HEAD /sample/sample.mp4 HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
        "HEAD /sample/sample.mp4 HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n",
        "HEAD /sample/sample.mp4 HTTP/1.1\r\nHost: a/b\r\nConnection: close\r\n\r\n",
    ] {
        assert_eq!(origin.raw(request.as_bytes()).await.status, 400, "{request}");
    }
    let valid = "HEAD /sample/sample.mp4 HTTP/1.1\r\nHost: origin.example.com:8443\r\nConnection: close\r\n\r\n";
    assert_eq!(origin.raw(valid.as_bytes()).await.status, 200);
}

#[tokio::test]
async fn an_http2_preface_needs_alpn_h2() {
    // RFC 9113 §3.3: over TLS, HTTP/2 is chosen by ALPN only. A connection that chose
    // `http/1.1` and sends the HTTP/2 preface gets no HTTP/2 (no SETTINGS frame), only a close.
    let origin = Origin::start().await;
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(origin.ca.client_config(&[b"http/1.1"])));
    let tcp = tokio::net::TcpStream::connect(origin.https).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    assert!(answer.is_empty() || answer.starts_with(b"HTTP/1.1 4"), "{:?}", String::from_utf8_lossy(&answer));
}

#[tokio::test]
async fn http11_keep_alive_serves_pipelined_split_and_late_requests() {
    // Between requests an HTTP/1.1 connection holds only its stream (`server/keep_alive.rs`):
    // what the client sent ahead, or sends later in pieces, is still served in order, to the byte.
    let origin = Origin::start().await;
    let sample = sample("sample/sample.mp4");
    let get =
        |range: &str| format!("GET /sample/sample.mp4 HTTP/1.1\r\nHost: localhost\r\nRange: bytes={range}\r\n\r\n");
    let mut connection = tokio::io::BufReader::new(origin.http1_connection().await);
    connection.write_all([get("0-9"), get("10-19"), get("100-1099")].concat().as_bytes()).await.unwrap();
    for range in [0..10, 10..20, 100..1100] {
        let response = RawResponse::read_one(&mut connection, false).await;
        assert_eq!((response.status, &response.body[..]), (206, &sample[range.clone()]), "{range:?}");
    }
    // The next request comes after the connection went idle, one byte first, then the rest.
    let late = get("7-8");
    for piece in [&late[..1], &late[1..20], &late[20..]] {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        connection.write_all(piece.as_bytes()).await.unwrap();
    }
    let response = RawResponse::read_one(&mut connection, false).await;
    assert_eq!((response.status, &response.body[..]), (206, &sample[7..9]));
    // A request that asks to close is answered, then the server closes.
    connection
        .write_all(b"HEAD /sample/sample.mp4 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let response = RawResponse::read_one(&mut connection, true).await;
    assert_eq!((response.status, response.header("connection")), (200, Some("close")), "{}", response.head);
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(30), connection.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0))), "the server closes after `Connection: close`: {closed:?} {rest:?}");
    // HTTP/1.0 without keep-alive: one answer, then the server closes (`raw` reads until it does).
    let request = b"GET /sample/sample.mp4 HTTP/1.0\r\nRange: bytes=0-3\r\n\r\n";
    let response = tokio::time::timeout(std::time::Duration::from_secs(30), origin.raw(request)).await.unwrap();
    assert_eq!((response.status, &response.body[..]), (206, &sample[..4]), "{}", response.head);
}

#[tokio::test]
async fn a_keep_alive_response_ending_on_a_full_socket_loses_no_byte() {
    // A fast reader gets 256 KiB pieces; with a small receive buffer the origin's socket is
    // often full, so the body can end while hyper still holds most of its last piece. The
    // connection must wait until it is written before it goes back to waiting for a request.
    const LEN: usize = 8 << 20;
    let dir = common::fixture_dir(&[("big.bin", LEN)]);
    let origin = Origin::start_with(dir.path(), |_| {}).await;
    let expected = common::pattern(LEN, "big.bin".len() as u64);
    let mut connection = tokio::io::BufReader::new(origin.http1_connection_receiving(16 * 1024).await);
    for (round, close) in [(0, ""), (1, "Connection: close\r\n")] {
        let request = format!("GET /big.bin HTTP/1.1\r\nHost: localhost\r\n{close}\r\n");
        connection.write_all(request.as_bytes()).await.unwrap();
        let read = async {
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                tokio::io::AsyncBufReadExt::read_until(&mut connection, b'\n', &mut head).await.unwrap();
            }
            let mut body = vec![0u8; LEN];
            connection.read_exact(&mut body).await.unwrap();
            body
        };
        let body = tokio::time::timeout(std::time::Duration::from_secs(60), read).await.expect("every byte arrives");
        assert!(body == expected, "round {round}: the body differs from the file");
    }
}

#[tokio::test]
async fn probes_answer_get_and_head_only() {
    let origin = Origin::start().await;
    let client = origin.client(Protocol::Http1);
    for path in ["/healthz", "/readyz"] {
        assert_eq!(client.head(origin.url(path)).send().await.unwrap().status(), StatusCode::OK, "{path}");
        let response = client.post(origin.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
    }
}

#[tokio::test]
async fn a_percent_sign_is_a_legal_file_name_character() {
    let dir = common::fixture_dir(&[("100%.ts", 10)]);
    let origin = Origin::start_with(dir.path(), |_| {}).await;
    let response = origin.raw(b"GET /100%25.ts HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(response.body, common::pattern(10, "100%.ts".len() as u64));
}

#[tokio::test]
async fn paths_that_could_escape_are_refused() {
    let origin = Origin::start().await;
    let cases = [
        ("/sample/../sample/sample.mp4", 400),
        ("/sample/%2e%2e/sample/sample.mp4", 400),
        ("/sample/./sample.mp4", 400),
        ("/sample//sample.mp4", 400),
        ("/sample%2fsample.mp4", 400),
        ("/sample%5csample.mp4", 400),
        ("/sample/sample.mp4%00.txt", 400),
        ("/%252e%252e/etc/passwd", 400),
        ("/sample/%zz", 400),
        ("/", 404),
        ("/sample/nothing-here.mp4", 404),
        ("/sample", 404),
        ("/sample/sample.mp4?key=../../etc/passwd", 200),
        ("/sample/sampl%65.mp4", 200),
    ];
    for (path, status) in cases {
        let request = format!("HEAD {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        let response = origin.raw(request.as_bytes()).await;
        assert_eq!(response.status, status, "{path}: {}", response.head);
    }
}

#[tokio::test]
async fn error_bodies_are_short_and_reveal_nothing() {
    let origin = Origin::start().await;
    let root = common::media_root();
    for path in ["/sample/nothing-here.mp4", "/a//b", "/.."] {
        let response =
            origin.raw(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes()).await;
        let body = String::from_utf8(response.body.clone()).unwrap();
        assert!(body.len() < 64, "{body}");
        assert!(!body.contains(root.to_str().unwrap()) && !body.contains("Error") && !body.contains("{"), "{body}");
        assert_eq!(response.header("content-length"), Some(body.len().to_string().as_str()));
    }
}

#[tokio::test]
async fn plain_text_on_the_tls_port_is_closed_cleanly() {
    let origin = Origin::start().await;
    let mut tcp = tokio::net::TcpStream::connect(origin.https).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    assert!(!String::from_utf8_lossy(&answer).contains("HTTP/1.1 200"));
    // The server is still serving.
    let response = origin.client(Protocol::Http1).get(origin.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn tls_1_2_is_still_offered_for_cloudfront() {
    let origin = Origin::start().await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(origin.ca.ca_der.clone()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(origin.https).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_2));
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn media_types_and_cache_rules_fit_video() {
    for backend in BACKENDS {
        let origin = Origin::start_on(backend, &media_root(), |_| {}).await;
        let cases = [
            ("/sample/hls/index.m3u8", "application/vnd.apple.mpegurl", "public, max-age=2, stale-while-revalidate=10"),
            ("/sample/hls/segment_000.ts", "video/mp2t", "public, max-age=31536000, immutable"),
            ("/sample/sample.mp4", "video/mp4", "public, max-age=86400"),
        ];
        for protocol in PROTOCOLS {
            for (path, content_type, cache_control) in cases {
                let response = origin.client(protocol).get(origin.url(path)).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                assert_eq!(response.headers()["content-type"], content_type, "{path}");
                assert_eq!(response.headers()["cache-control"], cache_control, "{path}");
                assert_eq!(response.bytes().await.unwrap(), sample(path.trim_start_matches('/')), "{path}");
            }
        }
    }
}

#[tokio::test]
async fn shutdown_lets_in_flight_responses_finish() {
    let dir = common::fixture_dir(&[("big.mp4", 8 * 1024 * 1024)]);
    let origin = Origin::start_with(dir.path(), |_| {}).await;
    let client = origin.client(Protocol::Http2);
    let response = client.get(origin.url("/big.mp4")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let stop = tokio::spawn(origin.stop());
    let body = response.bytes().await.unwrap();
    assert_eq!(body, common::pattern(8 * 1024 * 1024, "big.mp4".len() as u64));
    stop.await.unwrap();
}
