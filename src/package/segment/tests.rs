use super::super::testing::{S, audio, index, regular, video};
use super::*;

const FRAME: u32 = 512; // 25 fps at 12800
const SEC: u64 = 12800;

fn starts(seg: &Segmentation) -> Vec<u64> {
    (1..=seg.count()).map(|n| seg.bounds(n).unwrap().0).collect()
}

/// Video with sync samples at the given frames, 100 bytes a frame.
fn gops(frames: u32, sync: &[u32]) -> Vec<S> {
    (0..frames).map(|i| (FRAME, 100, 0, sync.contains(&i))).collect()
}

#[test]
fn cuts_by_rule() {
    type Case = (&'static str, Vec<S>, u64, Vec<u64>);
    let cases: Vec<Case> = vec![
        ("2 s GOPs, 2 s target", regular(150, FRAME, 50), 2, vec![0, 2 * SEC, 4 * SEC]),
        ("2 s GOPs, 3 s target: the next key frame", regular(150, FRAME, 50), 3, vec![0, 4 * SEC]),
        ("2 s GOPs, 1 s target: a GOP per segment", regular(150, FRAME, 50), 1, vec![0, 2 * SEC, 4 * SEC]),
        ("4 s GOP, 1 s target: a longer segment", regular(200, FRAME, 100), 1, vec![0, 4 * SEC]),
        ("odd GOPs", gops(200, &[0, 10, 11, 60, 61, 90, 199]), 1, vec![0, 60 * 512, 90 * 512, 199 * 512]),
        ("one GOP", gops(100, &[0]), 2, vec![0]),
        ("target longer than the file", regular(150, FRAME, 50), 60, vec![0]),
    ];
    for (name, samples, secs, want) in cases {
        let index = index(&[video(1, samples)]);
        let seg = Segmentation::new(&index, Duration::from_secs(secs));
        assert_eq!(starts(&seg), want, "{name}");
        let track = index.main_track();
        let (_, end) = seg.bounds(seg.count()).unwrap();
        assert_eq!(end, track.duration(), "{name}");
        for n in 1..seg.count() {
            let (start, end) = seg.bounds(n).unwrap();
            assert!(end - start >= secs * SEC, "{name}: segment {n} shorter than the target");
        }
    }
}

#[test]
fn cuts_go_by_presentation_time() {
    // Decoded one frame ahead of its picture (B-frames): the key frame at frame 50 has a
    // decode time of 49 frames, its picture 2 s exactly.
    let mut samples = regular(100, FRAME, 50);
    for (i, s) in samples.iter_mut().enumerate() {
        s.2 = if i % 50 == 0 { 2 * FRAME as i32 } else { FRAME as i32 };
    }
    let index = index(&[video(1, samples)]);
    let seg = Segmentation::new(&index, Duration::from_secs(2));
    // delay = the first offset (2 frames): key frame 50 presents at 50 frames.
    assert_eq!(starts(&seg), vec![0, 2 * SEC]);
}

#[test]
fn audio_follows_the_video_cuts() {
    let index = index(&[video(1, regular(150, FRAME, 50)), audio(2, "eng", regular(282, 1024, 0))]);
    let seg = Segmentation::new(&index, Duration::from_secs(2));
    let audio = index.track(2).unwrap();
    // 2 s is 93.75 AAC frames: frame 94 is the first at or after it.
    let ranges: Vec<_> = (1..=3).map(|n| seg.samples(audio, n)).collect();
    assert_eq!(ranges, vec![0..94, 94..188, 188..282]);
    assert_eq!(seg.duration(audio, 1), 94 * 1024);
    assert_eq!(seg.samples(audio, 0), 0..0);
    assert_eq!(seg.samples(audio, 4), 0..0);
    assert_eq!(seg.bounds(0), None);
    assert_eq!(seg.bounds(4), None);
    assert_eq!(seg.target_duration_secs(), 2);
}

#[test]
fn audio_only_cuts_at_the_target() {
    let index = index(&[audio(1, "und", regular(282, 1024, 0))]);
    let seg = Segmentation::new(&index, Duration::from_secs(2));
    assert_eq!(seg.timescale(), 48000);
    assert_eq!(starts(&seg), vec![0, 94 * 1024, 188 * 1024]);
    let track = index.main_track();
    assert_eq!(seg.samples(track, 3), 188..282);
    // 94 frames of 1024 at 48 kHz is 2.005 s: rounded up.
    assert_eq!(seg.target_duration_secs(), 3);
}

#[test]
fn peak_bitrate_is_the_densest_segment() {
    let mut samples = regular(150, FRAME, 50);
    samples[60].1 = 25_100; // 25,000 more bytes in the second segment
    let index = index(&[video(1, samples)]);
    let seg = Segmentation::new(&index, Duration::from_secs(2));
    let track = index.main_track();
    assert_eq!(seg.peak_bitrate(track), (50 * 100 + 25_000) * 8 / 2);
    assert_eq!(track.bitrate, (150 * 100 + 25_000) * 8 / 6);
}

#[test]
fn a_long_film_costs_at_most_16_bytes_a_sample() {
    // 20 minutes at 25 fps with B-frames (a composition offset per sample), 2 s GOPs, five
    // frames a chunk; and its AAC, ten frames a chunk.
    // The same with a variable frame rate: every frame's duration differs from the last.
    for vfr in [false, true] {
        let mut frames = regular(30_000, FRAME, 50);
        for (i, s) in frames.iter_mut().enumerate() {
            s.2 = [1024, 2048, 512][i % 3];
            s.0 = if vfr { FRAME - 3 + i as u32 % 7 } else { FRAME };
        }
        let index = index(&[video(1, frames), audio(2, "eng", regular(56_250, 1024, 0))]);
        let samples = 30_000 + 56_250;
        assert!(index.heap_bytes() <= 16 * samples, "{} bytes", index.heap_bytes());
        println!("vfr {vfr}: {:.2} bytes a sample", index.heap_bytes() as f64 / samples as f64);
    }
}

#[test]
fn an_audio_track_that_ends_early_has_no_empty_segments() {
    // Video: 6 s in 2 s GOPs; audio: 3 s, 1 s a sample (48,000 ticks).
    let index = index(&[video(1, regular(150, FRAME, 50)), audio(2, "eng", regular(3, 48_000, 1))]);
    let seg = Segmentation::new(&index, Duration::from_secs(2));
    assert_eq!(seg.count(), 3);
    let audio = index.track(2).unwrap();
    assert_eq!(seg.count_for(audio), 2, "audio in the first two segments only");
    assert_eq!(seg.samples(audio, 2), 2..3);
    assert!(crate::package::media_segment(audio, &seg, 3).is_none());
    assert_eq!(crate::package::media_playlist(audio, &seg).matches("#EXTINF").count(), 2);
    assert_eq!(seg.count_for(index.track(1).unwrap()), 3);
}
