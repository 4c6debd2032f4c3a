use super::super::testing::{audio, moov, regular, video};
use super::*;

/// Replaces every occurrence of `from` by `to` (same length) in `bytes`.
fn patch(mut bytes: Vec<u8>, from: &[u8; 4], to: &[u8; 4]) -> Vec<u8> {
    for i in 0..bytes.len().saturating_sub(3) {
        if &bytes[i..i + 4] == from {
            bytes[i..i + 4].copy_from_slice(to);
        }
    }
    bytes
}

#[test]
fn refused_tracks_are_listed() {
    let both = moov(&[video(1, regular(50, 512, 25)), audio(2, "eng", regular(100, 1024, 0))]);
    let limits = Limits::default();
    let cases: &[(&[u8; 4], &[u8; 4], &str)] = &[
        (b"soun", b"text", "track 2: unsupported: handler text"),
        (b"mp4a", b"ac-3", "track 2: unsupported: codec ac-3"),
    ];
    for (from, to, reason) in cases {
        let index = MediaIndex::parse(&patch(both.clone(), from, to), 100_000_000, &limits).unwrap();
        assert_eq!(index.tracks.len(), 1);
        assert_eq!(index.skipped, vec![reason.to_string()]);
    }
    let audio_only = moov(&[audio(2, "eng", regular(100, 1024, 0))]);
    let ac3 = patch(audio_only.clone(), b"mp4a", b"ac-3");
    assert_eq!(MediaIndex::parse(&ac3, 100_000_000, &limits).err(), Some(PackageError::NoTracks));
    let one_track = Limits { max_tracks: 1, ..limits };
    assert_eq!(MediaIndex::parse(&both, 100_000_000, &one_track).err(), Some(PackageError::TooManySamples));
    let fewer = Limits { max_samples: 120, ..limits };
    assert_eq!(MediaIndex::parse(&both, 100_000_000, &fewer).err(), Some(PackageError::TooManySamples));
    assert_eq!(
        MediaIndex::parse(&both, 1000, &limits).err(),
        Some(PackageError::Invalid("sample data past the end of the file"))
    );
    assert_eq!(MediaIndex::parse(&both[8..], 100_000_000, &limits).err(), Some(PackageError::Invalid("moov header")));
}

#[test]
fn track_fields() {
    let index = MediaIndex::parse(
        &moov(&[audio(2, "fra", regular(100, 1024, 0)), video(1, regular(50, 512, 25))]),
        100_000_000,
        &Limits::default(),
    )
    .unwrap();
    // The first video track is the main one even when audio comes first.
    assert_eq!(index.main_track().id, 1);
    let audio = index.track(2).unwrap();
    assert_eq!(audio.language.as_deref(), Some("fra"));
    assert_eq!(audio.kind, TrackKind::Audio { channels: 2, sample_rate: 48000 });
    assert_eq!((audio.duration(), audio.frame_rate_milli()), (102_400, None));
    assert_eq!(audio.bitrate, 100 * 100 * 8 * 48000 / 102_400);
    let video = index.track(1).unwrap();
    assert_eq!(
        (video.codec.as_str(), video.language.as_deref(), video.frame_rate_milli()),
        ("avc1.64001f", None, Some(25_000))
    );
    assert!(index.track(3).is_none());
}
