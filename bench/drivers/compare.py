"""compare: vod-origin against nginx (and S3 itself), in interleaved A/B pairs; the table of
docs/benchmarks.md.

Headline rows: server CPU per GB for whole-object GETs and for 1 MiB ranges (local folder), the
first byte of a cold object through S3 against a direct GetObject to the same S3 server, and
the first byte of an edge-cache hit against nginx from its page cache. Then 1 MiB ranges with wrk
at 16 and 64 connections (req/s, p99), page faults per GB and whole-object throughput.

Servers: vod-origin on the local folder; vod-origin on the S3 stand-in with its edge cache (the
default configuration, metadata kept an hour so that a hit is a hit); nginx on the same folder,
one worker per core. CPU and page faults are read from /proc/PID/stat of the server's processes
(vod-origin's one process; nginx's master and workers) before and after each run.
"""

import json
import sys

from drivers import common
from rig import clients, machine, pairs, sampler, scratch

NAME = "compare"
SUMMARY = "vod-origin against nginx and S3 in A/B pairs: CPU per GB, first bytes, ranges (the benchmarks table)"
MIB = common.MIB
BLOCK = 8 * MIB  # storage.cache.block_size's default: the hit object's blocks are warmed one by one
COLD_OBJECT = 256 * 1024  # smaller than a block: a cold request fills the whole object
FIRST_RANGE = "bytes=0-1023"
HIT_RANGE = f"bytes={MIB + 1000}-{MIB + 2023}"
# --quick: one pair, tiny sizes, short runs; checks the harness end to end in about a minute.
QUICK = {"pairs": 1, "big_mib": 16, "seconds": 2, "first_bytes": 10}
FULL = {"pairs": 5, "big_mib": 1024, "seconds": 10, "first_bytes": 50}
HIT_MIB = 16

HEADLINE = [
    pairs.Metric("cpu_bulk", "server CPU per GB, whole-object GETs ({big}), local folder", "CPU s/GB", target=0.6),
    pairs.Metric("cpu_ranges16", "server CPU per GB, 1 MiB ranges (wrk, 16 conns), local folder", "CPU s/GB",
                 target=0.6),
    pairs.Metric("first_byte_cold", "first byte, cold object through S3 (1 KiB of a 256 KiB object)", "ms",
                 b="direct", target=1.1),
    pairs.Metric("first_byte_hit", "first byte, edge-cache hit (1 KiB range; nginx from its page cache)", "ms",
                 target=1.0),
]
MORE = [
    pairs.Metric("ranges16_rps", "1 MiB ranges, 16 conns (wrk)", "req/s", better="higher"),
    pairs.Metric("ranges16_p99", "… p99", "ms"),
    pairs.Metric("ranges64_rps", "1 MiB ranges, 64 conns (wrk)", "req/s", better="higher", target=1.2),
    pairs.Metric("ranges64_p99", "… p99", "ms", target=0.8),
    pairs.Metric("cpu_ranges64", "server CPU per GB, 1 MiB ranges (wrk, 64 conns)", "CPU s/GB"),
    pairs.Metric("faults_bulk", "page faults per GB, whole-object GETs", "faults/GB", ratio=False, goal="≤ 1,000"),
    pairs.Metric("faults_ranges16", "page faults per GB, 1 MiB ranges (16 conns)", "faults/GB", ratio=False,
                 goal="≤ 1,000"),
    pairs.Metric("bulk_mb_s", "whole-object GET throughput ({big}, curl; client-bound on 2 cores)", "MB/s",
                 better="higher"),
]


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help="1 pair, a 16 MiB object, 2 s wrk runs: checks everything end to end (CI)")
    parser.add_argument("--pairs", type=int, help="A/B pairs (default 5; --quick 1)")
    parser.add_argument("--big-mib", type=int, help="the local object's size, MiB (default 1024; --quick 16)")
    parser.add_argument("--seconds", type=float, help="each wrk run, s (default 10; --quick 2)")
    parser.add_argument("--first-bytes", type=int, help="requests per first-byte sample (default 50; --quick 10)")
    parser.add_argument("--json", help="also write every sample to this file")


def sizes(args):
    chosen = dict(QUICK if args.quick else FULL)
    for key in chosen:
        if getattr(args, key) is not None:
            chosen[key] = getattr(args, key)
    return chosen


class Sides:
    """The servers of the run and how each is reached and costed."""

    def __init__(self, servers, size):
        self.servers = servers
        self.size = size
        self.media = servers.workdir / "media"
        self.big = scratch.random_file(self.media / "big.bin", size["big_mib"] * MIB)
        self.hit = scratch.random_file(self.media / "hit.bin", HIT_MIB * MIB)
        (self.media / "tiny.bin").write_bytes(b"t" * 1024)
        common.say(f"media: big.bin {size['big_mib']} MiB (local), hit.bin {HIT_MIB} MiB (local and S3), "
                   f"{self.cold_count()} cold objects of {COLD_OBJECT // 1024} KiB (S3)")
        store = servers.s3()
        for key in ("hit.bin", "tiny.bin"):
            store.put_file(key, self.media / key)
        cold = scratch.random_file(servers.workdir / "cold.bin", COLD_OBJECT)
        for key in self.cold_keys(0, self.cold_count()):
            store.put_file(key, cold)
        self.vod = servers.origin("vod-local", media=self.media)
        self.vod_s3 = servers.origin("vod-s3", settings={"storage.cache.metadata_ttl": "1h"})
        self.nginx = servers.nginx(self.media)

    def cold_count(self):
        """Objects for the cold first bytes: one per request, every pair and the warm-up."""
        return (self.size["pairs"] + 1) * self.size["first_bytes"]

    @staticmethod
    def cold_keys(start, count):
        return [f"cold/{n:05d}.bin" for n in range(start, start + count)]

    def url(self, side, path):
        return f"{(self.vod if side == 'vod' else self.nginx).base_url()}{path}"

    def pids(self, side):
        return [self.vod.pid] if side == "vod" else self.nginx.pids


