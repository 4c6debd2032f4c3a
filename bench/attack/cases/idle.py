"""idle: memory per idle TLS 1.3 keep-alive connection, the origin beside nginx, in A/B pairs.

--count connections each complete one small GET over HTTP/1.1 and then stay open, silent (a
CDN's pooled connections). Per connection: (Pss after − Pss before) / count, of the origin's
process, and of nginx's one worker (Debian's nginx, bench/rig/nginx.conf.in with
worker_processes 1, the same certificate and folder). The client is bench/rig/idle_client.py,
in its own process. Sides alternate (origin first in odd pairs) for
--pairs pairs; the report gives each side's median and spread, and the ratio within pairs.
The origin runs without access.secrets here: nginx checks none either.
"""

import asyncio
import statistics
import sys
import time

import harness
from cases import Case
from rig import nginx as nginx_mod
from rig import origin as origin_mod
from rig import sampler as sampler_mod

IDLE_CLIENT = harness.HERE.parent / "rig" / "idle_client.py"
# Time for the allocator and the kernel to settle before and after the connections open.
SETTLE_S = 2.0


def add_arguments(parser):
    parser.add_argument("--pairs", type=int, default=1, help="origin/nginx pairs, order alternating (default 1)")


async def custom(args, workdir, media):
    """Runs the pairs; returns the case's report."""
    pairs = []
    for pair in range(1, args.pairs + 1):
        order = ("origin", "nginx") if pair % 2 else ("nginx", "origin")
        certs = workdir / "certs"
        if not (certs / "dev-ca.pem").exists():
            order = ("origin", "nginx")  # the origin makes the certificate nginx serves
        record = {"pair": pair, "order": list(order)}
        for side in order:
            print(f"  pair {pair}: {side}", file=sys.stderr, flush=True)
            record[side] = await measure_side(side, args, workdir, media)
        pairs.append(record)
    report = {"case": "idle", "parameters": {"count": args.count, "pairs": args.pairs},
              "nginx_version": nginx_mod.version(), "pairs": pairs}
    report["rows"] = rows(report, args)
    return report


async def measure_side(side, args, workdir, media):
    """Starts one fresh server, opens the idle connections, measures, stops the server."""
    if side == "origin":
        settings = origin_mod.base_settings(workdir, media, secret=False)
        settings.update(origin_mod.parse_setting(text) for text in args.set)
        server = origin_mod.Origin(args.origin_bin, workdir, "idle-origin", settings).start()
        pid, port, ca = server.pid, server.https[1], server.ca
    else:
        server = nginx_mod.Nginx(workdir, workdir / "certs", media, workers=1).start()
        pid, port, ca = server.worker_pid, server.port, workdir / "certs" / "dev-ca.pem"
    started_at = time.monotonic()
    sampler = sampler_mod.Sampler(pid, started_at)
    sampler.start()
    try:
        return await hold_idle(args, pid, port, ca, sampler)
    finally:
        sampler.stop()
        server.stop()


async def hold_idle(args, pid, port, ca, sampler):
    await asyncio.sleep(SETTLE_S)
    before = sampler_mod.sample(pid)
    sampler.phase = "opening"
    timeout = 120 + args.count / 50
    client = await asyncio.create_subprocess_exec(
        sys.executable, str(IDLE_CLIENT), "--port", str(port), "--path", harness.SMALL_OBJECT,
        "--count", str(args.count), "--ca", str(ca), "--timeout", str(timeout),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True)
    try:
        ready = await asyncio.wait_for(client.stdout.readline(), timeout)
        if not ready.startswith(b"ready"):
            raise RuntimeError(f"idle.py: {(await client.stderr.read()).decode(errors='replace')[-400:]}")
        sampler.phase = "idle"
        await asyncio.sleep(SETTLE_S)
        held = sampler_mod.sample(pid)
        client.stdin.write(b"go\n")
        await client.stdin.drain()
        alive = await asyncio.wait_for(client.stdout.readline(), 60)
        await asyncio.wait_for(client.wait(), 30)
    finally:
        if client.returncode is None:
            client.kill()
            await client.wait()
    per_conn = (held["pss_kib"] - before["pss_kib"]) / args.count
    return {"pid": pid, "before": before, "held": held, "pss_kib_per_connection": round(per_conn, 2),
            "rss_kib_per_connection": round((held["rss_kib"] - before["rss_kib"]) / args.count, 2),
            "alive": int(alive.split()[1]) if alive.startswith(b"alive") else None, "samples": sampler.samples}


def rows(report, args):
    pairs = report["pairs"]
    result = []
    for side in ("origin", "nginx"):
        values = [p[side]["pss_kib_per_connection"] for p in pairs]
        alive = [p[side]["alive"] for p in pairs]
        result.append((f"{side}: Pss per idle TLS connection ({args.count} conns)",
                       f"{statistics.median(values):.1f} KiB median ({min(values):.1f}–{max(values):.1f}, n={len(values)}); "
                       f"still alive at the end: {alive}", None, None))
    ratios = [p["origin"]["pss_kib_per_connection"] / p["nginx"]["pss_kib_per_connection"]
              for p in pairs if p["nginx"]["pss_kib_per_connection"] > 0]
    if ratios:
        ratio = statistics.median(ratios)
        result.append(("origin / nginx, median of pairs", f"{ratio:.2f}× ({min(ratios):.2f}–{max(ratios):.2f})",
                       "≤ 1×", ratio <= 1))
    result.append(("nginx", report["nginx_version"] or "not installed", None, None))
    return result


CASE = Case(
    doc=__doc__,
    name="idle",
    summary="Pss per idle TLS 1.3 keep-alive connection, origin vs nginx (1 worker), in pairs",
    count=1000, count_means="idle connections per server", seconds=0,
    documented="--count 2000 --pairs 5",
    rows=rows, add_arguments=add_arguments, extra_parameters=("pairs",), legit=False, secret=False, custom=custom,
)
