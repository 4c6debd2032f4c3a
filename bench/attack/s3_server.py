"""The S3 stand-in (`examples/s3-dev-server.rs`, s3s-fs) for runs with `--store s3`.

It listens on `127.0.0.1:0` and logs the endpoint it got ("S3 endpoint http://...") once it has
put the media folder into its bucket through the S3 API (so ETags are stored, as S3 would), so
that line is both the address and the readiness: no port is guessed. Its bucket lives in the
scratch folder, not in a temporary folder of its own, which a SIGTERM would leave behind.
"""

import pathlib
import re
import subprocess

import processes

BUCKET = "videos"
# The development server's fixed keys; the origin reads them from the AWS default chain.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "minioadmin", "AWS_SECRET_ACCESS_KEY": "minioadmin"}
# Seeding goes through the S3 API at s3s-fs's pace (4 KiB writes, about 100 MB/s): a minute,
# and a second more for every 20 MiB of media.
SEED_BASE_S = 60
SEED_MIB_PER_S = 20
ENDPOINT_LINE = re.compile(r"S3 endpoint (http://\S+?),")


class S3Server:
    """A running s3-dev-server: its pid, its endpoint, and how to stop it."""

    def __init__(self, binary, workdir, media):
        self.binary = binary
        self.root = pathlib.Path(workdir) / "s3"
        self.media = pathlib.Path(media)
        self.log_path = pathlib.Path(workdir) / "s3-dev-server.log"
        self.child = None
        self.endpoint = None

    @property
    def pid(self):
        return self.child.pid

    @property
    def port(self):
        return int(self.endpoint.rpartition(":")[2])

    def start(self):
        media_mib = sum(f.stat().st_size for f in self.media.rglob("*") if f.is_file()) >> 20
        with open(self.log_path, "wb") as log:
            self.child = processes.spawn([self.binary, "--listen", "127.0.0.1:0", "--root", str(self.root),
                                          "--bucket", BUCKET, "--seed", str(self.media)],
                                         stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        try:
            self.endpoint = processes.wait_for(self._endpoint_line, SEED_BASE_S + media_mib / SEED_MIB_PER_S,
                                               "s3-dev-server's \"S3 endpoint\" log line (after seeding)")
        except BaseException:
            self.stop()
            raise
        return self

    def _endpoint_line(self):
        if self.child.poll() is not None:
            raise RuntimeError(f"s3-dev-server exited with status {self.child.returncode}: "
                               f"{self.log_path.read_text(errors='replace')[-500:]}")
        found = ENDPOINT_LINE.search(self.log_path.read_text(errors="replace"))
        return found and found.group(1)

    def settings(self, cache):
        """The origin's storage settings for this server, with the edge cache on or off."""
        return {
            "storage.backend": "s3",
            "storage.s3.endpoint": self.endpoint,
            "storage.s3.region": "us-east-1",
            "storage.s3.force_path_style": True,
            "storage.s3.bucket": BUCKET,
            "storage.cache.enabled": cache == "on",
        }

    def stop(self):
        if self.child is not None:
            processes.end(self.child)
