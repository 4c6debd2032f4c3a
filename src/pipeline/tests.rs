//! The pipeline in process: [`App::handle`] over the local store, without TLS or sockets, table
//! by table (guard × method × CORS × route × conditionals × ranges). What only a socket can show
//! (TLS, HTTP/2 framing, closing connections, slow clients) stays in `tests/`.

use std::net::IpAddr;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::BodyExt;

use super::*;

const SECRET: &str = "a-secret-for-pipeline-tests";
const CDN: &str = "10.1.2.3";
const ALLOWED_ORIGIN: &str = "https://player.example";
/// 100 bytes whose every byte names its offset, so a wrong slice shows.
const VIDEO_LEN: usize = 100;

struct Fixture {
    app: App,
    _root: tempfile::TempDir,
    etag: String,
    last_modified: String,
}

impl Fixture {
    async fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("video")).unwrap();
        let content: Vec<u8> = (0..VIDEO_LEN as u8).collect();
        std::fs::write(root.path().join("video/a.mp4"), content).unwrap();
        let toml = format!(
            r#"
            [storage]
            root = "{root}"
            [access]
            secrets = ["{SECRET}"]
            allowed_cidrs = ["10.0.0.0/8"]
            [cors]
            enforce = true
            clientaccesspolicy_xml = false
            rules = [{{ allowed_origins = ["{ALLOWED_ORIGIN}"], allowed_methods = ["GET", "HEAD"] }}]
            "#,
            root = root.path().display()
        );
        let loaded = LoadedConfig::from_toml(&toml).unwrap();
        let store = crate::store::from_config(&loaded).await.unwrap();
        let app = App::new(&loaded, store).unwrap();
        let head = Fixture::send(&app, "HEAD", "/video/a.mp4", &[("x-origin-verify", SECRET)]).await;
        let header = |name| head.headers()[name].to_str().unwrap().to_owned();
        let (etag, last_modified) = (header("etag"), header("last-modified"));
        Self { app, _root: root, etag, last_modified }
    }

    /// Sends a request from the CDN with the secret, plus `headers`.
    async fn get(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut all = vec![("x-origin-verify", SECRET)];
        all.extend_from_slice(headers);
        Answer::of(Self::send(&self.app, method, path, &all).await).await
    }

    async fn send(app: &App, method: &str, path: &str, headers: &[(&str, &str)]) -> Response<ResponseBody> {
        Self::send_from(app, CDN.parse().unwrap(), method, path, headers).await
    }

    async fn send_from(
        app: &App,
        peer: IpAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Response<ResponseBody> {
        let mut request = http::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (parts, ()) = request.header("host", "origin.example").body(()).unwrap().into_parts();
        app.handle(&parts, peer).await
    }
}

/// Request headers of one case.
type Headers<'a> = &'a [(&'a str, &'a str)];

/// A response read whole.
struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    outcome: Option<Outcome>,
    body: Bytes,
}

impl Answer {
    async fn of(response: Response<ResponseBody>) -> Self {
        let (mut parts, body) = response.into_parts();
        let outcome = parts.extensions.remove::<Outcome>();
        let body = body.collect().await.expect("the body arrives whole").to_bytes();
        Self { status: parts.status, headers: parts.headers, outcome, body }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn route(&self) -> &'static str {
        self.outcome.map_or("refused", |outcome| outcome.route.as_str())
    }
}

fn bytes(range: std::ops::Range<u8>) -> Vec<u8> {
    range.collect()
}

