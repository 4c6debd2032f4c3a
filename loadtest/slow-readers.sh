#!/usr/bin/env bash
# Slow viewers against a running origin: CLIENTS curl clients read a large object at READ_RATE
# each (k6 cannot throttle how fast it reads a body; curl --limit-rate can), while a legitimate
# client's requests are timed before and during the slow reads. Passes when no slow reader was
# cut off or starved (as curl saw it, and with ADMIN_URL as the origin's connection gauge saw it),
# no probe failed, and the probes' p95 stayed under PROBE_P95_MS.
#
#   loadtest/slow-readers.sh                                   # the origin of loadtest/origin.toml
#   PID=$(pgrep -n vod-origin) CLIENTS=200 RUN_SECONDS=120 loadtest/slow-readers.sh
#
# (python3 bench/run.py slow-readers measures memory per stream on an origin and S3 server it starts itself;
# this one points at any running origin, CloudFront included, and judges the result.)
#
# curl keeps the average under READ_RATE but reads in bursts: with curl 7.88, up to 1.6 MiB at
# once (100 reads of 16 KiB) after a pause as long as the burst takes at READ_RATE. The origin
# sees a reader that takes nothing for burst / READ_RATE seconds (25 s at 64k), then drains its
# socket. Keep that pause under any send timeout the origin has, or readers are cut on purpose.
# A reader in such a pause may not notice being disconnected before its time is up: the origin's
# vod_origin_connections_active (ADMIN_URL) does, at once.
#
# Environment:
#   BASE_URL=https://localhost:8443   SECRET_HEADER=X-Origin-Verify   SECRET=<loadtest/origin.toml's>
#                                     (SECRET= sends none, e.g. through CloudFront)
#   SSL_CERT_FILE                     the CA to trust, e.g. certs/dev-ca.pem; unset: the system's
#   K6_INSECURE_SKIP_TLS_VERIFY=true  opt-in: do not check the certificate (curl -k)
#   OBJECT=/progressive.mp4           what the slow readers read
#   CLIENTS=20 READ_RATE=64k RUN_SECONDS=60   slow readers, bytes/s each (curl's units), duration
#   PROBE_PATH=/vod/seg_00000.ts PROBE_INTERVAL=0.5 PROBE_P95_MS=1000   the legitimate client
#   PID                               the origin's process id, to report its resident memory
#   ADMIN_URL                         e.g. http://127.0.0.1:9190, to watch the origin's connections
set -euo pipefail

BASE_URL=${BASE_URL:-https://localhost:8443}; BASE_URL=${BASE_URL%/}
SECRET_HEADER=${SECRET_HEADER:-X-Origin-Verify}
SECRET=${SECRET-loadtest-secret-not-for-production}
OBJECT=${OBJECT:-/progressive.mp4}
CLIENTS=${CLIENTS:-20}
READ_RATE=${READ_RATE:-64k}
RUN_SECONDS=${RUN_SECONDS:-60}
PROBE_PATH=${PROBE_PATH:-/vod/seg_00000.ts}
PROBE_INTERVAL=${PROBE_INTERVAL:-0.5}
PROBE_P95_MS=${PROBE_P95_MS:-1000}
PID=${PID:-}
ADMIN_URL=${ADMIN_URL:-}

# Bytes per second from curl's --limit-rate syntax (64k, 1M, 100000).
rate_bytes() {
  local value=${1,,} unit=1
  case $value in
    *k) unit=1024 ;; *m) unit=$((1024 * 1024)) ;; *g) unit=$((1024 * 1024 * 1024)) ;;
  esac
  value=${value%[kmg]}
  if ! [[ $value =~ ^[0-9]+$ ]]; then
    echo "slow-readers.sh: READ_RATE '$1' is not a rate like 64k" >&2
    exit 2
  fi
  echo $((value * unit))
}
RATE_BYTES=$(rate_bytes "$READ_RATE")

