#!/usr/bin/env bash
# First byte of a cold block: the time to first byte of a 1 KiB range whose block is not cached
# yet, so that the request waits on a fill from S3. One request per block, one after another on
# one kept-alive connection, at the start of the block and (second object) in its middle; the
# same with the cache off, for reference. Read-ahead is off, so every block is cold.
#
#   bench/cold-ttfb.sh [object MiB=128]
#
# Needs: cargo build --release --bin vod-origin --example s3-dev-server; curl. ORIGIN_BIN
# names another vod-origin binary (to compare two builds).
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-128}; ORIGIN_BIN=${ORIGIN_BIN:-target/release/vod-origin}
BYTES_PER_MIB=1048576; BLOCK=$((8 * BYTES_PER_MIB)); BLOCKS=$((MIB * BYTES_PER_MIB / BLOCK))
WORK=$(mktemp -d); trap 'kill $(jobs -p) 2> /dev/null; wait 2> /dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/seed"
head -c $((MIB * BYTES_PER_MIB)) /dev/urandom > "$WORK/seed/start.bin"
cp "$WORK/seed/start.bin" "$WORK/seed/middle.bin"
target/release/examples/s3-dev-server --listen 127.0.0.1:9101 --root "$WORK/s3" --seed "$WORK/seed" 2> "$WORK/s3.log" &
until grep -q "S3 endpoint" "$WORK/s3.log"; do sleep 0.5; done

# median OFFSET_IN_BLOCK OBJECT: the median time to first byte, in ms, over one request per block.
median() {
  local common=(-s --http1.1 --cacert "$WORK/certs/dev-ca.pem" -w '%{http_code} %{time_starttransfer}\n' -o /dev/null)
  local args=("${common[@]}" https://localhost:9444/readyz) block at
  for ((block = 0; block < BLOCKS; block++)); do
    at=$((block * BLOCK + $1))
    # --next: each request has its own Range header; the connection is still reused.
    args+=(--next "${common[@]}" -H "Range: bytes=$at-$((at + 1023))" "https://localhost:9444/$2")
  done
  # The first request (readiness) opens the connection; only the object requests count.
  curl "${args[@]}" \
    | tail -n +2 | awk '$1 != 206 {print "not 206: " $0 > "/dev/stderr"; exit 1} {print $2}' \
    | sort -n | awk '{v[NR] = $1} END {printf "%.1f", v[int((NR + 1) / 2)] * 1000}'
}

for cache in true false; do
  AWS_ACCESS_KEY_ID=minioadmin AWS_SECRET_ACCESS_KEY=minioadmin VOD_ORIGIN_LOG__LEVEL=warn \
    VOD_ORIGIN_SERVER__LISTEN=127.0.0.1:9444 VOD_ORIGIN_PLAIN_HTTP__MODE=off VOD_ORIGIN_ADMIN__LISTEN=127.0.0.1:9191 \
    VOD_ORIGIN_STORAGE__S3__ENDPOINT=http://127.0.0.1:9101 VOD_ORIGIN_TLS__DEV_CERT_DIR="$WORK/certs" \
    VOD_ORIGIN_STORAGE__CACHE__ENABLED=$cache VOD_ORIGIN_STORAGE__CACHE__READ_AHEAD_BLOCKS=0 \
    "$ORIGIN_BIN" --config config/minio.toml > /dev/null 2> "$WORK/origin.log" &
  ORIGIN=$!
  until curl -sf http://127.0.0.1:9191/readyz > /dev/null; do sleep 0.2; done
  echo "cache $cache: $BLOCKS cold blocks of 8 MiB; median first byte at the block's start" \
    "$(median 0 start.bin) ms, in its middle $(median $((BLOCK / 2)) middle.bin) ms"
  kill "$ORIGIN"
  wait "$ORIGIN" 2> /dev/null || true
done
