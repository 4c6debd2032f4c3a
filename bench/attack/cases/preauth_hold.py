"""preauth-hold: connections that never present the CDN's secret, holding every slot.

With access.secrets set and server.max_connections = --count, the attack opens that many
HTTP/2 connections, each with SETTINGS_INITIAL_WINDOW_SIZE 0 and one GET *without* the secret:
the origin answers 403, but the 403's body cannot be sent under a shut window, so unless the
origin lets unauthenticated connections go, they hold every connection slot. Meanwhile the
legitimate client makes --legit-count (default 10) requests *with* the secret on fresh
connections. Target: 100% of them served; the report says when the holders were closed.
"""

import asyncio
import ssl

import harness
import wire
from cases import Case

OPENING_AT_ONCE = 50
# Between a holder's close and its replacement: enough not to spin when the origin refuses at once.
REOPEN_PAUSE_S = 0.05


async def attack(run, args):
    """--count holders at all times: each slot reopens its holder as soon as the origin closes
    it, as an attacker would, so the legitimate client meets the full count throughout."""
    opened = asyncio.Semaphore(OPENING_AT_ONCE)
    first_round = asyncio.Barrier(args.count + 1)
    slots = [asyncio.create_task(hold_slot(run, opened, first_round)) for _ in range(args.count)]
    try:
        await asyncio.wait_for(first_round.wait(), run.remaining())
        run.mark("holders open", holders=args.count)
    except asyncio.TimeoutError:
        run.mark("holders still opening at the deadline")
    run.established.set()
    results = await asyncio.gather(*slots, return_exceptions=True)
    holders = [h for r in results if isinstance(r, list) for h in r]
    return {"holders": holders,
            "slot_errors": harness.error_counts(results)}


async def hold_slot(run, opened, first_round):
    """One slot: open a holder, keep it until the origin closes it or the run ends, repeat."""
    holders, first = [], True
    while run.remaining() > 0:
        try:
            async with opened:
                session = await open_holder(run)
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as error:
            holders.append({"opened_at": run.clock(), "open_failed": type(error).__name__})
            session = None
        if first:
            first = False
            await first_round.wait()
        if session is None:
            await asyncio.sleep(min(REOPEN_PAUSE_S, run.remaining()))
            continue
        while run.remaining() > 0 and not session.ended:
            await asyncio.sleep(0.1)
        await session.close()
        holders.append(holder_outcome(session))
        await asyncio.sleep(min(REOPEN_PAUSE_S, run.remaining()))
    return holders


async def open_holder(run):
    reader, writer = await wire.open_tls(run.address, run.h2_context())
    session = wire.H2Session(reader, writer, run.clock, window=0)
    await session.start()
    session.send_request(wire.request_headers(harness.BIG_OBJECT, secret=None))
    await session.flush()
    return session


def holder_outcome(session):
    stream = next(iter(session.streams.values()))
    closed_by_origin = session.closed_at is not None and session.close_reason != "closed by us"
    return {"opened_at": session.opened_at, "status": stream.get("status"), "close": session.close_reason,
            "reset": stream.get("reset_error"),
            "goaway": session.goaway["error"] if session.goaway else None,
            "closed_after_s": round(session.closed_at - session.opened_at, 3) if closed_by_origin else None}


def rows(report, args):
    result = report["attack"]
    if "holders" not in result:
        return [("attack", result.get("error", "failed"), None, None)]
    holders = [h for h in result["holders"] if "open_failed" not in h]
    failed = harness.counts(h["open_failed"] for h in result["holders"] if "open_failed" in h)
    closed = [h["closed_after_s"] for h in holders if h["closed_after_s"] is not None]
    return [
        ("holders opened (no secret, window 0)", f"{len(holders)} in {args.count} slots (= server.max_connections), "
         f"each reopened when closed; open failures {failed or 'none'}", None, None),
        ("holders' statuses", str(harness.counts(h["status"] for h in holders)), None, None),
        ("holders closed by the origin", f"{len(closed)} of {len(holders)}; after {harness.fmt_spread(harness.spread(closed))}",
         None, None),
        ("how holders ended", str(harness.counts(ending(h) for h in holders)), None, None),
        ("slot errors", str(result["slot_errors"] or "none"), None, None),
    ]


def ending(holder):
    """"closed by the origin after GOAWAY NO_ERROR", "still open at the end (...)", ..."""
    ended = "closed by the origin" if holder["closed_after_s"] is not None else "still open at the end of the run"
    return f"{ended} after GOAWAY {holder['goaway']}" if holder["goaway"] else ended


def settings(args):
    return {"server.max_connections": args.count}


CASE = Case(
    doc=__doc__,
    name="preauth-hold",
    summary="max_connections HTTP/2 connections without the secret: do they lock the CDN out?",
    count=200, count_means="holding connections (= server.max_connections)", seconds=30,
    documented="--count 10000 --seconds 120 (the production max_connections; raise ulimit -n)",
    attack=attack, rows=rows, settings=settings, default_legit_count=10,
)
