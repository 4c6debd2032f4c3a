//! Tests on the real files of `media/make-package-fixtures.sh`: tracks and codec strings as
//! ffprobe reports them, sample counts equal to its `nb_frames`, and for several targets every
//! segment's samples, runs and `moof` checked against the index.

use std::time::Duration;

use super::testing::parse_moof;
use super::*;

pub(super) fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/package/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `moov` found as a server would: a first read of 4 KiB, then 16 bytes wherever asked.
/// Returns it and the number of reads.
pub(super) fn locate(file: &[u8]) -> (&[u8], usize) {
    let limits = Limits::default();
    let len = file.len() as u64;
    let mut at = 0u64;
    let mut bytes = &file[..4096.min(file.len())];
    for reads in 1..10 {
        match find_moov(at, bytes, len, &limits).unwrap() {
            MoovSearch::Found { offset, len } => return (&file[offset as usize..(offset + len) as usize], reads),
            MoovSearch::ReadAt(o) => {
                at = o;
                bytes = &file[o as usize..(o as usize + 16).min(file.len())];
            }
        }
    }
    panic!("too many reads");
}

pub(super) fn parse(name: &str) -> (Vec<u8>, MediaIndex) {
    let file = fixture(name);
    let index = MediaIndex::parse(locate(&file).0, file.len() as u64, &Limits::default()).unwrap();
    (file, index)
}

pub(super) const FILES: [&str; 6] =
    ["h264-aac.mp4", "h264-aac-moov-end.mp4", "h265.mp4", "video-only.mp4", "two-audio.mp4", "odd-gop.mp4"];

#[test]
fn tracks_as_ffprobe_reports_them() {
    type Want = &'static [(&'static str, u32, Option<&'static str>)];
    let cases: &[(&str, usize, Want)] = &[
        ("h264-aac.mp4", 1, &[("avc1.64000b", 150, None), ("mp4a.40.2", 283, None)]),
        ("h264-aac-moov-end.mp4", 2, &[("avc1.64000b", 150, None), ("mp4a.40.2", 283, None)]),
        ("h265.mp4", 1, &[("hvc1.1.6.L30", 100, None), ("mp4a.40.2", 189, None)]),
        ("video-only.mp4", 1, &[("avc1.64000b", 100, None)]),
        (
            "two-audio.mp4",
            1,
            &[("avc1.64000b", 100, None), ("mp4a.40.2", 189, Some("eng")), ("mp4a.40.2", 174, Some("fra"))],
        ),
        ("odd-gop.mp4", 1, &[("avc1.64000b", 200, None), ("mp4a.40.2", 376, None)]),
    ];
    for (name, reads, want) in cases {
        let file = fixture(name);
        let (moov, n) = locate(&file);
        assert_eq!(n, *reads, "{name}: reads to find the moov");
        let index = MediaIndex::parse(moov, file.len() as u64, &Limits::default()).unwrap();
        let got: Vec<_> =
            index.tracks.iter().map(|t| (t.codec.as_str(), t.sample_count(), t.language.as_deref())).collect();
        assert_eq!(got.len(), want.len(), "{name}");
        for (g, w) in got.iter().zip(want.iter()) {
            assert!(g.0.starts_with(w.0), "{name}: {g:?} vs {w:?}");
            assert_eq!((g.1, g.2), (w.1, w.2), "{name}");
        }
        assert!(index.skipped.is_empty(), "{name}: {:?}", index.skipped);
        let samples: usize = index.tracks.iter().map(|t| t.sample_count() as usize).sum();
        assert!(
            index.heap_bytes() <= 16 * samples + 4096,
            "{name}: {} bytes for {samples} samples",
            index.heap_bytes()
        );
        let main = index.main_track();
        assert_eq!(main.kind, TrackKind::Video { width: 160, height: 90 }, "{name}");
        assert_eq!(main.frame_rate_milli(), Some(25_000), "{name}");
    }
    let (_, index) = parse("two-audio.mp4");
    assert_eq!(index.tracks[2].kind, TrackKind::Audio { channels: 2, sample_rate: 44100 });
}

#[test]
fn segments_cover_every_sample_once() {
    for name in FILES {
        let (file, index) = parse(name);
        for secs in [1, 2, 3, 10] {
            let seg = Segmentation::new(&index, Duration::from_secs(secs));
            check_segmentation(&index, &seg, file.len() as u64, &format!("{name} at {secs} s"));
        }
    }
}

