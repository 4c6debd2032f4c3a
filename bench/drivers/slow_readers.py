"""slow-readers: memory per stream with slow viewers. N clients read a large object through
the S3 backend at a limited rate each (curl --limit-rate) while the origin's resident memory
is sampled; also says whether any S3 body was resumed (the SDK's stalled-stream protection
must not fire on a slow viewer). docs/s3-backend.md holds the results.
"""

import subprocess
import time

from drivers import common
from rig import processes, sampler, scratch

NAME = "slow-readers"
SUMMARY = "memory per slow viewer through the S3 backend (docs/s3-backend.md)"
MIB = common.MIB
REPORT_EVERY_S = 5


def add_arguments(parser):
    parser.add_argument("--clients", type=int, default=20, help="slow viewers (default 20)")
    parser.add_argument("--rate", default="64k", help="each viewer's rate, as curl --limit-rate takes it (default 64k)")
    parser.add_argument("--seconds", type=float, default=60, help="how long they read (default 60)")
    parser.add_argument("--object-mib", type=int, default=256, help="the object's size, MiB (default 256)")


def start_readers(args, url, ca):
    return [processes.spawn(["curl", "-s", "--http1.1", "--cacert", str(ca), "--limit-rate", args.rate,
                             "-o", "/dev/null", "--max-time", f"{args.seconds:g}", url],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(args.clients)]


def run(args):
    with common.Servers(args, NAME) as servers:
        big = scratch.random_file(servers.workdir / "seed" / "big.mp4", args.object_mib * MIB)
        servers.s3().put_file("big.mp4", big)
        origin = servers.origin("vod-s3")
        print(f"clients: {args.clients} at {args.rate} for {args.seconds:g} s on a {args.object_mib} MiB object")
        print(f"origin RSS idle: {sampler.rss_kib(origin.pid)} KiB")
        readers = start_readers(args, f"{origin.base_url()}/big.mp4", servers.ca)
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            time.sleep(min(REPORT_EVERY_S, max(0.1, args.seconds - (time.monotonic() - started))))
            print(f"t={time.monotonic() - started:.0f}s RSS {sampler.rss_kib(origin.pid)} KiB", flush=True)
        for reader in readers:
            processes.wait_for(lambda r=reader: r.poll() is not None, 30, "a slow reader to end")
            processes.end(reader)
        servers.check_alive()
        resumed = origin.log_path.read_text(errors="replace").count("resuming")
        print(f"resumed S3 bodies: {resumed}")
    return 0
