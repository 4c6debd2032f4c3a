#!/usr/bin/env bash
# Instruction counts (valgrind's callgrind: repeatable, unlike time on a shared machine) for
# 100 sequential 1 MiB range requests on one keep-alive TLS connection, local backend, counted
# from after a warm-up request to the end of the workload.
#
#   bench/callgrind-ranges.sh [binary=target/release/vod-origin] [output=callgrind.ranges.out]
#   callgrind_annotate --inclusive=yes callgrind.ranges.out.1 | head -40
#
# Needs: valgrind (callgrind_control comes with it), curl.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/vod-origin}; OUT=${2:-callgrind.ranges.out}
WORK=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/media"
head -c $((64 << 20)) /dev/urandom > "$WORK/media/big.bin"
for _ in $(seq 100); do printf 'url = "https://localhost:9743/big.bin"\noutput = "/dev/null"\n'; done > "$WORK/curl.cfg"

export VOD_ORIGIN_TLS__DEV_CERT_DIR=$WORK/certs VOD_ORIGIN_SERVER__LISTEN=127.0.0.1:9743 \
  VOD_ORIGIN_PLAIN_HTTP__MODE=off VOD_ORIGIN_ADMIN__ENABLED=false \
  VOD_ORIGIN_STORAGE__ROOT=$WORK/media VOD_ORIGIN_LOG__LEVEL=warn
valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN" > /dev/null 2> "$WORK/valgrind.log" &
VALGRIND=$!
until [[ -f $WORK/certs/dev-ca.pem ]] \
  && curl -s --cacert "$WORK/certs/dev-ca.pem" -r 0-0 -o /dev/null https://localhost:9743/big.bin; do
  sleep 1
done
# Startup (aws-lc's entropy seeding is most of it) is not what is measured.
callgrind_control -z "$VALGRIND" > /dev/null
curl -s --cacert "$WORK/certs/dev-ca.pem" --http1.1 -r 1048576-2097151 -K "$WORK/curl.cfg"
callgrind_control -d "$VALGRIND" > /dev/null
kill "$VALGRIND"; wait "$VALGRIND" 2> /dev/null || true
callgrind_annotate "$OUT.1" | grep 'PROGRAM TOTALS'