CURL=(curl --silent --show-error)
if [[ -n ${SSL_CERT_FILE:-} ]]; then CURL+=(--cacert "$SSL_CERT_FILE"); fi
if [[ ${K6_INSECURE_SKIP_TLS_VERIFY:-} == true ]]; then
  echo "WARNING: certificate checks are OFF (K6_INSECURE_SKIP_TLS_VERIFY=true)" >&2
  CURL+=(--insecure)
fi
if [[ -n $SECRET ]]; then CURL+=(-H "$SECRET_HEADER: $SECRET"); fi

WORK=$(mktemp -d)
READERS=()
cleanup() {
  for reader in "${READERS[@]}"; do kill "$reader" 2> /dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

rss() {
  if [[ -n $PID && -r /proc/$PID/status ]]; then awk '/VmRSS/ {print $2 " KiB"}' "/proc/$PID/status"; else echo n/a; fi
}
# The origin's open connections on its public listeners (admin excluded), or n/a.
connections() {
  local metrics
  if [[ -z $ADMIN_URL ]] || ! metrics=$(curl -sf --max-time 2 "${ADMIN_URL%/}/metrics"); then
    echo n/a
    return
  fi
  awk '/^vod_origin_connections_active/ && !/admin/ {sum += $2} END {print sum + 0}' <<< "$metrics"
}
# The origin's count of connections closed for reading nothing (builds with server.send_timeout).
send_stalls() {
  local metrics
  if [[ -n $ADMIN_URL ]] && metrics=$(curl -sf --max-time 2 "${ADMIN_URL%/}/metrics"); then
    awk '/^vod_origin_send_stalls_total/ {print $2}' <<< "$metrics"
  fi
}
# One timed request: "status seconds-to-first-byte seconds-total" on stdout (curl writes it on
# failures too, with status 000).
probe() {
  "${CURL[@]}" --max-time 10 -o /dev/null -w '%{http_code} %{time_starttransfer} %{time_total}\n' \
    "$BASE_URL$PROBE_PATH" 2> /dev/null || true
}
# "count failed median-ms p95-ms max-ms" over a file of probe lines.
summarize() {
  local count failed
  count=$(wc -l < "$1")
  failed=$(awk '$1 !~ /^2/ {failed++} END {print failed + 0}' "$1")
  awk '$1 ~ /^2/ {print $3 * 1000}' "$1" | sort -n |
    awk -v count="$count" -v failed="$failed" '{ ms[NR] = $1 }
      END {
        if (NR == 0) { printf "%d %d - - -\n", count, failed; exit }
        p95 = int(NR * 0.95 + 0.999); if (p95 > NR) p95 = NR
        printf "%d %d %.0f %.0f %.0f\n", count, failed, ms[int((NR + 1) / 2)], ms[p95], ms[NR]
      }'
}

head=$("${CURL[@]}" --head "$BASE_URL$OBJECT" || true)
status=$(awk 'NR == 1 {print $2}' <<< "$head")
SIZE=$(awk 'tolower($1) == "content-length:" {print $2 + 0}' <<< "$head")
if [[ $status != 200 || -z $SIZE ]]; then
  echo "slow-readers.sh: HEAD $BASE_URL$OBJECT answered '${status:-nothing}':" \
    "is the origin up, the secret right, the object seeded?" >&2
  exit 1
fi
echo "slow readers: $CLIENTS x $READ_RATE/s for ${RUN_SECONDS}s on $BASE_URL$OBJECT ($SIZE bytes)"
echo "probe: $BASE_URL$PROBE_PATH every ${PROBE_INTERVAL}s"
echo "origin RSS before: $(rss); connections: $(connections)"
stalls_before=$(send_stalls)

: > "$WORK/loaded"
for _ in 1 2 3 4 5 6 7 8 9 10; do probe >> "$WORK/baseline"; done

for i in $(seq "$CLIENTS"); do
  "${CURL[@]}" --http1.1 --limit-rate "$READ_RATE" --max-time "$RUN_SECONDS" -o /dev/null \
    -w '%{http_code} %{size_download}' "$BASE_URL$OBJECT" > "$WORK/reader.$i" 2> "$WORK/reader.$i.err" &
  READERS+=($!)
done

peak=0
fewest=
started=$(date +%s)
# Milliseconds: a whole-second clock can read "1 s later" a few milliseconds after the start,
# before the readers have connected.
started_ms=$(date +%s%3N)
next_sample=$started
while (($(date +%s) - started < RUN_SECONDS - 1)); do
  probe >> "$WORK/loaded"
  open=$(connections)
  # The origin's own count: a reader it disconnected may not notice before its time is up (curl
  # can be in a long pause between bursts), but the origin's gauge drops at once.
  if [[ $open != n/a ]] && (($(date +%s%3N) - started_ms >= 1000)); then
    if [[ -z $fewest ]] || ((open < fewest)); then fewest=$open; fi
  fi
  if (($(date +%s) >= next_sample)); then
    current=$(rss)
    if [[ $current != n/a ]] && ((${current% KiB} > peak)); then peak=${current% KiB}; fi
    echo "t=$(($(date +%s) - started))s RSS $current, connections $open"
    next_sample=$((next_sample + 5))
  fi
  sleep "$PROBE_INTERVAL"
done

failures=0
# A slow reader ends when curl's --max-time is up (exit 28) or when it has the whole object (0),
# and meanwhile gets at least half of what its rate allows; anything else is the origin's doing.
expected=$((RATE_BYTES * RUN_SECONDS / 2)); if ((expected > SIZE)); then expected=$SIZE; fi
cut=0; starved=0; total=0
for i in $(seq "$CLIENTS"); do
  code=0
  wait "${READERS[i - 1]}" || code=$?
  read -r status bytes < "$WORK/reader.$i" || true
  total=$((total + ${bytes:-0}))
  if [[ $status != 200 || ! $code =~ ^(0|28)$ ]]; then
    cut=$((cut + 1))
    echo "reader $i: status ${status:-?}, curl exit $code after ${bytes:-0} bytes:" \
      "$(head -c 200 "$WORK/reader.$i.err")"
  elif ((bytes < expected)); then
    starved=$((starved + 1))
    echo "reader $i: only $bytes bytes in ${RUN_SECONDS}s at $READ_RATE/s (expected at least $expected)"
  fi
done
READERS=()
echo "slow readers: $CLIENTS, cut off $cut, starved $starved, $((total / 1024)) KiB read in all"
if ((cut + starved > 0)); then failures=$((failures + 1)); fi
if [[ -n $fewest ]]; then
  echo "origin connections while reading: at least $fewest"
  if ((fewest < CLIENTS)); then
    echo "FAIL: the origin held fewer connections than there were slow readers: it closed some"
    failures=$((failures + 1))
  fi
fi
stalls_after=$(send_stalls)
# (The counter appears on /metrics at its first increment: absent before means 0.)
if [[ $stalls_after =~ ^[0-9]+$ ]]; then
  echo "origin send stalls (connections closed for reading nothing): $((stalls_after - ${stalls_before:-0}))"
fi

read -r count failed median p95 max <<< "$(summarize "$WORK/baseline")"
echo "probe before: $count requests, $failed failed, median ${median} ms, p95 ${p95} ms, max ${max} ms"
read -r count failed median p95 max <<< "$(summarize "$WORK/loaded")"
echo "probe during: $count requests, $failed failed, median ${median} ms, p95 ${p95} ms, max ${max} ms"
if ((failed > 0)) || [[ $p95 == - ]] || ((p95 >= PROBE_P95_MS)); then
  echo "FAIL: the legitimate client suffered (p95 limit ${PROBE_P95_MS} ms, no failures)"
  failures=$((failures + 1))
fi
if [[ -n $PID ]]; then echo "origin RSS peak: ${peak} KiB, after: $(rss)"; fi

if ((failures > 0)); then exit 1; fi
echo "slow readers: ok"
