#!/usr/bin/env bash
# Regenerates the sample media in media/sample/ from ffmpeg's test pattern (Debian: apt-get install ffmpeg).
# 10 s, 640x360, 25 fps, H.264 + AAC; the MP4 has its index first (faststart) so players can start
# before the whole file arrives; the HLS copy is cut into 2 s MPEG-TS segments without re-encoding.
set -euo pipefail
cd "$(dirname "$0")/sample"
mkdir -p hls
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 10 \
  -c:v libx264 -preset veryfast -profile:v main -pix_fmt yuv420p -g 50 -keyint_min 50 -sc_threshold 0 \
  -b:v 600k -maxrate 700k -bufsize 1200k -c:a aac -b:a 96k -movflags +faststart sample.mp4
ffmpeg -hide_banner -loglevel error -y -i sample.mp4 -c copy -f hls -hls_time 2 -hls_playlist_type vod \
  -hls_segment_filename 'hls/segment_%03d.ts' hls/index.m3u8
