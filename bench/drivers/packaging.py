"""packaging: HLS and DASH packaged on the fly, against plain ranges of the same MP4.

One film (`bench/rig/film.py`: H.264 + AAC, 2 hours, about 1.1 GB by default) in the S3
stand-in, read through the edge cache. Three measurements:

1. *A cold segment*: in each round a fresh origin (nothing cached, no index) is asked for the
   first KiB of the video's first media segment, and another fresh origin for the first KiB of
   the MP4 as a plain range: first byte (curl's `time_starttransfer` on a kept-alive
   connection) and the S3 requests each made (`vod_origin_s3_requests_total`, by operation).
2. *The index*: its memory (`vod_origin_packaging_index_bytes`) per sample of the film, and
   the time it took to build (`vod_origin_packaging_build_seconds`).
3. *CPU per GB, cache warm*: wrk asks one origin, in interleaved rounds, for the video's media
   segments at random, and for plain ranges of the MP4 of the same lengths at evenly spaced
   offsets; the server's CPU per GB served and req/s of each.

The S3 stand-in is s3s-fs (`examples/s3-dev-server`): it streams a 1.1 GB object as S3 does,
where moto copies the whole object for every GET.

`--copies` measures instead whether sample data is copied: the origin runs under callgrind on
the local folder and sends every video segment of a 1-minute film, then the same lengths as
plain ranges; each workload's instructions, and those in `memcpy`/`memmove`, per MB sent.

    cargo build --release --bin vod-origin --example s3-dev-server
    python3 bench/run.py packaging [--minutes 120] [--rounds 5]
    python3 bench/run.py packaging --copies
"""

import json
import os
import re
import ssl
import statistics
import urllib.request

from drivers import common
from rig import clients, film, processes, s3, sampler

NAME = "packaging"
SUMMARY = "packaged HLS against plain ranges of the same MP4: cold first byte and S3 reads, index memory, CPU per GB"
MIB = common.MIB
KEY = "film.mp4"
VIDEO = f"/hls/{KEY}/1"
FIRST_KIB = "bytes=0-1023"


def add_arguments(parser):
    parser.add_argument("--minutes", type=int, default=120, help="the film's length (default 120: about 1.1 GB)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each measurement (default 5)")
    parser.add_argument("--seconds", type=float, default=10, help="each wrk run, s (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--copies", action="store_true",
                        help="only count copies: callgrind on a 1-minute film, segments against plain ranges")
    parser.add_argument("--s3s-bin", default=str(common.REPO / "target/release/examples/s3-dev-server"),
                        help="the s3-dev-server binary (cargo build --release --example s3-dev-server)")


def settings(film_bytes):
    """The edge cache large enough for the whole film, no read-ahead (each cold read is counted)."""
    return {"storage.cache.max_bytes": max(1024 * MIB, 2 * film_bytes), "storage.cache.read_ahead_blocks": 0,
            "storage.cache.metadata_ttl": "1h"}


def run(args):
    if args.copies:
        return copies(args)
    clients.require("curl", "wrk")
    with common.Servers(args, NAME) as servers:
        seed = servers.workdir / "seed"
        path = film.make(seed / KEY, args.minutes)
        (seed / "tiny.bin").write_bytes(b"t" * 1024)
        size, samples = path.stat().st_size, film.samples(path)
        common.say(f"{args.minutes}-minute film: {size / 1e6:.0f} MB, {samples} samples")
        servers.s3(s3.S3sFsServer(servers.workdir, args.s3s_bin).seed_with(seed))
        cold = cold_rounds(servers, args, settings(size))
        warm = servers.origin("vod-warm", settings=settings(size))
        index = index_cost(warm, samples)
        lists = request_lists(servers, warm, size)
        cost = cost_rounds(servers, warm, lists, args)
    report(args, size, samples, cold, index, cost)
    return 0


def cold_rounds(servers, args, chosen):
    """Per round, a fresh origin for each side: its first byte and the S3 requests it made."""
    rows = {"segment": [], "range": []}
    for round_ in range(args.rounds):
        sides = ("segment", "range") if round_ % 2 == 0 else ("range", "segment")
        for side in sides:
            common.say(f"cold round {round_ + 1} of {args.rounds}: {side}")
            origin = servers.origin(f"vod-cold-{round_}-{side}", settings=chosen)
            base = origin.base_url()
            path = f"{VIDEO}/seg-1.m4s" if side == "segment" else f"/{KEY}"
            # The request that opens the measured connection is for an object already cached.
            clients.first_bytes_each([(f"{base}/tiny.bin", FIRST_KIB)] * 2, servers.ca)
            before = s3_requests(origin)
            ms = clients.first_bytes_each([(f"{base}/tiny.bin", FIRST_KIB), (f"{base}{path}", FIRST_KIB)], servers.ca)
            after = s3_requests(origin)
            rows[side].append({"ms": ms[0], **{op: after[op] - before[op] for op in after}})
            servers.retire(origin)
    return rows


