"""One vod-origin process on kernel-chosen ports, configured by a generated TOML file.

The origin binds `127.0.0.1:0` for both listeners and logs the addresses it got in its
"serving" line (JSON logs, so the line is parsed, not grepped): no port is ever guessed, so
no other process can be hit by mistake and nothing races for a port between choosing and
binding it. Variables `VOD_ORIGIN_*`, `AWS_*` and `RUST_LOG` of the caller's environment are
dropped, so the file (and, with the S3 store, the stand-in's keys) alone says what ran.
"""

import json
import os
import pathlib
import subprocess
import urllib.error
import urllib.request

from . import processes

# The request header the CDN sets, and the value the harness configures (access.secrets).
SECRET_HEADER = "X-Origin-Verify"
SECRET_VALUE = "attack-harness-secret-0123456789"


def toml_value(value):
    """A TOML value: strings, integers, booleans and lists of those are all the config needs.

    JSON's string escapes are valid TOML basic-string escapes, so json.dumps quotes strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def render_toml(settings):
    """`{"server.listen": "..."}` (dotted keys, one level of section) as a TOML document."""
    sections = {}
    for dotted, value in settings.items():
        section, _, key = dotted.rpartition(".")
        sections.setdefault(section, {})[key] = value
    lines = []
    for section in sorted(sections):
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in sections[section].items())
        lines.append("")
    return "\n".join(lines)


def environment(settings):
    """`{"server.listen": "..."}` as the origin's variables: VOD_ORIGIN_SERVER__LISTEN=..."""
    def value(v):
        return v if isinstance(v, str) else toml_value(v)
    return {"VOD_ORIGIN_" + key.upper().replace(".", "__"): value(v) for key, v in settings.items()}


def parse_setting(text):
    """`server.send_timeout=60s` -> ("server.send_timeout", "60s"); numbers, booleans and JSON
    lists become typed values, anything else stays a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--set wants KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    if isinstance(value, float):
        value = raw
    return key.strip(), value


def base_settings(workdir, media, secret):
    """What every run shares: loopback listeners on port 0, no plain HTTP, the local-folder
    backend on the generated media, development certificates in the scratch folder."""
    settings = {
        "server.listen": "127.0.0.1:0",
        "server.drain_timeout": "2s",
        "plain_http.mode": "off",
        "admin.listen": "127.0.0.1:0",
        "storage.backend": "local",
        "storage.root": str(media),
        "tls.dev_cert_dir": str(pathlib.Path(workdir) / "certs"),
        "log.format": "json",
        "log.level": "info",
    }
    if secret:
        settings["access.secrets"] = [SECRET_VALUE]
    return settings


class Origin(processes.Server):
    """A running vod-origin: its pid, its two addresses, its CA, and how to stop it."""

    def __init__(self, binary, workdir, name, settings, env=None, access_log=True, wrapper=(), without_file=False):
        self.binary = binary
        # Settings as VOD_ORIGIN_* variables and no configuration file: the built-in defaults of
        # a run without one (`cargo run`'s development setup) stay in force beneath them.
        self.without_file = without_file
        # A command the binary runs under (valgrind), or nothing.
        self.wrapper = list(wrapper)
        # The access log (stdout) to a file, or to /dev/null as nginx's is in the benchmarks:
        # the line is formatted and written either way.
        self.keep_access_log = access_log
        self.env = dict(env or {})
        self.workdir = pathlib.Path(workdir)
        self.name = name
        self.settings = dict(settings)
        self.config_path = self.workdir / f"{name}.toml"
        self.log_path = self.workdir / f"{name}.log"
        self.access_log_path = self.workdir / f"{name}.access.log"
        self.child = None
        self.https = None
        self.admin = None
        self.demo = None

    @property
    def pid(self):
        return self.child.pid

    @property
    def ca(self):
        return pathlib.Path(self.settings["tls.dev_cert_dir"]) / "dev-ca.pem"

    @property
    def secret(self):
        """The secret header as (name, value), or None when access is open."""
        return (SECRET_HEADER, SECRET_VALUE) if self.settings.get("access.secrets") else None

    def start(self, deadline_s=60):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VOD_ORIGIN_", "AWS_")) and k != "RUST_LOG"}
        if self.without_file:
            env.update(environment(self.settings))
            config = []
        else:
            self.config_path.write_text(render_toml(self.settings))
            config = ["--config", str(self.config_path)]
        env.update(self.env)
        access_path = self.access_log_path if self.keep_access_log else os.devnull
        with open(self.log_path, "wb") as log, open(access_path, "wb") as access:
            self.child = processes.spawn([*self.wrapper, self.binary, *config], stdout=access,
                                         stderr=log, stdin=subprocess.DEVNULL, env=env)
        serving = processes.wait_for(self._serving_line, deadline_s, f"{self.name}'s \"serving\" log line")
        self.https = _address(serving["https"])
        self.admin = _address(serving["admin"])
        self.demo = _address(serving["demo"]) if serving.get("demo", "off") != "off" else None
        processes.wait_for(self._ready, deadline_s, f"{self.name}'s /readyz")
        return self

    def _serving_line(self):
        if self.child.poll() is not None:
            raise RuntimeError(f"{self.name} exited with status {self.child.returncode}: {self.log_tail()}")
        for line in self.log_path.read_text(errors="replace").splitlines():
            if '"serving"' in line:
                event = json.loads(line)
                if event.get("message") == "serving":
                    return event
        return None

    def _ready(self):
        try:
            with urllib.request.urlopen(f"http://{self.admin[0]}:{self.admin[1]}/readyz", timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def metrics_text(self):
        """The admin listener's /metrics, or an empty string when it does not answer."""
        try:
            with urllib.request.urlopen(f"http://{self.admin[0]}:{self.admin[1]}/metrics", timeout=5) as answer:
                return answer.read().decode()
        except (urllib.error.URLError, OSError):
            return ""

    def metric_total(self, prefix):
        """The sum of every /metrics sample whose series starts with `prefix` (0 when none)."""
        total = 0.0
        for line in self.metrics_text().splitlines():
            if line.startswith(prefix):
                total += float(line.rpartition(" ")[2])
        return total

    def base_url(self):
        return f"https://localhost:{self.https[1]}"


def _address(text):
    host, _, port = text.rpartition(":")
    return host, int(port)
