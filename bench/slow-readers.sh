#!/usr/bin/env bash
# Memory per stream with slow viewers: N clients read a large object from the S3 backend at
# RATE each, while the origin's resident memory (VmRSS) is sampled. Also reports whether any
# S3 body was resumed (the SDK's stalled-stream protection must not fire on a slow viewer).
#
#   bench/slow-readers.sh [clients=20] [rate=64k] [seconds=60] [object MiB=256]
#
# Needs: a release build (cargo build --release --bin vod-origin --example s3-dev-server), curl.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${1:-20}; RATE=${2:-64k}; SECONDS_TO_RUN=${3:-60}; MIB=${4:-256}
WORK=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/seed"
head -c "$((MIB * 1024 * 1024))" /dev/urandom > "$WORK/seed/big.mp4"

target/release/examples/s3-dev-server --listen 127.0.0.1:9100 --root "$WORK/s3" --seed "$WORK/seed" 2> "$WORK/s3.log" &
until grep -q "S3 endpoint" "$WORK/s3.log"; do sleep 0.5; done

export AWS_ACCESS_KEY_ID=minioadmin AWS_SECRET_ACCESS_KEY=minioadmin
export VOD_ORIGIN_SERVER__LISTEN=127.0.0.1:9443 VOD_ORIGIN_PLAIN_HTTP__MODE=off
export VOD_ORIGIN_STORAGE__S3__ENDPOINT=http://127.0.0.1:9100 VOD_ORIGIN_TLS__DEV_CERT_DIR="$WORK/certs"
target/release/vod-origin --config config/minio.toml 2> "$WORK/origin.log" &
ORIGIN=$!
until curl -sf --cacert "$WORK/certs/dev-ca.pem" https://localhost:9443/readyz > /dev/null 2>&1; do sleep 0.2; done

rss() { awk '/VmRSS/ {print $2}' "/proc/$ORIGIN/status"; }
echo "origin RSS idle: $(rss) KiB"
READERS=()
for i in $(seq "$CLIENTS"); do
  curl -s --cacert "$WORK/certs/dev-ca.pem" --http1.1 --limit-rate "$RATE" -o /dev/null \
       --max-time "$SECONDS_TO_RUN" https://localhost:9443/big.mp4 &
  READERS+=($!)
done
for t in $(seq 5 5 "$SECONDS_TO_RUN"); do
  sleep 5
  echo "t=${t}s RSS $(rss) KiB"
done
wait "${READERS[@]}" 2>/dev/null || true
echo "resumed S3 bodies: $(grep -c 'resuming' "$WORK/origin.log" || true)"
echo "clients: $CLIENTS at $RATE for ${SECONDS_TO_RUN}s on a ${MIB} MiB object"
