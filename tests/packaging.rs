//! HLS and DASH packaged on the fly, end to end on both stores: every track of every fixture
//! (`media/make-package-fixtures.sh`) is fetched as the playlists name it, and ffprobe decodes
//! the init segment and media segments into as many frames as the source track has, starting
//! and ending where the source does. Ranges of a segment are byte-exact, a replaced MP4 changes
//! every ETag, a file that cannot be packaged gets a 404, and a cold segment through S3 costs
//! at most three S3 reads.
//!
//! Needs ffprobe (Debian's `ffmpeg` package; `.ci/run` installs it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::fault_proxy::FaultProxy;
use common::s3::S3Server;
use common::{Backend, Origin, Protocol};
use reqwest::StatusCode;

/// The fixtures, each a few seconds long and a few hundred KiB.
const FIXTURES: &[&str] =
    &["h264-aac.mp4", "h264-aac-moov-end.mp4", "h265.mp4", "video-only.mp4", "two-audio.mp4", "odd-gop.mp4"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/package")
}

/// A folder holding the fixtures under `media/`.
fn media_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("media")).unwrap();
    for name in FIXTURES {
        std::fs::copy(fixtures().join(name), dir.path().join("media").join(name)).unwrap();
    }
    dir
}

/// What ffprobe reports of one stream: its kind, samples, decoded frames, first and last
/// timestamps.
#[derive(Debug)]
struct Probed {
    kind: String,
    packets: u64,
    frames: u64,
    first: f64,
    end: f64,
}

