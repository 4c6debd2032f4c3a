"""slow-read: HTTP/1.1 clients that ask for the big object and read it a few bytes a second.

The receive buffer is made small (SO_RCVBUF before connect) and read --read-bytes every
--read-interval seconds straight off the socket (ciphertext, never decrypted: only the TCP
window matters), so the origin's writes trickle or block. The origin should let a slow viewer
be (its clock restarts with every byte the socket takes) but must not let N of them pin memory:
the kernel's TCP memory against net.ipv4.tcp_mem and the origin's RSS are what to watch.

--tool slowhttptest drives Debian's slowhttptest -X instead (it cannot send the CDN's secret
header, so the origin then runs without access.secrets, and the report says so).
"""

import asyncio
import csv
import pathlib
import shutil
import subprocess

import harness
import wire
from cases import Case
from rig import processes

OPENING_AT_ONCE = 64


def add_arguments(parser):
    parser.add_argument("--tool", choices=("asyncio", "slowhttptest"), default="asyncio",
                        help="our own slow readers (default; sends the secret) or Debian's slowhttptest -X")
    parser.add_argument("--read-bytes", type=int, default=5, help="bytes taken off the socket per read (default 5)")
    parser.add_argument("--read-interval", type=float, default=1.0, help="seconds between reads (default 1)")
    parser.add_argument("--rcvbuf", type=int, default=4096, help="SO_RCVBUF of each reader, bytes (default 4096)")


def settings(args):
    # slowhttptest cannot send the secret: the origin runs open for it.
    return {"access.secrets": []} if args.tool == "slowhttptest" else {}


async def attack(run, args):
    if args.tool == "slowhttptest":
        return await attack_with_slowhttptest(run, args)
    readers, failures = await harness.open_all(args.count, lambda: open_reader(run, args), OPENING_AT_ONCE)
    run.mark("slow readers open", readers=len(readers), failures=failures or "none")
    run.established.set()
    await asyncio.gather(*(read_slowly(run, args, r) for r in readers))
    for reader in readers:
        reader.pop("tls").close()
    return {"tool": "asyncio", "open_failures": failures, "readers": readers}


async def open_reader(run, args):
    tls = await wire.RawTLS.connect(run.address, run.h1_context(), rcvbuf=args.rcvbuf)
    secret = f"{run.secret[0]}: {run.secret[1]}\r\n" if run.secret else ""
    await tls.send(f"GET {harness.BIG_OBJECT} HTTP/1.1\r\nHost: localhost\r\n{secret}\r\n".encode())
    return {"tls": tls, "opened_at": run.clock(), "bytes": 0, "closed_after_s": None, "how": None}


async def read_slowly(run, args, reader):
    """Takes --read-bytes off the socket every --read-interval until the deadline or a close."""
    tls = reader["tls"]
    while run.remaining() > 0:
        try:
            data = await asyncio.wait_for(tls.recv_raw(args.read_bytes), min(args.read_interval, run.remaining()) + 0.5)
        except asyncio.TimeoutError:
            data = None  # nothing arrived within the interval: the origin is not sending
        except OSError as error:
            reader.update(closed_after_s=round(run.clock() - reader["opened_at"], 3), how=type(error).__name__)
            return
        if data == b"":
            reader.update(closed_after_s=round(run.clock() - reader["opened_at"], 3), how="FIN")
            return
        if data:
            reader["bytes"] += len(data)
        await asyncio.sleep(min(args.read_interval, run.remaining()))


