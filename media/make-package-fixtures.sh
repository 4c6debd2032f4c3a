#!/usr/bin/env bash
# Regenerates the small MP4 fixtures of src/package's tests in tests/fixtures/package/ from
# ffmpeg's test pattern (Debian: apt-get install ffmpeg). Each is a few seconds at 160x90 so the
# whole set stays small enough to commit; GOPs are fixed (-g, -keyint_min, -sc_threshold 0) or
# forced at chosen times so the segmentation tests know where the sync samples are.
set -euo pipefail
cd "$(dirname "$0")/../tests/fixtures/package"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
video=(-f lavfi -i testsrc2=size=160x90:rate=25)
audio=(-f lavfi -i sine=frequency=440:sample_rate=48000)
x264=(-c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -b:v 120k -sc_threshold 0)
aac=(-c:a aac -b:a 32k -ac 2)

# H.264 with B-frames + AAC, index first; 2 s GOPs.
ff "${video[@]}" "${audio[@]}" -t 6 "${x264[@]}" -bf 2 -g 50 -keyint_min 50 "${aac[@]}" \
  -movflags +faststart h264-aac.mp4
# The same with the index at the end (ffmpeg's default).
ff "${video[@]}" "${audio[@]}" -t 6 "${x264[@]}" -bf 2 -g 50 -keyint_min 50 "${aac[@]}" \
  h264-aac-moov-end.mp4
# H.265 tagged hvc1 (parameter sets in the sample entry) + AAC.
ff "${video[@]}" "${audio[@]}" -t 4 -c:v libx265 -preset ultrafast -pix_fmt yuv420p -b:v 100k \
  -x265-params "keyint=50:min-keyint=50:scenecut=0:log-level=error" -tag:v hvc1 "${aac[@]}" \
  -movflags +faststart h265.mp4
# Video alone.
ff "${video[@]}" -t 4 "${x264[@]}" -g 25 -keyint_min 25 -movflags +faststart video-only.mp4
# Video with two AAC tracks, English and French.
ff "${video[@]}" "${audio[@]}" -f lavfi -i sine=frequency=660:sample_rate=44100 -t 4 \
  -map 0:v -map 1:a -map 2:a "${x264[@]}" -g 50 -keyint_min 50 "${aac[@]}" \
  -metadata:s:a:0 language=eng -metadata:s:a:1 language=fra -movflags +faststart two-audio.mp4
# Irregular keyframes: GOPs of 1.3, 3.8, 0.4 and 2.5 s (and a long one at the end).
ff "${video[@]}" "${audio[@]}" -t 8 "${x264[@]}" -bf 2 -g 1000 -keyint_min 1000 \
  -force_key_frames 0,1.3,5.1,5.5 "${aac[@]}" -movflags +faststart odd-gop.mp4
ls -l
