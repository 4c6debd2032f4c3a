#!/usr/bin/env bash
# The .deb for EC2 and other systemd hosts, checked as an operator would meet it:
#
#   bash deploy/deb-check.sh [PROFILE]     # PROFILE: release (default) or dev (CI's debug build)
#
#   1. `cargo deb --no-build --strip` packages the binary already built for PROFILE (installs
#      cargo-deb from crates.io first when it is missing: a few minutes, once);
#   2. its contents: the binary, /etc/vod-origin/production.toml as a conffile, the unit and the
#      sysusers file where systemd looks for them, the unit not enabled by the package;
#   3. `dpkg --root` installs it into a throwaway root, then the unit's own command line runs
#      there as the unit's user (`runuser`, with the unit's environment on top of a test
#      configuration): it must serve a file over HTTPS with the secret, refuse one without, and
#      drain and exit 0 on SIGTERM. Running the unit under systemd itself is
#      deploy/systemd/run-check.sh's job (it needs Docker).
#
# Needs root for step 3 (dpkg, runuser); without root it stops after step 2 and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${1:-release}
scratch=$(mktemp -d)
# The unit's user must reach the installed files inside it.
chmod 755 "$scratch"
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

if ! cargo deb --version >/dev/null 2>&1; then
  echo "--- installing cargo-deb"
  cargo install cargo-deb --locked --quiet
fi