async def attack_with_slowhttptest(run, args):
    """Runs slowhttptest -X for --seconds and reads the per-second CSV it writes."""
    if shutil.which("slowhttptest") is None:
        raise RuntimeError("slowhttptest is not installed: apt-get install -y slowhttptest")
    prefix = pathlib.Path(run.origin.workdir) / "slowhttptest"
    rate = min(args.count, 200)
    argv = ["slowhttptest", "-X", "-c", str(args.count), "-r", str(rate), "-l", str(int(args.seconds)),
            "-u", f"https://127.0.0.1:{run.address[1]}{harness.BIG_OBJECT}", "-n", str(int(max(1, args.read_interval))),
            "-z", str(args.read_bytes), "-w", "1", "-y", "512", "-k", "1", "-p", "3", "-g", "-o", str(prefix)]
    run.mark("slowhttptest", command=" ".join(argv))
    with open(prefix.with_suffix(".out"), "wb") as out:
        child = processes.spawn(argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
    try:
        await asyncio.sleep(min(run.remaining(), args.count / rate + 3))
        run.established.set()
        while child.poll() is None and run.remaining() > -15:
            await asyncio.sleep(0.5)
    finally:
        processes.end(child)
    return {"tool": "slowhttptest", "command": argv, "exit_status": child.returncode,
            "per_second": read_slowhttptest_csv(prefix.with_suffix(".csv"))}


def read_slowhttptest_csv(path):
    """slowhttptest's -g CSV: one row a second of Closed, Pending, Connected, Service Available."""
    try:
        with open(path, newline="") as table:
            return [{key.strip().lower().replace(" ", "_"): (value or "").strip() for key, value in row.items() if key}
                    for row in csv.DictReader(table)]
    except FileNotFoundError:
        return []


def rows(report, args):
    result = report["attack"]
    if result.get("tool") == "slowhttptest":
        return slowhttptest_rows(result) + [("connections the origin let go (its sockets; from fds)",
                                             origin_closes(report), None, None)]
    if "readers" not in result:
        return [("attack", result.get("error", "failed"), None, None)]
    readers = result["readers"]
    closed = [r for r in readers if r["closed_after_s"] is not None]
    return [
        ("slow readers opened", f"{len(readers)} of {args.count}, SO_RCVBUF {args.rcvbuf}, "
         f"{args.read_bytes} B every {args.read_interval:g} s; open failures {result['open_failures'] or 'none'}", None, None),
        ("closes the readers saw", f"{len(closed)} of {len(readers)} ({harness.counts(r['how'] for r in closed) or 'none'}); "
         f"after {harness.fmt_spread(harness.spread(r['closed_after_s'] for r in closed))}", None, None),
        ("connections the origin let go (its sockets; from fds)", origin_closes(report), None, None),
        ("bytes each reader took", harness.fmt_spread(harness.spread(r["bytes"] for r in readers), unit="B"), None, None),
    ]


def origin_closes(report):
    """When the origin closed its ends, read from its descriptor count: a FIN queued behind
    unsent bytes never reaches a reader that takes 5 bytes a second, so the readers cannot tell."""
    attack = [s for s in report["samples"] if s["phase"] == "attack" and s["fds"] is not None]
    if not attack:
        return "no samples"
    peak = max(attack, key=lambda s: s["fds"])
    base = report["before"]["fds"]
    gone = next((s for s in attack if s["t"] > peak["t"] and s["fds"] <= base + harness.FD_SLACK), None)
    if gone is None:
        return f"fds {base} → peak {peak['fds']} at {peak['t']:.1f} s, still {attack[-1]['fds']} at the end of the attack"
    return f"fds {base} → peak {peak['fds']} at {peak['t']:.1f} s → back to {gone['fds']} at {gone['t']:.1f} s"


def slowhttptest_rows(result):
    seconds = result["per_second"]
    if not seconds:
        return [("slowhttptest", f"no CSV (exit status {result['exit_status']}); see slowhttptest.out", None, None)]
    last = seconds[-1]
    peak = max(int(row.get("connected", 0) or 0) for row in seconds)
    # The last column is the connection count while slowhttptest's probe got an answer, 0 while not.
    unavailable = [row["seconds"] for row in seconds if row.get("service_available", "").upper() in ("0", "NO")]
    return [
        ("slowhttptest -X (origin without access.secrets)", f"exit {result['exit_status']}; peak connected {peak}; "
         f"at the end: closed {last.get('closed')}, pending {last.get('pending')}, connected {last.get('connected')}", None, None),
        ("seconds slowhttptest saw the service unavailable", f"{len(unavailable)} {unavailable[:10]}", "0", not unavailable),
    ]


CASE = Case(
    doc=__doc__,
    name="slow-read",
    summary="HTTP/1.1 slow readers of the big object: kernel TCP memory, RSS, closes, legit p99",
    count=200, count_means="slow-reading connections", seconds=40,
    documented="--count 2000 --seconds 120 --set server.send_timeout=60s (ulimit -n ≥ 5000)",
    attack=attack, rows=rows, settings=settings, add_arguments=add_arguments,
    extra_parameters=("tool", "read_bytes", "read_interval", "rcvbuf"),
    # 64 KiB per slow reader.
    rss_budget_mib=lambda args: args.count * 64 / 1024,
)
