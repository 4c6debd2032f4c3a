#!/usr/bin/env bash
# vod-origin.service run by a real systemd, in a container: installs the binary, the system user
# (vod-origin.sysusers), the unit and a configuration listening on 443 with a local folder, then
# checks what the runbook promises of it: the service runs as its own user with
# CAP_NET_BIND_SERVICE as its only capability, no new privileges and a system call filter; port
# 443 answers 200 with either accepted secret from the environment file and 403 without;
# `systemctl reload` makes it read a replaced certificate (SIGHUP); `systemctl stop` during a slow
# download lets the download finish whole and the process exit 0.
#
#   bash deploy/systemd/run-check.sh [BINARY]     (default: VOD_ORIGIN_BIN, target/release, target/debug)
#
# Needs a Docker engine, and a Debian 12 base image: CHECK_BASE, default
# vod-origin-check-base:bookworm (the one deploy/container-check.sh bootstraps). systemd, procps
# (/bin/kill, for ExecReload), curl and openssl are installed on it with apt, once; the image is
# kept. Skips (exit 0), saying why, without either. Not part of deploy/check.sh: it needs Docker
# and takes about half a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."

base=${CHECK_BASE:-vod-origin-check-base:bookworm}
image=vod-origin-unit-check:systemd
name=vod-origin-unit-check-$$
binary=${1:-${VOD_ORIGIN_BIN:-}}
if [[ -z "$binary" ]]; then
  for candidate in target/release/vod-origin target/debug/vod-origin; do
    if [[ -x "$candidate" ]]; then binary=$candidate && break; fi
  done
fi

say() { echo "unit-check: $*"; }
ok() { echo "  ok: $*"; }
fail() {
  echo "  FAILED: $*" >&2
  docker exec "$name" journalctl -u vod-origin --no-pager -n 30 >&2 2>/dev/null || true
  exit 1
}
work=""
cleanup() {
  docker rm -f "$name" >/dev/null 2>&1 || true
  [[ -n "$work" ]] && rm -rf "$work"
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
  say "skipped: no Docker engine answers \`docker info\`"; exit 0
fi
if ! docker image inspect "$base" >/dev/null 2>&1; then
  say "skipped: no base image $base (run deploy/container-check.sh, or set CHECK_BASE)"; exit 0
fi
[[ -n "$binary" && -x "$binary" ]] || fail "no vod-origin binary: pass one, set VOD_ORIGIN_BIN, or cargo build"

if ! docker image inspect "$image" >/dev/null 2>&1; then
  say "building $image on $base (systemd, procps, curl, openssl)"
  printf '%s\n' "FROM $base" \
    "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd systemd-sysv procps curl openssl ca-certificates >/dev/null && rm -rf /var/lib/apt/lists/*" |
    docker build -q -t "$image" - >"${TMPDIR:-/tmp}/$name.build.log" 2>&1 ||
    { cat "${TMPDIR:-/tmp}/$name.build.log" >&2; fail "building $image"; }
  rm -f "${TMPDIR:-/tmp}/$name.build.log"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vod-origin-unit-check.XXXXXX")
cp "$binary" "$work/vod-origin"
cp deploy/systemd/vod-origin.service deploy/systemd/vod-origin.sysusers "$work/"
mkdir -p "$work/media/sample" && head -c 2097152 /dev/urandom >"$work/media/sample/clip.bin"
cat >"$work/production.toml" <<'EOF'
[server]
listen = "0.0.0.0:443"
public_host = "origin.test"
[tls]
cert_chain = "/etc/vod-origin/tls/fullchain.pem"
private_key = "/etc/vod-origin/tls/privkey.pem"
[plain_http]
mode = "off"
[access]
required = true
[storage]
backend = "local"
root = "/srv/media"
[log]
format = "json"
[admin]
listen = "127.0.0.1:9090"
EOF

# systemd as PID 1 needs its cgroup tree and the right to make the sandbox's mount namespaces.
# Docker lets every user bind ports below 1024 in a container; the sysctl puts the host's rule
# back, so that 443 answering proves CAP_NET_BIND_SERVICE works.
cgroup=(-v /sys/fs/cgroup:/sys/fs/cgroup:ro)
[[ "$(stat -fc %T /sys/fs/cgroup)" == cgroup2fs ]] && cgroup=(--cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw)
docker run -d --name "$name" --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
  --security-opt apparmor=unconfined --sysctl net.ipv4.ip_unprivileged_port_start=1024 \
  "${cgroup[@]}" --tmpfs /run --tmpfs /run/lock \
  -v "$work:/host:ro" "$image" /lib/systemd/systemd >/dev/null
for _ in $(seq 50); do
  state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
  [[ "$state" == running || "$state" == degraded ]] && break
  sleep 0.2
done
say "systemd $state in $name"

# As the runbook's "EC2 instead of Fargate" installs it.
docker exec -i "$name" bash -eu <<'EOF' || fail "installing the unit"
install -m 0755 /host/vod-origin /usr/bin/vod-origin
install -m 0644 /host/vod-origin.sysusers /usr/lib/sysusers.d/vod-origin.conf && systemd-sysusers >/dev/null 2>&1
install -m 0644 /host/vod-origin.service /etc/systemd/system/vod-origin.service
install -d -m 0755 /etc/vod-origin && install -d -m 0750 -g vod-origin /etc/vod-origin/tls
install -m 0644 /host/production.toml /etc/vod-origin/production.toml
mkdir -p /srv && cp -r /host/media /srv/media && chmod -R a+rX /srv/media
cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$1" -subj /CN=origin.test \
    -addext subjectAltName=DNS:origin.test -keyout /tmp/privkey.pem -out /tmp/fullchain.pem 2>/dev/null
  install -m 0644 -g vod-origin /tmp/fullchain.pem /etc/vod-origin/tls/fullchain.pem
  install -m 0640 -g vod-origin /tmp/privkey.pem /etc/vod-origin/tls/privkey.pem
}
declare -f cert >/usr/local/bin/cert.sh
cert 1
umask 077 && printf '%s\n' "VOD_ORIGIN_ACCESS__SECRETS='[\"unit-check-secret-one\", \"unit-check-secret-two\"]'" \
  >/etc/vod-origin/environment
