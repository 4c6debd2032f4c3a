//! Conditional requests (RFC 9110 §13) over real TLS: 304, 412 and their precedence.

mod common;

use common::{BACKENDS, Origin, PROTOCOLS, media_root};
use reqwest::StatusCode;

const PATH: &str = "/sample/hls/segment_001.ts";

async fn validators(origin: &Origin) -> (String, String) {
    let response = origin.client(common::Protocol::Http1).head(origin.url(PATH)).send().await.unwrap();
    let header = |name| response.headers()[name].to_str().unwrap().to_string();
    (header("etag"), header("last-modified"))
}

#[tokio::test]
async fn preconditions_decide_the_status() {
    for backend in BACKENDS {
        let origin = Origin::start_on(backend, &media_root(), |_| {}).await;
        let (etag, modified) = validators(&origin).await;
        let weak = format!("W/{etag}");
        let list = format!("\"nope\", {etag}");
        let cases: Vec<(&str, &str, &str, StatusCode)> = vec![
            ("GET", "if-none-match", &etag, StatusCode::NOT_MODIFIED),
            ("HEAD", "if-none-match", &etag, StatusCode::NOT_MODIFIED),
            ("GET", "if-none-match", &weak, StatusCode::NOT_MODIFIED),
            ("GET", "if-none-match", &list, StatusCode::NOT_MODIFIED),
            ("GET", "if-none-match", "*", StatusCode::NOT_MODIFIED),
            ("GET", "if-none-match", "\"nope\"", StatusCode::OK),
            ("GET", "if-modified-since", &modified, StatusCode::NOT_MODIFIED),
            ("GET", "if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT", StatusCode::OK),
            ("GET", "if-modified-since", "not a date", StatusCode::OK),
            ("GET", "if-match", &etag, StatusCode::OK),
            ("GET", "if-match", "*", StatusCode::OK),
            ("GET", "if-match", "\"nope\"", StatusCode::PRECONDITION_FAILED),
            ("GET", "if-match", &weak, StatusCode::PRECONDITION_FAILED),
            ("GET", "if-unmodified-since", "Thu, 01 Jan 1970 00:00:00 GMT", StatusCode::PRECONDITION_FAILED),
            ("GET", "if-unmodified-since", &modified, StatusCode::OK),
        ];
        for protocol in PROTOCOLS {
            let client = origin.client(protocol);
            for (method, name, value, status) in &cases {
                let request = client.request(method.parse().unwrap(), origin.url(PATH)).header(*name, *value);
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), *status, "{protocol:?} {method} {name}: {value}");
                if *status == StatusCode::NOT_MODIFIED {
                    assert_eq!(response.headers()["etag"], etag.as_str());
                    assert!(response.headers().contains_key("cache-control"));
                    assert!(response.bytes().await.unwrap().is_empty());
                }
            }
        }
    }
}

#[tokio::test]
async fn if_none_match_wins_over_if_modified_since() {
    for backend in BACKENDS {
        let origin = Origin::start_on(backend, &media_root(), |_| {}).await;
        let (_, modified) = validators(&origin).await;
        let response = origin
            .client(common::Protocol::Http2)
            .get(origin.url(PATH))
            .header("if-none-match", "\"other\"")
            .header("if-modified-since", &modified)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn if_match_fails_before_the_range_is_looked_at() {
    for backend in BACKENDS {
        let origin = Origin::start_on(backend, &media_root(), |_| {}).await;
        let response = origin
            .client(common::Protocol::Http1)
            .get(origin.url(PATH))
            .header("if-match", "\"other\"")
            .header("range", "bytes=0-10")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
        let len: usize = response.headers()["content-length"].to_str().unwrap().parse().unwrap();
        assert_eq!(response.bytes().await.unwrap().len(), len);
    }
}

#[tokio::test]
async fn a_matching_range_with_a_fresh_cache_is_still_304() {
    for backend in BACKENDS {
        let origin = Origin::start_on(backend, &media_root(), |_| {}).await;
        let (etag, _) = validators(&origin).await;
        let response = origin
            .client(common::Protocol::Http2)
            .get(origin.url(PATH))
            .header("if-none-match", &etag)
            .header("range", "bytes=0-10")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    }
}
