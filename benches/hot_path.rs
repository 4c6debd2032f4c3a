//! The pure pieces of the request path, timed: range planning, CORS matching, multipart
//! framing and key mapping. Each runs once or more per request, before the first byte.
//!
//!     cargo bench --bench hot_path
//!
//! Results and the machine they came from are in docs/benchmarks.md.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method, header};
use vod_origin::cors::{CorsPolicy, CorsRule};
use vod_origin::key::key_from_path;
use vod_origin::plan::multipart::layout;
use vod_origin::plan::{ByteRange, Validators, plan};

const OBJECT_LEN: u64 = 1_500_000_000;

fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
    pairs.iter().map(|(name, value)| (name.clone(), HeaderValue::from_static(value))).collect()
}

fn range_planning(c: &mut Criterion) {
    let validators = Validators {
        etag: "\"9b2cf535f27731c974343645a3985328\"",
        last_modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    };
    let cases = [
        ("plan/no_range", headers(&[])),
        ("plan/single_range", headers(&[(header::RANGE, "bytes=1048576-2097151")])),
        ("plan/suffix_range", headers(&[(header::RANGE, "bytes=-1048576")])),
        (
            "plan/if_range_etag",
            headers(&[
                (header::RANGE, "bytes=1048576-2097151"),
                (header::IF_RANGE, "\"9b2cf535f27731c974343645a3985328\""),
            ]),
        ),
        ("plan/if_none_match_304", headers(&[(header::IF_NONE_MATCH, "\"9b2cf535f27731c974343645a3985328\"")])),
        (
            "plan/multi_range_8",
            headers(&[(header::RANGE, "bytes=0-99,200-299,400-499,600-699,800-899,1000-1099,1200-1299,1400-1499")]),
        ),
    ];
    for (name, request) in &cases {
        c.bench_function(name, |b| b.iter(|| plan(&Method::GET, black_box(request), &validators, OBJECT_LEN)));
    }
}

fn cors_matching(c: &mut Criterion) {
    let rules = vec![
        CorsRule {
            id: Some("players".into()),
            allowed_origins: vec!["https://www.example.com".into(), "https://*.example.com".into()],
            allowed_methods: vec!["GET".into(), "HEAD".into()],
            allowed_headers: vec!["*".into()],
            expose_headers: vec!["X-Request-Id".into()],
            max_age_seconds: Some(3600),
        },
        CorsRule {
            id: Some("partners".into()),
            allowed_origins: vec!["https://*.partner.example.net".into(), "http://localhost:*".into()],
            allowed_methods: vec!["GET".into()],
            allowed_headers: vec!["range".into()],
            expose_headers: vec![],
            max_age_seconds: None,
        },
    ];
    let policy = CorsPolicy::new(&rules, true).unwrap();
    let allowed = HeaderValue::from_static("https://player.partner.example.net");
    let denied = HeaderValue::from_static("https://evil.example.org");
    c.bench_function("cors/actual_allowed_wildcard", |b| b.iter(|| policy.actual(black_box(&allowed), &Method::GET)));
    c.bench_function("cors/actual_denied", |b| b.iter(|| policy.actual(black_box(&denied), &Method::GET)));
    let method = HeaderValue::from_static("GET");
    let requested = HeaderValue::from_static("range");
    c.bench_function("cors/preflight_allowed", |b| {
        b.iter(|| policy.preflight(black_box(&allowed), &method, Some(&requested)))
    });
}

fn multipart_framing(c: &mut Criterion) {
    let ranges: Vec<ByteRange> =
        (0..8).map(|i| ByteRange::new(i * 1_000_000, i * 1_000_000 + 65_536).unwrap()).collect();
    let part_type = HeaderValue::from_static("video/mp4");
    let boundary = vod_origin::plan::multipart::new_boundary();
    c.bench_function("multipart/layout_8_parts", |b| {
        b.iter(|| layout(black_box(&ranges), OBJECT_LEN, &part_type, &boundary))
    });
}

fn key_mapping(c: &mut Criterion) {
    c.bench_function("key/plain_segment", |b| {
        b.iter(|| key_from_path(black_box("/vod/title-1234/1080p/seg_00042.m4s")))
    });
    c.bench_function("key/percent_encoded", |b| {
        b.iter(|| key_from_path(black_box("/vod/Caf%C3%A9%20Stories/720p/seg%2000042.ts")))
    });
    c.bench_function("key/refused_traversal", |b| b.iter(|| key_from_path(black_box("/vod/%2e%2e/secret.mp4"))));
}

criterion_group!(benches, range_planning, cors_matching, multipart_framing, key_mapping);
criterion_main!(benches);
