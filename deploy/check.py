"""Offline checks of deploy/ that cfn-lint cannot make: what the runbook promises.

Run by deploy/check.sh with its pinned virtualenv (botocore, cfn-lint, promql-parser); exits 1
with one FAIL line per broken promise. Sections: the ECS task definition (the JSON file and the
stack's, which must agree), the stack's roles, network and distribution, the JSON IAM policies,
the systemd unit, the Grafana dashboard.
"""

import json
import re
import sys
import tomllib
from pathlib import Path

import botocore.session
import botocore.validate
import promql_parser
from cfnlint.decode import decode

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def as_list(value):
    return value if isinstance(value, list) else [value]


def seconds(duration):
    """"25s" or "1m" (the forms config/ and the unit use) as seconds."""
    match = re.fullmatch(r"(\d+)\s*(s|m|min)?", str(duration))
    return int(match[1]) * (60 if match[2] in ("m", "min") else 1)


production = tomllib.loads(Path("config/production.toml").read_text())
server = production.get("server", {})
drain_seconds = seconds(server.get("drain_timeout", "25s"))
max_connections = int(server.get("max_connections", 10000))
header_read_seconds = seconds(server.get("header_read_timeout", "65s"))
secret_header = production.get("access", {}).get("header", "X-Origin-Verify")


# --- The ECS task definition: promises -------------------------------------------------------
register_shape = (botocore.session.get_session().get_service_model("ecs")
                  .operation_model("RegisterTaskDefinition").input_shape)


def check_task(task, where):
    """What deploy/README.md promises of the task, wherever it is written."""
    report = botocore.validate.ParamValidator().validate(task, register_shape)
    check(not report.has_errors(), f"{where}: not valid RegisterTaskDefinition input:\n{report.generate_report()}")
    containers = {c["name"]: c for c in task.get("containerDefinitions", [])}
    volumes = {v["name"] for v in task.get("volumes", [])}
    check(task.get("networkMode") == "awsvpc" and "FARGATE" in task.get("requiresCompatibilities", []),
          f"{where}: not Fargate-compatible (awsvpc, FARGATE)")
    origin = containers.get("vod-origin")
    if check(origin is not None, f"{where}: no container named vod-origin"):
        check(origin.get("stopTimeout", 30) > drain_seconds,
              f"{where}: stopTimeout {origin.get('stopTimeout')} s does not leave room for the {drain_seconds} s drain")
        check(origin.get("healthCheck", {}).get("command") == ["CMD", "/usr/local/bin/vod-origin", "probe"],
              f"{where}: the health check is not `vod-origin probe`")
        ports = {p.get("containerPort") for p in origin.get("portMappings", [])}
        check({8443, 8080, 9090} <= ports, f"{where}: ports 8443, 8080 and 9090 are not all mapped ({sorted(ports)})")
        check(origin.get("readonlyRootFilesystem") is True, f"{where}: the root filesystem is writable")
        check(re.fullmatch(r"[1-9]\d*:[1-9]\d*", origin.get("user", "")) is not None,
              f"{where}: user {origin.get('user')!r} is not a non-root uid:gid (a uid alone runs with gid 0)")
        check(origin.get("linuxParameters", {}).get("capabilities", {}).get("drop") == ["ALL"],
              f"{where}: the origin's capabilities are not all dropped")
        check("VOD_ORIGIN_ACCESS__SECRETS" in {s["name"] for s in origin.get("secrets", [])},
              f"{where}: VOD_ORIGIN_ACCESS__SECRETS does not come from `secrets`")
        check(all(not e["name"].startswith("VOD_ORIGIN_ACCESS__") for e in origin.get("environment", [])),
              f"{where}: an access setting is in plain `environment`")
        nofile = [u for u in origin.get("ulimits", []) if u["name"] == "nofile"]
        check(nofile and nofile[0]["softLimit"] > max_connections,
              f"{where}: nofile is not raised above the origin's {max_connections} connections")
    init = containers.get("tls-init")
    if check(init is not None, f"{where}: no tls-init container"):
        owner = re.search(r"chown (\d+:\d+) ", init.get("command", [""])[0])
        check(origin is not None and owner is not None and owner[1] == origin.get("user"),
              f"{where}: tls-init does not give the PEM files to the origin's user and group")
    for name, container in containers.items():
        for dependency in container.get("dependsOn", []):
            check(dependency["containerName"] in containers, f"{where}: {name} depends on an unknown container")
        for mount in container.get("mountPoints", []):
            check(mount["sourceVolume"] in volumes, f"{where}: {name} mounts an unknown volume")
    return containers


