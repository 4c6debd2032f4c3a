//! Byte ranges over real TLS, HTTP/1.1 and HTTP/2, byte-exact against the files on disk.

mod common;

use common::{BACKENDS, Backend, Origin, PROTOCOLS, fixture_dir, pattern};
use reqwest::StatusCode;

const LEN: usize = 1_000_003;

async fn origin(backend: Backend) -> (tempfile::TempDir, Origin) {
    let dir = fixture_dir(&[("v/file.mp4", LEN), ("empty.ts", 0)]);
    let origin = Origin::start_on(backend, dir.path(), |_| {}).await;
    (dir, origin)
}

fn content() -> Vec<u8> {
    pattern(LEN, "v/file.mp4".len() as u64)
}

#[tokio::test]
async fn single_suffix_and_open_ranges_are_exact() {
    for backend in BACKENDS {
        let (_dir, origin) = origin(backend).await;
        let content = content();
        let cases: &[(&str, usize, usize)] = &[
            ("bytes=0-0", 0, 1),
            ("bytes=100-199", 100, 200),
            ("bytes=999999-", 999_999, LEN),
            ("bytes=-500", LEN - 500, LEN),
            ("bytes=0-", 0, LEN),
            ("bytes=-2000000", 0, LEN),
            ("bytes=1000000-9999999", 1_000_000, LEN),
        ];
        for protocol in PROTOCOLS {
            let client = origin.client(protocol);
            for &(range, start, end) in cases {
                let response = client.get(origin.url("/v/file.mp4")).header("range", range).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{protocol:?} {range}");
                let headers = response.headers().clone();
                assert_eq!(headers["content-range"], format!("bytes {start}-{}/{LEN}", end - 1), "{range}");
                assert_eq!(headers["content-length"], (end - start).to_string(), "{range}");
                assert_eq!(headers["accept-ranges"], "bytes");
                assert_eq!(headers["content-type"], "video/mp4");
                assert_eq!(&response.bytes().await.unwrap()[..], &content[start..end], "{protocol:?} {range}");
            }
        }
    }
}

#[tokio::test]
async fn whole_objects_carry_length_and_validators() {
    for backend in BACKENDS {
        let (_dir, origin) = origin(backend).await;
        for protocol in PROTOCOLS {
            let response = origin.client(protocol).get(origin.url("/v/file.mp4")).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let version = response.version();
            assert_eq!(version == reqwest::Version::HTTP_2, protocol == common::Protocol::Http2);
            let headers = response.headers().clone();
            assert_eq!(headers["content-length"], LEN.to_string());
            assert!(headers.contains_key("etag") && headers.contains_key("last-modified"));
            assert!(!headers.contains_key("transfer-encoding"));
            assert_eq!(response.bytes().await.unwrap(), content());
        }
    }
}

#[tokio::test]
async fn unsatisfiable_ranges_get_416_with_the_length() {
    for backend in BACKENDS {
        let (_dir, origin) = origin(backend).await;
        for protocol in PROTOCOLS {
            let client = origin.client(protocol);
            for range in ["bytes=1000003-", "bytes=2000000-2000010", "bytes=-0", "bytes=1000003-1000004, 2000000-"] {
                let response = client.get(origin.url("/v/file.mp4")).header("range", range).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
                assert_eq!(response.headers()["content-range"], format!("bytes */{LEN}"));
                let len: usize = response.headers()["content-length"].to_str().unwrap().parse().unwrap();
                assert_eq!(response.bytes().await.unwrap().len(), len);
            }
            let response = client.get(origin.url("/empty.ts")).header("range", "bytes=0-").send().await.unwrap();
            assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
            assert_eq!(response.headers()["content-range"], "bytes */0");
        }
    }
}

#[tokio::test]
async fn malformed_ranges_are_ignored() {
    for backend in BACKENDS {
        let (_dir, origin) = origin(backend).await;
        for range in ["bytes=abc", "items=0-10", "bytes=10-5", "bytes 0-10", "bytes=--1"] {
            let response = origin
                .client(common::Protocol::Http1)
                .get(origin.url("/v/file.mp4"))
                .header("range", range)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{range}");
            assert_eq!(response.headers()["content-length"], LEN.to_string());
        }
    }
}

