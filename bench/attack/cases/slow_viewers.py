"""slow-viewers: N HTTP/1.1 viewers of the big object, each reading it at a fixed rate.

Each viewer GETs the whole big object with the CDN's secret and takes it at --rate bytes a
second (one read of at most --chunk-bytes off the socket, then a sleep until those bytes are
due), with the kernel's default receive buffer: viewers on slow links, not an attack. They read
until --seconds after the last of them is in (opening 1,000 through S3 takes up to half a
minute), when the origin is measured with every viewer still connected. What the origin holds
for them after a minute is the question, chiefly with --store s3, where each response holds a
store stream (an S3 body, or slices of the edge cache's blocks), and --cache on or off for
comparison. The target (the issue's): RSS at the deadline ≤ base + N × 64 KiB.

With the cache on, whole-object GETs go through the cache's blocks; --cache off (or --set
storage.cache.max_range=... below the object's size) streams them straight from S3. Straight
from S3, use --s3-server s3s-fs: moto copies the whole object for every GET and serves a few
streams of a large object at a time. s3s-fs reads files in 4 KiB
steps at about 100 MB/s in all, so 1,000 viewers at 64 KiB/s (64 MB/s) are near its limit: the
report says when viewers fell below their rate.
"""

import asyncio
import os
import re
import ssl
import subprocess

import harness
import wire
from cases import Case
from rig import sampler as sampler_mod

KIB = 1024
OPENING_AT_ONCE = 64
# A viewer that got less than this share of its rate fell behind (rather than jitter).
BEHIND = 0.9
# The bound on what a slow viewer may cost the origin.
TARGET_KIB_PER_VIEWER = 64
# What s3s-fs serves in all, for the note when viewers fall behind.
S3S_FS_BYTES_PER_S = 100e6


def add_arguments(parser):
    parser.add_argument("--rate", type=int, default=64 * KIB, help="bytes a second each viewer takes (default 65536)")
    parser.add_argument("--chunk-bytes", type=int, default=64 * KIB,
                        help="most bytes taken off the socket per read (default 65536: one read a second at "
                             "64 KiB/s, which keeps 1,000 viewers within one Python thread)")


async def attack(run, args):
    viewers = [{"opened_at": None, "status": None, "bytes": 0, "ended": None} for _ in range(args.count)]
    gate, tried = asyncio.Semaphore(OPENING_AT_ONCE), []

    async def watch(viewer):
        async with gate:
            await open_viewer(run, viewer)
        tried.append(viewer)
        if len(tried) == len(viewers):
            # The --seconds of viewing start once every viewer is in (opening 1,000 through S3
            # can take half a minute), so that "after a minute" holds for all of them.
            run.deadline = asyncio.get_running_loop().time() + args.seconds
            opened = sum(1 for v in viewers if "tls" in v)
            failures = harness.counts(v["ended"] for v in viewers if "tls" not in v)
            run.mark("viewers open", viewers=opened, failures=failures or "none", viewing_s=args.seconds)
            run.established.set()
        if "tls" in viewer:
            await view(run, args, viewer)

    start = state_now(run)
    try:
        end, lag, *_ = await asyncio.gather(state_at_deadline(run), loop_lag(run), *(watch(v) for v in viewers))
    finally:
        for viewer in viewers:
            if "tls" in viewer:
                viewer.pop("tls").close()
    return {"viewers": viewers, "start": start, "end": end, "loop_lag_s": lag}


async def open_viewer(run, viewer):
    began = run.clock()
    try:
        tls = await wire.RawTLS.connect(run.address, run.h1_context(), timeout=run.io_timeout())
        secret = f"{run.secret[0]}: {run.secret[1]}\r\n" if run.secret else ""
        await tls.send(f"GET {harness.BIG_OBJECT} HTTP/1.1\r\nHost: localhost\r\n{secret}\r\n".encode())
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as error:
        viewer["ended"] = f"open: {type(error).__name__}"
        return
    viewer.update(tls=tls, opened_at=run.clock(), open_s=round(run.clock() - began, 3))


async def view(run, args, viewer):
    """Takes the response at --rate until the deadline, the end of the body, or a close."""
    tls, loop = viewer["tls"], asyncio.get_running_loop()
    started, head = loop.time(), b""
    while run.remaining() > 0:
        due = started + viewer["bytes"] / args.rate  # when the bytes taken so far may be followed
        if due > loop.time():
            await asyncio.sleep(min(due - loop.time(), run.remaining()))
            continue
        try:
            plain = await asyncio.wait_for(tls.recv_decrypted(args.chunk_bytes), run.remaining())
        except asyncio.TimeoutError:
            break
        except (OSError, ssl.SSLError) as error:
            viewer["ended"] = type(error).__name__
            break
        if plain is None:
            viewer["ended"] = "closed by the origin"
            break
        viewer["bytes"] += len(plain)
        if viewer["status"] is None:
            head += plain
            if b"\r\n\r\n" in head:
                viewer.update(parse_head(head))
        if viewer.get("length") is not None and viewer["bytes"] >= viewer["head_bytes"] + viewer["length"]:
            viewer["ended"] = "whole body"
            break
    viewer["seconds"] = round(loop.time() - started, 3)


