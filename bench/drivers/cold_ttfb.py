"""cold-ttfb: the first byte of a cold block, against a direct GetObject of the same range.

A 1 KiB range whose block is not cached yet, so the request waits on a fill from S3: one
request per block, one after another on one kept-alive connection, at the start of each block
and (a second object) in its middle; the same with the cache off; and the same ranges asked of
the S3 stand-in directly, the reference. Read-ahead is off, so every block is cold. moto copies
the whole object for every GET, so the object is kept small (64 MiB by default) and the ratio
to the direct GET, not the milliseconds, is the figure to compare.
"""

import statistics

from drivers import common
from rig import clients, scratch

NAME = "cold-ttfb"
SUMMARY = "first byte of a cold block through the edge cache, against a direct GetObject (docs/cache.md)"
MIB = common.MIB
BLOCK = 8 * MIB  # storage.cache.block_size's default


def add_arguments(parser):
    parser.add_argument("--object-mib", type=int, default=64, help="each object's size, MiB (default 64; ≥ 8)")


def requests(base, key, blocks, offset):
    """(url, range) of 1 KiB at `offset` into each block, after one request that opens the connection."""
    ranges = [(f"{base}/{key}", f"bytes={b * BLOCK + offset}-{b * BLOCK + offset + 1023}") for b in range(blocks)]
    return [(f"{base}/tiny.bin", "bytes=0-1023")] + ranges


def median_ms(series, ca, expect="206"):
    return statistics.median(clients.first_bytes_each(series, ca, expect))


def run(args):
    clients.require("curl")
    blocks = max(1, args.object_mib * MIB // BLOCK)
    with common.Servers(args, NAME) as servers:
        seed = servers.workdir / "seed"
        scratch.random_file(seed / "start.bin", args.object_mib * MIB)
        (seed / "tiny.bin").write_bytes(b"t" * 1024)
        store = servers.s3()
        for cache in ("on", "off"):
            # Fresh copies for each origin, so that every block is cold for it.
            for key in ("start", "middle"):
                store.put_file(f"{cache}-{key}.bin", seed / "start.bin")
        store.put_file("tiny.bin", seed / "tiny.bin")
        direct = f"{store.endpoint}/{store.bucket}"
        print(f"{blocks} blocks of 8 MiB per object ({args.object_mib} MiB); median first byte of a 1 KiB range")
        for cache in ("on", "off"):
            origin = servers.origin(f"vod-cache-{cache}", cache=cache,
                                    settings={"storage.cache.read_ahead_blocks": 0})
            at_start = median_ms(requests(origin.base_url(), f"{cache}-start.bin", blocks, 0), servers.ca)
            middle = median_ms(requests(origin.base_url(), f"{cache}-middle.bin", blocks, BLOCK // 2), servers.ca)
            print(f"cache {cache}: at the block's start {at_start:.2f} ms, in its middle {middle:.2f} ms")
            servers.retire(origin)
        at_start = median_ms(requests(direct, "on-start.bin", blocks, 0), servers.ca)
        middle = median_ms(requests(direct, "on-middle.bin", blocks, BLOCK // 2), servers.ca)
        print(f"S3 directly (GetObject of the same ranges): at the start {at_start:.2f} ms, in the middle {middle:.2f} ms")
    return 0