systemctl daemon-reload && systemctl start vod-origin
EOF
ok "installed and started as the runbook does"

in_container() { docker exec "$name" bash -c "$1"; }
curl_origin() {
  in_container "curl -s -o /dev/null -w '%{http_code}' --cacert /etc/vod-origin/tls/fullchain.pem \
    --resolve origin.test:443:127.0.0.1 $1 https://origin.test/sample/clip.bin"
}
for _ in $(seq 50); do
  [[ "$(curl_origin "-H 'X-Origin-Verify: unit-check-secret-one'")" == 200 ]] && break
  sleep 0.2
done

pid=$(in_container "systemctl show -p MainPID --value vod-origin")
status=$(in_container "grep -E '^(Uid|CapEff|CapAmb|CapBnd|NoNewPrivs|Seccomp):' /proc/$pid/status | tr -s '\t' ' '")
uid=$(awk '/^Uid:/ {print $2}' <<<"$status")
[[ "$uid" != 0 && "$(in_container "id -u vod-origin")" == "$uid" ]] || fail "runs as uid $uid, not vod-origin"
[[ "$(awk '/^CapEff:/ {print $2}' <<<"$status")" == 0000000000000400 ]] || fail "capabilities are not CAP_NET_BIND_SERVICE alone: $status"
[[ "$(awk '/^NoNewPrivs:/ {print $2}' <<<"$status")" == 1 && "$(awk '/^Seccomp:/ {print $2}' <<<"$status")" == 2 ]] ||
  fail "no NoNewPrivileges or no system call filter: $status"
ok "runs as vod-origin (uid $uid), capabilities CAP_NET_BIND_SERVICE only, NoNewPrivs, seccomp filter"

[[ "$(curl_origin "-H 'X-Origin-Verify: unit-check-secret-one'")" == 200 ]] || fail "443 with the first secret is not 200"
[[ "$(curl_origin "-H 'X-Origin-Verify: unit-check-secret-two'")" == 200 ]] || fail "443 with the second secret is not 200"
[[ "$(curl_origin "")" == 403 ]] || fail "443 without the secret is not 403"
ok "443: 200 with either secret of the environment file, 403 without"

in_container "source /usr/local/bin/cert.sh && cert 2"
want=$(in_container "openssl x509 -in /etc/vod-origin/tls/fullchain.pem -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f")
in_container "systemctl reload vod-origin" || fail "systemctl reload failed"
for _ in $(seq 20); do
  in_container "journalctl -u vod-origin -o cat --no-pager | grep -q '\"certificate reloaded\".*$want'" && break
  sleep 0.2
done
in_container "journalctl -u vod-origin -o cat --no-pager | grep -q '\"certificate reloaded\".*$want'" ||
  fail "systemctl reload did not load the new certificate ($want)"
ok "systemctl reload: certificate reloaded, sha256 ${want:0:16}…"

in_container "curl -s -o /tmp/slow.bin --limit-rate 512k --cacert /etc/vod-origin/tls/fullchain.pem \
  --resolve origin.test:443:127.0.0.1 -H 'X-Origin-Verify: unit-check-secret-one' \
  https://origin.test/sample/clip.bin </dev/null >/dev/null 2>&1 & echo \$! > /tmp/curl.pid"
sleep 1
in_container "systemctl stop vod-origin"
in_container "while kill -0 \$(cat /tmp/curl.pid) 2>/dev/null; do sleep 0.1; done; cmp -s /tmp/slow.bin /srv/media/sample/clip.bin" ||
  fail "the download in flight at stop did not finish whole"
in_container "journalctl -u vod-origin -o cat --no-pager | grep -q '\"draining connections\",\"connections\":[1-9]'" ||
  fail "the download was not in flight when the drain began"
result=$(in_container "systemctl show -p Result --value vod-origin; systemctl show -p ExecMainStatus --value vod-origin" | paste -sd ' ')
[[ "$result" == "success 0" ]] || fail "stop: $result, not a clean exit 0"
ok "systemctl stop during a download: it finished whole, the drain ended, exit 0"
say "all checks passed"
