//! Faults between the origin and S3, injected by a proxy: a body that breaks at any byte is
//! resumed byte-exact; an object replaced mid-stream aborts the response; S3 down or hanging
//! gives a quick 502 or 504; no answer ever reveals the bucket or S3's errors.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::fault_proxy::{BodyFault, FaultProxy, Outage};
use common::s3::{BUCKET, S3Server};
use common::{Origin, PROTOCOLS, Protocol, pattern};
use futures_util::StreamExt;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

const LEN: usize = 12 * 1024 * 1024 + 7;

/// An origin reading one large object through a fault proxy.
async fn setup(adjust: impl FnOnce(&mut vod_origin::config::Config)) -> (Origin, FaultProxy, Vec<u8>) {
    let s3 = S3Server::start().await;
    let content = pattern(LEN, 99);
    s3.put("big.mp4", content.clone()).await;
    let proxy = FaultProxy::start(s3.addr).await;
    let origin = Origin::start_s3(s3, Some(proxy.addr), adjust).await;
    // The warm-up call is a GET too: let it pass before any fault is queued for the test's GETs.
    origin.wait_ready().await;
    (origin, proxy, content)
}

/// The streaming tests read S3 without the edge cache: they check how a body streamed from S3
/// to the client survives faults, which the cache (reading whole blocks before the headers)
/// would take out of the picture.
fn uncached(config: &mut vod_origin::config::Config) {
    config.storage.cache.enabled = false;
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

#[tokio::test]
async fn a_body_cut_at_any_byte_is_resumed_byte_exact() {
    let (origin, proxy, content) = setup(uncached).await;
    let mut cuts = vec![0, 1, 65_535, 8 * 1024 * 1024];
    let mut rng = fastrand::Rng::with_seed(7);
    cuts.extend((0..3).map(|_| rng.usize(2..LEN - 1)));
    for (i, cut) in cuts.into_iter().enumerate() {
        let protocol = PROTOCOLS[i % 2];
        proxy.fail_body(BodyFault::CutAfter(cut));
        let gets_before = proxy.gets();
        let response = origin.client(protocol).get(origin.url("/big.mp4")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.bytes().await.unwrap();
        assert_eq!(body.len(), LEN, "cut at {cut}");
        assert_eq!(sha256(&body), sha256(&content), "cut at {cut}");
        assert!(proxy.gets() - gets_before >= 2, "cut at {cut} was resumed with a second GET");
    }
}

#[tokio::test]
async fn a_cut_range_is_resumed_byte_exact() {
    let (origin, proxy, content) = setup(uncached).await;
    proxy.fail_body(BodyFault::CutAfter(100_000));
    proxy.fail_body(BodyFault::CutAfter(50_000));
    let response = origin
        .client(Protocol::Http2)
        .get(origin.url("/big.mp4"))
        .header("range", "bytes=1000000-2999999")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    let body = response.bytes().await.unwrap();
    assert_eq!(&body[..], &content[1_000_000..3_000_000]);
}

#[tokio::test]
async fn a_later_part_of_a_multi_range_response_is_resumed_too() {
    let (origin, proxy, content) = setup(uncached).await;
    proxy.fail_body(BodyFault::Pass);
    proxy.fail_body(BodyFault::CutAfter(300_000));
    let response = origin
        .client(Protocol::Http1)
        .get(origin.url("/big.mp4"))
        .header("range", "bytes=0-99,5000000-5999999")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    let declared: usize = response.headers()["content-length"].to_str().unwrap().parse().unwrap();
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), declared);
    let second = &content[5_000_000..6_000_000];
    let at = body.windows(64).position(|w| w == &second[..64]).expect("the second part is in the body");
    assert_eq!(&body[at..at + second.len()], second);
}

#[tokio::test]
async fn a_spent_resume_budget_aborts_the_response() {
    let (origin, proxy, _) = setup(|c| {
        uncached(c);
        c.storage.s3.max_resumes = 1;
    })
    .await;
    for protocol in PROTOCOLS {
        // The first GET and its one resume both break; past the headers, so the body must fail.
        proxy.fail_body(BodyFault::CutAfter(1024 * 1024));
        proxy.fail_body(BodyFault::CutAfter(1024 * 1024));
        let response = origin.client(protocol).get(origin.url("/big.mp4")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.bytes().await.is_err(), "{protocol:?}: the body must fail, never end short");
        proxy.clear();
    }
}