#[tokio::test]
async fn the_guard_lets_only_the_cdn_in_and_probes_need_nothing() {
    let fixture = Fixture::new().await;
    let app = &fixture.app;
    let outside: IpAddr = "192.0.2.1".parse().unwrap();
    let cases: [(IpAddr, &str, Headers<'_>, u16); 7] = [
        (CDN.parse().unwrap(), "/video/a.mp4", &[("x-origin-verify", SECRET)], 200),
        (CDN.parse().unwrap(), "/video/a.mp4", &[], 403),
        (CDN.parse().unwrap(), "/video/a.mp4", &[("x-origin-verify", "wrong-secret-of-same-size!!")], 403),
        (outside, "/video/a.mp4", &[("x-origin-verify", SECRET)], 403),
        // Probes answer whoever asks: load balancers hold no secret.
        (outside, "/healthz", &[], 200),
        (outside, "/readyz", &[], 503),
        (
            CDN.parse().unwrap(),
            "/video/a.mp4",
            &[("x-origin-verify", SECRET), ("cloudfront-forwarded-proto", "http")],
            301,
        ),
    ];
    for (peer, path, headers, status) in cases {
        let answer = Answer::of(Fixture::send_from(app, peer, "GET", path, headers).await).await;
        assert_eq!(answer.status.as_u16(), status, "{peer} {path} {headers:?}");
        if status == 403 {
            assert_eq!(answer.header("connection"), Some("close"), "a refused client keeps no connection");
            assert_eq!(answer.route(), "refused");
            assert_eq!(&answer.body[..], b"Forbidden\n");
        }
        // Every answer but a probe's varies on Origin.
        assert_eq!(answer.header("vary").is_some(), !path.ends_with('z'), "{path}");
    }
    app.warm_up().await;
    let ready = Answer::of(Fixture::send_from(app, outside, "GET", "/readyz", &[]).await).await;
    assert_eq!((ready.status, ready.route()), (StatusCode::OK, "probe"));
}

#[tokio::test]
async fn methods_other_than_get_head_and_options_are_refused() {
    let fixture = Fixture::new().await;
    let cases: [(&str, Headers<'_>, u16, Option<&str>); 6] = [
        ("GET", &[], 200, None),
        ("HEAD", &[], 200, None),
        ("OPTIONS", &[], 200, None),
        ("DELETE", &[], 405, None),
        ("PUT", &[("content-length", "3")], 405, Some("close")),
        ("GET", &[("transfer-encoding", "chunked")], 400, Some("close")),
    ];
    for (method, headers, status, connection) in cases {
        let answer = fixture.get(method, "/video/a.mp4", headers).await;
        assert_eq!(answer.status.as_u16(), status, "{method} {headers:?}");
        assert_eq!(answer.header("connection"), connection, "{method} {headers:?}");
        if status == 405 {
            assert_eq!(answer.header("allow"), Some("GET, HEAD, OPTIONS"));
        }
    }
    let options = fixture.get("OPTIONS", "/anything", &[]).await;
    assert_eq!((options.header("allow"), options.route()), (Some("GET, HEAD, OPTIONS"), "options"));
    let head = fixture.get("HEAD", "/video/a.mp4", &[]).await;
    assert_eq!((head.header("content-length"), head.body.len()), (Some("100"), 0));
}

#[tokio::test]
async fn cors_decides_before_the_store_and_its_headers_reach_every_answer() {
    let fixture = Fixture::new().await;
    let allowed = ("origin", ALLOWED_ORIGIN);
    let other = ("origin", "https://elsewhere.example");
    let announce = ("access-control-request-method", "GET");
    // (method, path, headers, status, Access-Control-Allow-Origin, route)
    type Case<'a> = (&'a str, &'a str, Headers<'a>, u16, Option<&'a str>, &'a str);
    let cases: [Case; 7] = [
        ("GET", "/video/a.mp4", &[], 200, None, "object"),
        ("GET", "/video/a.mp4", &[allowed], 200, Some(ALLOWED_ORIGIN), "object"),
        ("GET", "/video/a.mp4", &[other], 403, None, "refused"),
        // A 404 from the store still tells the player's script what happened.
        ("GET", "/video/missing.mp4", &[allowed], 404, Some(ALLOWED_ORIGIN), "object"),
        ("OPTIONS", "/video/a.mp4", &[allowed, announce], 200, Some(ALLOWED_ORIGIN), "preflight"),
        ("OPTIONS", "/video/a.mp4", &[other, announce], 403, None, "preflight"),
        ("OPTIONS", "/video/a.mp4", &[allowed], 200, None, "options"),
    ];
    for (method, path, headers, status, allow_origin, route) in cases {
        let answer = fixture.get(method, path, headers).await;
        let case = format!("{method} {path} {headers:?}");
        assert_eq!(answer.status.as_u16(), status, "{case}");
        assert_eq!(answer.header("access-control-allow-origin"), allow_origin, "{case}");
        assert_eq!(answer.route(), route, "{case}");
        let vary: Vec<_> = answer.headers.get_all("vary").iter().map(|v| v.to_str().unwrap()).collect();
        let preflight = headers.contains(&announce);
        assert_eq!(vary.len(), if preflight { 3 } else { 1 }, "{case}: {vary:?}");
        assert_eq!(vary[0], "Origin", "{case}");
    }
}

#[tokio::test]
async fn each_route_is_answered_by_its_own_step() {
    let fixture = Fixture::new().await;
    // (path, status, route, storage)
    let cases = [
        ("/video/a.mp4", 200, "object", "ok"),
        ("/video/missing.mp4", 404, "object", "not_found"),
        ("/", 404, "object", "none"),
        ("/video/%00.mp4", 400, "object", "none"),
        ("/crossdomain.xml", 200, "policy_file", "none"),
        // Switched off: an object like any other, and there is none.
        ("/clientaccesspolicy.xml", 404, "object", "not_found"),
    ];
    for (path, status, route, storage) in cases {
        let answer = fixture.get("GET", path, &[]).await;
        assert_eq!(answer.status.as_u16(), status, "{path}");
        let outcome = answer.outcome.expect("every routed answer reports its outcome");
        assert_eq!((outcome.route.as_str(), outcome.storage.as_str()), (route, storage), "{path}");
    }
    let policy = fixture.get("GET", "/crossdomain.xml", &[]).await;
    assert_eq!(policy.header("content-type"), Some("text/x-cross-domain-policy"));
    assert!(policy.body.starts_with(b"<?xml"), "{:?}", policy.body);
    // Policy files take ranges like any object.
    let part = fixture.get("GET", "/crossdomain.xml", &[("range", "bytes=0-4")]).await;
    assert_eq!((part.status, &part.body[..]), (StatusCode::PARTIAL_CONTENT, &b"<?xml"[..]));
}

#[tokio::test]
async fn conditionals_are_decided_on_the_metadata() {
    let fixture = Fixture::new().await;
    let (etag, date) = (fixture.etag.as_str(), fixture.last_modified.as_str());
    let cases: [(&[(&str, &str)], u16); 8] = [
        (&[("if-none-match", etag)], 304),
        (&[("if-none-match", "\"other\"")], 200),
        (&[("if-none-match", "*")], 304),
        (&[("if-match", "\"other\"")], 412),
        (&[("if-match", etag)], 200),
        (&[("if-modified-since", date)], 304),
        (&[("if-unmodified-since", "Mon, 01 Jan 2001 00:00:00 GMT")], 412),
        // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
        (&[("if-none-match", "\"other\""), ("if-modified-since", date)], 200),
    ];
    for (headers, status) in cases {
        let answer = fixture.get("GET", "/video/a.mp4", headers).await;
        assert_eq!(answer.status.as_u16(), status, "{headers:?}");
        match status {
            304 => {
                assert_eq!(answer.header("etag"), Some(etag));
                assert_eq!((answer.header("content-length"), answer.body.len()), (None, 0));
            }
            412 => assert_eq!(answer.header("cache-control"), Some("no-store")),
            _ => assert_eq!(answer.body, bytes(0..100)),
        }
    }
}

#[tokio::test]
async fn ranges_are_served_exactly() {
    let fixture = Fixture::new().await;
    let etag = fixture.etag.as_str();
    // (Range, If-Range, status, Content-Range, body)
    type Case<'a> = (&'a str, Option<&'a str>, u16, Option<&'a str>, Vec<u8>);
    let cases: [Case; 7] = [
        ("bytes=10-19", None, 206, Some("bytes 10-19/100"), bytes(10..20)),
        ("bytes=-5", None, 206, Some("bytes 95-99/100"), bytes(95..100)),
        ("bytes=90-", None, 206, Some("bytes 90-99/100"), bytes(90..100)),
        ("bytes=90-1000", None, 206, Some("bytes 90-99/100"), bytes(90..100)),
        ("bytes=100-", None, 416, Some("bytes */100"), b"Range not satisfiable\n".to_vec()),
        ("bytes=10-19", Some("\"stale\""), 200, None, bytes(0..100)),
        ("bytes=10-19", Some(etag), 206, Some("bytes 10-19/100"), bytes(10..20)),
    ];
    for (range, if_range, status, content_range, body) in cases {
        let mut headers = vec![("range", range)];
        headers.extend(if_range.map(|value| ("if-range", value)));
        let answer = fixture.get("GET", "/video/a.mp4", &headers).await;
        assert_eq!(answer.status.as_u16(), status, "{headers:?}");
        assert_eq!(answer.header("content-range"), content_range, "{headers:?}");
        assert_eq!(answer.body, body, "{headers:?}");
        assert_eq!(answer.header("content-length"), Some(body.len().to_string().as_str()), "{headers:?}");
    }
}

#[tokio::test]
async fn several_ranges_are_one_multipart_body_of_the_announced_length() {
    let fixture = Fixture::new().await;
    let answer = fixture.get("GET", "/video/a.mp4", &[("range", "bytes=0-1,50-51")]).await;
    assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT);
    let content_type = answer.header("content-type").unwrap();
    let boundary = content_type.strip_prefix("multipart/byteranges; boundary=").expect(content_type);
    assert_eq!(answer.header("content-length"), Some(answer.body.len().to_string().as_str()));
    let text = String::from_utf8_lossy(&answer.body);
    assert!(text.contains("Content-Range: bytes 0-1/100") && text.contains("Content-Range: bytes 50-51/100"));
    assert!(text.ends_with(&format!("--{boundary}--\r\n")), "{text}");
    let head = fixture.get("HEAD", "/video/a.mp4", &[("range", "bytes=0-1,50-51")]).await;
    assert_eq!((head.header("content-length"), head.body.len()), (answer.header("content-length"), 0));
}
