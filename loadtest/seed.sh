#!/usr/bin/env bash
# Writes the objects the k6 scenarios fetch, into a folder and optionally on to S3:
#
#   vod/playlist.m3u8     an HLS VOD media playlist of SEGMENTS segments of SEGMENT_SECONDS each
#   vod/seg_00000.ts ...  the segments, SEGMENT_BYTES of random bytes each
#   progressive.mp4       PROGRESSIVE_BYTES of random bytes (progressive-seeks.js, slow-readers.sh)
#   hot.mp4               HOT_BYTES of random bytes (seek-storm.js)
#
#   loadtest/seed.sh [DIR] [s3://bucket/prefix]
#
# DIR defaults to the repository's target/loadtest-media, the root loadtest/origin.toml serves
# (git-ignored, outside the Docker context). No player is involved, so the bytes are random; only
# names, sizes and types matter. Files already of the right size are kept (rerunning is quick and
# ETags stay put); delete DIR to start over.
#
# With an s3:// URL, DIR is then uploaded with `aws s3 sync`, each type with its Content-Type;
# nothing is deleted from the bucket. For MinIO or another S3-compatible server, set
# S3_ENDPOINT_URL (passed as --endpoint-url), e.g.
#   S3_ENDPOINT_URL=http://127.0.0.1:9000 AWS_ACCESS_KEY_ID=minioadmin AWS_SECRET_ACCESS_KEY=minioadmin \
#     loadtest/seed.sh target/loadtest-media s3://videos/lt
#
# Sizes in bytes, from the environment:
#   SEGMENTS=60 SEGMENT_BYTES=1048576 SEGMENT_SECONDS=6
#   PROGRESSIVE_BYTES=268435456 HOT_BYTES=67108864
set -euo pipefail

DIR=${1:-$(cd "$(dirname "$0")/.." && pwd)/target/loadtest-media}
S3_URL=${2:-}
SEGMENTS=${SEGMENTS:-60}
SEGMENT_BYTES=${SEGMENT_BYTES:-$((1024 * 1024))}
SEGMENT_SECONDS=${SEGMENT_SECONDS:-6}
PROGRESSIVE_BYTES=${PROGRESSIVE_BYTES:-$((256 * 1024 * 1024))}
HOT_BYTES=${HOT_BYTES:-$((64 * 1024 * 1024))}

for name in SEGMENTS SEGMENT_BYTES SEGMENT_SECONDS PROGRESSIVE_BYTES HOT_BYTES; do
  if ! [[ ${!name} =~ ^[1-9][0-9]*$ ]]; then
    echo "seed.sh: $name must be a positive integer, got '${!name}'" >&2
    exit 2
  fi
done
if [[ -n $S3_URL && $S3_URL != s3://* ]]; then
  echo "seed.sh: the second argument must be an s3:// URL, got '$S3_URL'" >&2
  exit 2
fi

# Writes `bytes` random bytes to `file`, unless it already has that size.
random_file() {
  local file=$1 bytes=$2
  if [[ -f $file && $(stat -c %s "$file") -eq $bytes ]]; then return; fi
  head -c "$bytes" /dev/urandom > "$file.tmp"
  mv "$file.tmp" "$file"
}

mkdir -p "$DIR/vod"
random_file "$DIR/progressive.mp4" "$PROGRESSIVE_BYTES"
random_file "$DIR/hot.mp4" "$HOT_BYTES"

playlist="#EXTM3U
#EXT-X-VERSION:3
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-TARGETDURATION:$SEGMENT_SECONDS
#EXT-X-MEDIA-SEQUENCE:0
"
for ((i = 0; i < SEGMENTS; i++)); do
  segment=$(printf 'seg_%05d.ts' "$i")
  random_file "$DIR/vod/$segment" "$SEGMENT_BYTES"
  playlist+="#EXTINF:$SEGMENT_SECONDS.000,
$segment
"
done
playlist+="#EXT-X-ENDLIST"
# Segments left from a longer run would be served, and uploaded, for nothing.
find "$DIR/vod" -maxdepth 1 -name 'seg_*.ts' | while read -r segment; do
  index=$(basename "$segment" .ts); index=$((10#${index#seg_}))
  if ((index >= SEGMENTS)); then rm -f "$segment"; fi
done
printf '%s\n' "$playlist" > "$DIR/vod/playlist.m3u8"

echo "seeded $DIR: $SEGMENTS segments of $SEGMENT_BYTES bytes (${SEGMENT_SECONDS} s each)," \
  "progressive.mp4 $PROGRESSIVE_BYTES bytes, hot.mp4 $HOT_BYTES bytes"

if [[ -z $S3_URL ]]; then exit 0; fi
if ! command -v aws > /dev/null; then
  echo "seed.sh: the aws CLI is not installed; upload $DIR to $S3_URL another way" >&2
  exit 1
fi
endpoint=()
if [[ -n ${S3_ENDPOINT_URL:-} ]]; then endpoint=(--endpoint-url "$S3_ENDPOINT_URL"); fi
# One sync per type: without --content-type the CLI guesses from the system's mime.types, which
# may call .ts "text/vnd.trolltech.linguist" (the origin corrects only octet-stream types).
for pair in 'm3u8 application/vnd.apple.mpegurl' 'ts video/mp2t' 'mp4 video/mp4'; do
  read -r extension type <<< "$pair"
  aws "${endpoint[@]}" s3 sync "$DIR" "${S3_URL%/}" --exclude '*' --include "*.$extension" \
    --content-type "$type" --only-show-errors
done
echo "uploaded to $S3_URL"
