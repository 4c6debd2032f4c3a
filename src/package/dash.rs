//! The DASH manifest: a static MPD in the ISO BMFF live profile (`SegmentTemplate` with a
//! `SegmentTimeline` of each track's exact durations), one adaptation set for video and one per
//! audio track. Written by hand: `dash-mpd` is a downloader that brings reqwest and tokio.

use std::fmt::Write;

use super::index::{MediaIndex, Track, TrackKind};
use super::{Segmentation, decimal};

/// The MPD of `index` cut by `seg`.
pub fn manifest(index: &MediaIndex, seg: &Segmentation) -> String {
    // The longest track's end: a player ends the presentation there, and one whose audio runs
    // past a shorter declared duration (AAC priming) may wait for that audio forever.
    let longest =
        index.tracks.iter().max_by_key(|t| u128::from(t.duration()) * 1_000_000 / u128::from(t.timescale.max(1)));
    let longest = longest.unwrap_or_else(|| index.main_track());
    let duration = decimal(longest.duration(), u64::from(longest.timescale));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(
        out,
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" \
         type=\"static\" mediaPresentationDuration=\"PT{duration}S\" minBufferTime=\"PT{}S\">\n  <Period id=\"0\" start=\"PT0S\">\n",
        seg.target_duration_secs()
    );
    let videos: Vec<&Track> = index.tracks.iter().filter(|t| t.is_video()).collect();
    let mut set = 0;
    if !videos.is_empty() {
        set += 1;
        let _ = writeln!(
            out,
            "    <AdaptationSet id=\"{set}\" contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\">"
        );
        for track in videos {
            representation(&mut out, track, seg);
        }
        out.push_str("    </AdaptationSet>\n");
    }
    for track in index.tracks.iter().filter(|t| !t.is_video()) {
        set += 1;
        let lang = track.language.as_ref().map(|l| format!(" lang=\"{l}\"")).unwrap_or_default();
        let _ = writeln!(
            out,
            "    <AdaptationSet id=\"{set}\" contentType=\"audio\" mimeType=\"audio/mp4\"{lang} segmentAlignment=\"true\" startWithSAP=\"1\">"
        );
        representation(&mut out, track, seg);
        out.push_str("    </AdaptationSet>\n");
    }
    out.push_str("  </Period>\n</MPD>\n");
    out
}

fn representation(out: &mut String, track: &Track, seg: &Segmentation) {
    let _ = write!(
        out,
        "      <Representation id=\"{}\" codecs=\"{}\" bandwidth=\"{}\"",
        track.id,
        track.codec,
        seg.peak_bitrate(track)
    );
    match track.kind {
        TrackKind::Video { width, height } => {
            let _ = writeln!(out, " width=\"{width}\" height=\"{height}\"{}>", frame_rate(track));
        }
        TrackKind::Audio { channels, sample_rate } => {
            let _ = writeln!(
                out,
                " audioSamplingRate=\"{sample_rate}\">\n        <AudioChannelConfiguration \
                 schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"{channels}\"/>"
            );
        }
    }
    let _ = writeln!(
        out,
        "        <SegmentTemplate timescale=\"{}\" initialization=\"$RepresentationID$/init.mp4\" \
         media=\"$RepresentationID$/seg-$Number$.m4s\" startNumber=\"1\">\n          <SegmentTimeline>",
        track.timescale
    );
    timeline(out, track, seg);
    out.push_str("          </SegmentTimeline>\n        </SegmentTemplate>\n      </Representation>\n");
}

/// `<S t d r>` elements, equal consecutive durations folded into repeats.
fn timeline(out: &mut String, track: &Track, seg: &Segmentation) {
    let mut runs: Vec<(u64, u64, u32)> = Vec::new();
    let mut t = 0u64;
    for n in 1..=seg.count_for(track) {
        let d = seg.duration(track, n);
        match runs.last_mut() {
            Some(last) if last.1 == d => last.2 += 1,
            _ => runs.push((t, d, 0)),
        }
        t += d;
    }
    for (i, (t, d, r)) in runs.into_iter().enumerate() {
        let start = if i == 0 { format!(" t=\"{t}\"") } else { String::new() };
        let repeat = if r > 0 { format!(" r=\"{r}\"") } else { String::new() };
        let _ = writeln!(out, "            <S{start} d=\"{d}\"{repeat}/>");
    }
}

/// ` frameRate="25"` or `"30000/1001"`: samples per duration as a reduced fraction.
fn frame_rate(track: &Track) -> String {
    let (mut num, mut den) =
        (u128::from(track.sample_count()) * u128::from(track.timescale), u128::from(track.duration()));
    if den == 0 {
        return String::new();
    }
    let (mut a, mut b) = (num, den);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    (num, den) = (num / a, den / a);
    if den == 1 { format!(" frameRate=\"{num}\"") } else { format!(" frameRate=\"{num}/{den}\"") }
}
