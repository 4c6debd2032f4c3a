#!/usr/bin/env bash
# Offline checks of the deployment files in deploy/, for CI: `bash deploy/check.sh`.
#
#   - stack.yaml passes cfn-lint (resource and property names, types, allowed values, references);
#   - deploy/check.py: the stack's task definition and ecs-task-definition.json are valid input
#     for ECS RegisterTaskDefinition (botocore's service model), agree with each other, and keep
#     what deploy/README.md promises (stopTimeout above the drain, the probe health check, the
#     three ports, a read-only root, a non-root uid:gid, no capabilities, the secret from Secrets
#     Manager); the stack's roles are least privilege (the task role reads objects, and decrypts
#     through S3 only with a KMS key given; the execution role pulls from the stack's repository
#     and reads exactly the secrets the task names), the NLB admits only CloudFront's prefix list
#     on 443, the distribution reaches the origin over HTTPS only with the secret header and logs
#     to the log bucket; the JSON IAM policies; the systemd unit (drain, open files, sandbox,
#     ExecReload only because src/ handles SIGHUP); the Grafana dashboard's PromQL and metric
#     names against src/telemetry.rs;
#   - systemd-analyze verify accepts systemd/vod-origin.service, and its sandbox's exposure score
#     stays under 2.5; systemd-sysusers makes its user from systemd/vod-origin.sysusers in a
#     throwaway root (skipped, saying so, without systemd);
#   - with a vod-origin binary at hand (target/debug or target/release after `cargo test`, or
#     VOD_ORIGIN_BIN), `vod-origin check-config` accepts config/production.toml with the
#     container's environment (the Dockerfile's ENV, then the task definition's, placeholder
#     secrets) and a throwaway certificate written by the tls-init container's script (as root).
#
# The Python tools come from PyPI, pinned, into a virtualenv under the temp directory that later
# runs reuse (a minute or two to install once; the checks then take about 5 s).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

requirements=(cfn-lint==1.58.0 botocore==1.44.8 promql-parser==0.11.0)
venv="${TMPDIR:-/tmp}/vod-origin-deploy-check"
if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.requirements" 2>/dev/null)" != "${requirements[*]}" ]]; then
  echo "--- installing ${requirements[*]} into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]}"
  echo "${requirements[*]}" >"$venv/.requirements"
fi

echo "--- cfn-lint deploy/stack.yaml"
"$venv/bin/cfn-lint" deploy/stack.yaml
echo "ok"

echo "--- deploy/check.py: task definitions, the stack's promises, IAM policies, systemd unit, Grafana dashboard"
"$venv/bin/python" deploy/check.py

echo "--- systemd-analyze verify deploy/systemd/vod-origin.service, systemd-sysusers"
if ! command -v systemd-analyze >/dev/null; then
  echo "skipped: no systemd-analyze (apt-get install systemd)"
else
  # verify wants ExecStart's binary to exist: a copy of the unit whose ExecStart names a stub.
  unit_dir="$tmp/unit" && mkdir "$unit_dir"
  printf '#!/bin/sh\n' >"$unit_dir/vod-origin" && chmod 0755 "$unit_dir/vod-origin"
  sed "s#^ExecStart=/usr/bin/vod-origin #ExecStart=$unit_dir/vod-origin #" deploy/systemd/vod-origin.service \
    >"$unit_dir/vod-origin.service"
  systemd-analyze verify "$unit_dir/vod-origin.service"
  # The system user, created by systemd-sysusers in a throwaway root.
  if command -v systemd-sysusers >/dev/null; then
    mkdir -p "$tmp/root/etc"
    systemd-sysusers --root="$tmp/root" "$PWD/deploy/systemd/vod-origin.sysusers" 2>/dev/null
    grep -q '^vod-origin:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$tmp/root/etc/passwd" ||
      { echo "FAIL deploy/systemd/vod-origin.sysusers: no vod-origin system user" >&2; exit 1; }
    echo "sysusers: $(cut -d: -f1,3,4,7 "$tmp/root/etc/passwd")"
  fi
  # The sandbox's exposure score (0 safest, 10 unprotected); --threshold counts in tenths.
  if systemd-analyze security --help 2>/dev/null | grep -q -- --offline; then
    systemd-analyze security --offline=yes --threshold=25 --no-pager "$unit_dir/vod-origin.service" | tail -1
  else
    echo "note: this systemd-analyze has no offline security report"
  fi
  echo "ok"