def parse_head(head):
    """Status, Content-Length and the head's size, from the bytes that hold the response head."""
    lines = head[:head.index(b"\r\n\r\n")].decode("latin-1").split("\r\n")
    fields = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = fields.get("content-length")
    return {"status": int(lines[0].split()[1]), "length": int(length) if length else None,
            "head_bytes": head.index(b"\r\n\r\n") + 4}


async def loop_lag(run, period_s=0.1):
    """The worst lateness of a short timer on the viewers' event loop until the deadline: when it
    is large, the viewers themselves, not the origin, set the pace."""
    loop, worst = asyncio.get_running_loop(), 0.0
    while run.remaining() > 0:
        before = loop.time()
        await asyncio.sleep(period_s)
        worst = max(worst, loop.time() - before - period_s)
    return round(worst, 3)


async def state_at_deadline(run):
    while run.remaining() > 0:  # the deadline moves once every viewer is in
        await asyncio.sleep(min(1.0, run.remaining()))
    state = state_now(run)
    run.mark("deadline", rss_mib=round(state["rss_kib"] / KIB, 1), fds=state["fds"])
    return state


def state_now(run):
    """The origin's memory in detail (smaps_rollup, its memory gauges) and the S3 stand-in's
    RSS, while the viewers are connected."""
    state = sampler_mod.sample(run.origin.pid)
    own = os.times()
    state.update(t=run.clock(), rollup=sampler_mod.rollup(run.origin.pid), sockets=socket_queues(run),
                 metrics=harness.metrics_of_interest(run.origin.metrics_text()), harness_cpu_s=own.user + own.system)
    if run.store is not None:
        state.update(s3_rss_kib=sampler_mod.rss_kib(run.store.pid), s3_cpu_s=sampler_mod.cpu_seconds(run.store.pid))
    return state


