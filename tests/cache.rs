//! The edge cache in front of S3, counted at a proxy between the origin and the S3 server: each
//! block is read from S3 once however many viewers ask at once, a replaced object is never mixed
//! with its old version, any range through the cache is byte-exact, and a failed read is
//! reported and not remembered.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::fault_proxy::{BodyFault, FaultProxy, Outage};
use common::s3::S3Server;
use common::{Origin, Protocol, eventually, pattern};
use proptest::prelude::*;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;
use vod_origin::config::Config;

/// Small blocks keep the objects small; the arithmetic is the same at 8 MiB.
const BLOCK: u64 = 64 * 1024;

/// An origin with the cache (small blocks, no read-ahead unless `adjust` says so) reading
/// `objects` from S3 through a fault proxy.
async fn setup(objects: &[(&str, Vec<u8>)], adjust: impl FnOnce(&mut Config)) -> (Origin, FaultProxy) {
    let s3 = S3Server::start().await;
    for (key, bytes) in objects {
        s3.put(key, bytes.clone()).await;
    }
    let proxy = FaultProxy::start(s3.addr).await;
    let origin = Origin::start_s3(s3, Some(proxy.addr), |c| {
        c.storage.cache.block_size = BLOCK;
        c.storage.cache.read_ahead_blocks = 0;
        adjust(c);
    })
    .await;
    // The warm-up probe is a GET too: let it pass before counting.
    origin.wait_ready().await;
    (origin, proxy)
}