def s3_requests(origin):
    return {op: origin.metric_total(f'vod_origin_s3_requests_total{{operation="{op}"')
            for op in ("HeadObject", "GetObject")}


def index_cost(origin, samples):
    """Builds the film's index (one playlist request) and reads what it costs from the origin's
    "index built" log line."""
    fetch(origin, f"{VIDEO}/index.m3u8")
    for line in origin.log_path.read_text().splitlines():
        if "packaging: index built" in line:
            fields = json.loads(line)  # the origin logs JSON with its fields flattened
            held = fields["index_bytes"]
            return {"bytes": held, "per_sample": held / samples, "build_ms": fields["build_ms"]}
    raise RuntimeError(f"no \"index built\" line in {origin.log_path}")


def fetch(origin, path):
    context = ssl.create_default_context(cafile=str(origin.ca))
    with urllib.request.urlopen(origin.base_url() + path, context=context, timeout=600) as answer:
        return answer.read()


def request_lists(servers, origin, size):
    """The video's segments (each read once, which fills the cache with the whole film) and
    plain ranges of the MP4 with the same lengths at evenly spaced offsets."""
    playlist = fetch(origin, f"{VIDEO}/index.m3u8").decode()
    names = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    lengths = [len(fetch(origin, f"{VIDEO}/{name}")) for name in names]
    stride = (size - max(lengths)) // len(lengths)
    segments = servers.workdir / "segments.txt"
    segments.write_text("".join(f"{VIDEO}/{name}\n" for name in names))
    ranges = servers.workdir / "ranges.txt"
    ranges.write_text("".join(f"/{KEY} bytes={i * stride}-{i * stride + n - 1}\n" for i, n in enumerate(lengths)))
    for offset in range(0, size, 8 * MIB):  # every block of the MP4 in the cache
        clients.check_range(f"{origin.base_url()}/{KEY}", servers.ca, servers.workdir / "seed" / KEY,
                            offset=offset, length=min(MIB, size - offset))
    return {"segment": segments, "range": ranges}


def cost_rounds(servers, origin, lists, args):
    rows = {"segment": [], "range": []}
    for round_ in range(args.rounds):
        for side in (("segment", "range") if round_ % 2 == 0 else ("range", "segment")):
            common.say(f"CPU round {round_ + 1} of {args.rounds}: {side}")
            before = sampler.cost([origin.pid])
            got = clients.listed(origin.base_url(), lists[side], args.connections, args.seconds)
            spent = sampler.cost_between(before, sampler.cost([origin.pid]))
            rows[side].append({"cpu_s_per_gb": spent["cpu_s"] / (got["bytes"] / 1e9), "rps": got["rps"],
                               "mb_s": got["bytes"] / got["seconds"] / 1e6})
        servers.check_alive()
    return rows


def median_of(rows, field):
    return statistics.median(row[field] for row in rows)


def spread(rows, field):
    values = [row[field] for row in rows]
    return f"{min(values):.3g}–{max(values):.3g}"


def report(args, size, samples, cold, index, cost):
    print(f"\n## `python3 bench/run.py packaging --minutes {args.minutes} --rounds {args.rounds}`\n")
    print(f"A {args.minutes}-minute film, {size / 1e6:.0f} MB, {samples:,} samples, through s3s-fs and the edge cache.\n")
    table(cold, "cold, a fresh origin per round", ("first KiB of the first video segment", "first KiB of the MP4, plain"),
          [("first byte, ms (median, min–max)", "ms", ".2f", True), ("S3 HeadObject", "HeadObject", ".0f", False),
           ("S3 GetObject", "GetObject", ".0f", False)])
    print(f"\nsegment / plain range, median of the per-round ratios: {ratio(cold, 'ms'):.2f}×\n")
    print(f"index: {index['bytes'] / MIB:.2f} MiB, {index['per_sample']:.2f} bytes a sample, "
          f"built in {index['build_ms']:.0f} ms (reads included)\n")
    table(cost, f"cache warm, wrk {args.connections} connections", ("media segments", "plain ranges, same lengths"),
          [("CPU s/GB (median, min–max)", "cpu_s_per_gb", ".3f", True), ("req/s", "rps", ".0f", False),
           ("MB/s", "mb_s", ".0f", False)])
    print(f"\nsegments / plain ranges, CPU per GB, median of the per-round ratios: {ratio(cost, 'cpu_s_per_gb'):.2f}×")