/// The invariants of a segmentation of a parsed file.
pub(super) fn check_segmentation(index: &MediaIndex, seg: &Segmentation, file_len: u64, what: &str) {
    let main = index.main_track();
    for track in &index.tracks {
        let mut next = 0;
        for n in 1..=seg.count_for(track) {
            let range = seg.samples(track, n);
            assert_eq!(range.start, next, "{what}: track {} segment {n} starts where the last ended", track.id);
            next = range.end;
            if track.id == main.id {
                assert!(!range.is_empty(), "{what}: empty segment {n}");
                assert!(
                    track.samples(range.clone()).next().unwrap().is_sync,
                    "{what}: segment {n} starts with a sync sample"
                );
            }
            let segment = media_segment(track, seg, n).unwrap();
            assert_eq!(Some(segment.len()), media_segment_len(track, seg, n), "{what}: segment {n} length");
            for (offset, len) in &segment.runs {
                assert!(offset + len <= file_len, "{what}: run past the end");
            }
            check_moof(track, &segment, n, range, what);
        }
        assert_eq!(next, track.sample_count(), "{what}: track {} every sample", track.id);
        assert!(media_segment(track, seg, seg.count_for(track) + 1).is_none());
        assert!(media_segment(track, seg, 0).is_none());
    }
}

fn check_moof(track: &Track, segment: &MediaSegment, n: u32, range: std::ops::Range<u32>, what: &str) {
    let moof = parse_moof(&segment.header);
    assert_eq!((moof.sequence, moof.track), (n, track.id), "{what}");
    assert_eq!(moof.data_offset as usize, segment.header.len(), "{what}: data offset");
    assert_eq!(moof.mdat_len, segment.len() - moof.moof_len as u64, "{what}: mdat size");
    let samples: Vec<_> = track.samples(range).collect();
    assert_eq!(moof.entries.len(), samples.len(), "{what}");
    assert_eq!(moof.base_dts, samples.first().map_or(moof.base_dts, |s| s.dts), "{what}: tfdt");
    for (e, s) in moof.entries.iter().zip(&samples) {
        assert_eq!((e.0, e.1), (s.duration, s.size), "{what}");
        if track.is_video() {
            assert_eq!(e.2, if s.is_sync { 0x0200_0000 } else { 0x0101_0000 }, "{what}");
            assert_eq!(i64::from(e.3), i64::from(s.cts_offset) - track.delay, "{what}");
        }
    }
    let run_bytes: u64 = segment.runs.iter().map(|r| r.1).sum();
    assert_eq!(run_bytes, samples.iter().map(|s| u64::from(s.size)).sum::<u64>(), "{what}");
}

#[test]
fn first_frame_presents_at_zero() {
    for name in ["h264-aac.mp4", "odd-gop.mp4", "h265.mp4"] {
        let (_, index) = parse(name);
        let main = index.main_track();
        let first_pts =
            main.samples(0..main.sample_count()).map(|s| s.dts as i64 + i64::from(s.cts_offset) - main.delay).min();
        assert_eq!(first_pts, Some(0), "{name}");
    }
}

#[test]
fn odd_gops_make_segments_of_at_least_the_target() {
    let (_, index) = parse("odd-gop.mp4");
    let seg = Segmentation::new(&index, Duration::from_secs(2));
    let ts = u64::from(seg.timescale());
    // Keyframes forced at 0, 1.3, 5.1 and 5.5 s land on frames 0, 33, 128 and 138 (25 fps, 512
    // ticks a frame): cut at frame 128 (the first at or after 2 s), then none 2 s after it.
    let frame = ts / 25;
    let bounds: Vec<_> = (1..=seg.count()).map(|n| seg.bounds(n).unwrap()).collect();
    assert_eq!(bounds, vec![(0, 128 * frame), (128 * frame, ts * 8)]);
    assert_eq!(seg.target_duration_secs(), 6);
    let seg = Segmentation::new(&index, Duration::from_secs(1));
    let bounds: Vec<_> = (1..=seg.count()).map(|n| seg.bounds(n).unwrap().0).collect();
    assert_eq!(bounds, vec![0, 33 * frame, 128 * frame]);
}

#[test]
#[ignore = "prints the index's memory per file"]
fn heap_per_sample() {
    for name in FILES {
        let (_, index) = parse(name);
        let samples: usize = index.tracks.iter().map(|t| t.sample_count() as usize).sum();
        let tables: usize = index.tracks.iter().map(|t| t.table.heap_bytes()).sum();
        let per = |bytes: usize| bytes as f64 / samples as f64;
        println!(
            "{name}: {samples} samples, index {} bytes ({:.1} a sample), tables {tables} ({:.1})",
            index.heap_bytes(),
            per(index.heap_bytes()),
            per(tables)
        );
    }
}
