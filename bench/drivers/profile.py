"""profile: where each server's CPU goes per GB served, vod-origin against nginx, from perf.

Both serve the same local file (in the page cache) over the same certificate; wrk asks each in
turn for 1 MiB ranges at random offsets (or curl for whole-object GETs, `--bulk`) while `perf
record` samples the server's processes (vod-origin's one; nginx's workers). Each sample's symbol
is put in one of a few kinds of work (encryption, the kernel's copies, TCP/IP, wake-ups...), and
each kind's share of the samples is scaled by the server's CPU seconds per GB over the same run
(`/proc/PID/stat`): what each kind of work costs per GB served. This is what docs/benchmarks.md
uses to say how far a CPU-per-GB target can go: the work both servers must do per byte is the
floor. Needs `perf` (Debian: linux-perf) and permission to attach to the servers (root).

    python3 bench/run.py profile                # 1 MiB ranges, 64 connections
    python3 bench/run.py profile --bulk         # whole-object GETs
"""

import collections
import re
import subprocess
import time

from drivers import common
from rig import clients, processes, sampler, scratch

NAME = "profile"
SUMMARY = "perf: each server's CPU per GB by kind of work, vod-origin against nginx (docs/benchmarks.md)"
MIB = common.MIB
SIDES = ("vod-origin", "nginx")
FREQUENCY_HZ = 999
# Kinds of work, the first whose pattern matches a sample's symbol (user space, then kernel).
USER_KINDS = [
    ("AES-GCM (aws-lc; OpenSSL's libcrypto, whose assembly has no symbols)", r"aes|gcm|ghash|^0x"),
    ("user-space memcpy", r"memmove|memcpy"),
    ("user-space memset", r"memset"),
    ("allocator", r"malloc|free|_int_|realloc|tcache|arena"),
    ("the rest of the server, user space", r""),
]
KERNEL_KINDS = [
    ("kernel: page-cache reads and socket copies", r"^_copy_(to|from)_iter$|copy_user|memcpy|copy_page|filemap_|folio"),
    ("kernel: wake-ups and context switches", r"finish_task_switch|spin_unlock_irq|schedule|futex|wake|sched|enqueue|"
                                              r"dequeue|switch"),
    ("kernel: TCP/IP", r"tcp|ip_|inet|skb|sock|net_|netif|loopback|dev_|napi|nf_|sk_"),
    ("kernel: page faults, mmap", r"fault|mmap|munmap|pte|vma|zap|clear_page"),
    ("kernel: syscalls, epoll, the rest", r""),
]


def add_arguments(parser):
    parser.add_argument("--bulk", action="store_true", help="whole-object GETs (curl) instead of 1 MiB ranges")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--seconds", type=int, default=12, help="each server's run, s (default 12)")
    parser.add_argument("--big-mib", type=int, default=1024, help="the file's size, MiB (default 1024)")


def run(args):
    clients.require("wrk", "curl", "nginx", "perf")
    with common.Servers(args, NAME) as servers:
        media = servers.workdir / "media"
        big = scratch.random_file(media / "big.bin", args.big_mib * MIB)
        (media / "tiny.bin").write_bytes(b"t" * 1024)
        vod = servers.origin("vod-local", media=media)
        nginx = servers.nginx(media)
        scratch.read_through(big)
        costs = {}
        for side, server, pids in (("vod-origin", vod, [vod.pid]), ("nginx", nginx, nginx.worker_pids)):
            common.say(f"profiling {side}")
            costs[side] = profile(server, pids, big, args, servers)
            servers.check_alive()
    report(costs, args)
    return 0


def profile(server, pids, big, args, servers):
    """{kind: CPU s per GB} for one server under the load."""
    url = f"{server.base_url()}/big.bin"
    clients.ranges(url, big.stat().st_size, 16, 2)
    data = servers.workdir / f"perf-{pids[0]}.data"
    record = subprocess.Popen(["perf", "record", "-F", str(FREQUENCY_HZ), "-o", str(data), "-p", ",".join(map(str, pids)),
                               "--", "sleep", str(args.seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    before = sampler.cost(pids)
    served = load(url, big, args, servers.ca)
    spent = sampler.cost_between(before, sampler.cost(pids))
    if record.wait(timeout=args.seconds + 30) != 0:
        raise RuntimeError(f"perf record failed for {url} (run as root; apt-get install -y linux-perf)")
    cpu_s_per_gb = spent["cpu_s"] / (served / 1e9)
    shares = kinds(processes.run(["perf", "report", "-i", str(data), "--stdio", "--sort", "dso,sym", "--percent-limit",
                                  "0"], 300, "perf report").stdout)
    return {kind: share * cpu_s_per_gb for kind, share in shares.items()} | {"in all": cpu_s_per_gb}


def load(url, big, args, ca):
    """Runs the load for `args.seconds`; returns the bytes served."""
    if not args.bulk:
        return clients.ranges(url, big.stat().st_size, args.connections, args.seconds)["bytes"]
    served, started = 0, time.monotonic()
    while time.monotonic() - started < args.seconds:
        served += clients.bulk(url, ca, big.stat().st_size)["bytes"]
    return served


def kinds(report_text):
    """Each kind's share (0-1) of the samples in `perf report --sort dso,sym` output."""
    shares = collections.Counter()
    for line in report_text.splitlines():
        found = re.match(r"\s+([\d.]+)%\s+(\S+)\s+\[([.k])\]\s+(.*)", line)
        if found:
            percent, _dso, space, symbol = found.groups()
            table = KERNEL_KINDS if space == "k" else USER_KINDS
            kind = next(name for name, pattern in table if re.search(pattern, symbol.strip().lower()))
            shares[kind] += float(percent) / 100
    return shares


def report(costs, args):
    load_text = "whole-object GETs (curl)" if args.bulk else f"1 MiB ranges, {args.connections} connections (wrk)"
    print(f"\nCPU seconds per GB served by kind of work: {load_text}, {args.seconds} s per server, "
          f"perf at {FREQUENCY_HZ} Hz\n")
    print("| kind of work | vod-origin | nginx |")
    print("|---|---:|---:|")
    order = [name for name, _ in USER_KINDS + KERNEL_KINDS]
    for kind in sorted(order, key=lambda k: -max(costs[side].get(k, 0) for side in SIDES)) + ["in all"]:
        cells = " | ".join(f"{costs[side].get(kind, 0):.3f}" for side in SIDES)
        print(f"| {'**in all**' if kind == 'in all' else kind} | {cells} |")