echo "--- cargo deb --no-build --strip --profile $profile"
cargo deb --no-build --strip --profile "$profile" --output "$scratch/" >/dev/null
deb=$(ls "$scratch"/*.deb)
echo "$(basename "$deb"): $(du -h "$deb" | cut -f1)"

echo "--- contents"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for path in ./usr/bin/vod-origin ./etc/vod-origin/production.toml \
  ./usr/lib/systemd/system/vod-origin.service ./usr/lib/sysusers.d/vod-origin.conf; do
  grep -qx "$path" <<<"$contents" || { echo "FAIL: $path is not in the package"; exit 1; }
done
dpkg-deb -e "$deb" "$scratch/control"
grep -qx /etc/vod-origin/production.toml "$scratch/control/conffiles" \
  || { echo "FAIL: production.toml is not a conffile"; exit 1; }
grep -q "procps" <(dpkg-deb -f "$deb" Depends) || { echo "FAIL: no procps for the unit's /bin/kill"; exit 1; }
# Enabled again only where the operator had enabled it (an upgrade), and never started.
postinst=$scratch/control/postinst
enables=$(grep -c "deb-systemd-helper enable" "$postinst" || true)
if [[ $enables != "$(grep -c "was-enabled" "$postinst" || true)" ]] || grep -q "deb-systemd-invoke start" "$postinst"; then
  echo "FAIL: the package enables or starts the unit on its own"; exit 1
fi
echo "ok: binary, conffile, unit, sysusers; depends on procps; the unit is neither enabled nor started"

if [[ $(id -u) != 0 ]]; then
  echo "--- not root: skipping the install into a throwaway root"
  exit 0
fi
for tool in systemd-sysusers runuser pgrep curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "--- no $tool on this machine (systemd, util-linux, procps, curl): skipping the install"
    exit 0
  fi
done

echo "--- dpkg --root: install, then the unit's command line as its user"
root=$scratch/root
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info"
touch "$root/var/lib/dpkg/status"
# Dependencies are the host's business here; the root only has to hold the package's files.
# The maintainer scripts run against the throwaway root (DPKG_ROOT): they make the user there.
dpkg --root="$root" --force-depends --force-script-chrootless -i "$deb" >"$scratch/dpkg.log" 2>&1 \
  || { cat "$scratch/dpkg.log"; echo "FAIL: dpkg -i"; exit 1; }
grep -q "^vod-origin:" "$root/etc/passwd" || { echo "FAIL: the package made no user"; exit 1; }
# runuser looks the user up on this host: make the same user here (a no-op when it exists).
systemd-sysusers "$root/usr/lib/sysusers.d/vod-origin.conf"
runuser=$(command -v runuser)
unit=$root/usr/lib/systemd/system/vod-origin.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
unit_user=$(sed -n 's/^User=//p' "$unit")
[[ $exec_start == "/usr/bin/vod-origin serve" && $unit_user == vod-origin ]] \
  || { echo "FAIL: unexpected unit: ExecStart=$exec_start User=$unit_user"; exit 1; }

# A certificate for localhost, made by the binary itself (its development certificate), as the
# real one would sit in /etc/vod-origin/tls/.
certs=$root/etc/vod-origin/tls
mkdir -p "$certs" "$root/srv/media"
echo "a segment" >"$root/srv/media/seg.ts"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
env -i PATH=/usr/bin:/bin VOD_ORIGIN_TLS__DEV_CERT_DIR="$certs" VOD_ORIGIN_STORAGE__ROOT="$root/srv/media" \
  VOD_ORIGIN_SERVER__LISTEN="127.0.0.1:$(free_port)" VOD_ORIGIN_PLAIN_HTTP__MODE=off \
  VOD_ORIGIN_ADMIN__ENABLED=false "$root/usr/bin/vod-origin" serve >"$scratch/certs.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do [[ -s $certs/localhost-key.pem ]] && break; sleep 0.1; done
kill "$server_pid"; wait "$server_pid" || true
server_pid=
chgrp -R vod-origin "$certs" && chmod -R g+rX "$certs"

# The unit's user and command line, with the runbook's environment file on top of the shipped
# configuration: the local folder instead of S3, the certificate above, a secret.
secret="deb-check-secret-0123456789"
port=$(free_port)
env -i PATH=/usr/bin:/bin \
  VOD_ORIGIN_CONFIG="$root/etc/vod-origin/production.toml" \
  VOD_ORIGIN_SERVER__LISTEN="127.0.0.1:$port" \
  VOD_ORIGIN_PLAIN_HTTP__MODE=off VOD_ORIGIN_ADMIN__ENABLED=false \
  VOD_ORIGIN_STORAGE__BACKEND=local VOD_ORIGIN_STORAGE__ROOT="$root/srv/media" \
  VOD_ORIGIN_TLS__CERT_CHAIN="$certs/localhost.pem" VOD_ORIGIN_TLS__PRIVATE_KEY="$certs/localhost-key.pem" \
  VOD_ORIGIN_ACCESS__SECRETS="[\"$secret\"]" \
  "$runuser" -u "$unit_user" -- "$root/usr/bin/vod-origin" serve >"$scratch/log" 2>&1 &
server_pid=$!
ca=$certs/dev-ca.pem
for _ in $(seq 100); do
  curl -s -o /dev/null --cacert "$ca" "https://localhost:$port/" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$scratch/log"; echo "FAIL: the origin exited"; exit 1; }
  sleep 0.1
done
get() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$ca" "$@" "https://localhost:$port/seg.ts"; }
with=$(get -H "X-Origin-Verify: $secret")
without=$(get)
echo "as $(ps -o user= -p "$(pgrep -P "$server_pid" vod-origin)" 2>/dev/null): with the secret $with, without $without"
[[ $with == 200 && $without == 403 ]] || { cat "$scratch/log"; echo "FAIL"; exit 1; }
# SIGTERM to the origin itself, as systemd sends it (runuser would answer a signal of its own by
# killing its child).
origin_pid=$(pgrep -P "$server_pid" vod-origin || echo "$server_pid")
kill -TERM "$origin_pid"
status=0
wait "$server_pid" || status=$?
server_pid=
[[ $status == 0 ]] || { cat "$scratch/log"; echo "FAIL: exit status $status after SIGTERM"; exit 1; }
echo "ok: installed, served as $unit_user, drained and exited 0 on SIGTERM"
