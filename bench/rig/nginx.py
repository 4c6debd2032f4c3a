"""Debian's nginx beside the origin, from `nginx.conf.in`: the same certificate, the same folder.

The configuration's comments say why each setting is what it is. One server block serves the
media folder; the other proxies to the S3 stand-in when there is one (and points at a port
nothing listens on otherwise, never used). nginx cannot report a kernel-chosen port, so its
ports are found by binding port 0 and releasing it just before nginx binds it (a narrow race,
on loopback only).
"""

import os
import pathlib
import resource
import shutil
import socket
import ssl
import subprocess
import urllib.request

from . import processes

TEMPLATE = pathlib.Path(__file__).resolve().parent / "nginx.conf.in"
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


class Nginx(processes.Server):
    """An nginx master (foreground, its own process group) and its workers.

    `workers` defaults to one per core, nginx's own advice and what vod-origin's runtime does;
    `s3` is the stand-in to proxy to (an `s3.S3Server`), or None."""

    def __init__(self, workdir, certs, media, workers=None, s3=None, name="nginx"):
        if shutil.which("nginx") is None:
            raise RuntimeError(APT_HINT)
        self.dir = pathlib.Path(workdir) / name
        self.log_path = self.dir / "error.log"
        self.certs, self.media = pathlib.Path(certs), pathlib.Path(media)
        self.workers = workers or len(os.sched_getaffinity(0))
        self.s3 = s3
        self.child = None
        self.port = None
        self.s3_port = None

    def render(self):
        upstream = self.s3.port if self.s3 else self.s3_port
        values = {"@DIR@": str(self.dir), "@WORKERS@": str(self.workers), "@CERTS@": str(self.certs),
                  "@MEDIA@": str(self.media), "@LOCAL_PORT@": str(self.port), "@S3_PROXY_PORT@": str(self.s3_port),
                  "@S3_PORT@": str(upstream), "@BUCKET@": self.s3.bucket if self.s3 else "unused",
                  "@NOFILE@": str(_nofile())}
        text = TEMPLATE.read_text()
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    def start(self, deadline_s=30):
        (self.dir / "tmp").mkdir(parents=True, exist_ok=True)
        self.port, self.s3_port = free_ports(2)
        conf = self.dir / "nginx.conf"
        conf.write_text(self.render())
        error_log = self.dir / "error.log"
        processes.run(["nginx", "-t", "-q", "-e", str(error_log), "-c", str(conf)], 30, "nginx -t")
        with open(error_log, "ab") as log:
            self.child = processes.spawn(["nginx", "-e", str(error_log), "-c", str(conf)],
                                         stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
        processes.wait_for(self._ready, deadline_s, "nginx to serve /tiny.bin")
        return self

    def _ready(self):
        if self.child.poll() is not None:
            raise RuntimeError(f"nginx exited with status {self.child.returncode}: {self.log_tail()}")
        context = ssl.create_default_context(cafile=str(self.certs / "dev-ca.pem"))
        try:
            with urllib.request.urlopen(f"{self.base_url()}/tiny.bin", context=context, timeout=2) as answer:
                return answer.status == 200
        except (OSError, ssl.SSLError):
            return False

    def base_url(self):
        return f"https://localhost:{self.port}"

    def s3_url(self):
        return f"https://localhost:{self.s3_port}"

    @property
    def pid(self):
        return self.child.pid

    @property
    def worker_pids(self):
        """The master's children (from /proc, the master's task's `children`)."""
        children = pathlib.Path(f"/proc/{self.child.pid}/task/{self.child.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    @property
    def worker_pid(self):
        """The one worker, when there is one."""
        workers = self.worker_pids
        if len(workers) != 1:
            raise RuntimeError(f"expected one nginx worker, found {workers}")
        return workers[0]

    @property
    def pids(self):
        """Every process whose cost counts: the master and its workers."""
        return [self.child.pid] + self.worker_pids



def _nofile():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def version():
    """`nginx/1.22.1`, or None when nginx is not installed."""
    if shutil.which("nginx") is None:
        return None
    answer = subprocess.run(["nginx", "-v"], capture_output=True, text=True, timeout=10)
    return answer.stderr.strip().removeprefix("nginx version: ")
