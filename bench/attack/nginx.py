"""Debian's nginx beside the origin, configured as bench/compare.sh configures it.

The configuration is bench/compare/nginx.conf.in itself, rendered with one worker (so "the
worker's Pss" is one process's), the origin's development certificate and the same media
folder; its S3 proxy server block is rendered too, pointing at a port nothing listens on, and
never used. nginx cannot report a kernel-chosen port, so the ports are found by binding port 0
and releasing it just before nginx binds it (a narrow race, on loopback only).
"""

import pathlib
import resource
import shutil
import socket
import ssl
import subprocess
import urllib.request

import processes

TEMPLATE = pathlib.Path(__file__).resolve().parent.parent / "compare" / "nginx.conf.in"
APT_HINT = "nginx is not installed: apt-get install -y nginx"


def free_ports(count):
    """Ports the kernel has just handed out on 127.0.0.1 (bound together, so all distinct)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Nginx:
    """An nginx master (foreground, its own process group) and its one worker."""

    def __init__(self, workdir, certs, media):
        if shutil.which("nginx") is None:
            raise RuntimeError(APT_HINT)
        self.dir = pathlib.Path(workdir) / "nginx"
        self.certs, self.media = pathlib.Path(certs), pathlib.Path(media)
        self.child = None
        self.port = None

    def render(self, port, unused_port):
        values = {"@DIR@": str(self.dir), "@WORKERS@": "1", "@CERTS@": str(self.certs), "@MEDIA@": str(self.media),
                  "@LOCAL_PORT@": str(port), "@S3_PROXY_PORT@": str(unused_port), "@S3_PORT@": str(unused_port),
                  "@BUCKET@": "unused", "@NOFILE@": str(_nofile())}
        text = TEMPLATE.read_text()
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    def start(self, deadline_s=30):
        (self.dir / "tmp").mkdir(parents=True, exist_ok=True)
        self.port, unused = free_ports(2)
        conf = self.dir / "nginx.conf"
        conf.write_text(self.render(self.port, unused))
        error_log = self.dir / "error.log"
        check = subprocess.run(["nginx", "-t", "-q", "-e", str(error_log), "-c", str(conf)],
                               capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed: {check.stderr.strip()}")
        with open(error_log, "ab") as log:
            self.child = processes.spawn(["nginx", "-e", str(error_log), "-c", str(conf)],
                                         stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
        processes.wait_for(self._ready, deadline_s, "nginx to serve /tiny.bin")
        return self

    def _ready(self):
        if self.child.poll() is not None:
            raise RuntimeError(f"nginx exited with status {self.child.returncode}")
        context = ssl.create_default_context(cafile=str(self.certs / "dev-ca.pem"))
        try:
            with urllib.request.urlopen(f"https://localhost:{self.port}/tiny.bin", context=context, timeout=2) as answer:
                return answer.status == 200
        except (OSError, ssl.SSLError):
            return False

    @property
    def worker_pid(self):
        """The one worker: the master's child (from /proc, the master's task's `children`)."""
        children = pathlib.Path(f"/proc/{self.child.pid}/task/{self.child.pid}/children").read_text().split()
        if len(children) != 1:
            raise RuntimeError(f"expected one nginx worker, found {children}")
        return int(children[0])

    def stop(self):
        if self.child is not None:
            processes.end(self.child)


def _nofile():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def version():
    if shutil.which("nginx") is None:
        return None
    return subprocess.run(["nginx", "-v"], capture_output=True, text=True, timeout=10).stderr.strip()

