"""cold-ttfb: the first byte of a cold block, against a direct GetObject of the same range.

A 1 KiB range whose block is not cached yet, so the request waits on a fill from S3: one
request per block, one after another on one kept-alive connection, at the start of each block
and (a second object) in its middle; the same with the cache off; and the same ranges asked of
the S3 stand-in directly, the reference, with the whole blocks a fill asks for (S3's part of the
wait). Read-ahead is off, so every block is cold. moto copies
the whole object for every GET, so the object is kept small (64 MiB by default) and the ratio
to the direct GET, not the milliseconds, is the figure to compare.

moto answers a GET with the whole range at once. --s3-server s3s-fs (`examples/s3-dev-server`)
streams it as it reads the file (about 130 MB/s), as S3 streams a body, so the pieces before a
request's first byte show; s3s-fs refuses unsigned requests, so its runs have no direct rows and
the cache-off row is the reference.
"""

import statistics

from drivers import common
from rig import clients, s3, scratch

NAME = "cold-ttfb"
SUMMARY = "first byte of a cold block through the edge cache, against a direct GetObject (docs/cache.md)"
MIB = common.MIB
BLOCK = 8 * MIB  # storage.cache.block_size's default


def add_arguments(parser):
    parser.add_argument("--object-mib", type=int, default=64, help="each object's size, MiB (default 64; ≥ 8)")
    parser.add_argument("--s3-server", choices=("moto", "s3s-fs"), default="moto",
                        help="the S3 stand-in; s3s-fs streams bodies as S3 does (no direct rows)")
    parser.add_argument("--s3s-bin", default=str(common.REPO / "target/release/examples/s3-dev-server"),
                        help="the s3-dev-server binary for --s3-server s3s-fs "
                             "(cargo build --release --example s3-dev-server)")


def requests(base, key, blocks, offset):
    """(url, range) of 1 KiB at `offset` into each block, after one request that opens the connection."""
    ranges = [(f"{base}/{key}", f"bytes={b * BLOCK + offset}-{b * BLOCK + offset + 1023}") for b in range(blocks)]
    return [(f"{base}/tiny.bin", "bytes=0-1023")] + ranges


def whole_blocks(base, key, blocks):
    """(url, range) of each whole block, as a fill asks S3 for it, after one that opens the connection."""
    ranges = [(f"{base}/{key}", f"bytes={b * BLOCK}-{(b + 1) * BLOCK - 1}") for b in range(blocks)]
    return [(f"{base}/tiny.bin", "bytes=0-1023")] + ranges


def median_ms(series, ca, expect="206"):
    return statistics.median(clients.first_bytes_each(series, ca, expect))


def seed_folder(folder, object_mib):
    """The run's objects: a fresh copy for each origin and offset, so every block is cold for it."""
    scratch.random_file(folder / "start.bin", object_mib * MIB)
    for cache in ("on", "off"):
        for key in ("start", "middle"):
            (folder / f"{cache}-{key}.bin").hardlink_to(folder / "start.bin")
    (folder / "start.bin").unlink()
    (folder / "tiny.bin").write_bytes(b"t" * 1024)


def start_store(servers, seed, args):
    """The stand-in the run asks for, holding the seed folder's objects."""
    if args.s3_server == "s3s-fs":
        return servers.s3(s3.S3sFsServer(servers.workdir, args.s3s_bin).seed_with(seed))
    store = servers.s3()
    for path in sorted(seed.iterdir()):
        store.put_file(path.name, path)
    return store


def run(args):
    clients.require("curl")
    blocks = max(1, args.object_mib * MIB // BLOCK)
    with common.Servers(args, NAME) as servers:
        seed = servers.workdir / "seed"
        seed_folder(seed, args.object_mib)
        store = start_store(servers, seed, args)
        print(f"{blocks} blocks of 8 MiB per object ({args.object_mib} MiB, {args.s3_server}); "
              "median first byte of a 1 KiB range")
        for cache in ("on", "off"):
            origin = servers.origin(f"vod-cache-{cache}", cache=cache,
                                    settings={"storage.cache.read_ahead_blocks": 0})
            at_start = median_ms(requests(origin.base_url(), f"{cache}-start.bin", blocks, 0), servers.ca)
            middle = median_ms(requests(origin.base_url(), f"{cache}-middle.bin", blocks, BLOCK // 2), servers.ca)
            print(f"cache {cache}: at the block's start {at_start:.2f} ms, in its middle {middle:.2f} ms")
            servers.retire(origin)
        if args.s3_server == "s3s-fs":
            return 0
        direct = f"{store.endpoint}/{store.bucket}"
        at_start = median_ms(requests(direct, "on-start.bin", blocks, 0), servers.ca)
        middle = median_ms(requests(direct, "on-middle.bin", blocks, BLOCK // 2), servers.ca)
        print(f"S3 directly (GetObject of the same ranges): at the start {at_start:.2f} ms, in the middle {middle:.2f} ms")
        # What part of a cold block's first byte is S3's: the fill's own GetObject, asked directly.
        whole = median_ms(whole_blocks(direct, "on-start.bin", blocks), servers.ca)
        print(f"S3 directly, each whole block (the GetObject a fill makes): first byte {whole:.2f} ms")
    return 0
