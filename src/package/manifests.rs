//! The manifests' text for a small synthetic file, compared whole: a video track with 2 s GOPs
//! and two audio tracks, English and French.

use std::time::Duration;

use super::testing::{audio, index, regular, video};
use super::*;

fn sample() -> (MediaIndex, Segmentation) {
    // 5 s of 25 fps video (100 bytes a frame) and of 48 kHz AAC (1024-sample frames).
    let index = index(&[
        video(1, regular(125, 512, 50)),
        audio(2, "eng", regular(235, 1024, 0)),
        audio(3, "fra", regular(235, 1024, 0)),
    ]);
    let seg = Segmentation::new(&index, Duration::from_secs(2));
    (index, seg)
}

#[test]
fn master() {
    let (index, seg) = sample();
    assert_eq!(
        master_playlist(&index, &seg),
        r#"#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="eng",LANGUAGE="eng",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="2/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="fra",LANGUAGE="fra",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="3/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=57500,AVERAGE-BANDWIDTH=57500,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=160x90,FRAME-RATE=25.000,AUDIO="audio"
1/index.m3u8
"#
    );
}

#[test]
fn media_playlists_use_each_tracks_own_durations() {
    let (index, seg) = sample();
    assert_eq!(
        media_playlist(&index.tracks[0], &seg),
        r#"#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:1
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init.mp4"
#EXTINF:2.000,
seg-1.m4s
#EXTINF:2.000,
seg-2.m4s
#EXTINF:1.000,
seg-3.m4s
#EXT-X-ENDLIST
"#
    );
    // 94 AAC frames are 2.005 s: rounded to the nearest second, within the target.
    assert_eq!(
        media_playlist(&index.tracks[1], &seg),
        r#"#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:1
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init.mp4"
#EXTINF:2.005,
seg-1.m4s
#EXTINF:2.005,
seg-2.m4s
#EXTINF:1.003,
seg-3.m4s
#EXT-X-ENDLIST
"#
    );
}

#[test]
fn mpd() {
    let (index, seg) = sample();
    assert_eq!(
        manifest(&index, &seg),
        r#"<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="PT5.013S" minBufferTime="PT2S">
  <Period id="0" start="PT0S">
    <AdaptationSet id="1" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">
      <Representation id="1" codecs="avc1.64001f" bandwidth="20000" width="160" height="90" frameRate="25">
        <SegmentTemplate timescale="12800" initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/seg-$Number$.m4s" startNumber="1">
          <SegmentTimeline>
            <S t="0" d="25600" r="1"/>
            <S d="12800"/>
          </SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
    <AdaptationSet id="2" contentType="audio" mimeType="audio/mp4" lang="eng" segmentAlignment="true" startWithSAP="1">
      <Representation id="2" codecs="mp4a.40.2" bandwidth="37500" audioSamplingRate="48000">
        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>
        <SegmentTemplate timescale="48000" initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/seg-$Number$.m4s" startNumber="1">
          <SegmentTimeline>
            <S t="0" d="96256" r="1"/>
            <S d="48128"/>
          </SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
    <AdaptationSet id="3" contentType="audio" mimeType="audio/mp4" lang="fra" segmentAlignment="true" startWithSAP="1">
      <Representation id="3" codecs="mp4a.40.2" bandwidth="37500" audioSamplingRate="48000">
        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>
        <SegmentTemplate timescale="48000" initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/seg-$Number$.m4s" startNumber="1">
          <SegmentTimeline>
            <S t="0" d="96256" r="1"/>
            <S d="48128"/>
          </SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"#
    );
}

#[test]
fn audio_only_and_unnamed_languages() {
    let index = index(&[audio(1, "und", regular(235, 1024, 0)), audio(2, "und", regular(235, 1024, 0))]);
    let seg = Segmentation::new(&index, Duration::from_secs(2));
    let master = master_playlist(&index, &seg);
    assert!(master.contains("NAME=\"audio 1\",DEFAULT=YES"), "{master}");
    assert!(master.contains("NAME=\"audio 2\",DEFAULT=NO"), "{master}");
    assert!(master.ends_with("#EXT-X-STREAM-INF:BANDWIDTH=37500,AVERAGE-BANDWIDTH=37500,CODECS=\"mp4a.40.2\",AUDIO=\"audio\"\n1/index.m3u8\n"), "{master}");
    let mpd = manifest(&index, &seg);
    assert!(!mpd.contains("contentType=\"video\"") && !mpd.contains("lang="), "{mpd}");
}