def check_and_warm(sides):
    """Every server answers a range byte for byte; the page cache and the edge cache are warm."""
    ca = sides.servers.ca
    for side in ("vod", "nginx"):
        clients.check_range(sides.url(side, "/big.bin"), ca, sides.big)
        clients.check_range(sides.url(side, "/hit.bin"), ca, sides.hit)
    for at in range(0, HIT_MIB * MIB, BLOCK):
        clients.check_range(f"{sides.vod_s3.base_url()}/hit.bin", ca, sides.hit, offset=at, length=BLOCK)
    scratch.read_through(sides.big)
    scratch.read_through(sides.hit)
    for side in ("vod", "nginx"):
        clients.bulk(sides.url(side, "/big.bin"), ca, sides.big.stat().st_size)
        clients.ranges(sides.url(side, "/big.bin"), sides.big.stat().st_size, 16, 1)
    # Pair 0's cold objects: the S3 client's connections, and moto's, are open before pair 1.
    for side in ("vod", "direct"):
        measure_cold(pairs.Samples(), 0, sides, side)


def measure_bulk(samples, pair, sides, side):
    before = sampler.cost(sides.pids(side))
    got = clients.bulk(sides.url(side, "/big.bin"), sides.servers.ca, sides.big.stat().st_size)
    spent = sampler.cost_between(before, sampler.cost(sides.pids(side)))
    gigabytes = got["bytes"] / 1e9
    samples.add(pair, "cpu_bulk", side, spent["cpu_s"] / gigabytes)
    samples.add(pair, "faults_bulk", side, spent["faults"] / gigabytes)
    samples.add(pair, "bulk_mb_s", side, got["mb_s"])


def measure_ranges(samples, pair, sides, side, connections):
    before = sampler.cost(sides.pids(side))
    got = clients.ranges(sides.url(side, "/big.bin"), sides.big.stat().st_size, connections, sides.size["seconds"])
    spent = sampler.cost_between(before, sampler.cost(sides.pids(side)))
    gigabytes = got["bytes"] / 1e9
    samples.add(pair, f"ranges{connections}_rps", side, got["rps"])
    samples.add(pair, f"ranges{connections}_p99", side, got["p99_ms"])
    samples.add(pair, f"cpu_ranges{connections}", side, spent["cpu_s"] / gigabytes)
    samples.add(pair, f"faults_ranges{connections}", side, spent["faults"] / gigabytes)


def measure_cold(samples, pair, sides, side):
    """Each key once: the origin has never seen it (so it asks S3), and S3 is asked directly."""
    count = sides.size["first_bytes"]
    keys = sides.cold_keys(pair * count, count)
    store = sides.servers.store
    if side == "vod":
        urls = [f"{sides.vod_s3.base_url()}/tiny.bin"] + [f"{sides.vod_s3.base_url()}/{k}" for k in keys]
    else:
        urls = [store.object_url("tiny.bin")] + [store.object_url(k) for k in keys]
    samples.add(pair, "first_byte_cold", side, clients.median_first_byte(urls, sides.servers.ca, FIRST_RANGE))


def measure_hit(samples, pair, sides, side):
    base = sides.vod_s3.base_url() if side == "vod" else sides.nginx.base_url()
    urls = [f"{base}/hit.bin"] * (4 * sides.size["first_bytes"] + 1)
    samples.add(pair, "first_byte_hit", side, clients.median_first_byte(urls, sides.servers.ca, HIT_RANGE))


def one_pair(samples, pair, sides):
    order = pairs.order(pair, ("vod", "nginx"))
    common.say(f"pair {pair} of {sides.size['pairs']} ({' then '.join(order)})")
    # First bytes before the loads, so neither side is measured in the wake of a load run.
    for side in pairs.order(pair, ("vod", "direct")):
        measure_cold(samples, pair, sides, side)
    for side in order:
        measure_hit(samples, pair, sides, side)
    for side in order:
        measure_bulk(samples, pair, sides, side)
    sides.servers.check_alive()
    for connections in (16, 64):
        for side in order:
            measure_ranges(samples, pair, sides, side, connections)
    sides.servers.check_alive()


def report(samples, size, args, load_before):
    big = f"{size['big_mib'] // 1024} GiB" if size["big_mib"] % 1024 == 0 else f"{size['big_mib']} MiB"
    names = {"big": big}
    command = " ".join(["python3", "bench/run.py", *sys.argv[1:]])
    return "\n".join([
        f"## Results: `{command}` ({size['pairs']} pairs, {size['seconds']:g} s wrk runs)", "",
        samples.table(HEADLINE, names), "", samples.table(MORE, names), "",
        "<details><summary>Every sample</summary>\n", samples.every_sample(), "\n</details>\n",
        "Machine and versions:\n", machine.describe(args.origin_bin, load_before)])


def run(args):
    size = sizes(args)
    clients.require("curl", "wrk", "nginx")
    load_before = machine.load_average()
    common.say(f"load average: {load_before}")
    samples = pairs.Samples()
    with common.Servers(args, NAME) as servers:
        sides = Sides(servers, size)
        common.say("checking ranges byte for byte; warming the page cache, the edge cache and both servers")
        check_and_warm(sides)
        for pair in range(1, size["pairs"] + 1):
            one_pair(samples, pair, sides)
        (servers.workdir / "samples.json").write_text(samples.to_json())
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"sizes": size, "samples": json.loads(samples.to_json())}, out, indent=1)
    print(report(samples, size, args, load_before))
    return 0
