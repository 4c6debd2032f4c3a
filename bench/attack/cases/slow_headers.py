"""slow-headers: slowloris over TLS, a request head sent a few bytes a second and never ended.

Each of --count connections completes its TLS handshake (ALPN http/1.1), then sends
`GET /big.bin HTTP/1.1`, the secret, and made-up header lines, --bytes every --interval seconds,
never the blank line that ends the head. What should end them is server.header_read_timeout
(the harness sets it to 10 s so a run takes a minute; the shipped default is 65 s): the report
says when each connection was closed, and with what (a 408, or a bare close).
"""

import asyncio
import itertools

import harness
import wire
from cases import Case

OPENING_AT_ONCE = 64


def add_arguments(parser):
    parser.add_argument("--bytes", type=int, default=2, help="bytes of the head sent per tick (default 2)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between ticks (default 1)")


def settings(_args):
    return {"server.header_read_timeout": "10s"}


def endless_head(secret):
    """The bytes of a request head that never ends: a request line, then header after header."""
    first = f"GET {harness.BIG_OBJECT} HTTP/1.1\r\nHost: localhost\r\n"
    if secret:
        first += f"{secret[0]}: {secret[1]}\r\n"
    yield from first.encode()
    for n in itertools.count():
        yield from f"X-Slow-{n}: {n}\r\n".encode()


async def attack(run, args):
    conns, failures = await harness.open_all(args.count, lambda: open_one(run), OPENING_AT_ONCE)
    run.mark("slowloris connections open", connections=len(conns), failures=failures or "none")
    run.established.set()
    await asyncio.gather(*(trickle(run, args, c) for c in conns))
    for conn in conns:
        conn.pop("writer").close()
        conn.pop("reader")
    return {"open_failures": failures, "connections": conns}


async def open_one(run):
    reader, writer = await wire.open_tls(run.address, run.h1_context())
    return {"reader": reader, "writer": writer, "opened_at": run.clock(), "sent": 0,
            "closed_after_s": None, "how": None}


async def trickle(run, args, conn):
    """Sends the head --bytes at a time until the origin answers or closes, or the deadline."""
    head = endless_head(run.secret)
    answer = asyncio.create_task(conn["reader"].read(4096))
    try:
        while run.remaining() > 0:
            chunk = bytes(itertools.islice(head, args.bytes))
            try:
                conn["writer"].write(chunk)
                await asyncio.wait_for(conn["writer"].drain(), run.io_timeout())
            except (OSError, asyncio.TimeoutError) as error:
                return close(run, conn, type(error).__name__)
            conn["sent"] += len(chunk)
            done, _ = await asyncio.wait({answer}, timeout=min(args.interval, run.remaining()))
            if done:
                return close(run, conn, describe_answer(answer))
    finally:
        answer.cancel()


def describe_answer(task):
    """What the origin sent before or instead of closing: a status line, or a bare close."""
    try:
        data = task.result()
    except (OSError, asyncio.IncompleteReadError) as error:
        return type(error).__name__
    if not data:
        return "closed without a response"
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


def close(run, conn, how):
    conn.update(closed_after_s=round(run.clock() - conn["opened_at"], 3), how=how)


def rows(report, args):
    result = report["attack"]
    if "connections" not in result:
        return [("attack", result.get("error", "failed"), None, None)]
    conns = result["connections"]
    closed = [c for c in conns if c["closed_after_s"] is not None]
    limit = harness.seconds_of(report["settings"]["server.header_read_timeout"]) + 5
    in_time = [c for c in closed if c["closed_after_s"] <= limit]
    return [
        ("slowloris connections opened", f"{len(conns)} of {args.count}, {args.bytes} B every {args.interval:g} s; "
         f"open failures {result['open_failures'] or 'none'}", None, None),
        ("how they ended", str(harness.counts(c["how"] or "still open at the end" for c in conns)), None, None),
        ("closed after", harness.fmt_spread(harness.spread(c["closed_after_s"] for c in closed)),
         f"all ≤ header_read_timeout + 5 = {limit:g} s", bool(conns) and len(in_time) == len(conns)),
        ("head bytes each sent before the end", harness.fmt_spread(harness.spread(c["sent"] for c in conns), unit="B"),
         None, None),
    ]


CASE = Case(
    doc=__doc__,
    name="slow-headers",
    summary="slowloris over TLS: request heads a few bytes a second; when are they closed?",
    count=200, count_means="slowloris connections", seconds=30,
    documented="--count 2000 --seconds 100 --set server.header_read_timeout=65s (the shipped default; ulimit -n ≥ 5000)",
    attack=attack, rows=rows, settings=settings, add_arguments=add_arguments,
    extra_parameters=("bytes", "interval"),
)
