//! What operators see: Prometheus metrics on the admin listener that match the traffic sent,
//! and one access-log line per request on stdout.

mod common;

use std::io::{BufRead, BufReader};

use common::process::ServerProcess;
use common::{Origin, Protocol, media_root, series};
use reqwest::StatusCode;
use vod_origin::config::Secret;

async fn scrape(origin: &Origin) -> String {
    let url = format!("http://{}/metrics", origin.admin.expect("an admin listener"));
    let response = origin.client(Protocol::Http1).get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_the_traffic_sent() {
    let secret = "a-secret-for-the-metrics-test";
    let origin = Origin::start_with(&media_root(), |c| c.access.secrets = vec![Secret::from(secret)]).await;
    let before = scrape(&origin).await;
    let client = origin.client(Protocol::Http2);
    let get = |path: &str| client.get(origin.url(path)).header("x-origin-verify", secret);
    let mut body_bytes = 0;
    for _ in 0..3 {
        let response =
            get("/sample/hls/segment_000.ts").header("origin", "https://player.example.com").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        body_bytes += response.bytes().await.unwrap().len();
    }
    let response = get("/sample/missing.ts").send().await.unwrap();
    body_bytes += response.bytes().await.unwrap().len();
    // Without the secret, on a connection of its own: a refusal of the secret closes it.
    let response = origin.client(Protocol::Http2).get(origin.url("/sample/sample.mp4")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    body_bytes += response.bytes().await.unwrap().len();

    let after = scrape(&origin).await;
    let delta = |series_name: &str| series(&after, series_name) - series(&before, series_name);
    assert_eq!(delta(r#"vod_origin_requests_total{route="object",status="2xx"}"#), 3.0, "{after}");
    assert_eq!(delta(r#"vod_origin_requests_total{route="object",status="4xx"}"#), 1.0, "{after}");
    assert_eq!(delta(r#"vod_origin_requests_total{route="refused",status="4xx"}"#), 1.0, "{after}");
    assert_eq!(delta(r#"vod_origin_refusals_total{reason="secret"}"#), 1.0, "{after}");
    assert_eq!(delta(r#"vod_origin_cors_decisions_total{decision="allowed"}"#), 3.0, "{after}");
    let sent = delta(r#"vod_origin_response_bytes_total{route="object"}"#)
        + delta(r#"vod_origin_response_bytes_total{route="refused"}"#);
    assert_eq!(sent, body_bytes as f64, "{after}");
    assert_eq!(delta(r#"vod_origin_request_duration_seconds_count{route="object"}"#), 4.0, "{after}");
    assert!(series(&after, r#"vod_origin_connections_active{protocol="h2"}"#) >= 1.0, "{after}");
    // Every series explains itself, and the process's own series are there for stock dashboards.
    assert!(after.contains("# HELP vod_origin_requests_total Requests answered, by `route` kind"), "{after}");
    assert!(series(&after, "process_resident_memory_bytes") > 0.0, "{after}");
    assert!(series(&after, "process_open_fds") > 0.0, "{after}");
    // Labels are bounded: no path, origin or user agent ever becomes a label value.
    assert!(!after.contains("segment_000") && !after.contains("player.example.com"), "{after}");
}

#[test]
fn the_access_log_has_one_json_line_per_request() {
    let server = ServerProcess::start(&[]);
    let client = server.client(true);
    let url = server.url("/sample/sample.mp4");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let response = client
            .get(url)
            .header("range", "bytes=10-109")
            .header("x-amz-cf-id", "Cf-Request-1==")
            .header("x-forwarded-for", "203.0.113.7")
            .header("user-agent", "test-player/1.0")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(response.bytes().await.unwrap().len(), 100);
    });
    let mut server = server;
    let mut stdout = BufReader::new(server.child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    drop(server);
    let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(entry["target"], "access");
    assert_eq!(entry["method"], "GET");
    assert_eq!(entry["path"], "/sample/sample.mp4");
    assert_eq!(entry["status"], 206);
    assert_eq!(entry["range"], "bytes=10-109");
    assert_eq!(entry["bytes"], 100);
    assert_eq!(entry["complete"], true);
    assert_eq!(entry["cf_id"], "Cf-Request-1==");
    assert_eq!(entry["forwarded_for"], "203.0.113.7");
    assert_eq!(entry["user_agent"], "test-player/1.0");
    assert_eq!(entry["protocol"], "http1");
    assert_eq!(entry["route"], "object");
    assert_eq!(entry["storage"], "ok");
    assert!(entry["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(entry["duration_ms"].as_f64().unwrap() >= entry["ttfb_ms"].as_f64().unwrap());
}