def shape_of(containers):
    """A container list with what differs between the JSON and the stack blanked: images, secret
    ARNs, environment values and log options (account, region, names)."""
    shaped = {}
    for name, container in containers.items():
        container = json.loads(json.dumps(container))
        container.pop("image", None)
        for secret in container.get("secrets", []):
            secret["valueFrom"] = secret["valueFrom"].rsplit(":", 3)[1] if secret["valueFrom"].endswith("::") else ""
        for variable in container.get("environment", []):
            variable["value"] = "…"
        options = container.get("logConfiguration", {}).get("options", {})
        container.get("logConfiguration", {})["options"] = sorted(options)
        shaped[name] = container
    return shaped


task_path = "deploy/ecs-task-definition.json"
task = json.loads(Path(task_path).read_text())
check(task.get("family") == "vod-origin", f"{task_path}: family is not vod-origin")
json_containers = check_task(task, task_path)


# --- The stack: its task definition, in RegisterTaskDefinition's words -----------------------
stack_path = "deploy/stack.yaml"
stack, errors = decode(stack_path)
check(not errors, f"{stack_path}: does not parse: {errors}")
resources = stack["Resources"]
PSEUDO = {"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
          "AWS::StackName": "vod-origin", "AWS::URLSuffix": "amazonaws.com"}
NO_VALUE = object()


def placeholder(name):
    """A stand-in for a reference: seven ARN fields, so that `:json-key::` suffixes split off."""
    return PSEUDO.get(name) or f"arn:aws:placeholder:eu-west-1:123456789012:ref:{name}"


def resolve(node):
    """The template with every intrinsic function replaced by a stand-in (Fn::If: its first branch)."""
    if isinstance(node, dict) and len(node) == 1:
        (function, argument), = node.items()
        if function == "Ref":
            return NO_VALUE if argument == "AWS::NoValue" else placeholder(argument)
        if function == "Fn::GetAtt":
            return placeholder(".".join(as_list(argument)))
        if function == "Fn::Sub":
            text, variables = argument if isinstance(argument, list) else (argument, {})
            variables = {k: resolve(v) for k, v in variables.items()}
            return re.sub(r"\$\{([^}!][^}]*)\}", lambda m: variables.get(m[1]) or placeholder(m[1]), text)
        if function == "Fn::If":
            return resolve(argument[1])
        if function == "Fn::Split":
            return resolve(argument[1]).split(argument[0])
    if isinstance(node, dict):
        return {k: r for k, v in node.items() if (r := resolve(v)) is not NO_VALUE}
    if isinstance(node, list):
        return [r for v in node if (r := resolve(v)) is not NO_VALUE]
    return node


def api_names(node, keep_keys=False):
    """CloudFormation's property names (Name, PortMappings) as the ECS API's (name, portMappings);
    the keys of maps that are data, not properties (log options, labels), stay as written."""
    if isinstance(node, dict):
        return {(k if keep_keys else k[0].lower() + k[1:]): api_names(v, k in ("Options", "DockerLabels"))
                for k, v in node.items()}
    if isinstance(node, list):
        return [api_names(v) for v in node]
    return node


stack_task = api_names(resolve(resources["TaskDefinition"]["Properties"]))
stack_containers = check_task(stack_task, f"{stack_path} TaskDefinition")
check(shape_of(stack_containers) == shape_of(json_containers),
      f"{stack_path}: the TaskDefinition's containers differ from {task_path} in more than names and ARNs "
      "(images, secret ARNs, environment values, log options): change both")


# --- The stack: roles ----------------------------------------------------------------------------
def statements(role):
    return [s for p in role["Properties"].get("Policies", []) for s in as_list(p["PolicyDocument"]["Statement"])]


