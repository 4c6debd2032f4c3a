#!/usr/bin/env bash
# The production image, run as ECS runs it: builds the Dockerfile's runtime stage around a
# release binary built on the host, on a Debian 12 base bootstrapped here (no image registry
# needed), then starts it with a read-only root, every capability dropped and uid:gid
# 10001:10001, waits for its HEALTHCHECK, sends real HTTPS requests with and without the CDN
# secret, stops it with a response in flight, and checks that the drain let it finish and the
# process exited 0. docs/containers.md shows a run.
#
#   bash deploy/container-check.sh [BINARY]          (default: target/release/vod-origin)
#
# Environment: CHECK_BASE=debian:bookworm-slim uses that image instead of bootstrapping one;
# DEBIAN_MIRROR overrides the mirror read from apt's sources. Skips (exit 0) when `docker info`
# fails, as on CI machines without a Docker engine. Images are kept for the next run (the base
# takes a minute to bootstrap); containers and temporary files are removed on any exit.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=${1:-target/release/vod-origin}
base=${CHECK_BASE:-vod-origin-check-base:bookworm}
image=vod-origin:check
name=vod-origin-check-$$
secret=container-check-secret
work=""
download_pid=""

say() { echo "container-check: $*"; }
ok() { echo "  ok: $*"; }

cleanup() {
  if [ -n "$download_pid" ]; then kill "$download_pid" 2> /dev/null || true; fi
  docker rm -f "$name" > /dev/null 2>&1 || true
  if [ -n "$work" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "  FAILED: $*" >&2
  if docker inspect "$name" > /dev/null 2>&1; then
    echo "--- the container's log:" >&2
    docker logs --tail 50 "$name" >&2 2>&1 || true
  fi
  exit 1
}

if ! docker_error=$(docker info 2>&1 > /dev/null); then
  say "skipped: no Docker engine answers \`docker info\` ($(echo "$docker_error" | tail -n 1))."
  say "Run it where dockerd runs; docs/containers.md shows how and what a run prints."
  exit 0
fi
[ -x "$binary" ] || fail "no binary at $binary: build it with cargo build --release --locked --bin vod-origin"
[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, nsenter)"
for tool in curl strip timeout nsenter; do command -v "$tool" > /dev/null || fail "$tool is needed"; done
work=$(mktemp -d "${TMPDIR:-/tmp}/vod-origin-container-check.XXXXXX")

# The first Debian mirror apt uses here (deb822 or one-line format).
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '$2 !~ /security/ {print $2; exit}')
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '$0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}')
  [ -n "$uri" ] || fail "no Debian mirror in apt's sources: set DEBIAN_MIRROR"
  echo "$uri"
}