def socket_queues(run):
    """Which sockets the host's TCP memory is in: the bytes queued in each leg's loopback sockets,
    by end ({"viewer leg, origin's end": {"sockets", "receive", "send"}}), from `ss -tmn`
    (skmem r: receive queue, w: send queue). Empty when ss is missing."""
    legs = {run.address[1]: ("viewer leg, origin's end", "viewer leg, viewers' end")}
    if run.store is not None:
        legs[run.store.port] = ("S3 leg, the stand-in's end", "S3 leg, origin's end")
    try:
        text = subprocess.run(["ss", "-tmnH", "state", "established"], capture_output=True, text=True,
                              timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    ends = {}
    for local, peer, r, w in re.findall(r"\S+:(\d+)\s+\S+:(\d+)\s+skmem:\(r(\d+),\S*?,w(\d+),", text):
        server_end = int(local) in legs
        leg = legs.get(int(local)) or legs.get(int(peer))
        if leg is not None:
            end = ends.setdefault(leg[0] if server_end else leg[1], {"sockets": 0, "receive": 0, "send": 0})
            end["sockets"] += 1
            end["receive"] += int(r)
            end["send"] += int(w)
    return ends


def rows(report, args):
    result = report["attack"]
    if "viewers" not in result:
        return [("attack", result.get("error", "failed"), None, None)]
    viewers, start, end = result["viewers"], result["start"], result["end"]
    watched = [v for v in viewers if v["opened_at"] is not None]
    connected = sum(1 for v in watched if v["ended"] in (None, "whole body"))
    rates = [v["bytes"] / v["seconds"] for v in watched if v.get("seconds")]
    behind = sum(1 for r in rates if r < BEHIND * args.rate)
    return [
        ("viewers", f"{len(watched)} of {args.count} opened; statuses {harness.counts(v['status'] for v in watched)}; "
         f"ended before the deadline {harness.counts(v['ended'] for v in viewers if v['ended']) or 'none'}; "
         f"{connected} connected at the deadline", None, None),
        ("opening (connect, TLS handshake, GET sent)", f"{harness.fmt_spread(harness.spread(v['open_s'] for v in watched))}; "
         f"last opened at {max((v['opened_at'] for v in watched), default=0):.1f} s; "
         f"the viewers' event loop was at worst {result['loop_lag_s']:.2f} s late", None, None),
        ("response bytes per viewer", harness.fmt_spread(harness.spread(v["bytes"] / 2**20 for v in watched), "MiB"),
         None, None),
        (f"rate per viewer (asked {args.rate / KIB:g} KiB/s)", rate_text(rates, behind, report, args),
         f"≥ {BEHIND:.0%} of the rate", bool(rates) and behind == 0),
        *memory_rows(report, start, end, connected),
    ]


def rate_text(rates, behind, report, args):
    text = f"{harness.fmt_spread(harness.spread(r / KIB for r in rates), 'KiB/s')}; {behind} below {BEHIND:.0%}"
    if behind and report["parameters"].get("store") == "s3" and args.s3_server == "moto" and args.cache == "off":
        return text + "; moto copies the whole object for every GET: straight from S3, use --s3-server s3s-fs"
    if behind and report["parameters"].get("store") == "s3":
        text += (f"; the viewers ask {args.count * args.rate / 1e6:.0f} MB/s in all, and s3s-fs serves about "
                 f"{S3S_FS_BYTES_PER_S / 1e6:.0f} MB/s (4 KiB reads): the stand-in, not the origin, may be the limit")
    return text


def memory_rows(report, start, end, viewers):
    stand_in = report["parameters"].get("s3_server", "moto")
    base = report["before"]
    peak = report["phases"].get("attack", {}).get("rss_kib", {}).get("max")
    grew = end["rss_kib"] - base["rss_kib"]
    per_viewer = grew / max(1, viewers)
    cache = [s["metrics"].get("vod_origin_cache_memory_bytes", 0) / KIB for s in (start, end)]
    body = end["metrics"].get("vod_origin_body_buffer_bytes", 0) / KIB
    anon = [s["rollup"].get("Anonymous", 0) for s in (start, end)]
    rows = [
        ("origin RSS: base → at the deadline → peak", f"{base['rss_kib'] / KIB:.1f} → {end['rss_kib'] / KIB:.1f} "
         f"(+{grew / KIB:.1f}) at {end['t']:.0f} s → peak {peak / KIB:.1f} MiB", None, None),
        ("origin RSS per viewer: (deadline − base) / connected", f"{per_viewer:.1f} KiB",
         f"≤ {TARGET_KIB_PER_VIEWER} KiB", per_viewer <= TARGET_KIB_PER_VIEWER),
        ("origin memory: attack start → deadline",
         f"anonymous {anon[0] / KIB:.1f} → {anon[1] / KIB:.1f} MiB; edge cache blocks {cache[0] / KIB:.1f} → "
         f"{cache[1] / KIB:.1f} MiB; body buffers {body / KIB:.1f} MiB; fds {start['fds']} → {end['fds']}", None, None),
    ]
    if cache[1]:
        rows.append(("RSS per viewer less the edge cache's growth",
                     f"{(grew - (cache[1] - cache[0])) / max(1, viewers):.1f} KiB", None, None))
    rows.append(("kernel TCP memory at the deadline (whole host)", f"{end['tcp_mem_bytes'] / 2**20:.1f} MiB "
                 f"({end['tcp_mem_bytes'] / max(1, viewers) / KIB:.0f} KiB per viewer)", None, None))
    for name, queued in sorted(end.get("sockets", {}).items()):
        rows.append((f"  queued in the {name}", f"{queued['sockets']} sockets: receive {queued['receive'] / 2**20:.1f} "
                     f"MiB, send {queued['send'] / 2**20:.1f} MiB", None, None))
    if end.get("s3_rss_kib") is not None:
        rows.append((f"S3 stand-in ({stand_in}) RSS: attack start → deadline",
                     f"{start['s3_rss_kib'] / KIB:.1f} → {end['s3_rss_kib'] / KIB:.1f} MiB", None, None))
    rows.append(cpu_row(start, end, stand_in))
    return rows


def cpu_row(start, end, stand_in):
    """Who used the machine's cores between the attack's start and the deadline: when viewers
    fall behind, this says whether the origin, the S3 stand-in or the viewers' own loop was busy."""
    seconds = end["t"] - start["t"]
    used = {name: end[key] - start[key] for name, key in
            (("origin", "cpu_s"), (f"S3 stand-in ({stand_in})", "s3_cpu_s"), ("viewers (this process)", "harness_cpu_s"))
            if end.get(key) is not None and start.get(key) is not None}
    text = ", ".join(f"{name} {cpu:.1f} s ({100 * cpu / seconds:.0f}%)" for name, cpu in used.items())
    return (f"CPU over {seconds:.0f} s (% of one core; {len(os.sched_getaffinity(0))} cores)", text, None, None)


CASE = Case(
    doc=__doc__,
    name="slow-viewers",
    summary="HTTP/1.1 viewers of the big object at a fixed rate (64 KiB/s): RSS per viewer, TCP memory, legit p99",
    count=100, count_means="viewers", seconds=60,
    documented="--count 1000 --store s3 --s3-server s3s-fs --media-mib 1024, with --cache on and --cache off",
    attack=attack, rows=rows, add_arguments=add_arguments, extra_parameters=("rate", "chunk_bytes"),
)