def resolved_statements(role):
    """The statements, an Fn::If resolved to its first branch (the optional statement present)."""
    return [s for s in resolve(statements(role))]


task_role = resources["TaskRole"]
check(not task_role["Properties"].get("ManagedPolicyArns"), f"{stack_path}: TaskRole has managed policies")
task_statements = resolved_statements(task_role)
task_actions = {a for s in task_statements for a in as_list(s["Action"])}
check(task_actions <= {"s3:GetObject", "kms:Decrypt"},
      f"{stack_path}: TaskRole allows {sorted(task_actions)}, not only s3:GetObject (and kms:Decrypt)")
for statement in task_statements:
    if "kms:Decrypt" in as_list(statement["Action"]):
        check("kms:ViaService" in json.dumps(statement.get("Condition", {})),
              f"{stack_path}: TaskRole's kms:Decrypt is not limited to S3 (kms:ViaService)")
    if "s3:GetObject" in as_list(statement["Action"]):
        check(all(r.endswith("*") and ":s3:::" in r and "ref:BucketName/" in r for r in as_list(statement["Resource"])),
              f"{stack_path}: TaskRole's s3:GetObject is not on BucketName/BucketPrefix*")
kms_statement = next((s for s in statements(task_role) if "Fn::If" in s), None)
check(kms_statement is not None and kms_statement["Fn::If"][0] == "HasKmsKey",
      f"{stack_path}: TaskRole's kms:Decrypt is not conditional on HasKmsKey")

execution_role = resources["ExecutionRole"]
check(not execution_role["Properties"].get("ManagedPolicyArns"),
      f"{stack_path}: ExecutionRole has managed policies (AmazonECSTaskExecutionRolePolicy allows every repository)")
execution_statements = resolved_statements(execution_role)
for statement in execution_statements:
    wildcard = "*" in as_list(statement["Resource"])
    check(not wildcard or as_list(statement["Action"]) == ["ecr:GetAuthorizationToken"],
          f"{stack_path}: ExecutionRole allows {statement['Action']} on every resource")
readable = {r for s in execution_statements if "secretsmanager:GetSecretValue" in as_list(s["Action"])
            for r in as_list(s["Resource"])}
for container in stack_containers.values():
    for secret in container.get("secrets", []):
        arn = ":".join(secret["valueFrom"].split(":")[:7])  # drop :json-key:version-stage:version-id
        check(arn in readable, f"{stack_path}: ExecutionRole cannot read {arn} ({secret['name']})")
stack_images = all(c["image"] == f'{placeholder("Repository.RepositoryUri")}:{placeholder("ImageTag")}'
                   for c in stack_containers.values())
pullable = {r for s in execution_statements if "ecr:BatchGetImage" in as_list(s["Action"]) for r in as_list(s["Resource"])}
check(stack_images and pullable == {placeholder("Repository.Arn")},
      f"{stack_path}: the images are not the stack's Repository, or ExecutionRole cannot pull from it alone")


# --- The stack: network ----------------------------------------------------------------------------
nlb_ingress = resources["NlbSecurityGroup"]["Properties"].get("SecurityGroupIngress", [])
check(len(nlb_ingress) == 1 and nlb_ingress[0].get("SourcePrefixListId") == {"Ref": "CloudFrontPrefixListId"}
      and nlb_ingress[0].get("FromPort") == 443 == nlb_ingress[0].get("ToPort"),
      f"{stack_path}: NlbSecurityGroup admits more than 443 from the CloudFront prefix list")
check(not any(r["Type"] == "AWS::EC2::SecurityGroupIngress" and r["Properties"].get("GroupId") == {"Ref": "NlbSecurityGroup"}
              for r in resources.values()), f"{stack_path}: another ingress rule opens NlbSecurityGroup")
listener = resources["Listener"]["Properties"]
check(listener.get("Protocol") == "TCP" and listener.get("Port") == 443,
      f"{stack_path}: the NLB listener is not TCP 443 (TLS passes through to the origin)")