# What debian:bookworm-slim does to a minbase root: no documentation, manual pages or
# translations, now or from later installs, and apt keeps no caches or package lists.
slim() {
  local root=$1
  cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" << 'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat > "$root/etc/apt/apt.conf.d/docker-clean" << 'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
EOF
  find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  rm -rf "$root"/usr/share/{man,groff,info,lintian}/* "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/*
}

# A Debian 12 base like debian:bookworm-slim, made once and kept.
make_base() {
  if docker image inspect "$base" > /dev/null 2>&1; then
    ok "base image $base is there (docker rmi it to bootstrap again)"
    return
  fi
  [ "$base" = vod-origin-check-base:bookworm ] || fail "$base is not on this machine"
  [ "$(id -u)" = 0 ] || fail "debootstrap needs root"
  if ! command -v debootstrap > /dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap > /dev/null
  fi
  local mirror started
  mirror=$(debian_mirror)
  started=$SECONDS
  say "bootstrapping Debian 12 (minbase) from $mirror"
  timeout 900 debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap"; }
  slim "$work/rootfs"
  tar -C "$work/rootfs" -c . | docker import - "$base" > /dev/null
  rm -rf "$work/rootfs"
  ok "base image $base bootstrapped and imported in $((SECONDS - started)) s"
}

# The Dockerfile's runtime stage as written, with the host's binary in place of the build stage's.
build_image() {
  local context="$work/context" copies
  mkdir -p "$context"
  { echo "ARG RUNTIME_IMAGE"; sed -n '/^FROM .* AS runtime$/,/^FROM /p' Dockerfile | sed '$d'; } > "$context/Dockerfile"
  copies=$(grep -c '^COPY --from=build /out/vod-origin ' "$context/Dockerfile" || true)
  [ "$copies" = 1 ] || fail "the Dockerfile's runtime stage should copy /out/vod-origin from the build stage once"
  sed -i 's|^COPY --from=build /out/vod-origin |COPY vod-origin |' "$context/Dockerfile"
  cp -r config "$context/config"
  strip --strip-all -o "$context/vod-origin" "$binary"
  ok "binary $binary stripped: $(du -m "$binary" | cut -f1) MB -> $(du -m "$context/vod-origin" | cut -f1) MB"
  local started=$SECONDS
  timeout 900 docker build --quiet --build-arg RUNTIME_IMAGE="$base" -t "$image" "$context" > "$work/build.log" 2>&1 \
    || { tail -n 30 "$work/build.log" >&2; fail "docker build of the runtime stage"; }
  local size user media
  size=$(docker image inspect -f '{{.Size}}' "$image")
  user=$(docker image inspect -f '{{.Config.User}}' "$image")
  ok "runtime stage built as $image in $((SECONDS - started)) s: $((size / 1000000)) MB, USER $user"
  [ "$user" = 10001:10001 ] || fail "the image's USER is $user, not 10001:10001"
  media=$(timeout 60 docker run --rm --entrypoint /bin/ls "$image" -A /var/lib/vod-origin/media)
  [ -z "$media" ] || fail "the production image carries media: $media"
  ok "no media in the image (/var/lib/vod-origin/media is empty)"
}

# Waits up to $2 seconds for the container's health status to become $1.
wait_health() {
  local want=$1 deadline=$((SECONDS + $2)) status
  while [ $SECONDS -lt $deadline ]; do
    status=$(docker inspect -f '{{.State.Status}} {{.State.Health.Status}}' "$name")
    [ "$status" = "running $want" ] && return 0
    [ "${status%% *}" = running ] || fail "the container is ${status%% *} before it was $want"
    sleep 1
  done
  fail "not $want within $2 s (status: $status)"
}

# HTTPS through the published port on loopback, verified against the development CA.
request() {
  curl --silent --show-error --max-time 10 --cacert "$work/dev-ca.pem" \
    --resolve "localhost:$https_port:127.0.0.1" -o /dev/null -w '%{http_code}' "$@"
}

expect() {
  local want=$1 what=$2 got
  shift 2
  got=$(request "$@") || fail "$what: curl failed"
  [ "$got" = "$want" ] || fail "$what: $got, expected $want"
  ok "$what: $got"
}

# The sample media, and a 64 MiB file to have a download in flight when the container stops.
make_media() {
  mkdir -p "$work/media"
  cp -r media/sample "$work/media/sample"
  truncate -s 64M "$work/media/large.bin"
  chmod -R a+rX "$work/media"
}

run_container() {
  # ECS: readonlyRootFilesystem, linuxParameters.capabilities.drop ALL, user "10001:10001".
  # The development certificate needs a writable certs/: a tmpfs owned by the origin. Production
  # mounts real certificates instead (tls.cert_chain, tls.private_key).
  docker run --detach --name "$name" \
    --read-only --cap-drop ALL --user 10001:10001 \
    --tmpfs /var/lib/vod-origin/certs:rw,noexec,nosuid,size=1m,uid=10001,gid=10001,mode=0700 \
    --volume "$work/media:/var/lib/vod-origin/media:ro" \
    --env VOD_ORIGIN_ACCESS__REQUIRED=true --env "VOD_ORIGIN_ACCESS__SECRETS=[\"$secret\"]" \
    --publish 127.0.0.1::8443 \
    "$image" > /dev/null
  local started=$SECONDS
  wait_health healthy 60
  ok "HEALTHCHECK (vod-origin probe) healthy $((SECONDS - started)) s after start"
  https_port=$(docker port "$name" 8443/tcp | head -n 1)
  https_port=${https_port##*:}
  local proc
  proc=$(docker exec "$name" cat /proc/1/status)
  echo "$proc" | grep -Eq '^Uid:\s+10001\s' || fail "PID 1 does not run as uid 10001"
  echo "$proc" | grep -Eq '^Gid:\s+10001\s' || fail "PID 1 does not run as gid 10001"
  echo "$proc" | grep -Eq '^CapEff:\s+0+$' || fail "PID 1 has capabilities: $(echo "$proc" | grep CapEff)"
  ok "PID 1 runs as uid 10001, gid 10001, with no effective capabilities"
  if docker exec "$name" touch /var/lib/vod-origin/x 2> "$work/touch.err"; then fail "the root file system is writable"; fi
  ok "root file system read-only ($(tr -d '\n' < "$work/touch.err" | sed 's/.*: //'))"
  docker exec "$name" cat /var/lib/vod-origin/certs/dev-ca.pem > "$work/dev-ca.pem"
}

check_requests() {
  local secret_header="X-Origin-Verify: $secret"
  expect 200 "GET /sample/hls/index.m3u8 with the secret" -H "$secret_header" "https://localhost:$https_port/sample/hls/index.m3u8"
  expect 206 "GET /sample/sample.mp4 bytes=0-1023 with the secret" -H "$secret_header" -r 0-1023 "https://localhost:$https_port/sample/sample.mp4"
  expect 403 "GET /sample/sample.mp4 without the secret" "https://localhost:$https_port/sample/sample.mp4"
  expect 403 "GET /sample/sample.mp4 with a wrong secret" -H "X-Origin-Verify: wrong" "https://localhost:$https_port/sample/sample.mp4"
}

# docker stop with a slow download in flight: the drain must let it finish whole, then exit 0.
# The file is large enough that the origin is still sending when the stop comes (the socket
# buffers and curl's HTTP/2 window hold tens of MB, not 64). curl runs inside the container's
# network namespace, on its loopback: through the published port, docker-proxy would hold the
# tail of the body and be ended with the container before curl had read it.
check_stop() {
  local size=$((64 * 1024 * 1024)) pid
  pid=$(docker inspect -f '{{.State.Pid}}' "$name")
  nsenter --target "$pid" --net \
    curl --silent --show-error --max-time 60 --limit-rate 8M --cacert "$work/dev-ca.pem" \
    --resolve localhost:8443:127.0.0.1 -H "X-Origin-Verify: $secret" \
    -o /dev/null -w '%{http_code} %{size_download}' https://localhost:8443/large.bin > "$work/download" &
  download_pid=$!
  sleep 1 # the download is under way (it takes about 8 s at 8 MiB/s)
  local started=$SECONDS
  # ECS sends SIGTERM, then SIGKILL after stopTimeout (30 s); the drain deadline is 25 s.
  timeout 60 docker stop --time 30 "$name" > /dev/null || fail "docker stop"
  ok "docker stop returned after $((SECONDS - started)) s"
  wait "$download_pid" || true
  download_pid=""
  local download
  download=$(cat "$work/download")
  [ "$download" = "200 $size" ] || fail "the download in flight got '$download', expected '200 $size'"
  ok "the download in flight when the stop came completed: 200, all $size bytes"
  local state
  state=$(docker inspect -f '{{.State.ExitCode}} {{.State.OOMKilled}}' "$name")
  [ "$state" = "0 false" ] || fail "exit code and OOM-killed: $state, expected 0 false"
  ok "State.ExitCode 0"
  docker logs "$name" > "$work/log" 2>&1
  grep -q 'shutdown requested' "$work/log" || fail "no 'shutdown requested' in the log"
  grep -q '"connections":1.*draining connections\|draining connections.*"connections":1' "$work/log" \
    || fail "no 'draining connections' with the one download in the log"
  if grep -q 'drain deadline passed' "$work/log"; then fail "the drain deadline passed"; fi
  grep -q '"stopped"' "$work/log" || fail "no 'stopped' in the log"
  # In this order: the download's access log line is written when its last byte is.
  grep -o 'shutdown requested\|draining connections\|"path":"/large.bin"\|"stopped"' "$work/log" | tr '\n' ' ' \
    | grep -q '^shutdown requested draining connections "path":"/large.bin" "stopped" $' \
    || fail "the log does not read: shutdown requested, draining connections, the download, stopped"
  grep '"path":"/large.bin"' "$work/log" | grep '"status":200' | grep -q "\"bytes\":$size,\"complete\":true" \
    || fail "the download's access log line is not a complete 200 of $size bytes"
  ok "log: shutdown requested -> draining connections (1) -> /large.bin 200 complete -> stopped"
}

say "image $image from the Dockerfile's runtime stage, binary $binary, base $base"
make_base
build_image
say "running it as ECS would: --read-only --cap-drop ALL --user 10001:10001"
make_media
run_container
check_requests
check_stop
say "passed"
