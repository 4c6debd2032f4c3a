"""The one S3 stand-in of every benchmark: moto's S3 API (`moto[server]` from PyPI).

Why moto, and not `examples/s3-dev-server` (s3s with s3s-fs, in process):
- moto evaluates conditional requests as S3 does (If-Match, If-None-Match, If-Modified-Since,
  If-Unmodified-Since), so the origin's conditional and one-round-trip paths meet S3's answers;
  s3s-fs ignores If-Match.
- moto accepts unsigned requests for objects put `public-read`, so nginx (which cannot sign
  SigV4) proxies to the same server, and a direct GetObject with curl is the reference for the
  origin's first byte; s3s-fs checks signatures and denies both.
- it is a pip install, with nothing to build; s3s-fs reads in 4 KiB steps (about 100 MB/s),
  slow enough to be what a benchmark through it measures.
What moto costs: it holds objects in memory (spilling to TMPDIR, the scratch folder) and copies
a whole object for every GET, ranged or not. So S3 objects are kept small (at most a few hundred
MiB) and S3 rows compare what each side adds on top of the same server, never S3's throughput.

The server is `moto_serve.py` in its own process group; its first line is its endpoint, and so
its readiness. Objects are put through the S3 API (boto3), so ETags are stored as S3 would.
"""

import os
import pathlib
import re
import subprocess
import sys

from . import processes

BUCKET = "videos"
# moto checks no signature; the origin signs with these, from the AWS default chain.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
ENDPOINT_LINE = re.compile(r"S3 endpoint (http://\S+)")
SERVE = pathlib.Path(__file__).resolve().parent / "moto_serve.py"
PIP_HINT = "moto or boto3 is missing: python3 -m pip install -r bench/requirements.txt"
# moto imports a great deal before it listens: seconds on a busy machine.
START_DEADLINE_S = 60
# A PUT or any other call of the seeding client that takes longer has failed.
PUT_DEADLINE_S = 120


class S3Server(processes.Server):
    """A running moto: its pid, endpoint and port, and the objects put into its bucket."""

    name = "moto"

    def __init__(self, workdir, bucket=BUCKET):
        self.workdir = pathlib.Path(workdir)
        self.bucket = bucket
        self.log_path = self.workdir / "moto.log"
        self.child = None
        self.endpoint = None
        self._client = None

    @property
    def pid(self):
        return self.child.pid

    @property
    def port(self):
        return int(self.endpoint.rpartition(":")[2])

    def start(self):
        spill = self.workdir / "moto-tmp"
        spill.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.child = processes.spawn([sys.executable, str(SERVE)], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, env={**os.environ, "TMPDIR": str(spill)})
        self.endpoint = processes.wait_for(self._endpoint_line, START_DEADLINE_S, "moto's \"S3 endpoint\" line")
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def _endpoint_line(self):
        if self.child.poll() is not None:
            raise RuntimeError(f"{self.name} exited with status {self.child.returncode}: {self.log_tail()}")
        found = ENDPOINT_LINE.search(self.log_path.read_text(errors="replace"))
        # s3-dev-server's line is "S3 endpoint http://127.0.0.1:PORT, bucket ...".
        return found and found.group(1).rstrip(",")

    def client(self):
        """A boto3 client for this server: path-style, one plain PUT per object (no trailers)."""
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as error:
                raise RuntimeError(PIP_HINT) from error
            self._client = boto3.client(
                "s3", endpoint_url=self.endpoint, region_name="us-east-1",
                aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                              connect_timeout=10, read_timeout=PUT_DEADLINE_S, retries={"max_attempts": 1}))
        return self._client

    def put_file(self, key, path):
        """Puts one file, readable by anonymous callers: nginx cannot sign SigV4, and moto checks
        ACLs (not signatures), so its and curl's unsigned GETs need `public-read`."""
        with open(path, "rb") as body:
            self.client().put_object(Bucket=self.bucket, Key=key, Body=body, ACL="public-read")

    def put_folder(self, folder):
        """Puts every file of `folder`, keyed by its path relative to it."""
        root = pathlib.Path(folder)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            self.put_file(path.relative_to(root).as_posix(), path)

    def object_url(self, key):
        """The plain-HTTP URL of an object, for a direct (unsigned) GetObject."""
        return f"{self.endpoint}/{self.bucket}/{key}"

    def settings(self, cache):
        """The origin's storage settings for this server, with the edge cache on or off."""
        return {
            "storage.backend": "s3",
            "storage.s3.endpoint": self.endpoint,
            "storage.s3.region": "us-east-1",
            "storage.s3.force_path_style": True,
            "storage.s3.bucket": self.bucket,
            "storage.cache.enabled": cache == "on",
        }


class S3sFsServer(S3Server):
    """s3s with s3s-fs (`examples/s3-dev-server`), for runs moto cannot serve: many concurrent
    streams of one large object. moto copies the whole object for every GET, so a thousand
    viewers of a 1 GiB object would need a thousand copies; s3s-fs reads the file as it sends
    it, at about 100 MB/s in all (4 KiB reads). It checks SigV4 (the origin signs with
    CREDENTIALS) and ignores If-Match: not for conditional or unsigned (nginx, curl) runs.
    Build it with `cargo build --release --example s3-dev-server`."""

    name = "s3-dev-server"

    def __init__(self, workdir, binary, bucket=BUCKET):
        super().__init__(workdir, bucket)
        self.binary = pathlib.Path(binary)
        self.log_path = self.workdir / "s3s-fs.log"
        self.seed = None

    def start(self):
        """Starts the server; `seed_with` first names the folder it puts into its bucket."""
        if not self.binary.exists():
            raise RuntimeError(f"{self.binary} is missing: cargo build --release --example s3-dev-server")
        root = self.workdir / "s3s-fs"
        root.mkdir(parents=True, exist_ok=True)
        command = [str(self.binary), "--root", str(root), "--listen", "127.0.0.1:0", "--bucket", self.bucket,
                   "--access-key", CREDENTIALS["AWS_ACCESS_KEY_ID"], "--secret-key", CREDENTIALS["AWS_SECRET_ACCESS_KEY"]]
        if self.seed is not None:
            command += ["--seed", str(self.seed)]
        with open(self.log_path, "wb") as log:
            self.child = processes.spawn(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.endpoint = processes.wait_for(self._endpoint_line, START_DEADLINE_S + PUT_DEADLINE_S,
                                           "s3-dev-server's \"S3 endpoint\" line")
        return self

    def seed_with(self, folder):
        self.seed = folder
        return self

    def put_folder(self, folder):
        raise RuntimeError("s3-dev-server is seeded when it starts: seed_with(folder).start()")

