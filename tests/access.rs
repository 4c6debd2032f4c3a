//! Only the CDN gets in, and only over HTTPS: the secret header, the peer allow-list, the
//! plain-HTTP listener, CDN-reported plain HTTP, and HSTS.

mod common;

use common::{Origin, PROTOCOLS, Protocol, media_root};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vod_origin::config::{PlainHttpMode, Secret};

const PATH: &str = "/sample/sample.mp4";
const OLD: &str = "old-secret-5f1e0c2a9b";
const NEW: &str = "new-secret-77d03be4c1";

async fn guarded() -> Origin {
    Origin::start_with(&media_root(), |c| c.access.secrets = vec![Secret::from(OLD), Secret::from(NEW)]).await
}

#[tokio::test]
async fn both_live_secrets_get_in_and_nothing_else_does() {
    let origin = guarded().await;
    for protocol in PROTOCOLS {
        let client = origin.client(protocol);
        for secret in [OLD, NEW] {
            let response = client.head(origin.url(PATH)).header("x-origin-verify", secret).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{protocol:?}");
        }
        for secret in [None, Some(""), Some("old-secret"), Some("OLD-SECRET-5F1E0C2A9B")] {
            let mut request = client.get(origin.url(PATH)).header("origin", "https://player.example.com");
            if let Some(secret) = secret {
                request = request.header("x-origin-verify", secret);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{secret:?}");
            assert!(!response.headers().contains_key("access-control-allow-origin"));
            let body = response.text().await.unwrap();
            assert!(!body.contains(OLD) && !body.contains(NEW));
        }
    }
}

#[tokio::test]
async fn preflights_need_the_secret_too() {
    let origin = guarded().await;
    let response = origin
        .client(Protocol::Http1)
        .request(reqwest::Method::OPTIONS, origin.url(PATH))
        .header("origin", "https://player.example.com")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!response.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn health_is_exempt() {
    let origin = Origin::start_with(&media_root(), |c| {
        c.access.secrets = vec![Secret::from(NEW)];
        c.access.allowed_cidrs = vec!["192.0.2.0/24".parse().unwrap()];
    })
    .await;
    let client = origin.client(Protocol::Http2);
    let response = client.get(origin.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok\n");
    let refused = client.get(origin.url(PATH)).header("x-origin-verify", NEW).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "the peer is not in the allow-list");
}

#[tokio::test]
async fn allowed_peers_get_in() {
    let origin =
        Origin::start_with(&media_root(), |c| c.access.allowed_cidrs = vec!["127.0.0.0/8".parse().unwrap()]).await;
    let response = origin.client(Protocol::Http1).head(origin.url(PATH)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn https_responses_carry_hsts() {
    let origin = Origin::start().await;
    for path in [PATH, "/missing", "/healthz"] {
        let response = origin.client(Protocol::Http1).get(origin.url(path)).send().await.unwrap();
        assert_eq!(response.headers()["strict-transport-security"], "max-age=63072000", "{path}");
    }
}

/// Sends a plain-HTTP request and reads the whole answer.
async fn plain(origin: &Origin, request: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(origin.plain.unwrap()).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn plain_http_is_redirected_to_https() {
    let origin = Origin::start().await;
    let answer =
        plain(&origin, "GET /sample/hls/index.m3u8?t=1 HTTP/1.1\r\nHost: localhost:8080\r\nConnection: close\r\n\r\n")
            .await;
    assert!(answer.starts_with("HTTP/1.1 301"), "{answer}");
    let location = format!("location: https://localhost:{}/sample/hls/index.m3u8?t=1", origin.https.port());
    assert!(answer.to_ascii_lowercase().contains(&location), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("cache-control: no-store"), "{answer}");
    assert!(!answer.to_ascii_lowercase().contains("strict-transport-security"));
    let answer =
        plain(&origin, "POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}

#[tokio::test]
async fn redirects_never_leave_the_public_host() {
    let origin = Origin::start_with(&media_root(), |c| c.server.public_host = Some("video.example.com".into())).await;
    let answer = plain(&origin, "GET /a.ts HTTP/1.1\r\nHost: internal-origin.local\r\nConnection: close\r\n\r\n").await;
    assert!(answer.to_ascii_lowercase().contains("location: https://video.example.com/a.ts"), "{answer}");
}

#[tokio::test]
async fn plain_http_can_be_rejected() {
    let origin = Origin::start_with(&media_root(), |c| c.plain_http.mode = PlainHttpMode::Reject).await;
    let answer = plain(&origin, "GET /a.ts HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.ends_with("HTTPS required\n"), "{answer}");
}

#[tokio::test]
async fn cdn_reported_plain_http_gets_the_same_answer() {
    let origin = Origin::start_with(&media_root(), |c| c.server.public_host = Some("video.example.com".into())).await;
    for protocol in PROTOCOLS {
        let response = origin
            .client(protocol)
            .get(origin.url(PATH))
            .header("cloudfront-forwarded-proto", "http")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(response.headers()["location"], "https://video.example.com/sample/sample.mp4");
        let response = origin
            .client(protocol)
            .get(origin.url(PATH))
            .header("cloudfront-forwarded-proto", "https")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        // X-Forwarded-Proto is believed only from trusted proxies, and none is configured.
        let response =
            origin.client(protocol).head(origin.url(PATH)).header("x-forwarded-proto", "http").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let rejecting = Origin::start_with(&media_root(), |c| {
        c.plain_http.mode = PlainHttpMode::Reject;
        c.server.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let response = rejecting
        .client(Protocol::Http1)
        .get(rejecting.url(PATH))
        .header("x-forwarded-proto", "http")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}
