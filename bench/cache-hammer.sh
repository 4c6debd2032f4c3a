#!/usr/bin/env bash
# The edge cache under load: random 1 MiB ranges of one object from many connections, through
# the S3 backend, counting what reached S3 and sampling the origin's memory against the cache's
# bound. Run it with the cache larger than the object (every block read from S3 once) and
# smaller (eviction: memory must stay near the bound, S3 reads go up).
#
#   bench/cache-hammer.sh [object MiB=256] [cache MiB=512, 0 for no cache] [seconds=20] [connections=64] [disk MiB=0]
#
# With a disk MiB, the cache has a disk tier of that size (in the scratch folder).
#
# Needs: cargo build --release --bin vod-origin --example s3-dev-server; wrk and curl. ORIGIN_BIN
# names another vod-origin binary (to compare two builds).
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-256}; CACHE_MIB=${2:-512}; SECONDS_TO_RUN=${3:-20}; CONNECTIONS=${4:-64}; DISK_MIB=${5:-0}
WORK=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/seed"
head -c "$((MIB * 1024 * 1024))" /dev/urandom > "$WORK/seed/big.bin"

target/release/examples/s3-dev-server --listen 127.0.0.1:9100 --root "$WORK/s3" --seed "$WORK/seed" 2> "$WORK/s3.log" &
until grep -q "S3 endpoint" "$WORK/s3.log"; do sleep 0.5; done

export AWS_ACCESS_KEY_ID=minioadmin AWS_SECRET_ACCESS_KEY=minioadmin VOD_ORIGIN_LOG__LEVEL=warn
export VOD_ORIGIN_SERVER__LISTEN=127.0.0.1:9443 VOD_ORIGIN_PLAIN_HTTP__MODE=off VOD_ORIGIN_ADMIN__LISTEN=127.0.0.1:9190
export VOD_ORIGIN_STORAGE__S3__ENDPOINT=http://127.0.0.1:9100 VOD_ORIGIN_TLS__DEV_CERT_DIR="$WORK/certs"
# A cache of 0 MiB turns it off, for comparison.
CACHE_ON=true; [ "$CACHE_MIB" -gt 0 ] || CACHE_ON=false
export VOD_ORIGIN_STORAGE__CACHE__ENABLED=$CACHE_ON
if [ "$DISK_MIB" -gt 0 ]; then
  export VOD_ORIGIN_STORAGE__CACHE__DISK_DIR="$WORK/disk" VOD_ORIGIN_STORAGE__CACHE__DISK_BYTES=$((DISK_MIB * 1024 * 1024))
fi
export VOD_ORIGIN_STORAGE__CACHE__MAX_BYTES=$((CACHE_MIB > 0 ? CACHE_MIB * 1024 * 1024 : 512 * 1024 * 1024))
"${ORIGIN_BIN:-target/release/vod-origin}" --config config/minio.toml > /dev/null 2> "$WORK/origin.log" &
ORIGIN=$!
until curl -sf http://127.0.0.1:9190/readyz > /dev/null; do sleep 0.2; done

rss() { awk '/VmRSS/ {print $2}' "/proc/$ORIGIN/status"; }
metric() {
  curl -s http://127.0.0.1:9190/metrics | awk -v m="$1" -v div="${2:-1}" 'index($0, m) == 1 {sum += $NF} END {printf "%d\n", sum / div}'
}
echo "object ${MIB} MiB, cache ${CACHE_MIB} MiB, disk tier ${DISK_MIB} MiB, ${CONNECTIONS} connections for ${SECONDS_TO_RUN}s"
echo "origin RSS idle: $(rss) KiB"
( while sleep 1; do rss >> "$WORK/rss"; metric vod_origin_cache_memory_bytes 1024 >> "$WORK/blocks"; done ) &
SAMPLER=$!
cp "$WORK/certs/dev-ca.pem" "$WORK/ca.pem"
SSL_CERT_FILE="$WORK/ca.pem" OBJECT_MIB=$MIB wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_TO_RUN}s" --timeout 30s \
  -s bench/compare/ranges.lua https://localhost:9443/big.bin | grep -E 'RESULT|Requests/sec|Transfer/sec|Non-2xx' || true
kill "$SAMPLER"
PEAK=$(sort -n "$WORK/rss" | tail -1)
echo "origin RSS peak: ${PEAK} KiB; block memory peak: $(sort -n "$WORK/blocks" | tail -1) KiB (bound $((CACHE_MIB * 1024)) KiB)"
echo "S3 GetObject calls: $(metric 'vod_origin_s3_requests_total{operation="GetObject"')," \
  "bytes from S3: $(metric vod_origin_s3_bytes_total 1048576) MiB"
echo "block lookups: hit $(metric 'vod_origin_cache_requests_total{result="hit"'), miss $(metric 'vod_origin_cache_requests_total{result="miss"'), collapsed $(metric 'vod_origin_cache_requests_total{result="collapsed"')"
echo "evictions: $(metric vod_origin_cache_evictions_total)"
echo "disk tier: hit $(metric 'vod_origin_cache_disk_requests_total{result="hit"'), miss $(metric 'vod_origin_cache_disk_requests_total{result="miss"'), blocks written $(metric vod_origin_cache_disk_writes_total)"
echo "origin warnings and errors: $(grep -cE '"level":"(WARN|ERROR)"' "$WORK/origin.log" || true)"
grep -E '"level":"(WARN|ERROR)"' "$WORK/origin.log" | tail -3 | cut -c1-400 || true
