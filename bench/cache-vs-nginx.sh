#!/usr/bin/env bash
# Cache hits against nginx's page cache: one object served by vod-origin out of its edge cache
# (S3 backend, cache warmed, S3 no longer asked) and by nginx from a local copy (page cache
# warmed), over the same TLS certificate, to the same clients, in pairs whose order alternates.
# These are the edge cache's targets in docs/cache.md: throughput of ranges served from the
# cache at least nginx's, and a first byte on a hit no later than nginx's.
#
#   bench/cache-vs-nginx.sh [pairs=3] [object MiB=256] [seconds=10]
#
# Per pair: wrk with random 1 MiB ranges at 16 and 64 connections (requests/s, p50, p99, and
# CPU seconds per GB at 64), and the median time to first byte of 200 1 KiB ranges on one
# kept-alive connection (curl). Prints a table: each side's median and vod-origin / nginx.
# Needs: cargo build --release --bin vod-origin --example s3-dev-server; nginx, wrk, curl (as
# bench/compare.sh installs them). Nothing else should be loading the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${1:-3}; MIB=${2:-256}; RUN_SECONDS=${3:-10}
BYTES_PER_MIB=1048576; BLOCK=$((8 * BYTES_PER_MIB)); NPROC=$(nproc); CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/vod-cache-bench.XXXXXX)
chmod 755 "$WORK"
trap 'kill $(jobs -p) 2> /dev/null; wait 2> /dev/null; rm -rf "$WORK"' EXIT
say() { echo "[$(date +%T)] $*" >&2; }
die() { say "FAILED: $*"; exit 1; }
read -r S3_PORT VOD_PORT VOD_ADMIN NGINX_PORT NGINX_S3_PORT <<< "$(python3 -c 'import socket
s=[socket.socket() for _ in range(5)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')"

say "object: ${MIB} MiB of random bytes, in S3 (s3-dev-server) and in nginx's folder"
mkdir -p "$WORK/seed" "$WORK/media"
head -c $((MIB * BYTES_PER_MIB)) /dev/urandom > "$WORK/seed/big.bin"
ln "$WORK/seed/big.bin" "$WORK/media/big.bin"
head -c 1024 /dev/urandom > "$WORK/media/tiny.bin"
target/release/examples/s3-dev-server --listen "127.0.0.1:$S3_PORT" --root "$WORK/s3" --seed "$WORK/seed" 2> "$WORK/s3.log" &
until grep -q "S3 endpoint" "$WORK/s3.log"; do sleep 0.5; done

CERTS=$WORK/certs CA=$WORK/certs/dev-ca.pem
AWS_ACCESS_KEY_ID=minioadmin AWS_SECRET_ACCESS_KEY=minioadmin VOD_ORIGIN_LOG__LEVEL=warn \
  VOD_ORIGIN_SERVER__LISTEN="127.0.0.1:$VOD_PORT" VOD_ORIGIN_PLAIN_HTTP__MODE=off \
  VOD_ORIGIN_ADMIN__LISTEN="127.0.0.1:$VOD_ADMIN" VOD_ORIGIN_TLS__DEV_CERT_DIR="$CERTS" \
  VOD_ORIGIN_STORAGE__S3__ENDPOINT="http://127.0.0.1:$S3_PORT" \
  VOD_ORIGIN_STORAGE__CACHE__ENABLED=true VOD_ORIGIN_STORAGE__CACHE__MAX_BYTES=$((2 * MIB * BYTES_PER_MIB)) \
  VOD_ORIGIN_STORAGE__CACHE__METADATA_TTL=1h \
  target/release/vod-origin --config config/minio.toml > /dev/null 2> "$WORK/origin.log" &
VOD=$!
until curl -sf "http://127.0.0.1:$VOD_ADMIN/readyz" > /dev/null; do sleep 0.2; done

mkdir -p "$WORK/nginx/tmp"
sed -e "s|@DIR@|$WORK/nginx|g; s|@WORKERS@|$NPROC|; s|@CERTS@|$CERTS|g; s|@MEDIA@|$WORK/media|" \
  -e "s|@LOCAL_PORT@|$NGINX_PORT|; s|@S3_PROXY_PORT@|$NGINX_S3_PORT|; s|@S3_PORT@|$S3_PORT|g; s|@BUCKET@|videos|; s|@NOFILE@|$(ulimit -n)|" \
  bench/compare/nginx.conf.in > "$WORK/nginx/nginx.conf"
nginx -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" > /dev/null 2>> "$WORK/nginx/error.log" &
NGINX=$!
until curl -sf --cacert "$CA" -o /dev/null "https://localhost:$NGINX_PORT/tiny.bin"; do sleep 0.2; done

metric() { curl -s "http://127.0.0.1:$VOD_ADMIN/metrics" | awk -v m="$1" 'index($0, m) == 1 {sum += $NF} END {printf "%d\n", sum}'; }
url() { if [ "$1" = vod ]; then echo "https://localhost:$VOD_PORT/big.bin"; else echo "https://localhost:$NGINX_PORT/big.bin"; fi; }
pids() { if [ "$1" = vod ]; then echo "$VOD"; else echo "$NGINX" $(pgrep -P "$NGINX"); fi; }
ticks() { local t=0 p; for p in $(pids "$1"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }

say "warming: every block into vod-origin's cache, the file into the page cache"
for ((at = 0; at < MIB * BYTES_PER_MIB; at += BLOCK)); do
  curl -sf --cacert "$CA" -o /dev/null -H "Range: bytes=$at-$((at + BLOCK - 1))" "$(url vod)"
done
cat "$WORK/media/big.bin" > /dev/null
for side in vod nginx; do
  got=$(curl -s --cacert "$CA" -H "Range: bytes=$BYTES_PER_MIB-$((2 * BYTES_PER_MIB - 1))" "$(url $side)" | sha256sum)
  [ "$got" = "$(tail -c +$((BYTES_PER_MIB + 1)) "$WORK/seed/big.bin" | head -c $BYTES_PER_MIB | sha256sum)" ] \
    || die "$side: wrong bytes"
done
GETS_WARM=$(metric 'vod_origin_s3_requests_total{operation="GetObject"')

SAMPLES=$WORK/samples.tsv
sample() { printf '%s\t%s\t%s\n' "$@" >> "$SAMPLES"; }
ranges() {
  local side=$1 conns=$2 before line requests duration_us bytes p50_us p99_us errors
  before=$(ticks "$side")
  line=$(SSL_CERT_FILE=$CA OBJECT_MIB=$MIB wrk -t"$NPROC" -c"$conns" -d"${RUN_SECONDS}s" \
    -s bench/compare/ranges.lua "$(url "$side")" | grep '^RESULT') || die "wrk against $side failed"
  eval "${line#RESULT }"
  [ "$errors" = 0 ] || die "wrk against $side: $errors errors"
  sample "ranges${conns}_rps" "$side" "$(python3 -c "print($requests / ($duration_us / 1e6))")"
  sample "ranges${conns}_p50_ms" "$side" "$((p50_us))e-3"
  sample "ranges${conns}_p99_ms" "$side" "$((p99_us))e-3"
  [ "$conns" = 64 ] && sample cpu_s_per_gb "$side" "$(python3 -c "print(($(ticks "$side") - $before) / $CLK_TCK / ($bytes / 1e9))")"
  return 0
}
ttfb() {
  local side=$1 args=()
  for _ in $(seq 201); do args+=(-o /dev/null "$(url "$side")"); done
  sample ttfb_hit_ms "$side" "$(curl -s --http1.1 --cacert "$CA" -H 'Range: bytes=5000000-5001023' \
    -w '%{time_starttransfer}\n' "${args[@]}" | tail -n +2 | python3 -c 'import sys,statistics
print(statistics.median(float(l) for l in sys.stdin) * 1000)')"
}

: > "$SAMPLES"
for pair in $(seq "$PAIRS"); do
  if [ $((pair % 2)) = 1 ]; then order="vod nginx"; else order="nginx vod"; fi
  say "pair $pair of $PAIRS ($order)"
  # First bytes before the loads, so neither side is measured in the wake of a load run.
  for side in $order; do ttfb "$side"; done
  for side in $order; do ranges "$side" 16; done
  for side in $order; do ranges "$side" 64; done
done

echo "## bench/cache-vs-nginx.sh $PAIRS $MIB $RUN_SECONDS ($(date -u +%Y-%m-%d), vod-origin $(git rev-parse --short HEAD))"
echo
python3 - "$SAMPLES" << 'EOF'
import collections, statistics, sys
values = collections.defaultdict(list)
for line in open(sys.argv[1]):
    metric, side, value = line.split("\t")
    values[metric, side].append(float(value))
print("| measurement | vod-origin (cache hits) | nginx (page cache) | vod-origin / nginx |")
print("|---|---|---|---|")
for metric in dict.fromkeys(m for m, _ in values):
    vod, nginx = statistics.median(values[metric, "vod"]), statistics.median(values[metric, "nginx"])
    print(f"| {metric} | {vod:.2f} | {nginx:.2f} | {vod / nginx:.2f} |")
EOF
echo
echo "S3 GetObject calls: $GETS_WARM to warm $((MIB * BYTES_PER_MIB / BLOCK)) blocks," \
  "$(($(metric 'vod_origin_s3_requests_total{operation="GetObject"') - GETS_WARM)) during the measurements;" \
  "vod-origin RSS $(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$VOD/status") MiB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