fi

echo "--- vod-origin check-config with the task definition's environment"
bin="${VOD_ORIGIN_BIN:-}"
if [[ -z "$bin" ]]; then
  for candidate in target/debug/vod-origin target/release/vod-origin; do
    if [[ -x "$candidate" ]]; then bin="$candidate" && break; fi
  done
fi
if [[ -z "$bin" ]]; then
  echo "skipped: no vod-origin binary (run cargo build, or set VOD_ORIGIN_BIN)"
elif ! command -v openssl >/dev/null; then
  echo "skipped: openssl is needed for a throwaway certificate"
else
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=origin.example.com -keyout "$tmp/key.pem" -out "$tmp/chain.pem" 2>/dev/null
  chain="$tmp/chain.pem" key="$tmp/key.pem"
  if [[ "$(id -u)" == 0 ]]; then
    # As root (it chowns), run the tls-init container's script with its volume in $tmp/tls.
    mkdir "$tmp/tls"
    init_script="$("$venv/bin/python" -c '
import json, sys
task = json.load(open("deploy/ecs-task-definition.json"))
init = next(c for c in task["containerDefinitions"] if c["name"] == "tls-init")
print(init["command"][0].replace("/tls", sys.argv[1]))' "$tmp/tls")"
    TLS_CERT_CHAIN="$(cat "$chain")" TLS_PRIVATE_KEY="$(cat "$key")" sh -c "$init_script"
    chain="$tmp/tls/fullchain.pem" key="$tmp/tls/privkey.pem"
    echo "tls-init's script wrote: $(cd "$tmp/tls" && stat -c '%n %a %u:%g' fullchain.pem privkey.pem | paste -sd ',')"
  fi
  # The container's environment: the image's ENV, then the task definition's (which wins), each
  # secret with a placeholder value; the image's /etc/vod-origin/ is this checkout's config/
  # (Dockerfile: COPY config/ /etc/vod-origin/).
  mapfile -t task_env < <("$venv/bin/python" - <<'PY'
import json
import re
import shlex
environment = {}
dockerfile = re.sub(r"\\\n", " ", open("Dockerfile").read())
for line in dockerfile.splitlines():
    if line.startswith("ENV "):
        environment.update(item.split("=", 1) for item in shlex.split(line[4:]) if "=" in item)
task = json.load(open("deploy/ecs-task-definition.json"))
origin = next(c for c in task["containerDefinitions"] if c["name"] == "vod-origin")
environment.update((v["name"], v["value"]) for v in origin.get("environment", []))
environment.update((s["name"], f'["check-sh-placeholder-{s["name"].lower()}"]') for s in origin.get("secrets", []))
for name, value in environment.items():
    print(f"{name}={value.replace('/etc/vod-origin/', 'config/', 1)}")
PY
  )
  env -i PATH="$PATH" "${task_env[@]}" \
    VOD_ORIGIN_TLS__CERT_CHAIN="$chain" VOD_ORIGIN_TLS__PRIVATE_KEY="$key" \
    timeout 60 "$bin" check-config >"$tmp/effective.toml" 2>"$tmp/check-config.err" ||
    { cat "$tmp/check-config.err" >&2; exit 1; }
  cat "$tmp/check-config.err"
  grep -E '^(listen|public_host|header_read_timeout|bucket|prefix|region|required|mode) ' "$tmp/effective.toml" | sed 's/^/  /'
fi
echo "--- deploy/check.sh: all checks passed"
