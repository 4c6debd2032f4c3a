#!/usr/bin/env bash
# Offline checks of the deployment files in deploy/, for CI: `bash deploy/check.sh`.
#
#   - cloudfront.yaml passes cfn-lint (resource and property names, types, allowed values);
#   - ecs-task-definition.json is valid input for ECS RegisterTaskDefinition (botocore's service
#     model), and keeps what deploy/README.md promises (stopTimeout above the drain, the probe
#     health check, the three ports, a read-only root, the secret from Secrets Manager);
#   - the IAM policies are 2012-10-17 policy documents, the task role only reads objects, and the
#     execution role can read every secret the task definition names;
#   - every PromQL expression in grafana/vod-origin.json parses, and names only metrics that
#     src/telemetry.rs defines;
#   - with a vod-origin binary at hand (target/debug or target/release after `cargo test`, or
#     VOD_ORIGIN_BIN), `vod-origin check-config` accepts config/production.toml with the
#     container's environment (the Dockerfile's ENV, then the task definition's, placeholder
#     secrets) and a throwaway certificate written by the tls-init container's script (as root).
#
# The Python tools come from PyPI, pinned, into a virtualenv under the temp directory that later
# runs reuse (a minute or two to install once; the checks then take about 5 s).
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=(cfn-lint==1.58.0 botocore==1.44.8 promql-parser==0.11.0)
venv="${TMPDIR:-/tmp}/vod-origin-deploy-check"
if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.requirements" 2>/dev/null)" != "${requirements[*]}" ]]; then
  echo "--- installing ${requirements[*]} into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]}"
  echo "${requirements[*]}" >"$venv/.requirements"
fi

echo "--- cfn-lint deploy/cloudfront.yaml"
"$venv/bin/cfn-lint" deploy/cloudfront.yaml
echo "ok"

echo "--- task definition, IAM policies, Grafana dashboard"
"$venv/bin/python" - <<'PY'
import json
import re
import sys
import tomllib
from pathlib import Path

import botocore.session
import botocore.validate
import promql_parser

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


# --- ECS task definition -------------------------------------------------------------------
task_path = "deploy/ecs-task-definition.json"
task = json.loads(Path(task_path).read_text())
shape = (botocore.session.get_session().get_service_model("ecs")
         .operation_model("RegisterTaskDefinition").input_shape)
report = botocore.validate.ParamValidator().validate(task, shape)
check(not report.has_errors(), f"{task_path}: not valid RegisterTaskDefinition input:\n{report.generate_report()}")

production = tomllib.loads(Path("config/production.toml").read_text())
drain = production.get("server", {}).get("drain_timeout", "25s")
drain_seconds = int(re.fullmatch(r"(\d+)s", drain).group(1))
containers = {c["name"]: c for c in task.get("containerDefinitions", [])}
volumes = {v["name"] for v in task.get("volumes", [])}
check(task.get("family") == "vod-origin", f"{task_path}: family is not vod-origin")
check(task.get("networkMode") == "awsvpc" and "FARGATE" in task.get("requiresCompatibilities", []),
      f"{task_path}: not Fargate-compatible (awsvpc, FARGATE)")
origin = containers.get("vod-origin")
if check(origin is not None, f"{task_path}: no container named vod-origin"):
    check(origin.get("stopTimeout", 30) > drain_seconds,
          f"{task_path}: stopTimeout {origin.get('stopTimeout')} s does not leave room for the {drain_seconds} s drain")
    check(origin.get("healthCheck", {}).get("command") == ["CMD", "/usr/local/bin/vod-origin", "probe"],
          f"{task_path}: the health check is not `vod-origin probe`")
    ports = {p.get("containerPort") for p in origin.get("portMappings", [])}
    check({8443, 8080, 9090} <= ports, f"{task_path}: ports 8443, 8080 and 9090 are not all mapped ({sorted(ports)})")
    check(origin.get("readonlyRootFilesystem") is True, f"{task_path}: the root filesystem is writable")
    check("VOD_ORIGIN_ACCESS__SECRETS" in {s["name"] for s in origin.get("secrets", [])},
          f"{task_path}: VOD_ORIGIN_ACCESS__SECRETS does not come from `secrets`")
    check(all(not e["name"].startswith("VOD_ORIGIN_ACCESS__") for e in origin.get("environment", [])),
          f"{task_path}: an access setting is in plain `environment`")
    nofile = [u for u in origin.get("ulimits", []) if u["name"] == "nofile"]
    check(nofile and nofile[0]["softLimit"] > 10000,
          f"{task_path}: nofile is not raised above the origin's 10000 connections")