#[tokio::test]
async fn a_keep_alive_hit_ending_on_a_full_socket_loses_no_byte() {
    // A hit is sent in 256 KiB slices of its block as fast as the client takes them; with a
    // small receive buffer the body can end while hyper still holds most of its last slice. The
    // HTTP/1.1 connection must write it before it waits for the next request or closes (it once
    // did not: 192 KiB of an 8 MiB range went missing before a close).
    const LEN: usize = 8 << 20;
    let object = pattern(LEN, 5);
    let (origin, _proxy) = setup(&[("big.bin", object.clone())], |c| c.storage.cache.block_size = LEN as u64).await;
    let mut connection = tokio::io::BufReader::new(origin.http1_connection_receiving(16 * 1024).await);
    for (round, request) in [
        ("miss", "GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        ("hit", "GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        ("hit, last", "GET /big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    ] {
        connection.write_all(request.as_bytes()).await.unwrap();
        let read = common::RawResponse::read_one(&mut connection, false);
        let response = tokio::time::timeout(Duration::from_secs(60), read).await.expect("every byte arrives");
        assert_eq!(response.status, 200, "{round}: {}", response.head);
        assert!(response.body == object, "{round}: the body differs from the object");
    }
}

fn heads(proxy: &FaultProxy) -> usize {
    proxy.log.lock().unwrap().iter().filter(|l| l.starts_with("HEAD ")).count()
}

/// `count` requests at once over `clients` HTTP/2 connections; `range(i)` is request i's range.
async fn concurrently(
    origin: &Origin,
    count: u64,
    clients: usize,
    range: impl Fn(u64) -> (u64, u64),
) -> Vec<(u64, u64, reqwest::Result<bytes::Bytes>)> {
    let clients: Vec<reqwest::Client> = (0..clients).map(|_| origin.client(Protocol::Http2)).collect();
    let url = origin.url("/video.mp4");
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let client = clients[i as usize % clients.len()].clone();
            let (url, (first, last)) = (url.clone(), range(i));
            tokio::spawn(async move {
                let response = client.get(url).header("range", format!("bytes={first}-{last}")).send().await;
                let body = match response {
                    Ok(response) if response.status() == StatusCode::PARTIAL_CONTENT => response.bytes().await,
                    Ok(response) => panic!("status {}", response.status()),
                    Err(error) => Err(error),
                };
                (first, last, body)
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test]
async fn a_thousand_identical_cold_requests_are_one_s3_read() {
    let content = pattern(5 * BLOCK as usize + 123, 1);
    let (origin, proxy) = setup(&[("video.mp4", content.clone())], |_| {}).await;
    let (gets, heads_before) = (proxy.gets(), heads(&proxy));
    let before = vod_origin::telemetry::prometheus().render();
    // Inside block 2.
    let (first_a, last_a) = (2 * BLOCK + 100, 2 * BLOCK + 20_000);
    let (first, last) = (first_a, last_a);
    for (_, _, body) in concurrently(&origin, 1000, 8, |_| (first, last)).await {
        assert_eq!(&body.unwrap()[..], &content[first as usize..=last as usize]);
    }
    assert_eq!(proxy.gets() - gets, 1, "one GET for the one block touched");
    // That GET's answer is also the object's metadata: one round trip, no HeadObject.
    assert_eq!(heads(&proxy) - heads_before, 0, "no HeadObject for the object");

    // A range over two blocks, one of them cached: one more GET.
    let (first, last) = (3 * BLOCK - 10, 3 * BLOCK + 10);
    for (_, _, body) in concurrently(&origin, 200, 4, |_| (first, last)).await {
        assert_eq!(&body.unwrap()[..], &content[first as usize..=last as usize]);
    }
    assert_eq!(proxy.gets() - gets, 2, "one GET per block touched");

    // Other tests in this binary share the process's metrics, so these are lower bounds.
    let after = vod_origin::telemetry::prometheus().render();
    let delta = |name: &str| common::series(&after, name) - common::series(&before, name);
    let lookups = |result: &str| delta(&format!("vod_origin_cache_requests_total{{result=\"{result}\"}}"));
    // 1,000 lookups of block 2, then 200 of blocks 2 and 3; a miss is a block read from S3.
    assert!(lookups("miss") >= 1.0, "{after}");
    assert!(lookups("miss") + lookups("hit") + lookups("collapsed") >= 1400.0, "{after}");
    let served = (1000 * (last_a - first_a + 1) + 200 * (last - first + 1)) as f64;
    assert!(delta("vod_origin_cache_bytes_total{source=\"cache\"}") >= served, "{after}");
    assert!(delta("vod_origin_cache_bytes_total{source=\"s3\"}") >= (2 * BLOCK) as f64, "{after}");
    // Every request looked its metadata up (the one HeadObject is asserted above).
    let metadata = |result: &str| delta(&format!("vod_origin_metadata_cache_requests_total{{result=\"{result}\"}}"));
    assert!(metadata("hit") + metadata("miss") >= 1200.0, "{after}");
}

#[tokio::test]
async fn a_thousand_different_ranges_in_one_block_are_one_s3_read() {
    let content = pattern(3 * BLOCK as usize, 2);
    let (origin, proxy) = setup(&[("video.mp4", content.clone())], |_| {}).await;
    let gets = proxy.gets();
    let range = |i: u64| {
        let mut rng = fastrand::Rng::with_seed(i);
        let first = BLOCK + rng.u64(0..BLOCK - 1);
        (first, rng.u64(first..2 * BLOCK))
    };
    for (first, last, body) in concurrently(&origin, 1000, 8, range).await {
        assert_eq!(&body.unwrap()[..], &content[first as usize..=last as usize], "{first}-{last}");
    }
    assert_eq!(proxy.gets() - gets, 1);
}

async fn get(origin: &Origin, range: &str) -> reqwest::Result<bytes::Bytes> {
    let response = origin.client(Protocol::Http1).get(origin.url("/video.mp4")).header("range", range).send().await?;
    response.bytes().await
}

#[tokio::test]
async fn a_change_found_mid_body_aborts_and_is_noticed_at_once() {
    let (old, new) = (pattern(3 * BLOCK as usize, 3), pattern(3 * BLOCK as usize, 4));
    let long_ttl = |c: &mut Config| c.storage.cache.metadata_ttl = Duration::from_secs(600);
    let (origin, _proxy) = setup(&[("video.mp4", old.clone())], long_ttl).await;
    assert_eq!(&get(&origin, "bytes=0-99").await.unwrap()[..], &old[..100]);
    origin.s3.as_ref().unwrap().put("video.mp4", new.clone()).await;
    // Block 0 is cached in the old version, block 1 is not: the response starts from the cache
    // and finds the change when it reads block 1. It is aborted, never completed with new bytes.
    let (first, last) = (BLOCK as usize - 10, BLOCK as usize + 10);
    let range = format!("bytes={first}-{last}");
    assert!(get(&origin, &range).await.is_err(), "the body fails instead of mixing versions");
    // The stale metadata was dropped: the next request sees the new version at once.
    assert_eq!(&get(&origin, &range).await.unwrap()[..], &new[first..=last]);
}

#[tokio::test]
async fn a_failed_fill_is_reported_and_not_cached() {
    let content = pattern(2 * BLOCK as usize, 6);
    let once = |c: &mut Config| {
        c.storage.s3.max_attempts = 1;
        c.storage.cache.metadata_ttl = Duration::from_secs(600);
    };
    let (origin, proxy) = setup(&[("video.mp4", content.clone())], once).await;
    let client = origin.client(Protocol::Http2);
    // The metadata is cached first, so the outage hits the block reads alone.
    assert_eq!(client.head(origin.url("/video.mp4")).send().await.unwrap().status(), StatusCode::OK);
    proxy.set_outage(Some(Outage::SlowDown));
    let gets = proxy.gets();
    let requests: Vec<_> =
        (0..20).map(|_| client.get(origin.url("/video.mp4")).header("range", "bytes=10-19").send()).collect();
    for response in futures_util::future::join_all(requests).await {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "every waiter gets the error");
        assert_eq!(response.headers()["retry-after"], "1", "with its kind");
    }
    assert!(proxy.gets() > gets);
    proxy.set_outage(None);
    let gets = proxy.gets();
    assert_eq!(&get(&origin, "bytes=10-19").await.unwrap()[..], &content[10..20]);
    assert_eq!(proxy.gets() - gets, 1, "the failed block was read again");
}

#[tokio::test]
async fn the_next_block_is_read_ahead() {
    // Two blocks, so reading block 1 has nothing further to read ahead.
    let content = pattern(2 * BLOCK as usize, 7);
    let (origin, proxy) = setup(&[("video.mp4", content.clone())], |c| c.storage.cache.read_ahead_blocks = 1).await;
    let gets = proxy.gets();
    let (reached, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    proxy.fail_body(BodyFault::Pass);
    proxy.fail_body(BodyFault::Hold(reached.clone(), release.clone()));
    assert_eq!(&get(&origin, "bytes=0-99").await.unwrap()[..], &content[..100]);
    // The second GET, for block 1, was sent without any request asking for block 1.
    reached.notified().await;
    release.notify_one();
    let (first, last) = (BLOCK + 5, BLOCK + 500);
    let body = get(&origin, &format!("bytes={first}-{last}")).await.unwrap();
    assert_eq!(&body[..], &content[first as usize..=last as usize]);
    assert_eq!(proxy.gets() - gets, 2, "block 1 came from the read-ahead");
}

#[tokio::test]
async fn a_fill_is_sent_to_its_waiters_as_it_arrives() {
    // Blocks of 1 MiB are a 16 KiB piece and pieces of 256 KiB; the fill stops after 300 KiB
    // until released, and the SDK must not give up on the pause and resume meanwhile.
    let block = 1024 * 1024;
    let content = pattern(2 * block, 12);
    let (origin, proxy) = setup(&[("video.mp4", content.clone())], |c| {
        c.storage.cache.block_size = block as u64;
        c.storage.s3.stalled_stream_grace = Duration::from_secs(600);
    })
    .await;
    let gets = proxy.gets();
    let (reached, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    proxy.fail_body(BodyFault::PauseThenCut(300 * 1024, reached.clone(), release.clone()));
    let sent_while_paused = async {
        // The first request starts the fill, the second joins it: both get their bytes from
        // the first piece while the rest of the block has not arrived.
        assert_eq!(&get(&origin, "bytes=0-99").await.unwrap()[..], &content[..100]);
        assert_eq!(&get(&origin, "bytes=1000-1099").await.unwrap()[..], &content[1000..1100]);
        assert_eq!(proxy.gets() - gets, 1, "one GET for both, still paused");
    };
    // Without streaming, the requests would wait for a block that never completes: fail then.
    tokio::time::timeout(Duration::from_secs(60), sent_while_paused).await.expect("bytes sent before the block is in");
    reached.notified().await;
    release.notify_one();
    // The cut body is resumed from where it broke, and the block completes and is cached.
    let end = format!("bytes={}-{}", block - 100, block - 1);
    assert_eq!(&get(&origin, &end).await.unwrap()[..], &content[block - 100..block]);
    assert_eq!(proxy.gets() - gets, 2, "the fill and its resumption");
    assert_eq!(&get(&origin, "bytes=500000-500099").await.unwrap()[..], &content[500000..500100]);
    assert_eq!(proxy.gets() - gets, 2, "cached");
}

#[tokio::test]
async fn a_cold_blocks_first_bytes_go_out_before_a_whole_piece_has_arrived() {
    // The fill stops after 20 KiB until released: past the block's 16 KiB first piece, well
    // short of a 256 KiB piece. The SDK must not give up on the pause and resume meanwhile.
    let block = 1024 * 1024;
    let content = pattern(block, 13);
    let (origin, proxy) = setup(&[("video.mp4", content.clone())], |c| {
        c.storage.cache.block_size = block as u64;
        c.storage.s3.stalled_stream_grace = Duration::from_secs(600);
    })
    .await;
    let (reached, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    proxy.fail_body(BodyFault::PauseThenCut(20 * 1024, reached.clone(), release.clone()));
    // With only 256 KiB pieces, this would wait for bytes that never come: fail then.
    let first = tokio::time::timeout(Duration::from_secs(60), get(&origin, "bytes=0-99")).await;
    assert_eq!(&first.expect("sent while the fill waits").unwrap()[..], &content[..100]);
    reached.notified().await;
    release.notify_one();
    assert_eq!(&get(&origin, "bytes=0-").await.unwrap()[..], &content[..], "the block completes after the pause");
}

#[tokio::test]
async fn a_miss_with_no_memory_left_reads_its_range_straight_through() {
    // Room for two blocks in all: one held by the cache, one for a fill in flight.
    let content = pattern(4 * BLOCK as usize, 11);
    let tight = |c: &mut Config| {
        c.storage.cache.max_bytes = 2 * BLOCK;
        c.storage.cache.metadata_ttl = Duration::from_secs(600);
    };
    let (origin, proxy) = setup(&[("video.mp4", content.clone())], tight).await;
    let range_in = |block: u64| (block * BLOCK + 10, block * BLOCK + 109);
    let body = |(first, last): (u64, u64)| {
        let (origin, range) = (&origin, format!("bytes={first}-{last}"));
        async move { get(origin, &range).await.unwrap() }
    };
    let expected = |(first, last): (u64, u64)| &content[first as usize..=last as usize];
    assert_eq!(&body(range_in(0)).await[..], expected(range_in(0)), "block 0 is cached");

    // Block 1's fill takes the rest of the memory and is held at the proxy meanwhile.
    let (reached, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    proxy.fail_body(BodyFault::Hold(reached.clone(), release.clone()));
    let bypass = "vod_origin_cache_requests_total{result=\"bypass\"}";
    let while_held = async {
        reached.notified().await;
        let bypasses = origin.metric(bypass).await;
        for round in 1..=2 {
            let gets = proxy.gets();
            assert_eq!(&body(range_in(2)).await[..], expected(range_in(2)), "round {round}");
            assert_eq!(proxy.gets() - gets, 1, "round {round}: read from S3 for this request, not cached");
        }
        assert_eq!(origin.metric(bypass).await - bypasses, 2.0);
        release.notify_one();
    };
    let (held, ()) = tokio::join!(body(range_in(1)), while_held);
    assert_eq!(&held[..], expected(range_in(1)), "the held fill completes");
}

#[tokio::test]
async fn blocks_memory_no_longer_holds_are_read_back_from_disk() {
    let disk = tempfile::tempdir().unwrap();
    let content = pattern(3 * BLOCK as usize, 13);
    let with_disk = |c: &mut Config| {
        // Memory holds one block; the disk tier holds them all.
        c.storage.cache.max_bytes = 2 * BLOCK;
        c.storage.cache.disk_dir = Some(disk.path().to_owned());
        c.storage.cache.disk_bytes = 4 * 16 * 1024 * 1024;
        c.storage.cache.metadata_ttl = Duration::from_secs(600);
    };
    let (origin, proxy) = setup(&[("video.mp4", content.clone())], with_disk).await;
    // One connection, so that each response is done with before the next request: a response
    // still being torn down on another connection would hold memory the next fill needs.
    let client = origin.client(Protocol::Http1);
    let get = |block: u64| {
        let request = client.get(origin.url("/video.mp4"));
        let range = format!("bytes={}-{}", block * BLOCK + 7, block * BLOCK + 5006);
        async move { request.header("range", range).send().await.unwrap().bytes().await.unwrap() }
    };
    let expected = |block: u64| &content[(block * BLOCK + 7) as usize..(block * BLOCK + 5007) as usize];
    let writes = origin.metric("vod_origin_cache_disk_writes_total").await;
    for block in 0..3 {
        assert_eq!(&get(block).await[..], expected(block));
        // Blocks are written to disk in the background, after their requests are served, and
        // the disk engine drops a write rather than queue more than two regions: each block's
        // write is waited for before the next block is filled, so a busy machine cannot make
        // the engine drop one.
        eventually("a block was never written to disk", || async {
            origin.metric("vod_origin_cache_disk_writes_total").await - writes >= (block + 1) as f64
        })
        .await;
    }
    let (gets, disk_hits) = (proxy.gets(), origin.metric("vod_origin_cache_disk_requests_total{result=\"hit\"}").await);
    for block in 0..3 {
        assert_eq!(&get(block).await[..], expected(block), "block {block} again");
    }
    assert_eq!(proxy.gets() - gets, 0, "nothing read from S3 again");
    let read_back = origin.metric("vod_origin_cache_disk_requests_total{result=\"hit\"}").await - disk_hits;
    assert!(read_back >= 2.0, "at most one block stays in memory; {read_back} read back from disk");
}

/// Invariant: any range of any object, read through the cache, is exactly the object's bytes.
#[test]
fn any_range_through_the_cache_is_byte_exact() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut rng = fastrand::Rng::with_seed(8);
    let objects: Vec<(String, Vec<u8>)> =
        (0..4).map(|i| (format!("o{i}.mp4"), pattern(rng.usize(1..4 * BLOCK as usize), 10 + i))).collect();
    let listed: Vec<(&str, Vec<u8>)> = objects.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let (origin, _proxy) = runtime.block_on(setup(&listed, |c| c.storage.cache.read_ahead_blocks = 2));
    let client = runtime.block_on(async { origin.client(Protocol::Http2) });
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(16));
    let strategy = (0..objects.len(), any::<u64>(), any::<u64>(), any::<bool>());
    runner
        .run(&strategy, |(object, a, b, to_end)| {
            let (key, content) = &objects[object];
            let len = content.len() as u64;
            let first = a % len;
            let last = if to_end { len - 1 } else { first + b % (len - first) };
            let response = runtime.block_on(async {
                let url = origin.url(&format!("/{key}"));
                let response = client.get(url).header("range", format!("bytes={first}-{last}")).send().await.unwrap();
                (response.status(), response.bytes().await.unwrap())
            });
            prop_assert_eq!(response.0, StatusCode::PARTIAL_CONTENT);
            prop_assert_eq!(&response.1[..], &content[first as usize..=last as usize]);
            Ok(())
        })
        .unwrap();
    drop(origin);
}

/// The access log's `storage` field and the `X-Cache` header say how the cache answered: the
/// first request for a block fetched it, the second found it.
#[test]
fn the_access_log_and_x_cache_say_miss_then_hit() {
    use std::io::{BufRead, BufReader};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let s3 = runtime.block_on(async {
        let s3 = S3Server::start().await;
        s3.put("video.mp4", pattern(1000, 9)).await;
        s3
    });
    let endpoint = format!("http://{}", s3.addr);
    let credentials = common::s3::credentials();
    let env: Vec<(&str, &std::ffi::OsStr)> = vec![
        ("VOD_ORIGIN_STORAGE__BACKEND", "s3".as_ref()),
        ("VOD_ORIGIN_STORAGE__S3__ENDPOINT", endpoint.as_ref()),
        ("VOD_ORIGIN_STORAGE__S3__REGION", "us-east-1".as_ref()),
        ("VOD_ORIGIN_STORAGE__S3__FORCE_PATH_STYLE", "true".as_ref()),
        ("VOD_ORIGIN_STORAGE__S3__BUCKET", common::s3::BUCKET.as_ref()),
        ("VOD_ORIGIN_STORAGE__CACHE__ENABLED", "true".as_ref()),
        ("VOD_ORIGIN_STORAGE__CACHE__READ_AHEAD_BLOCKS", "0".as_ref()),
        ("AWS_ACCESS_KEY_ID", credentials.access_key_id.as_ref()),
        ("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key.as_ref()),
    ];
    let mut server = common::process::ServerProcess::start(&env);
    let client = server.client(true);
    for x_cache in ["Miss from vod-origin", "Hit from vod-origin"] {
        let response = runtime.block_on(client.get(server.url("/video.mp4")).header("range", "bytes=0-99").send());
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(response.headers()["x-cache"], x_cache);
        assert_eq!(runtime.block_on(response.bytes()).unwrap().len(), 100);
    }
    let mut stdout = BufReader::new(server.child.stdout.take().unwrap());
    let storage: Vec<String> = (0..2)
        .map(|_| {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
            entry["storage"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(storage, ["miss", "hit"]);
}

/// S3 calls one request to a cold object costs, by request: a GetObject answers both the
/// metadata and the bytes where the request most likely needs them; HeadObject is asked first
/// only where the bytes may not be needed (HEAD, revalidations), or, through the cache, where
/// the block to read depends on the length (a suffix range).
#[tokio::test]
async fn a_cold_object_costs_one_s3_round_trip_where_its_bytes_are_needed() {
    // (request headers, status, body, [(HeadObjects, GetObjects) without the cache, with it])
    type Case = (&'static [(&'static str, &'static str)], u16, std::ops::Range<usize>, [(usize, usize); 2]);
    let cases: [Case; 6] = [
        (&[], 200, 0..1000, [(0, 1), (0, 1)]),
        (&[("range", "bytes=10-19")], 206, 10..20, [(0, 1), (0, 1)]),
        (&[("range", "bytes=990-5000")], 206, 990..1000, [(0, 1), (0, 1)]),
        (&[("range", "bytes=-5")], 206, 995..1000, [(0, 1), (1, 1)]),
        // S3 refuses the range (416): only the metadata can say why.
        (&[("range", "bytes=5000-")], 416, 0..0, [(1, 1), (0, 1)]),
        (&[("if-none-match", "\"not-this\"")], 200, 0..1000, [(1, 1), (1, 1)]),
    ];
    for cached in [false, true] {
        let content = pattern(1000, 3);
        let names: Vec<String> = (0..cases.len()).map(|i| format!("{i}.mp4")).collect();
        let objects: Vec<(&str, Vec<u8>)> = names.iter().map(|name| (name.as_str(), content.clone())).collect();
        let (origin, proxy) = setup(&objects, |c| c.storage.cache.enabled = cached).await;
        let client = origin.client(Protocol::Http1);
        for (name, (headers, status, body, calls)) in names.iter().zip(&cases) {
            let (gets, heads_before) = (proxy.gets(), heads(&proxy));
            let mut request = client.get(origin.url(&format!("/{name}")));
            for (header, value) in headers.iter() {
                request = request.header(*header, *value);
            }
            let response = request.send().await.unwrap();
            let case = format!("cached={cached} {headers:?}");
            assert_eq!(response.status().as_u16(), *status, "{case}");
            let received = response.bytes().await.unwrap();
            if *status != 416 {
                assert_eq!(&received[..], &content[body.clone()], "{case}");
            }
            let made = (heads(&proxy) - heads_before, proxy.gets() - gets);
            assert_eq!(made, calls[usize::from(cached)], "{case}: (HeadObjects, GetObjects)");
        }
    }
}
