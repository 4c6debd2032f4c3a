"""cache-hammer: the edge cache under load. Random 1 MiB ranges of one object from many
connections through the S3 backend, counting what reached S3 and sampling the origin's memory
against the cache's bound. Run it with the cache larger than the object (every block read from
S3 once) and smaller (eviction: memory must stay near the bound, S3 reads go up); --disk-mib
adds a disk tier in the scratch folder; --cache-mib 0 turns the cache off, for comparison.
"""

import threading

from drivers import common
from rig import clients, sampler, scratch

NAME = "cache-hammer"
SUMMARY = "random ranges through the edge cache: S3 reads and memory against the bound (docs/cache.md)"
MIB = common.MIB
# Memory is sampled this often while wrk runs.
SAMPLE_EVERY_S = 1.0
COUNTERS = [
    ("S3 GetObject calls", 'vod_origin_s3_requests_total{operation="GetObject"', 1),
    ("bytes from S3, MiB", "vod_origin_s3_bytes_total", MIB),
    ("block lookups: hit", 'vod_origin_cache_requests_total{result="hit"', 1),
    ("block lookups: miss", 'vod_origin_cache_requests_total{result="miss"', 1),
    ("block lookups: collapsed", 'vod_origin_cache_requests_total{result="collapsed"', 1),
    ("evictions", "vod_origin_cache_evictions_total", 1),
    ("disk tier: hit", 'vod_origin_cache_disk_requests_total{result="hit"', 1),
    ("disk tier: miss", 'vod_origin_cache_disk_requests_total{result="miss"', 1),
    ("disk tier: blocks written", "vod_origin_cache_disk_writes_total", 1),
]


def add_arguments(parser):
    parser.add_argument("--object-mib", type=int, default=256, help="the object's size, MiB (default 256)")
    parser.add_argument("--cache-mib", type=int, default=512, help="storage.cache.max_bytes in MiB; 0: no cache")
    parser.add_argument("--seconds", type=float, default=20, help="how long wrk runs (default 20)")
    parser.add_argument("--connections", type=int, default=64, help="wrk's connections (default 64)")
    parser.add_argument("--disk-mib", type=int, default=0, help="a disk tier of this size, MiB (default none)")


def settings(args, workdir):
    chosen = {"storage.cache.enabled": args.cache_mib > 0,
              "storage.cache.max_bytes": (args.cache_mib or 512) * MIB}
    if args.disk_mib:
        chosen.update({"storage.cache.disk_dir": str(workdir / "disk"), "storage.cache.disk_bytes": args.disk_mib * MIB})
    return chosen


def sample_memory(origin, stop, rows):
    """(RSS KiB, cache block memory KiB) every second until `stop` is set."""
    while not stop.wait(SAMPLE_EVERY_S):
        rows.append((sampler.rss_kib(origin.pid) or 0, origin.metric_total("vod_origin_cache_memory_bytes") / 1024))


def run(args):
    clients.require("wrk")
    with common.Servers(args, NAME) as servers:
        big = scratch.random_file(servers.workdir / "seed" / "big.bin", args.object_mib * MIB)
        servers.s3().put_file("big.bin", big)
        origin = servers.origin("vod-cache", settings=settings(args, servers.workdir), access_log=False)
        print(f"object {args.object_mib} MiB, cache {args.cache_mib} MiB, disk tier {args.disk_mib} MiB, "
              f"{args.connections} connections for {args.seconds:g} s")
        print(f"origin RSS idle: {sampler.rss_kib(origin.pid)} KiB")
        stop, rows = threading.Event(), []
        watcher = threading.Thread(target=sample_memory, args=(origin, stop, rows), daemon=True)
        watcher.start()
        try:
            got = clients.ranges(f"{origin.base_url()}/big.bin", big.stat().st_size, args.connections, args.seconds)
        finally:
            stop.set()
            watcher.join(timeout=10)
        print(f"wrk: {got['requests']} ranges, {got['rps']:.1f} req/s, p50 {got['p50_ms']:.1f} ms, "
              f"p99 {got['p99_ms']:.1f} ms")
        peak_rss = max((r[0] for r in rows), default=0)
        peak_blocks = max((r[1] for r in rows), default=0)
        print(f"origin RSS peak: {peak_rss} KiB; block memory peak: {peak_blocks:.0f} KiB "
              f"(bound {args.cache_mib * 1024} KiB)")
        for label, prefix, unit in COUNTERS:
            print(f"{label}: {origin.metric_total(prefix) / unit:.0f}")
        warnings = [line for line in origin.log_path.read_text(errors="replace").splitlines()
                    if '"level":"WARN"' in line or '"level":"ERROR"' in line]
        print(f"origin warnings and errors: {len(warnings)}")
        for line in warnings[-3:]:
            print(f"  {line[:400]}")
    return 0