for name, container in containers.items():
    for dependency in container.get("dependsOn", []):
        check(dependency["containerName"] in containers, f"{task_path}: {name} depends on an unknown container")
    for mount in container.get("mountPoints", []):
        check(mount["sourceVolume"] in volumes, f"{task_path}: {name} mounts an unknown volume")

# --- IAM policies ----------------------------------------------------------------------------
def as_list(value):
    return value if isinstance(value, list) else [value]


policies = {}
for path in ("deploy/task-role-policy.json", "deploy/execution-role-policy.json"):
    policy = json.loads(Path(path).read_text())
    policies[path] = policy
    check(policy.get("Version") == "2012-10-17", f"{path}: Version is not 2012-10-17")
    statements = policy.get("Statement")
    if check(isinstance(statements, list) and statements, f"{path}: no Statement list"):
        for statement in statements:
            check(statement.get("Effect") in ("Allow", "Deny"), f"{path}: a statement has no Allow/Deny Effect")
            check("Action" in statement and "Resource" in statement, f"{path}: a statement lacks Action or Resource")
task_actions = {a for s in policies["deploy/task-role-policy.json"].get("Statement", []) for a in as_list(s.get("Action", []))}
check(task_actions == {"s3:GetObject"}, f"deploy/task-role-policy.json: actions {sorted(task_actions)}, expected only s3:GetObject")
readable = {r for s in policies["deploy/execution-role-policy.json"].get("Statement", [])
            if s.get("Effect") == "Allow" and "secretsmanager:GetSecretValue" in as_list(s.get("Action", []))
            for r in as_list(s.get("Resource", []))}
for container in containers.values():
    for secret in container.get("secrets", []):
        arn = ":".join(secret["valueFrom"].split(":")[:7])  # drop :json-key:version-stage:version-id
        check(arn in readable, f"deploy/execution-role-policy.json: cannot read {arn} ({secret['name']})")

# --- Grafana dashboard -------------------------------------------------------------------------
dashboard_path = "deploy/grafana/vod-origin.json"
dashboard = json.loads(Path(dashboard_path).read_text())
defined = set(re.findall(r'pub const [A-Z0-9_]+: &str = "(vod_origin_[a-z0-9_]+)";', Path("src/telemetry.rs").read_text()))
check(defined, "src/telemetry.rs: no metric names found")


def panels(items):
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


expressions, ids, used = [], [], set()
for panel in panels(dashboard.get("panels", [])):
    ids.append(panel.get("id"))
    if panel.get("type") != "row":
        check(panel.get("datasource", {}).get("uid") == "${DS_PROMETHEUS}",
              f"{dashboard_path}: panel {panel.get('title')!r} does not use ${{DS_PROMETHEUS}}")
    expressions += [(panel.get("title"), t["expr"]) for t in panel.get("targets", [])]
expressions += [(v["name"], v["definition"]) for v in dashboard.get("templating", {}).get("list", []) if v.get("type") == "query"]
check(len(ids) == len(set(ids)), f"{dashboard_path}: panel ids are not unique")
for title, expr in expressions:
    promql = re.sub(r"\$__(rate_interval|interval|range)", "5m", expr)
    if not promql.startswith("label_values("):
        try:
            promql_parser.parse(promql)
        except Exception as error:  # the parser raises its own exception types
            check(False, f"{dashboard_path}: {title!r}: PromQL does not parse ({error}): {expr}")
    if "histogram_quantile" in expr:
        check("_bucket{" in expr and re.search(r"by \([^)]*\ble\b", expr),
              f"{dashboard_path}: {title!r}: histogram_quantile needs _bucket series summed by le: {expr}")
    for name in re.findall(r"\bvod_origin_[a-z0-9_]+", expr):
        metric = re.sub(r"_(bucket|sum|count)$", "", name)
        used.add(metric)
        check(metric in defined, f"{dashboard_path}: {title!r}: {name} is not a metric in src/telemetry.rs")

if failures:
    print("\n".join(f"FAIL {f}" for f in failures))
    sys.exit(1)
print(f"ok: {task_path} is valid RegisterTaskDefinition input ({len(containers)} containers, "
      f"stopTimeout {origin['stopTimeout']} s > drain {drain_seconds} s)")
print(f"ok: {len(policies)} IAM policies; the task role may only s3:GetObject; "
      f"the execution role reads the {sum(len(c.get('secrets', [])) for c in containers.values())} secrets")
print(f"ok: {dashboard_path}: {len(expressions)} expressions parse, {len(used)} metrics, all in src/telemetry.rs")
unused = sorted(defined - used)
if unused:
    print(f"note: metrics not on the dashboard: {', '.join(unused)}")
PY

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
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
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
    echo "tls-init's script wrote: $(cd "$tmp/tls" && stat -c '%n %a %u' fullchain.pem privkey.pem | paste -sd ',')"
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
