//! HLS playlists (RFC 8216, version 7 for fMP4): the master playlist naming one variant per
//! video track with the audio tracks as renditions, and each track's media playlist. Written by
//! hand with durations printed from integer arithmetic, as nginx-vod-module does: `m3u8-rs`
//! keeps durations as `f32` behind a process-global precision setting.

use std::fmt::Write;

use super::index::{MediaIndex, Track, TrackKind};
use super::{Segmentation, decimal};

/// The master playlist: variants for video tracks, audio as `EXT-X-MEDIA` renditions.
pub fn master_playlist(index: &MediaIndex, seg: &Segmentation) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    let audio: Vec<&Track> = index.tracks.iter().filter(|t| !t.is_video()).collect();
    for (i, track) in audio.iter().enumerate() {
        let unique =
            track.language.as_ref().filter(|l| audio.iter().filter(|t| t.language.as_ref() == Some(l)).count() == 1);
        let name = unique.cloned().unwrap_or_else(|| format!("audio {}", i + 1));
        let _ = write!(out, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"{name}\",");
        if let Some(language) = &track.language {
            let _ = write!(out, "LANGUAGE=\"{language}\",");
        }
        let default = if i == 0 { "YES" } else { "NO" };
        let _ = write!(out, "DEFAULT={default},AUTOSELECT=YES,");
        if let TrackKind::Audio { channels, .. } = track.kind {
            let _ = write!(out, "CHANNELS=\"{channels}\",");
        }
        let _ = writeln!(out, "URI=\"{}/index.m3u8\"", track.id);
    }
    let first_audio = audio.first().copied();
    let videos: Vec<&Track> = index.tracks.iter().filter(|t| t.is_video()).collect();
    if videos.is_empty()
        && let Some(track) = first_audio
    {
        stream_inf(&mut out, seg, None, Some(track));
        let _ = writeln!(out, "{}/index.m3u8", track.id);
    }
    for video in videos {
        stream_inf(&mut out, seg, Some(video), first_audio);
        let _ = writeln!(out, "{}/index.m3u8", video.id);
    }
    out
}

/// One `EXT-X-STREAM-INF` line for a video track and/or the audio group.
fn stream_inf(out: &mut String, seg: &Segmentation, video: Option<&Track>, audio: Option<&Track>) {
    let tracks = || video.into_iter().chain(audio);
    let peak: u64 = tracks().map(|t| seg.peak_bitrate(t)).sum();
    let average: u64 = tracks().map(|t| t.bitrate).sum();
    let codecs: Vec<&str> = tracks().map(|t| t.codec.as_str()).collect();
    let _ =
        write!(out, "#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average},CODECS=\"{}\"", codecs.join(","));
    if let Some(video) = video {
        if let TrackKind::Video { width, height } = video.kind {
            let _ = write!(out, ",RESOLUTION={width}x{height}");
        }
        if let Some(milli) = video.frame_rate_milli() {
            let _ = write!(out, ",FRAME-RATE={}", decimal(u64::from(milli), 1000));
        }
    }
    if audio.is_some() {
        out.push_str(",AUDIO=\"audio\"");
    }
    out.push('\n');
}

/// The media playlist of `track`: its own sample durations in each segment.
pub fn media_playlist(track: &Track, seg: &Segmentation) -> String {
    let ts = u64::from(track.timescale);
    let durations: Vec<u64> = (1..=seg.count_for(track)).map(|n| seg.duration(track, n)).collect();
    // Rounded to the nearest second, no EXTINF may exceed the target (RFC 8216 §4.3.3.1).
    let own = durations.iter().map(|d| (d + ts / 2) / ts).max().unwrap_or(0);
    let target = seg.target_duration_secs().max(own);
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:7\n");
    let _ = write!(
        out,
        "#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:VOD\n\
         #EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n"
    );
    for (i, d) in durations.iter().enumerate() {
        let _ = write!(out, "#EXTINF:{},\nseg-{}.m4s\n", decimal(*d, ts), i + 1);
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}