/// Decodes every frame of `file` (`-count_frames`) and reads each stream's packets' times.
fn probe(file: &Path) -> Vec<Probed> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-count_packets"])
        .args(["-show_entries", "stream=codec_type,nb_read_frames,nb_read_packets", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("ffprobe runs (apt-get install ffmpeg)");
    assert!(
        output.status.success(),
        "ffprobe failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let streams = String::from_utf8(output.stdout).unwrap();
    streams
        .lines()
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(index, line)| {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let (first, end) = packet_span(file, index);
            let (frames, packets) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
            Probed { kind: fields[0].into(), packets, frames, first, end }
        })
        .collect()
}

/// The earliest presentation time and the latest presentation end of a stream's packets.
fn packet_span(file: &Path, stream: usize) -> (f64, f64) {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", &stream.to_string(), "-show_entries", "packet=pts_time,duration_time"])
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let mut span = (f64::MAX, f64::MIN);
    for line in text.lines() {
        let mut fields = line.split(',').map(|field| field.trim().parse::<f64>().unwrap_or(0.0));
        let (pts, duration) = (fields.next().unwrap_or(0.0), fields.next().unwrap_or(0.0));
        span = (span.0.min(pts), span.1.max(pts + duration));
    }
    span
}

/// The URIs of a playlist (its lines that are not tags), and of `URI="..."` attributes.
fn uris(playlist: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in playlist.lines() {
        if let Some((_, rest)) = line.split_once("URI=\"") {
            found.push(rest.split('"').next().unwrap().to_string());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            found.push(line.trim().to_string());
        }
    }
    found
}

async fn get(client: &reqwest::Client, url: &str) -> reqwest::Response {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    response
}

/// Every media playlist of `key`'s HLS packaging, each fetched with its init and segments and
/// written as one fragmented MP4 file into `out`; returns the files.
async fn fetch_tracks(origin: &Origin, key: &str, out: &Path) -> Vec<PathBuf> {
    let client = origin.client(Protocol::Http2);
    let base = origin.url(&format!("/hls/{key}/"));
    let master = get(&client, &format!("{base}master.m3u8")).await.text().await.unwrap();
    assert!(master.starts_with("#EXTM3U"), "{master}");
    let mut playlists: Vec<String> = uris(&master);
    playlists.sort();
    playlists.dedup();
    let mut files = Vec::new();
    for playlist in playlists {
        let track_base = format!("{base}{}", playlist.rsplit_once('/').map_or("", |(dir, _)| dir));
        let text = get(&client, &format!("{base}{playlist}")).await.text().await.unwrap();
        assert!(text.contains("#EXT-X-ENDLIST"), "{text}");
        let mut bytes = Vec::new();
        for uri in uris(&text) {
            bytes.extend_from_slice(&get(&client, &format!("{track_base}/{uri}")).await.bytes().await.unwrap());
        }
        let file = out.join(format!("{}-{}.mp4", key.replace('/', "_"), playlist.replace('/', "_")));
        std::fs::write(&file, bytes).unwrap();
        files.push(file);
    }
    files
}

/// Segments of 2 s: the fixtures are 6 s long, so every track is cut at least twice.
fn short_segments(config: &mut vod_origin::config::Config) {
    config.packaging.segment_duration = Duration::from_secs(2);
}

/// Each packaged track decodes every sample of the source track into a frame, and lasts as
/// long. Where it starts differs from ffprobe's view of the source by what two things move it,
/// both as players expect: the source's AAC priming (1,024 samples: 21 ms at 48 kHz, 23 ms at 44.1), which ffmpeg trims
/// with the source's edit list and the packaging leaves in (as nginx-vod-module does); and
/// ffmpeg's own delay of a fragmented track whose B-frames have negative composition offsets
/// (CMAF's `trun` version 1, where the first frame presents at 0 in a browser: ffprobe delays
/// every packet by the most negative offset, one or two frames here). The unit tests of
/// `package::fmp4` check the boxes' times themselves.
async fn packaged_tracks_decode_like_their_source(backend: Backend) {
    let media = media_folder();
    let origin = Origin::start_on(backend, media.path(), short_segments).await;
    let out = tempfile::tempdir().unwrap();
    for name in FIXTURES {
        let source = probe(&fixtures().join(name));
        let packaged: Vec<Probed> =
            fetch_tracks(&origin, &format!("media/{name}"), out.path()).await.iter().flat_map(|f| probe(f)).collect();
        assert_eq!(packaged.len(), source.len(), "{name}: one packaged track per source track: {packaged:?}");
        for track in &source {
            let same = packaged.iter().find(|p| p.kind == track.kind && p.packets == track.packets);
            let same = same.unwrap_or_else(|| panic!("{name}: no packaged {track:?} among {packaged:?}"));
            assert_eq!(same.frames, same.packets, "{name}: every packaged {} sample decodes", same.kind);
            let (lasts, source_lasts) = (same.end - same.first, track.end - track.first);
            assert!((lasts - source_lasts).abs() <= 0.025, "{name}: {} lasts {lasts} s, not {source_lasts}", same.kind);
            let late = same.first - track.first;
            let allowed = if same.kind == "video" { 0.1 } else { 0.025 };
            assert!(
                (-0.001..=allowed).contains(&late),
                "{name}: {} starts at {} not {}",
                same.kind,
                same.first,
                track.first
            );
        }
    }
    origin.stop().await;
}

#[tokio::test]
async fn packaged_hls_decodes_frame_exact_from_the_local_folder() {
    packaged_tracks_decode_like_their_source(Backend::Local).await;
}

#[tokio::test]
async fn packaged_hls_decodes_frame_exact_through_s3() {
    packaged_tracks_decode_like_their_source(Backend::S3).await;
}

#[tokio::test]
async fn the_dash_manifest_names_the_same_segments() {
    let media = media_folder();
    let origin = Origin::start_with(media.path(), |_| {}).await;
    let client = origin.client(Protocol::Http1);
    let mpd = get(&client, &origin.url("/dash/media/two-audio.mp4/manifest.mpd")).await;
    assert_eq!(mpd.headers()["content-type"], "application/dash+xml");
    let mpd = mpd.text().await.unwrap();
    assert!(mpd.contains("type=\"static\"") && mpd.contains("$RepresentationID$/seg-$Number$.m4s"), "{mpd}");
    // Three representations (a video, two audio); each one's init and first segment answer
    // under the DASH prefix with the bytes the HLS prefix gives.
    for id in representation_ids(&mpd) {
        for resource in ["init.mp4", "seg-1.m4s"] {
            let dash = get(&client, &origin.url(&format!("/dash/media/two-audio.mp4/{id}/{resource}"))).await;
            let hls = get(&client, &origin.url(&format!("/hls/media/two-audio.mp4/{id}/{resource}"))).await;
            assert_eq!(dash.bytes().await.unwrap(), hls.bytes().await.unwrap(), "{id}/{resource}");
        }
    }
    origin.stop().await;
}

fn representation_ids(mpd: &str) -> Vec<String> {
    let ids: Vec<String> = mpd
        .split("<Representation ")
        .skip(1)
        .map(|rest| rest.split("id=\"").nth(1).unwrap().split('"').next().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3, "{mpd}");
    ids
}

#[tokio::test]
async fn ranges_of_a_segment_are_byte_exact_and_answers_repeat() {
    let media = media_folder();
    let origin = Origin::start_on(Backend::S3, media.path(), short_segments).await;
    let client = origin.client(Protocol::Http1);
    let url = origin.url("/hls/media/h264-aac.mp4/1/seg-2.m4s");
    let whole = get(&client, &url).await;
    let etag = whole.headers()["etag"].clone();
    let whole = whole.bytes().await.unwrap();
    assert_eq!(get(&client, &url).await.bytes().await.unwrap(), whole, "a second answer is the same");
    let len = whole.len();
    for (start, end) in [(0, 0), (0, 99), (7, len / 2), (len / 2, len - 1), (len - 1, len - 1)] {
        let response = client.get(&url).header("range", format!("bytes={start}-{end}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(response.headers()["etag"], etag);
        assert_eq!(response.bytes().await.unwrap(), whole.slice(start..=end), "bytes={start}-{end}");
    }
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.headers()["content-length"].to_str().unwrap(), len.to_string());
    let revalidated = client.get(&url).header("if-none-match", etag.clone()).send().await.unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    origin.stop().await;
}

#[tokio::test]
async fn a_replaced_mp4_changes_every_etag() {
    let media = media_folder();
    let file = media.path().join("media/clip.mp4");
    std::fs::copy(fixtures().join("h264-aac.mp4"), &file).unwrap();
    let origin = Origin::start_with(media.path(), |_| {}).await;
    let client = origin.client(Protocol::Http1);
    let paths = ["master.m3u8", "1/index.m3u8", "1/init.mp4", "1/seg-1.m4s"];
    let mut before = Vec::new();
    for path in paths {
        before.push(get(&client, &origin.url(&format!("/hls/media/clip.mp4/{path}"))).await.headers()["etag"].clone());
    }
    common::replace_file(&file, &std::fs::read(fixtures().join("odd-gop.mp4")).unwrap());
    for (path, old) in paths.iter().zip(before) {
        let url = origin.url(&format!("/hls/media/clip.mp4/{path}"));
        let now = get(&client, &url).await.headers()["etag"].clone();
        assert_ne!(now, old, "{path}");
        let stale = client.get(&url).header("if-match", old).send().await.unwrap();
        assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED, "{path}: the old version is gone");
    }
    origin.stop().await;
}

#[tokio::test]
async fn a_file_that_cannot_be_packaged_gets_a_404() {
    let media = media_folder();
    let h264 = std::fs::read(fixtures().join("h264-aac.mp4")).unwrap();
    let files: [(&str, Vec<u8>); 3] = [
        ("text.mp4", b"this is not an MP4 at all, only text".repeat(100)),
        ("truncated.mp4", h264[..h264.len() / 3].to_vec()),
        ("empty.mp4", Vec::new()),
    ];
    for (name, bytes) in &files {
        std::fs::write(media.path().join("media").join(name), bytes).unwrap();
    }
    let origin = Origin::start_with(media.path(), |_| {}).await;
    let client = origin.client(Protocol::Http1);
    for (name, _) in &files {
        for _ in 0..2 {
            let response = client.get(origin.url(&format!("/hls/media/{name}/master.m3u8"))).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{name}");
            assert!(response.text().await.unwrap().len() < 64, "a short body");
        }
    }
    for path in [
        "/hls/media/absent.mp4/master.m3u8",
        "/hls/media/h264-aac.mp4/9/index.m3u8",
        "/hls/media/h264-aac.mp4/1/seg-999.m4s",
        "/hls/media/h264-aac.mp4/1/seg-0.m4s",
        "/hls/media/h264-aac.mp4/manifest.mpd",
        "/hls/media/h264-aac.mp4",
    ] {
        assert_eq!(client.get(origin.url(path)).send().await.unwrap().status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Each bad file was read and refused once; the second request found the refusal cached.
    assert_eq!(origin.metric("vod_origin_packaging_index_total{result=\"refused\"}").await, 3.0);
    origin.stop().await;
}

#[tokio::test]
async fn a_folder_named_like_a_prefix_is_still_served_as_it_is() {
    // Pre-segmented HLS under a top-level `hls/` folder, as many buckets have: its paths either
    // do not fit the packaging grammar or name no MP4, so they are read as they are.
    let media = media_folder();
    for (path, body) in [("hls/old/index.m3u8", "#EXTM3U\n"), ("hls/old/1/index.m3u8", "#EXTM3U\n#EXT-X-VERSION:3\n")] {
        let file = media.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
    for backend in [Backend::Local, Backend::S3] {
        let origin = Origin::start_on(backend, media.path(), |_| {}).await;
        let client = origin.client(Protocol::Http1);
        let plain = get(&client, &origin.url("/hls/old/1/index.m3u8")).await.text().await.unwrap();
        assert_eq!(plain, "#EXTM3U\n#EXT-X-VERSION:3\n", "{backend:?}");
        assert_eq!(get(&client, &origin.url("/hls/old/index.m3u8")).await.text().await.unwrap(), "#EXTM3U\n");
        // And the MP4s beside it are still packaged.
        let master = get(&client, &origin.url("/hls/media/h264-aac.mp4/master.m3u8")).await.text().await.unwrap();
        assert!(master.contains("#EXT-X-STREAM-INF"), "{backend:?}: {master}");
        origin.stop().await;
    }
}

#[tokio::test]
async fn a_cold_segment_through_s3_reads_each_block_once() {
    // With 64 KiB blocks the fixtures span several: the moov (at the start, or at the end) and
    // the first segment's samples are in different blocks. The index is read with two or three
    // ranged reads of blocks; the samples of the first segment are in the first blocks, which
    // the index read already brought in, or the next one.
    let s3 = S3Server::start().await;
    for name in ["h264-aac.mp4", "h264-aac-moov-end.mp4"] {
        s3.put(name, std::fs::read(fixtures().join(name)).unwrap()).await;
    }
    let proxy = FaultProxy::start(s3.addr).await;
    let origin = Origin::start_s3(s3, Some(proxy.addr), |c| {
        c.storage.cache.block_size = 64 * 1024;
        c.storage.cache.read_ahead_blocks = 0;
    })
    .await;
    origin.wait_ready().await;
    let client = origin.client(Protocol::Http1);
    for name in ["h264-aac.mp4", "h264-aac-moov-end.mp4"] {
        let url = origin.url(&format!("/hls/{name}/1/seg-1.m4s"));
        let before = proxy.gets();
        let segment = get(&client, &url).await.bytes().await.unwrap();
        let cold = proxy.gets() - before;
        assert!((1..=3).contains(&cold), "{name}: {cold} GetObjects for a cold segment");
        // Every byte came through the cache's blocks: the same segment again reads nothing.
        assert_eq!(get(&client, &url).await.bytes().await.unwrap(), segment);
        assert_eq!(proxy.gets() - before, cold, "{name}: a warm segment reads no S3 byte");
    }
    origin.stop().await;
}
