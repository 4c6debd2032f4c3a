#!/usr/bin/env bash
# Side by side on one machine: vod-origin against nginx, serving the same files over the same
# TLS certificate, from a local folder and through the same S3-compatible server (moto).
# The same clients drive both, in A/B pairs whose order alternates; the table printed at the end
# gives, per measurement, each server's median and the ratio vod-origin / nginx (median of the
# pairs, and min–max). docs/benchmarks.md describes the method and holds the results.
#
#   bench/compare.sh            # 5 pairs, 1 GiB objects, 10 s load runs: about 10 minutes on 2 cores
#   bench/compare.sh --quick    # 1 pair, tiny sizes: checks the script end to end in about a minute
#   bench/compare.sh --pairs 7
#   bench/compare.sh --keep     # keep the scratch folder (logs, configurations) for a post-mortem
#
# Installs what is missing (apt-get: nginx, wrk, nghttp2-client, curl, python3-venv; pip, into
# target/bench-venv: moto[server], boto3), builds target/release/vod-origin if needed, and
# removes every process and file it made on exit. Run it as root on Debian; nothing else should
# be loading the machine (it prints the load average before and after).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
HERE=$ROOT/bench/compare

QUICK=0
PAIRS=
KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --pairs) PAIRS=$2; shift ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,/^set -E/{/^set -E/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
# Sizes. The S3 object is smaller than the local one because moto reads a whole object into
# memory for every GET, ranged or not: with 1 GiB it would measure moto's copies.
if [ "$QUICK" = 1 ]; then
  PAIRS=${PAIRS:-1} BIG_MIB=64 S3_MIB=16 RUN_SECONDS=2 IDLE_CONNS=200 TTFB_REQUESTS=10
else
  PAIRS=${PAIRS:-5} BIG_MIB=1024 S3_MIB=256 RUN_SECONDS=10 IDLE_CONNS=2000 TTFB_REQUESTS=50
fi
MIB=1048576
NPROC=$(nproc)
CLK_TCK=$(getconf CLK_TCK)
BUCKET=videos
VENV=${BENCH_VENV:-$ROOT/target/bench-venv}
say() { echo "[$(date +%T)] $*" >&2; }
die() {
  say "FAILED: $*"
  [ -n "${WORK:-}" ] && for f in "$WORK"/*.log "$WORK"/nginx*/error.log; do
    [ -s "$f" ] && { echo "--- ${f#"$WORK"/}:"; tail -5 "$f"; } >&2
  done
  exit 1
}

# ---- tools -------------------------------------------------------------------------------
missing=()
command -v nginx > /dev/null || missing+=(nginx)
command -v wrk > /dev/null || missing+=(wrk)
command -v h2load > /dev/null || missing+=(nghttp2-client)
command -v curl > /dev/null || missing+=(curl)
command -v python3 > /dev/null || missing+=(python3)
python3 -c 'import ensurepip' 2> /dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
fi
if [ ! -x "$VENV/bin/moto_server" ]; then
  say "installing moto[server] and boto3 into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'moto[server]' boto3
fi
if command -v cargo > /dev/null; then
  say "cargo build --release (a no-op when target/release is up to date)"
  cargo build --release --bin vod-origin --example s3-dev-server 2>&1 | tail -3 >&2
fi
[ -x target/release/vod-origin ] || die "no target/release/vod-origin and no cargo to build it"
ORIGIN=$ROOT/target/release/vod-origin

# ---- scratch space and cleanup ----------------------------------------------------------
WORK=$(mktemp -d /tmp/vod-compare.XXXXXX)
chmod 755 "$WORK"
PIDS=()
forget() { local keep=() pid; for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done; PIDS=("${keep[@]}"); }
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
  wait 2> /dev/null || true
  if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'die "line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((IDLE_CONNS + 1000)) ] || die "ulimit -n $(ulimit -n) is too low for $IDLE_CONNS connections"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average: $LOAD_BEFORE"

# Free TCP ports on 127.0.0.1, chosen by the kernel.
free_ports() {
  python3 -c 'import socket,sys
s=[socket.socket() for _ in range(int(sys.argv[1]))]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"
}
read -r S3_PORT VOD_LOCAL_PORT VOD_LOCAL_ADMIN VOD_S3_PORT VOD_S3_ADMIN NGINX_LOCAL_PORT NGINX_S3_PORT \
  IDLE_VOD_PORT IDLE_VOD_ADMIN IDLE_NGINX_PORT IDLE_NGINX_S3_PORT <<< "$(free_ports 11)"

# Runs "$@" until it succeeds, for at most $1 seconds.
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" > /dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

# ---- data ----------------------------------------------------------------------------------
say "making test files: big.bin ${BIG_MIB} MiB (local), s3.bin ${S3_MIB} MiB and small.bin 1 MiB (S3)"
mkdir -p "$WORK/media" "$WORK/seed" "$WORK/moto-tmp"
head -c $((BIG_MIB * MIB)) /dev/urandom > "$WORK/media/big.bin"
head -c 1024 /dev/urandom > "$WORK/media/tiny.bin"
head -c $((S3_MIB * MIB)) /dev/urandom > "$WORK/seed/s3.bin"
head -c $MIB /dev/urandom > "$WORK/seed/small.bin"

# ---- servers ------------------------------------------------------------------------------
say "starting moto_server on 127.0.0.1:$S3_PORT and seeding bucket $BUCKET through the S3 API"
TMPDIR=$WORK/moto-tmp "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" > /dev/null 2> "$WORK/moto.log" &
PIDS+=($!)
declare -A SERVERS=([$!]=moto_server)
wait_until 60 curl -sf "http://127.0.0.1:$S3_PORT/" || die "moto_server did not start: $(tail -3 "$WORK/moto.log")"
"$VENV/bin/python" "$HERE/seed.py" --endpoint "http://127.0.0.1:$S3_PORT" --bucket $BUCKET --folder "$WORK/seed" >&2

CERTS=$WORK/certs
CA=$CERTS/dev-ca.pem
# start_origin NAME PORT ADMIN_PORT [VAR=value...] [-- vod-origin arguments]: sets STARTED to the pid.
start_origin() {
  local name=$1 port=$2 admin=$3; shift 3
  local vars=() args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
  [ $# -gt 0 ] && shift && args=("$@")
  env -u RUST_LOG VOD_ORIGIN_SERVER__LISTEN="127.0.0.1:$port" VOD_ORIGIN_PLAIN_HTTP__MODE=off \
    VOD_ORIGIN_ADMIN__LISTEN="127.0.0.1:$admin" VOD_ORIGIN_TLS__DEV_CERT_DIR="$CERTS" \
    VOD_ORIGIN_SERVER__DRAIN_TIMEOUT=2s VOD_ORIGIN_LOG__LEVEL=warn "${vars[@]}" "$ORIGIN" "${args[@]}" \
    > /dev/null 2> "$WORK/$name.log" &
  STARTED=$!
  PIDS+=("$STARTED")
}
origin_ready() { curl -sf --cacert "$CA" "https://localhost:$1/readyz"; }

# The first start makes the development CA and certificate that nginx uses as well.
say "starting vod-origin (local folder) on :$VOD_LOCAL_PORT and (S3) on :$VOD_S3_PORT"
start_origin vod-local "$VOD_LOCAL_PORT" "$VOD_LOCAL_ADMIN" VOD_ORIGIN_STORAGE__ROOT="$WORK/media"
VOD_LOCAL=$STARTED
SERVERS[$VOD_LOCAL]="vod-origin (local)"
wait_until 30 origin_ready "$VOD_LOCAL_PORT" || die "vod-origin (local) did not start: $(tail -3 "$WORK/vod-local.log")"
start_origin vod-s3 "$VOD_S3_PORT" "$VOD_S3_ADMIN" \
  VOD_ORIGIN_STORAGE__S3__ENDPOINT="http://127.0.0.1:$S3_PORT" VOD_ORIGIN_STORAGE__S3__BUCKET=$BUCKET \
  AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench -- --config "$ROOT/config/minio.toml"
VOD_S3=$STARTED
SERVERS[$VOD_S3]="vod-origin (S3)"
wait_until 30 origin_ready "$VOD_S3_PORT" || die "vod-origin (S3) did not start: $(tail -3 "$WORK/vod-s3.log")"

# start_nginx DIR LOCAL_PORT S3_PROXY_PORT: renders the configuration, checks it, starts the
# master (in the foreground: daemon off) and sets STARTED to its pid.
start_nginx() {
  local dir=$1
  mkdir -p "$dir/tmp"
  sed -e "s|@DIR@|$dir|g; s|@WORKERS@|$NPROC|; s|@CERTS@|$CERTS|g; s|@MEDIA@|$WORK/media|" \
    -e "s|@LOCAL_PORT@|$2|; s|@S3_PROXY_PORT@|$3|; s|@S3_PORT@|$S3_PORT|g; s|@BUCKET@|$BUCKET|; s|@NOFILE@|$(ulimit -n)|" \
    "$HERE/nginx.conf.in" > "$dir/nginx.conf"
  nginx -t -q -e "$dir/error.log" -c "$dir/nginx.conf" >&2 || die "nginx -t failed for $dir/nginx.conf"
  nginx -e "$dir/error.log" -c "$dir/nginx.conf" > /dev/null 2>> "$dir/error.log" &
  STARTED=$!
  PIDS+=("$STARTED")
}
nginx_ready() { curl -sf --cacert "$CA" -o /dev/null "https://localhost:$1/tiny.bin"; }
say "starting nginx ($NPROC workers) on :$NGINX_LOCAL_PORT (local folder) and :$NGINX_S3_PORT (S3)"
start_nginx "$WORK/nginx" "$NGINX_LOCAL_PORT" "$NGINX_S3_PORT"
NGINX=$STARTED
SERVERS[$NGINX]="nginx (master)"
wait_until 30 nginx_ready "$NGINX_LOCAL_PORT" || die "nginx did not start: $(tail -3 "$WORK/nginx/error.log")"

# ---- what each side is -------------------------------------------------------------------
# Fails the run, with the exit status, when a long-running server has gone (a zombie counts:
# it is our child and has not been waited for).
check_servers() {
  local pid state status
  for pid in "${!SERVERS[@]}"; do
    state=$(awk '{print $3}' "/proc/$pid/stat" 2> /dev/null || true)
    if [ -z "$state" ] || [ "$state" = Z ]; then
      status=0
      wait "$pid" || status=$?
      die "${SERVERS[$pid]} (pid $pid) exited with status $status"
    fi
  done
}
# url SIDE KIND: the base URL of vod-origin's or nginx's local or S3 server.
url() {
  case $1/$2 in
    vod/local) echo "https://localhost:$VOD_LOCAL_PORT" ;;
    vod/s3) echo "https://localhost:$VOD_S3_PORT" ;;
    nginx/local) echo "https://localhost:$NGINX_LOCAL_PORT" ;;
    nginx/s3) echo "https://localhost:$NGINX_S3_PORT" ;;
  esac
}
# The processes whose CPU and memory count: nginx's master and workers, vod-origin's one process.
server_pids() {
  case $1/${2:-} in
    vod/local) echo "$VOD_LOCAL" ;;
    vod/s3) echo "$VOD_S3" ;;
    nginx/*) echo "$NGINX" $(pgrep -P "$NGINX") ;;
  esac
}
# cpu_ticks SIDE KIND: CPU ticks of that server's processes, all threads: "user system".
cpu_ticks() {
  local user=0 system=0 pid u s pids
  read -ra pids <<< "$(server_pids "$1" "$2")"
  for pid in "${pids[@]}"; do
    read -r u s <<< "$(awk '{print $14, $15}' "/proc/$pid/stat")"
    user=$((user + u)) system=$((system + s))
  done
  echo "$user $system"
}
# cpu_samples PAIR METRIC SIDE BYTES "USER0 SYSTEM0" "USER1 SYSTEM1": CPU seconds per GB, and
# the share of it spent in the kernel.
cpu_samples() {
  local u0 s0 u1 s1
  read -r u0 s0 <<< "$5"
  read -r u1 s1 <<< "$6"
  sample "$1" "$2" "$3" "$(calc "($u1 + $s1 - $u0 - $s0) / $CLK_TCK / ($4 / 1e9)")"
  sample "$1" "$2_kernel" "$3" "$(calc "100 * ($s1 - $s0) / max(1, $u1 + $s1 - $u0 - $s0)")"
}
# Proportional set size in KiB (shared pages divided among the processes that map them).
pss_kib() {
  local total=0 pid
  for pid in "$@"; do total=$((total + $(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup"))); done
  echo $total
}
SAMPLES=$WORK/samples.tsv
: > "$SAMPLES"
sample() { printf '%s\t%s\t%s\t%s\n' "$@" >> "$SAMPLES"; }
calc() { python3 -c "print(round($1, 4))"; }

# ---- checks before measuring -------------------------------------------------------------
say "checking that all four servers answer ranges byte-exactly over TLS 1.3"
check_range() {
  local got
  got=$(curl -s --cacert "$CA" -H "Range: bytes=$MIB-$((2 * MIB - 1))" -o "$WORK/check.bin" \
    -w '%{http_code} %{size_download}' "$1")
  [ "$got" = "206 $MIB" ] || die "$1: expected 206 with $MIB bytes, got $got"
  cmp -s "$WORK/check.bin" <(tail -c +$((MIB + 1)) "$2" | head -c $MIB) || die "$1: wrong bytes"
}
for side in vod nginx; do
  check_range "$(url $side local)/big.bin" "$WORK/media/big.bin"
  check_range "$(url $side s3)/s3.bin" "$WORK/seed/s3.bin"
done
tls_of() { openssl s_client -connect "127.0.0.1:$1" -servername localhost -brief < /dev/null 2>&1 | grep -E 'Protocol version|Ciphersuite' | awk -F': ' '{print $2}' | paste -sd' '; }
TLS_VOD=$(tls_of "$VOD_LOCAL_PORT")
TLS_NGINX=$(tls_of "$NGINX_LOCAL_PORT")
if [ -e /proc/net/tls_stat ]; then
  KTLS="the kernel has TLS (tls_stat: $(awk '/TlsCurrTxSw|TlsCurrTxDevice/ {printf "%s ", $0}' /proc/net/tls_stat))"
else
  KTLS="no kernel TLS (no /proc/net/tls_stat: the tls module is not loaded)"
fi
say "TLS: vod-origin $TLS_VOD; nginx $TLS_NGINX; $KTLS"

# ---- measurements ------------------------------------------------------------------------
# bulk PAIR SIDE KIND PROTO PATH BYTES: one whole-object GET with curl; MB/s, and CPU s/GB
# for HTTP/1.1.
bulk() {
  local pair=$1 side=$2 kind=$3 proto=$4 path=$5 bytes=$6 before after out
  before=$(cpu_ticks "$side" "$kind")
  out=$(curl -s --cacert "$CA" "--$proto" -o /dev/null -w '%{http_code} %{size_download} %{speed_download} %{http_version}' \
    "$(url "$side" "$kind")$path")
  after=$(cpu_ticks "$side" "$kind")
  read -r code size speed version <<< "$out"
  [ "$code $size" = "200 $bytes" ] || die "bulk $side $kind $proto: got $out"
  local tag=h1 expected=1.1
  [ "$proto" = http2 ] && tag=h2 expected=2
  [ "$version" = "$expected" ] || die "bulk $side: asked $proto, got HTTP/$version"
  sample "$pair" "bulk_${kind}_$tag" "$side" "$(calc "$speed / 1e6")"
  if [ "$proto" = http1.1 ]; then cpu_samples "$pair" "cpu_bulk_$kind" "$side" "$size" "$before" "$after"; fi
}

# ranges PAIR SIDE CONNECTIONS: wrk, 1 MiB ranges at random offsets of big.bin.
ranges() {
  local pair=$1 side=$2 conns=$3 before after line
  before=$(cpu_ticks "$side" local)
  line=$(OBJECT_MIB=$BIG_MIB wrk -t"$NPROC" -c"$conns" -d"${RUN_SECONDS}s" -s "$HERE/ranges.lua" \
    "$(url "$side" local)/big.bin" | grep '^RESULT') || die "wrk against $side ($conns connections) failed"
  after=$(cpu_ticks "$side" local)
  local requests duration_us bytes p50_us p99_us errors
  eval "${line#RESULT }"
  [ "$errors" = 0 ] || die "wrk against $side ($conns connections): $errors errors"
  [ "$requests" -gt 0 ] || die "wrk against $side: no request completed"
  sample "$pair" "ranges${conns}_rps" "$side" "$(calc "$requests / ($duration_us / 1e6)")"
  sample "$pair" "ranges${conns}_p50" "$side" "$(calc "$p50_us / 1000")"
  sample "$pair" "ranges${conns}_p99" "$side" "$(calc "$p99_us / 1000")"
  if [ "$conns" = 64 ]; then cpu_samples "$pair" cpu_ranges64 "$side" "$bytes" "$before" "$after"; fi
}

# h2ranges PAIR SIDE: h2load, one fixed 1 MiB range, 16 connections x 4 streams.
h2ranges() {
  local pair=$1 side=$2 out rps
  out=$(h2load -c 16 -m 4 -t "$NPROC" -D "$RUN_SECONDS" --warm-up-time 1 -H "Range: bytes=$MIB-$((2 * MIB - 1))" \
    "$(url "$side" local)/big.bin")
  grep -q 'requests: .* 0 failed, 0 errored' <<< "$out" || die "h2load against $side: $(grep requests: <<< "$out")"
  grep -q 'status codes: 0 2xx' <<< "$out" && die "h2load against $side: no 2xx"
  rps=$(awk '/^finished in/ {print $4}' <<< "$out")
  sample "$pair" ranges_h2_rps "$side" "$rps"
}

# ttfb PAIR SIDE: median time to the first byte of a 1 KiB range of small.bin through the S3
# path, over one kept-alive connection (the first request, which pays the handshake, is dropped).
ttfb() {
  local pair=$1 side=$2 base args=()
  if [ "$side" = direct ]; then base="http://127.0.0.1:$S3_PORT/$BUCKET"; else base=$(url "$side" s3); fi
  for _ in $(seq $((TTFB_REQUESTS + 1))); do args+=(-o /dev/null "$base/small.bin"); done
  curl -s --http1.1 --cacert "$CA" -H 'Range: bytes=0-1023' -w '%{http_code} %{time_starttransfer}\n' "${args[@]}" \
    > "$WORK/ttfb.txt"
  [ "$(grep -vc '^206 ' "$WORK/ttfb.txt")" = 0 ] || die "ttfb $side: not all 206: $(sort "$WORK/ttfb.txt" | uniq -c | head -3)"
  sample "$pair" ttfb_s3 "$side" "$(tail -n +2 "$WORK/ttfb.txt" | python3 -c 'import sys,statistics
print(round(statistics.median(float(l.split()[1]) for l in sys.stdin) * 1000, 3))')"
}

# idle PAIR SIDE: a fresh server (local folder), IDLE_CONNS TLS connections that each complete
# a GET and stay open; (Pss after - Pss before) / connections.
idle() {
  local pair=$1 side=$2 pid port pids=() before after client alive
  if [ "$side" = vod ]; then
    port=$IDLE_VOD_PORT
    start_origin vod-idle "$port" "$IDLE_VOD_ADMIN" VOD_ORIGIN_STORAGE__ROOT="$WORK/media"
    pid=$STARTED
    wait_until 30 origin_ready "$port" || die "vod-origin (idle) did not start"
  else
    port=$IDLE_NGINX_PORT
    start_nginx "$WORK/nginx-idle" "$port" "$IDLE_NGINX_S3_PORT"
    pid=$STARTED
    wait_until 30 nginx_ready "$port" || die "nginx (idle) did not start"
  fi
  pids=("$pid")
  if [ "$side" = nginx ]; then mapfile -t -O 1 pids < <(pgrep -P "$pid"); fi
  for _ in 1 2 3 4 5; do curl -s --cacert "$CA" -o /dev/null "https://localhost:$port/tiny.bin"; done
  sleep 1
  before=$(pss_kib "${pids[@]}")
  rm -f "$WORK/idle.in" && mkfifo "$WORK/idle.in"
  "$VENV/bin/python" "$HERE/idle.py" --port "$port" --path /tiny.bin --count "$IDLE_CONNS" --ca "$CA" \
    < "$WORK/idle.in" > "$WORK/idle.out" 2> "$WORK/idle.err" &
  client=$!
  PIDS+=("$client")
  exec 3> "$WORK/idle.in"
  wait_until 120 grep -q '^ready' "$WORK/idle.out" || die "idle client: $(cat "$WORK/idle.err")"
  sleep 2
  after=$(pss_kib "${pids[@]}")
  echo go >&3
  exec 3>&-
  wait "$client" || die "idle client: $(cat "$WORK/idle.err")"
  forget "$client"
  alive=$(awk '/^alive/ {print $2}' "$WORK/idle.out")
  [ "$alive" = "$IDLE_CONNS" ] || say "warning: $side kept only $alive of $IDLE_CONNS idle connections open"
  kill "$pid"
  wait "$pid" 2> /dev/null || true
  forget "$pid"
  sample "$pair" idle_pss "$side" "$(calc "($after - $before) / $IDLE_CONNS")"
}

say "warming up: page cache, connection pools, one run of each load"
cat "$WORK/media/big.bin" > /dev/null
for side in vod nginx; do
  bulk 0 "$side" local http1.1 /big.bin $((BIG_MIB * MIB))
  bulk 0 "$side" s3 http1.1 /s3.bin $((S3_MIB * MIB))
  RUN_SECONDS=2 ranges 0 "$side" 16
done
: > "$SAMPLES"

START=$SECONDS
for pair in $(seq "$PAIRS"); do
  if [ $((pair % 2)) = 1 ]; then order="vod nginx"; else order="nginx vod"; fi
  say "pair $pair of $PAIRS ($order)"
  check_servers
  for side in $order; do bulk "$pair" "$side" local http1.1 /big.bin $((BIG_MIB * MIB)); done
  for side in $order; do bulk "$pair" "$side" local http2 /big.bin $((BIG_MIB * MIB)); done
  for side in $order; do bulk "$pair" "$side" s3 http1.1 /s3.bin $((S3_MIB * MIB)); done
  check_servers
  for side in $order; do ranges "$pair" "$side" 16; done
  for side in $order; do ranges "$pair" "$side" 64; done
  for side in $order; do h2ranges "$pair" "$side"; done
  check_servers
  for side in $order direct; do ttfb "$pair" "$side"; done
  for side in $order; do idle "$pair" "$side"; done
done
check_servers
say "measured in $((SECONDS - START)) s"

# ---- report ------------------------------------------------------------------------------
# The description of the machine is best effort: a tool that prints its version oddly (wrk -v
# exits 1) must not fail the run.
trap - ERR
set +e +o pipefail
rustc_of() { readelf -p .comment "$ORIGIN" 2> /dev/null | grep -o 'rustc version [^)]*)' | head -1; }
crate_version() { awk -v n="$1" '$0 == "name = \"" n "\"" {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock; }
echo
echo "## Results: bench/compare.sh$([ "$QUICK" = 1 ] && echo ' --quick') ($PAIRS pairs), $(date -u +%Y-%m-%d)"
echo
python3 "$HERE/report.py" "$SAMPLES" --big-mib "$BIG_MIB" --s3-mib "$S3_MIB" --idle "$IDLE_CONNS"
echo
echo "Machine and versions:"
echo
echo "- $NPROC cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM; kernel $(uname -r); $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "- load average before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- vod-origin $(git rev-parse --short HEAD 2> /dev/null)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2> /dev/null || echo ' (with uncommitted changes)'), release build, $(rustc_of || echo 'rustc unknown'); rustls $(crate_version rustls), aws-lc-rs $(crate_version aws-lc-rs), hyper $(crate_version hyper), tokio $(crate_version tokio)"
echo "- $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(nginx -V 2>&1 | grep -o 'built with OpenSSL [^ ]*') (running with $(openssl version | cut -d' ' -f1-2)); $NPROC workers, sendfile on"
echo "- TLS negotiated: vod-origin $TLS_VOD; nginx $TLS_NGINX; $KTLS"
echo "- clients: $(curl --version | head -1 | cut -d' ' -f1-2), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(h2load --version | head -1), Python $(python3 -c 'import platform; print(platform.python_version())') (idle connections); k6 N/A"
echo "- S3-compatible server: moto $("$VENV/bin/python" -c 'import moto; print(moto.__version__)') (moto_server, threaded Werkzeug; signatures not checked)"
echo "- clients and servers share the same $NPROC cores; the S3 server too"