group = resources["TargetGroup"]["Properties"]
attributes = {a["Key"]: a["Value"] for a in group.get("TargetGroupAttributes", [])}
check((group.get("HealthCheckPort"), group.get("HealthCheckPath")) == ("9090", "/readyz"),
      f"{stack_path}: the target group's health check is not /readyz on the admin port")
check(group.get("Port") == 8443 and group.get("TargetType") == "ip", f"{stack_path}: targets are not the tasks' :8443")
check("deregistration_delay.timeout_seconds" in attributes, f"{stack_path}: no deregistration delay")
for port in (8443, 9090):
    check(any(r.get("FromPort") == port and r.get("SourceSecurityGroupId") == {"Ref": "NlbSecurityGroup"}
              for r in resources["OriginSecurityGroup"]["Properties"]["SecurityGroupIngress"]),
          f"{stack_path}: OriginSecurityGroup does not admit {port} from the NLB")
service = resources["Service"]["Properties"]
breaker = service.get("DeploymentConfiguration", {}).get("DeploymentCircuitBreaker", {})
check(breaker.get("Enable") is True and breaker.get("Rollback") is True,
      f"{stack_path}: the service has no deployment circuit breaker with rollback")
check(service["NetworkConfiguration"]["AwsvpcConfiguration"].get("AssignPublicIp") == "DISABLED",
      f"{stack_path}: tasks get public addresses")


# --- The stack: distribution -------------------------------------------------------------------------
distribution = resources["Distribution"]["Properties"]["DistributionConfig"]
origin_config = distribution["Origins"][0]
custom = origin_config["CustomOriginConfig"]
check(custom.get("OriginProtocolPolicy") == "https-only" and custom.get("OriginSSLProtocols") == ["TLSv1.2"],
      f"{stack_path}: CloudFront does not reach the origin over HTTPS only, TLSv1.2")
check(custom.get("OriginKeepaliveTimeout", 5) < header_read_seconds,
      f"{stack_path}: OriginKeepaliveTimeout is not below the origin's header_read_timeout ({header_read_seconds} s)")
headers = {h["HeaderName"]: h["HeaderValue"] for h in origin_config.get("OriginCustomHeaders", [])}
check(secret_header in headers and "OriginHeaderSecret" in json.dumps(headers[secret_header]),
      f"{stack_path}: CloudFront does not send {secret_header} from OriginHeaderSecret")
check(distribution.get("Logging", {}).get("Bucket") == {"Fn::GetAtt": ["LogBucket", "DomainName"]},
      f"{stack_path}: CloudFront's standard logs do not go to LogBucket (cf_id joins with x-edge-request-id)")
check(distribution["DefaultCacheBehavior"].get("ViewerProtocolPolicy") in ("redirect-to-https", "https-only"),
      f"{stack_path}: viewers may use plain HTTP")
