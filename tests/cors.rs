//! CORS with S3 bucket semantics, and the policy files rendered from the same rules.

mod common;

use common::{BACKENDS, Backend, Origin, PROTOCOLS, Protocol, media_root};
use reqwest::StatusCode;
use vod_origin::cors::CorsRule;

const PATH: &str = "/sample/hls/index.m3u8";

fn rules() -> Vec<CorsRule> {
    vec![
        CorsRule {
            id: Some("players".into()),
            allowed_origins: vec!["https://player.example.com".into(), "https://*.example.org".into()],
            allowed_methods: vec!["GET".into(), "HEAD".into()],
            allowed_headers: vec!["range".into(), "x-player-*".into()],
            expose_headers: vec!["X-Custom".into()],
            max_age_seconds: Some(600),
        },
        CorsRule {
            id: None,
            allowed_origins: vec!["*".into()],
            allowed_methods: vec!["HEAD".into()],
            allowed_headers: Vec::new(),
            expose_headers: Vec::new(),
            max_age_seconds: None,
        },
    ]
}

async fn origin(backend: Backend, enforce: bool) -> Origin {
    Origin::start_on(backend, &media_root(), |config| {
        config.cors.rules = Some(rules());
        config.cors.enforce = enforce;
    })
    .await
}

fn vary_has_origin(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().to_ascii_lowercase().split(',').any(|p| p.trim() == "origin"))
}

#[tokio::test]
async fn preflights_are_answered_from_the_rules() {
    for backend in BACKENDS {
        let origin = origin(backend, true).await;
        for protocol in PROTOCOLS {
            let client = origin.client(protocol);
            let response = client
                .request(reqwest::Method::OPTIONS, origin.url(PATH))
                .header("origin", "https://a.example.org")
                .header("access-control-request-method", "GET")
                .header("access-control-request-headers", "Range, X-Player-Session")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{protocol:?}");
            let h = response.headers();
            assert_eq!(h["access-control-allow-origin"], "https://a.example.org");
            assert_eq!(h["access-control-allow-methods"], "GET, HEAD");
            assert_eq!(h["access-control-allow-headers"], "range, x-player-session");
            assert_eq!(h["access-control-max-age"], "600");
            assert!(vary_has_origin(&response));

            let denied = [
                ("https://evil.example.com", "GET", "range"),
                ("https://player.example.com", "DELETE", "range"),
                ("https://player.example.com", "GET", "authorization"),
            ];
            for (from, method, headers) in denied {
                let response = client
                    .request(reqwest::Method::OPTIONS, origin.url(PATH))
                    .header("origin", from)
                    .header("access-control-request-method", method)
                    .header("access-control-request-headers", headers)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::FORBIDDEN, "{from} {method} {headers}");
                assert!(!response.headers().contains_key("access-control-allow-origin"));
                assert!(vary_has_origin(&response));
            }
        }
    }
}

#[tokio::test]
async fn allowed_origins_get_the_headers_a_player_needs() {
    for backend in BACKENDS {
        let origin = origin(backend, true).await;
        for protocol in PROTOCOLS {
            let response = origin
                .client(protocol)
                .get(origin.url(PATH))
                .header("origin", "https://player.example.com")
                .header("range", "bytes=0-9")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
            let h = response.headers();
            assert_eq!(h["access-control-allow-origin"], "https://player.example.com");
            let exposed = h["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
            for name in ["x-custom", "content-range", "accept-ranges", "content-length", "etag"] {
                assert!(exposed.split(',').any(|e| e.trim() == name), "{name} in {exposed}");
            }
            assert!(vary_has_origin(&response));
        }
    }
}

#[tokio::test]
async fn a_wildcard_rule_answers_with_a_star() {
    for backend in BACKENDS {
        let origin = origin(backend, true).await;
        let response = origin
            .client(Protocol::Http1)
            .head(origin.url(PATH))
            .header("origin", "https://anyone.test")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
    }
}

#[tokio::test]
async fn disallowed_origins_are_refused_or_served_bare() {
    for backend in BACKENDS {
        let enforcing = origin(backend, true).await;
        let response = enforcing
            .client(Protocol::Http2)
            .get(enforcing.url(PATH))
            .header("origin", "https://evil.test")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(!response.headers().contains_key("access-control-allow-origin"));
        assert!(vary_has_origin(&response));

        let lenient = origin(backend, false).await;
        let response = lenient
            .client(Protocol::Http2)
            .get(lenient.url(PATH))
            .header("origin", "https://evil.test")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key("access-control-allow-origin"));
        assert!(vary_has_origin(&response));
    }
}

#[tokio::test]
async fn vary_origin_is_on_every_object_response() {
    for backend in BACKENDS {
        let origin = origin(backend, true).await;
        let client = origin.client(Protocol::Http1);
        for (path, range) in
            [(PATH, None), ("/missing.ts", None), (PATH, Some("bytes=0-1")), (PATH, Some("bytes=999999-"))]
        {
            let mut request = client.get(origin.url(path));
            if let Some(range) = range {
                request = request.header("range", range);
            }
            let response = request.send().await.unwrap();
            assert!(vary_has_origin(&response), "{path} {range:?} {}", response.status());
        }
    }
}

#[tokio::test]
async fn errors_for_allowed_origins_stay_readable_by_the_player() {
    for backend in BACKENDS {
        let origin = origin(backend, true).await;
        let response = origin
            .client(Protocol::Http1)
            .get(origin.url("/missing.ts"))
            .header("origin", "https://player.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["access-control-allow-origin"], "https://player.example.com");
    }
}

#[tokio::test]
async fn policy_files_follow_the_rules() {
    for backend in BACKENDS {
        let origin = origin(backend, true).await;
        let client = origin.client(Protocol::Http1);
        let response = client.get(origin.url("/crossdomain.xml")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/x-cross-domain-policy");
        let body = response.text().await.unwrap();
        assert!(body.contains("<cross-domain-policy>"), "{body}");
        assert!(body.contains(r#"domain="player.example.com""#), "{body}");
        assert!(body.contains(r#"domain="*.example.org""#), "{body}");

        let response = client.get(origin.url("/clientaccesspolicy.xml")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.text().await.unwrap();
        assert!(body.contains(r#"<domain uri="https://player.example.com"/>"#), "{body}");

        let off = Origin::start_with(&media_root(), |c| {
            c.cors.crossdomain_xml = false;
            c.cors.clientaccesspolicy_xml = false;
        })
        .await;
        for path in ["/crossdomain.xml", "/clientaccesspolicy.xml"] {
            let response = off.client(Protocol::Http1).get(off.url(path)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }
}

#[tokio::test]
async fn rules_load_from_s3_exports() {
    let config_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    for file in ["cors.example.xml", "cors.example.json"] {
        let origin = Origin::start_with(&media_root(), |c| c.cors.rules_file = Some(config_dir.join(file))).await;
        let client = origin.client(Protocol::Http2);
        let allowed = client.get(origin.url(PATH)).header("origin", "https://cdn.example.com").send().await.unwrap();
        assert_eq!(allowed.status(), StatusCode::OK, "{file}");
        assert_eq!(allowed.headers()["access-control-allow-origin"], "https://cdn.example.com");
        let denied = client.get(origin.url(PATH)).header("origin", "https://example.net").send().await.unwrap();
        assert_eq!(denied.status(), StatusCode::FORBIDDEN, "{file}");
    }
}
