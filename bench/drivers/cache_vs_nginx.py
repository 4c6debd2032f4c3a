"""cache-vs-nginx: edge-cache hits against nginx's page cache, in interleaved A/B pairs.

One object is served by vod-origin out of its warm edge cache (S3 backend; every block read
once, then S3 is no longer asked) and by nginx from a local copy in the page cache, over the
same certificate, to the same clients. Per pair: the median first byte of 1 KiB ranges on one
kept-alive connection (curl), then wrk with random 1 MiB ranges at 16 and 64 connections
(req/s, p50, p99, server CPU per GB). docs/cache.md holds the results.
"""

import sys

from drivers import common
from rig import clients, machine, pairs, sampler, scratch

NAME = "cache-vs-nginx"
SUMMARY = "edge-cache hits against nginx's page cache, in A/B pairs (docs/cache.md)"
MIB = common.MIB
BLOCK = 8 * MIB  # storage.cache.block_size's default
HIT_RANGE = f"bytes={5 * MIB}-{5 * MIB + 1023}"
QUICK = {"pairs": 1, "object_mib": 16, "seconds": 2, "first_bytes": 20}
FULL = {"pairs": 3, "object_mib": 256, "seconds": 10, "first_bytes": 200}
METRICS = [
    pairs.Metric("first_byte_hit", "first byte, 1 KiB range, warm connection (median)", "ms", target=1.0),
    pairs.Metric("ranges16_rps", "1 MiB ranges, 16 conns (wrk)", "req/s", better="higher", target=1.0),
    pairs.Metric("ranges16_p50", "… p50", "ms"),
    pairs.Metric("ranges16_p99", "… p99", "ms"),
    pairs.Metric("cpu_ranges16", "… server CPU per GB", "CPU s/GB"),
    pairs.Metric("ranges64_rps", "1 MiB ranges, 64 conns (wrk)", "req/s", better="higher", target=1.0),
    pairs.Metric("ranges64_p50", "… p50", "ms"),
    pairs.Metric("ranges64_p99", "… p99", "ms"),
    pairs.Metric("cpu_ranges64", "… server CPU per GB", "CPU s/GB"),
]
GET_OBJECT = 'vod_origin_s3_requests_total{operation="GetObject"'


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help="1 pair, a 16 MiB object, 2 s runs")
    parser.add_argument("--pairs", type=int, help="A/B pairs (default 3)")
    parser.add_argument("--object-mib", type=int, help="the object's size, MiB (default 256; at least 8)")
    parser.add_argument("--seconds", type=float, help="each wrk run, s (default 10)")
    parser.add_argument("--first-bytes", type=int, help="requests per first-byte sample (default 200)")


def sizes(args):
    chosen = dict(QUICK if args.quick else FULL)
    chosen.update({k: getattr(args, k) for k in chosen if getattr(args, k) is not None})
    return chosen


def start(servers, size):
    """The object in S3 and in nginx's folder; vod-origin with a cache twice its size; nginx."""
    media = servers.workdir / "media"
    big = scratch.random_file(media / "big.bin", size["object_mib"] * MIB)
    (media / "tiny.bin").write_bytes(b"t" * 1024)
    servers.s3().put_file("big.bin", big)
    vod = servers.origin("vod-cache", settings={"storage.cache.enabled": True, "storage.cache.metadata_ttl": "1h",
                                                "storage.cache.max_bytes": 2 * size["object_mib"] * MIB})
    return big, vod, servers.nginx(media)


def warm(big, vod, nginx, ca):
    """Every block into vod-origin's cache, the file into the page cache; both answer right."""
    for at in range(0, big.stat().st_size, BLOCK):
        clients.check_range(f"{vod.base_url()}/big.bin", ca, big, offset=at, length=min(BLOCK, big.stat().st_size - at))
    scratch.read_through(big)
    clients.check_range(f"{nginx.base_url()}/big.bin", ca, big)


def measure(samples, pair, side, server, pids, size, ca, object_bytes):
    url = f"{server.base_url()}/big.bin"
    urls = [url] * (size["first_bytes"] + 1)
    samples.add(pair, "first_byte_hit", side, clients.median_first_byte(urls, ca, HIT_RANGE))
    for connections in (16, 64):
        before = sampler.cost(pids)
        got = clients.ranges(url, object_bytes, connections, size["seconds"])
        spent = sampler.cost_between(before, sampler.cost(pids))
        for key in ("rps", "p50_ms", "p99_ms"):
            samples.add(pair, f"ranges{connections}_{key.removesuffix('_ms')}", side, got[key])
        samples.add(pair, f"cpu_ranges{connections}", side, spent["cpu_s"] / (got["bytes"] / 1e9))


def run(args):
    size = sizes(args)
    clients.require("curl", "wrk", "nginx")
    load_before = machine.load_average()
    samples = pairs.Samples()
    with common.Servers(args, NAME) as servers:
        big, vod, nginx = start(servers, size)
        common.say("warming: every block into vod-origin's cache, the file into the page cache")
        warm(big, vod, nginx, servers.ca)
        gets_warm = vod.metric_total(GET_OBJECT)
        for pair in range(1, size["pairs"] + 1):
            common.say(f"pair {pair} of {size['pairs']}")
            for side in pairs.order(pair, ("vod", "nginx")):
                server, pids = (vod, [vod.pid]) if side == "vod" else (nginx, nginx.pids)
                measure(samples, pair, side, server, pids, size, servers.ca, big.stat().st_size)
            servers.check_alive()
        gets_during = vod.metric_total(GET_OBJECT) - gets_warm
        rss_mib = sampler.rss_kib(vod.pid) / 1024
    print(f"## `{' '.join(['python3', 'bench/run.py', *sys.argv[1:]])}` "
          f"({size['pairs']} pairs, {size['object_mib']} MiB object, {size['seconds']:g} s runs)\n")
    print(samples.table(METRICS, {}))
    print(f"\nS3 GetObject calls: {gets_warm:.0f} to warm, {gets_during:.0f} during the measurements; "
          f"vod-origin RSS {rss_mib:.0f} MiB\n")
    print(machine.describe(args.origin_bin, load_before))
    return 0