key_headers = resources["CachePolicy"]["Properties"]["CachePolicyConfig"]["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]["Headers"]
check("Origin" in key_headers and "Range" not in key_headers,
      f"{stack_path}: the cache key must hold Origin (CORS) and not Range (CloudFront caches ranges itself)")
outputs = stack.get("Outputs", {})
check({"DistributionDomainName", "RepositoryUri", "LogBucketName"} <= set(outputs),
      f"{stack_path}: Outputs lack the distribution domain, the ECR URI or the log bucket")


# --- IAM policies as JSON (the EC2 instance role, and deployments without the stack) --------------
policies = {}
for path in ("deploy/task-role-policy.json", "deploy/execution-role-policy.json"):
    policy = json.loads(Path(path).read_text())
    policies[path] = policy
    check(policy.get("Version") == "2012-10-17", f"{path}: Version is not 2012-10-17")
    if check(isinstance(policy.get("Statement"), list) and policy["Statement"], f"{path}: no Statement list"):
        for statement in policy["Statement"]:
            check(statement.get("Effect") in ("Allow", "Deny"), f"{path}: a statement has no Allow/Deny Effect")
            check("Action" in statement and "Resource" in statement, f"{path}: a statement lacks Action or Resource")
json_task_actions = {a for s in policies["deploy/task-role-policy.json"].get("Statement", []) for a in as_list(s.get("Action", []))}
check(json_task_actions == {"s3:GetObject"},
      f"deploy/task-role-policy.json: actions {sorted(json_task_actions)}, expected only s3:GetObject")
json_readable = {r for s in policies["deploy/execution-role-policy.json"].get("Statement", [])
                 if s.get("Effect") == "Allow" and "secretsmanager:GetSecretValue" in as_list(s.get("Action", []))
                 for r in as_list(s.get("Resource", []))}
for container in json_containers.values():
    for secret in container.get("secrets", []):
        arn = ":".join(secret["valueFrom"].split(":")[:7])
        check(arn in json_readable, f"deploy/execution-role-policy.json: cannot read {arn} ({secret['name']})")


# --- The systemd unit ------------------------------------------------------------------------------
unit_path = "deploy/systemd/vod-origin.service"
unit = {}
for line in Path(unit_path).read_text().splitlines():
    if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
        key, value = line.split("=", 1)
        unit.setdefault(key.strip(), []).append(value.strip())
last = {key: values[-1] for key, values in unit.items()}
check(seconds(last.get("TimeoutStopSec", "90")) > drain_seconds,
      f"{unit_path}: TimeoutStopSec {last.get('TimeoutStopSec')} does not leave room for the {drain_seconds} s drain")
check(int(last.get("LimitNOFILE", "1024").split(":")[-1]) > max_connections,
      f"{unit_path}: LimitNOFILE is not above the origin's {max_connections} connections")
for key, value in {"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
                   "Restart": "on-failure", "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
                   "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE"}.items():
    check(last.get(key) == value, f"{unit_path}: {key} is {last.get(key)!r}, not {value}")
check(last.get("User") not in (None, "root", "0"), f"{unit_path}: runs as root")
sighup = any("SignalKind::hangup()" in p.read_text() for p in Path("src").rglob("*.rs"))
check(("ExecReload" in last) == sighup,
      f"{unit_path}: ExecReload {'is missing, though' if sighup else 'is set, though no'} src/ handles SIGHUP")


# --- Grafana dashboard ---------------------------------------------------------------------------------
dashboard_path = "deploy/grafana/vod-origin.json"
dashboard = json.loads(Path(dashboard_path).read_text())
# Metric names are string constants in src/telemetry.rs, `NAME: Kind = "vod_origin_...";`.
defined = set(re.findall(r'\b[A-Z0-9_]+: *[A-Za-z&]+ = "(vod_origin_[a-z0-9_]+)";', Path("src/telemetry.rs").read_text()))
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
print(f"ok: {task_path} and {stack_path}'s TaskDefinition are valid RegisterTaskDefinition input and agree "
      f"({len(json_containers)} containers, user {json_containers['vod-origin']['user']}, "
      f"stopTimeout {json_containers['vod-origin']['stopTimeout']} s > drain {drain_seconds} s)")
print(f"ok: {stack_path}: TaskRole only {', '.join(sorted(task_actions))} (kms:Decrypt only with BucketKmsKeyArn, "
      f"through S3); ExecutionRole pulls from the stack's repository and reads the {len(readable)} secrets the task names")
print(f"ok: {stack_path}: NLB TCP 443 from the CloudFront prefix list only; targets :8443, /readyz on :9090; "
      f"circuit breaker; HTTPS-only origin with {secret_header} from Secrets Manager; standard logs to LogBucket")
print(f"ok: {len(policies)} JSON IAM policies; the task role may only s3:GetObject; "
      f"the execution role reads what the {sum(len(c.get('secrets', [])) for c in json_containers.values())} secret variables name")
print(f"ok: {unit_path}: TimeoutStopSec {last['TimeoutStopSec']} > drain {drain_seconds} s, LimitNOFILE "
      f"{last['LimitNOFILE']} > {max_connections}, ExecReload {'(SIGHUP reloads the certificate)' if sighup else 'absent'}")
print(f"ok: {dashboard_path}: {len(expressions)} expressions parse, {len(used)} metrics, all in src/telemetry.rs")
unused = sorted(defined - used)
if unused:
    print(f"note: metrics not on the dashboard: {', '.join(unused)}")
