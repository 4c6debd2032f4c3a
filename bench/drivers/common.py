"""What the drivers share: the common options, and `Servers`, which starts the S3 stand-in,
origins and nginx of one run in its scratch folder and stops them all when the run ends."""

import contextlib
import os
import pathlib
import resource
import sys
import time

from rig import nginx, origin, processes, s3, scratch

REPO = pathlib.Path(__file__).resolve().parent.parent.parent
MIB = 1 << 20
BUILD_HINT = ("cargo build --release --bin vod-origin (or pass --origin-bin, e.g. target/debug/vod-origin "
              "after cargo build --bin vod-origin)")


def add_common(parser):
    parser.add_argument("--origin-bin", default=str(REPO / "target/release/vod-origin"),
                        help="the vod-origin binary (default target/release/vod-origin: " + BUILD_HINT + ")")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs, configurations, samples)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an origin setting for every origin of the run, e.g. --set server.max_connections=500")


def say(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def check_binary(path):
    if not pathlib.Path(path).is_file():
        raise RuntimeError(f"no origin binary at {path}: {BUILD_HINT}")


def raise_fd_limit(needed=0):
    """The soft descriptor limit raised to the hard one (nginx's workers inherit it too)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if needed > hard:
        raise RuntimeError(f"{needed} descriptors needed, the hard limit is {hard}: raise it (ulimit -Hn)")


class Servers:
    """Every server of one run, in one scratch folder; `with Servers(args, "compare") as run:`.

    On leaving the block, however it is left, every server is stopped (its process group
    killed) and the scratch folder removed unless --keep."""

    def __init__(self, args, prefix):
        self.args = args
        self.prefix = prefix
        self._stack = contextlib.ExitStack()
        self.workdir = None
        self.store = None
        self.origins = []
        self.nginxes = []

    def __enter__(self):
        check_binary(self.args.origin_bin)
        raise_fd_limit()
        self.workdir = self._stack.enter_context(scratch.folder(self.prefix, keep=self.args.keep))
        self._stack.callback(processes.end_all)
        return self

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)

    @property
    def certs(self):
        return self.workdir / "certs"

    @property
    def ca(self):
        return self.certs / "dev-ca.pem"

    def s3(self, server=None):
        """The S3 stand-in, started on first use: moto, or `server` when given (an
        `s3.S3sFsServer`, seeded)."""
        if self.store is None:
            self.store = server or s3.S3Server(self.workdir)
            say(f"starting the S3 stand-in ({'moto' if server is None else server.name})")
            self._stack.callback(self.store.stop)
            self.store.start()
        return self.store

    def origin(self, name, media=None, cache="on", settings=None, access_log=False, wrapper=(), deadline_s=60,
               binary=None):
        """A fresh origin reading `media` (a folder), or the S3 stand-in when `media` is None;
        under `wrapper` (valgrind) if given, with `deadline_s` to become ready; `binary`, when
        given, instead of --origin-bin."""
        config = origin.base_settings(self.workdir, media or self.workdir, secret=False)
        config["log.level"] = "info"
        env = None
        if media is None:
            del config["storage.root"]
            config.update(self.s3().settings(cache))
            env = s3.CREDENTIALS
        config.update(settings or {})
        config.update(origin.parse_setting(text) for text in self.args.set)
        server = origin.Origin(binary or self.args.origin_bin, self.workdir, name, config, env=env, access_log=access_log,
                               wrapper=wrapper)
        self._stack.callback(server.stop)
        self.origins.append(server)
        return server.start(deadline_s)

    def nginx(self, media, workers=None, name="nginx"):
        """nginx on the origins' certificate (start an origin first: it makes the certificate)."""
        if not self.ca.exists():
            raise RuntimeError("nginx needs the development certificate: start an origin first")
        server = nginx.Nginx(self.workdir, self.certs, media, workers=workers, s3=self.store, name=name)
        self._stack.callback(server.stop)
        self.nginxes.append(server)
        return server.start()

    def retire(self, server):
        """Stops a server before the run ends; `check_alive` no longer expects it."""
        server.stop()
        for servers in (self.origins, self.nginxes):
            if server in servers:
                servers.remove(server)

    def check_alive(self):
        """Fails the run, with the server's last log lines, when a server it started has gone."""
        for server in self.origins + self.nginxes + ([self.store] if self.store else []):
            if not server.alive():
                raise RuntimeError(f"a server exited during the run (status {server.child.returncode}): "
                                   f"{server.log_tail()}")


def cores():
    return len(os.sched_getaffinity(0))