def table(rows, title, names, columns):
    """A markdown table: a row per side (segment, range), a column per (heading, field, format,
    with its spread)."""
    print(f"| {title} | " + " | ".join(heading for heading, *_ in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for side, name in zip(("segment", "range"), names):
        cells = [f"{median_of(rows[side], field):{fmt}}" + (f" ({spread(rows[side], field)})" if with_spread else "")
                 for _, field, fmt, with_spread in columns]
        print(f"| {name} | " + " | ".join(cells) + " |")


def ratio(rows, field):
    """The median over rounds of segment / plain range."""
    return statistics.median(s[field] / r[field] for s, r in zip(rows["segment"], rows["range"]))


def copies(args):
    """Callgrind over the two workloads, one dump each."""
    clients.require("curl", "valgrind", "callgrind_control", "callgrind_annotate")
    with common.Servers(args, NAME) as servers:
        media = servers.workdir / "media"
        film.make(media / KEY, 1)
        output = servers.workdir / "callgrind.out"
        origin = servers.origin("vod-callgrind", media=media, deadline_s=300,
                                wrapper=["valgrind", "--tool=callgrind", f"--callgrind-out-file={output}"])
        lists = request_lists_local(servers, origin, (media / KEY).stat().st_size)
        results = {}
        for side in ("segment", "range"):
            processes.run(["callgrind_control", "-z", str(origin.pid)], 120, "callgrind_control -z")
            sent = curl_list(origin, servers, lists[side])
            processes.run(["callgrind_control", "-d", str(origin.pid)], 120, "callgrind_control -d")
            dumps = sorted(servers.workdir.glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:]))
            results[side] = {"bytes": sent, **instructions(dumps[-1])}
        servers.retire(origin)
    print("\n| callgrind, every video segment of a 1-minute film, once | MB sent | instructions per MB | "
          "in memcpy/memmove per MB |")
    print("|---|---|---|---|")
    for side, what in (("segment", "media segments"), ("range", "plain ranges, same lengths")):
        row = results[side]
        mb = row["bytes"] / 1e6
        print(f"| {what} | {mb:.1f} | {row['total'] / mb:,.0f} | {row['copy'] / mb:,.0f} |")
    return 0


def request_lists_local(servers, origin, size):
    playlist = fetch(origin, f"{VIDEO}/index.m3u8").decode()
    names = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    lengths = [len(fetch(origin, f"{VIDEO}/{name}")) for name in names]
    stride = (size - max(lengths)) // len(lengths)
    return {"segment": [(f"{VIDEO}/{name}", None) for name in names],
            "range": [(f"/{KEY}", f"bytes={i * stride}-{i * stride + n - 1}") for i, n in enumerate(lengths)]}


def curl_list(origin, servers, requests):
    """GETs every (path, range) in turn on one connection; the bytes received."""
    argv = ["curl"]
    for path, range_header in requests:
        argv += ["-s", "--http1.1", "--cacert", str(servers.ca), "-o", os.devnull, "-w", "%{size_download}\\n"]
        argv += ["-H", f"Range: {range_header}"] if range_header else []
        argv += [origin.base_url() + path, "--next"]
    done = processes.run(argv[:-1], 1800, f"curl ({len(requests)} requests under callgrind)")
    return sum(int(line) for line in done.stdout.split())


def instructions(dump):
    """The dump's total instructions, and those of memcpy/memmove (self cost)."""
    text = processes.run(["callgrind_annotate", "--threshold=100", str(dump)], 300, "callgrind_annotate").stdout
    total = int(re.search(r"^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", text, re.MULTILINE).group(1).replace(",", ""))
    copy = 0
    for line in text.splitlines():
        found = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S+)", line)
        if found and re.search(r"mem(cpy|move)", found.group(2)):
            copy += int(found.group(1).replace(",", ""))
    return {"total": total, "copy": copy}