#[tokio::test]
async fn an_object_replaced_mid_stream_aborts_instead_of_mixing() {
    for protocol in PROTOCOLS {
        let (origin, proxy, content) = setup(uncached).await;
        let (reached, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        proxy.fail_body(BodyFault::PauseThenCut(3 * 1024 * 1024, reached.clone(), release.clone()));
        let response = origin.client(protocol).get(origin.url("/big.mp4")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut stream = response.bytes_stream();
        let reader = tokio::spawn(async move {
            let mut received = Vec::new();
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(chunk) => received.extend_from_slice(&chunk),
                    Err(_) => return (received, true),
                }
            }
            (received, false)
        });
        reached.notified().await;
        origin.s3.as_ref().unwrap().put("big.mp4", pattern(LEN, 100)).await;
        release.notify_one();
        let (received, failed) = reader.await.unwrap();
        assert!(failed, "{protocol:?}: the response is aborted");
        assert!(received.len() < LEN);
        assert_eq!(&received[..], &content[..received.len()], "{protocol:?}: only bytes of the first version");
    }
}

#[tokio::test]
async fn an_object_replaced_before_its_first_byte_is_served_in_its_new_version() {
    // The held GET must not time out and be retried while the replacement is uploaded: the retry
    // would reach S3 first and be served the first version, rightly.
    let (origin, proxy, _) = setup(|c| c.storage.s3.first_byte_timeout = Duration::from_secs(60)).await;
    let (reached, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    proxy.fail_body(BodyFault::Hold(reached.clone(), release.clone()));
    let request = tokio::spawn({
        let client = origin.client(Protocol::Http2);
        let url = origin.url("/big.mp4");
        // A revalidation is answered from HeadObject first, then GetObject pinned to its ETag.
        let request = client.get(url).header("range", "bytes=0-999").header("if-none-match", "\"other\"");
        async move { request.send().await.unwrap() }
    });
    // HeadObject has answered for the first version; replace it before the GetObject arrives.
    reached.notified().await;
    let replacement = pattern(LEN, 100);
    origin.s3.as_ref().unwrap().put("big.mp4", replacement.clone()).await;
    release.notify_one();
    let response = request.await.unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&response.bytes().await.unwrap()[..], &replacement[..1000]);
}

#[tokio::test]
async fn s3_down_or_hanging_answers_quickly_with_a_short_body() {
    let quick = |c: &mut vod_origin::config::Config| {
        c.storage.s3.first_byte_timeout = Duration::from_millis(300);
        c.storage.s3.connect_timeout = Duration::from_millis(300);
        c.storage.s3.max_attempts = 2;
    };
    let (origin, proxy, _) = setup(quick).await;
    let client = origin.client(Protocol::Http1);
    for (outage, status) in [
        (Outage::Refuse, StatusCode::BAD_GATEWAY),
        (Outage::Reset, StatusCode::BAD_GATEWAY),
        (Outage::Hang, StatusCode::GATEWAY_TIMEOUT),
    ] {
        proxy.set_outage(Some(outage));
        let response = client.get(origin.url("/big.mp4")).send().await.unwrap();
        assert_eq!(response.status(), status, "{outage:?}");
        let body = response.text().await.unwrap();
        assert!(body.len() < 32, "{body}");
        proxy.set_outage(None);
    }
    let delayed = quick;
    let (origin, proxy, _) = setup(delayed).await;
    proxy.fail_body(BodyFault::Delay(Duration::from_secs(3)));
    proxy.fail_body(BodyFault::Delay(Duration::from_secs(3)));
    let response =
        origin.client(Protocol::Http2).get(origin.url("/big.mp4")).header("range", "bytes=0-99").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
}

#[tokio::test]
async fn a_client_that_leaves_drops_the_s3_stream() {
    let (origin, proxy, _) = setup(uncached).await;
    for protocol in PROTOCOLS {
        let response = origin.client(protocol).get(origin.url("/big.mp4")).send().await.unwrap();
        let mut stream = response.bytes_stream();
        let first = stream.next().await.unwrap().unwrap();
        assert!(!first.is_empty());
        assert!(proxy.open_bodies.load(std::sync::atomic::Ordering::SeqCst) >= 1);
        let closed = proxy.body_closed.notified();
        drop(stream);
        // Waits for the proxy to see the origin drop its S3 body (bounded only so a bug fails
        // the test instead of hanging it).
        tokio::time::timeout(Duration::from_secs(30), closed).await.expect("the S3 body is dropped");
        assert_eq!(proxy.open_bodies.load(std::sync::atomic::Ordering::SeqCst), 0, "{protocol:?}");
    }
}

fn leaks(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains(BUCKET) || lower.contains("<error>") || lower.contains("x-amz-") || lower.contains("<code>")
}