/// Splits a multipart/byteranges body into (Content-Range, bytes) pairs.
fn parse_multipart(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let boundary = content_type.split("boundary=").nth(1).expect("a boundary");
    let delimiter = format!("\r\n--{boundary}");
    let text = body;
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let start = find(rest, delimiter.as_bytes()).expect("a delimiter");
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            assert_eq!(rest, b"--\r\n", "the body ends right after the closing delimiter");
            break;
        }
        let head_end = find(rest, b"\r\n\r\n").unwrap();
        let head = std::str::from_utf8(&rest[..head_end]).unwrap();
        let range = head.lines().find_map(|l| l.strip_prefix("Content-Range: ")).unwrap().to_string();
        let (_, span) = range.strip_prefix("bytes ").unwrap().split_once('/').map(|(s, t)| (t, s)).unwrap();
        let (a, b) = span.split_once('-').unwrap();
        let len = b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1;
        let data = rest[head_end + 4..head_end + 4 + len].to_vec();
        rest = &rest[head_end + 4 + len..];
        parts.push((range, data));
    }
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test]
async fn multiple_ranges_are_sorted_coalesced_and_exact() {
    for backend in BACKENDS {
        let (_dir, origin) = origin(backend).await;
        let content = content();
        for protocol in PROTOCOLS {
            let client = origin.client(protocol);
            let response = client
                .get(origin.url("/v/file.mp4"))
                .header("range", "bytes=500-599, 0-9, 10-19, 550-700, -3")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
            let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
            assert!(content_type.starts_with("multipart/byteranges; boundary="), "{content_type}");
            let declared: usize = response.headers()["content-length"].to_str().unwrap().parse().unwrap();
            let body = response.bytes().await.unwrap();
            assert_eq!(body.len(), declared, "Content-Length is exact");
            let parts = parse_multipart(&content_type, &body);
            let expected = [(0usize, 20usize), (500, 701), (LEN - 3, LEN)];
            assert_eq!(parts.len(), expected.len());
            for ((range, data), (start, end)) in parts.iter().zip(expected) {
                assert_eq!(range, &format!("bytes {start}-{}/{LEN}", end - 1));
                assert_eq!(data, &content[start..end]);
            }
        }
    }
}

#[tokio::test]
async fn abusive_range_sets_get_the_whole_object() {
    for backend in BACKENDS {
        let (_dir, origin) = origin(backend).await;
        let many: Vec<String> = (0..17).map(|i| format!("{}-{}", i * 10, i * 10 + 1)).collect();
        let overlapping = ["0-999999"; 3];
        for ranges in [many, overlapping.iter().map(|s| s.to_string()).collect()] {
            let range = format!("bytes={}", ranges.join(","));
            let response = origin
                .client(common::Protocol::Http2)
                .get(origin.url("/v/file.mp4"))
                .header("range", &range)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{range}");
            assert_eq!(response.bytes().await.unwrap().len(), LEN);
        }
    }
}

#[tokio::test]
async fn if_range_decides_between_partial_and_whole() {
    for backend in BACKENDS {
        let (_dir, origin) = origin(backend).await;
        let client = origin.client(common::Protocol::Http1);
        let head = client.head(origin.url("/v/file.mp4")).send().await.unwrap();
        let etag = head.headers()["etag"].to_str().unwrap().to_string();
        let modified = head.headers()["last-modified"].to_str().unwrap().to_string();
        let weak = format!("W/{etag}");
        let cases = [
            (etag.as_str(), StatusCode::PARTIAL_CONTENT),
            (modified.as_str(), StatusCode::PARTIAL_CONTENT),
            ("\"other\"", StatusCode::OK),
            (weak.as_str(), StatusCode::OK),
            ("Thu, 01 Jan 1970 00:00:00 GMT", StatusCode::OK),
        ];
        for (if_range, status) in cases {
            let response = client
                .get(origin.url("/v/file.mp4"))
                .header("range", "bytes=0-99")
                .header("if-range", if_range)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), status, "If-Range: {if_range}");
        }
    }
}

#[tokio::test]
async fn head_answers_the_headers_of_get() {
    for backend in BACKENDS {
        let (_dir, origin) = origin(backend).await;
        for protocol in PROTOCOLS {
            let client = origin.client(protocol);
            for range in [None, Some("bytes=5-10"), Some("bytes=0-1,5-10"), Some("bytes=9999999-")] {
                let mut get = client.get(origin.url("/v/file.mp4"));
                let mut head = client.head(origin.url("/v/file.mp4"));
                if let Some(range) = range {
                    get = get.header("range", range);
                    head = head.header("range", range);
                }
                let (get, head) = (get.send().await.unwrap(), head.send().await.unwrap());
                assert_eq!(get.status(), head.status(), "{range:?}");
                for name in [
                    "content-length",
                    "content-type",
                    "content-range",
                    "etag",
                    "last-modified",
                    "accept-ranges",
                    "cache-control",
                ] {
                    let (g, h) = (get.headers().get(name), head.headers().get(name));
                    assert_eq!(g, h, "{protocol:?} {range:?} {name}");
                }
                assert!(head.bytes().await.unwrap().is_empty());
            }
        }
    }
}