#[tokio::test]
async fn no_error_reveals_the_bucket_or_s3s_answer() {
    let quick = |c: &mut vod_origin::config::Config| {
        c.storage.s3.first_byte_timeout = Duration::from_millis(300);
        c.storage.s3.max_attempts = 1;
    };
    let (origin, proxy, _) = setup(quick).await;
    let mut answers = Vec::new();
    let client = origin.client(Protocol::Http1);
    let record = |response: reqwest::Response| async move {
        let mut text = format!("{}\n", response.status());
        for (name, value) in response.headers() {
            text.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or("")));
        }
        text.push_str(&response.text().await.unwrap_or_default());
        text
    };
    answers.push(record(client.get(origin.url("/missing.mp4")).send().await.unwrap()).await);
    answers.push(
        record(client.get(origin.url("/big.mp4")).header("range", "bytes=999999999-").send().await.unwrap()).await,
    );
    answers.push(record(client.get(origin.url("/big.mp4")).header("if-match", "\"x\"").send().await.unwrap()).await);
    proxy.set_outage(Some(Outage::Refuse));
    answers.push(record(client.get(origin.url("/other.mp4")).send().await.unwrap()).await);
    proxy.set_outage(Some(Outage::Hang));
    answers.push(record(client.get(origin.url("/other2.mp4")).send().await.unwrap()).await);
    proxy.set_outage(Some(Outage::SlowDown));
    let throttled = client.get(origin.url("/big.mp4")).send().await.unwrap();
    assert_eq!(throttled.headers()["retry-after"], "1");
    answers.push(record(throttled).await);
    proxy.set_outage(None);

    // Wrong credentials: S3 refuses every signature.
    let s3 = S3Server::start().await;
    s3.put("a.mp4", vec![1, 2, 3]).await;
    let denied = Origin::start_s3_with_credentials(s3, None, common::s3::wrong_credentials(), |_| {}).await;
    // A GET is answered by one GetObject, whose error code names the bad signature: the
    // origin's setup is at fault (502). A HEAD is answered by HeadObject, whose bare 403 cannot
    // be told from AccessDenied: 404 by default. /readyz shows a credential problem either way
    // (see readiness_follows_s3).
    let response = denied.client(Protocol::Http2).get(denied.url("/a.mp4")).send().await.unwrap();
    answers.push(record(response).await);
    let response = denied.client(Protocol::Http2).head(denied.url("/a.mp4")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // A bucket that does not exist.
    let s3 = S3Server::start().await;
    let missing = Origin::start_s3(s3, None, |c| c.storage.s3.bucket = Some("no-such-bucket-4d2e".into())).await;
    let response = missing.client(Protocol::Http2).get(missing.url("/a.mp4")).send().await.unwrap();
    let status = response.status();
    let answer = record(response).await;
    assert!(!answer.contains("no-such-bucket-4d2e"), "{answer}");
    // s3s answers a GetObject in a missing bucket as a missing key (S3 says NoSuchBucket,
    // which is a 502: see codes_map_to_faults).
    assert_eq!(status, StatusCode::NOT_FOUND);

    let statuses: Vec<&str> = answers.iter().map(|a| &a[..3]).collect();
    assert_eq!(statuses, ["404", "416", "412", "502", "504", "503", "502"], "{:?}", proxy.log.lock().unwrap());
    for answer in answers {
        assert!(!leaks(&answer), "{answer}");
    }
}

#[tokio::test]
async fn access_denied_is_not_found_unless_configured() {
    for (setting, status) in [
        (vod_origin::config::AccessDeniedAs::NotFound, StatusCode::NOT_FOUND),
        (vod_origin::config::AccessDeniedAs::Forbidden, StatusCode::FORBIDDEN),
    ] {
        let s3 = S3Server::start().await;
        s3.put("a.mp4", vec![1, 2, 3]).await;
        let denied = Origin::start_s3_with_credentials(s3, None, common::s3::wrong_credentials(), |c| {
            c.storage.s3.access_denied_as = setting;
        })
        .await;
        // HeadObject's bare 403 is how S3 answers AccessDenied (s3s answers a bad signature the
        // same way): what the setting maps. A GET is refused with a code that names the cause.
        let response = denied.client(Protocol::Http1).head(denied.url("/a.mp4")).send().await.unwrap();
        assert_eq!(response.status(), status, "{setting:?}");
    }
}

#[tokio::test]
async fn readiness_follows_s3() {
    let s3 = S3Server::start().await;
    let origin = Origin::start_s3(s3, None, |_| {}).await;
    let client = origin.client(Protocol::Http1);
    origin.wait_ready().await;
    assert_eq!(client.get(origin.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);

    let s3 = S3Server::start().await;
    let unreachable = Origin::start_s3_with_credentials(s3, None, common::s3::wrong_credentials(), |_| {}).await;
    let response = unreachable.client(Protocol::Http1).get(unreachable.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let response = unreachable.client(Protocol::Http1).get(unreachable.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "liveness does not depend on S3");
}
