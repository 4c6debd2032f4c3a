"""h2-stall: HTTP/2 streams whose client never opens its flow-control window.

Each of --count connections sends SETTINGS_INITIAL_WINDOW_SIZE 0 (--window 1: one byte) in its
preface, then --streams GETs of the big object with the CDN's secret, answers PINGs and SETTINGS
(the h2 library does) and never sends WINDOW_UPDATE. The origin can send response headers and
no body byte. TCP is never blocked, so a timeout that watches the socket cannot see these
streams: each one holds a request, its reader and whatever buffer it filled, for as long as
the origin lets it. The targets: every stalled stream reset (RST_STREAM, or the connection
closed) within send_timeout + 5 s, memory bounded (RSS ≤ base + 64 MiB), descriptors back after.
"""

import asyncio

import harness
import wire
from cases import Case

OPENING_AT_ONCE = 20


def add_arguments(parser):
    parser.add_argument("--streams", type=int, default=100, help="streams per connection (default 100)")
    parser.add_argument("--window", type=int, choices=(0, 1), default=0,
                        help="SETTINGS_INITIAL_WINDOW_SIZE the client announces (default 0)")


async def attack(run, args):
    sessions, failures = await harness.open_all(args.count, lambda: open_stalled(run, args), OPENING_AT_ONCE)
    run.mark("stalled streams open", connections=len(sessions), streams=sum(len(s.streams) for s in sessions))
    run.established.set()
    try:
        # Until the deadline, or sooner when the origin has ended every stream.
        while run.remaining() > 0 and not all(stream_ended(s, sid) for s in sessions for sid in s.streams):
            await asyncio.sleep(0.25)
        if sessions and all(stream_ended(s, sid) for s in sessions for sid in s.streams):
            run.mark("every stalled stream has been ended by the origin")
    finally:
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    return {"open_failures": failures, "server_max_streams": sessions[0].server_max_streams if sessions else None,
            "streams": [outcome(s, sid) for s in sessions for sid in s.streams],
            "data_bytes": sum(s.data_bytes for s in sessions)}


async def open_stalled(run, args):
    reader, writer = await wire.open_tls(run.address, run.h2_context())
    session = wire.H2Session(reader, writer, run.clock, window=args.window)
    await session.start()
    # The origin's stream limit is honoured: streams above it would be refused at once and
    # measure nothing.
    session.server_max_streams = await session.wait_for_settings()
    for _ in range(min(args.streams, session.server_max_streams)):
        session.send_request(wire.request_headers(harness.BIG_OBJECT, run.secret))
    await session.flush()
    return session


def stream_ended(session, stream_id):
    return "reset_at" in session.streams[stream_id] or session.ended


def outcome(session, stream_id):
    """How one stream ended, relative to its start: reset, GOAWAY/close, or not at all."""
    stream = session.streams[stream_id]
    record = {"stream": stream_id, "status": stream.get("status")}
    if "reset_at" in stream:
        record.update(ended_by=f"RST_STREAM {stream['reset_error']}", after_s=round(stream["reset_at"] - stream["start"], 3))
    elif session.goaway is not None and session.closed_at is not None and session.close_reason != "closed by us":
        record.update(ended_by=f"GOAWAY {session.goaway['error']}", after_s=round(session.closed_at - stream["start"], 3))
    elif session.closed_at is not None and session.close_reason != "closed by us":
        record.update(ended_by="connection closed", after_s=round(session.closed_at - stream["start"], 3))
    else:
        record.update(ended_by="never (within the run)", after_s=None)
    return record


def rows(report, args):
    result = report["attack"]
    if "streams" not in result:
        return [("attack", result.get("error", "failed"), None, None)]
    streams = result["streams"]
    limit = harness.seconds_of(report["settings"]["server.send_timeout"]) + 5
    ended = [s for s in streams if s["after_s"] is not None]
    never = len(streams) - len(ended)
    in_time = [s for s in ended if s["after_s"] <= limit]
    short = f" (the run, {args.seconds:g} s, is shorter than that: raise --seconds)" if args.seconds < limit else ""
    return [
        ("stalled streams opened", f"{len(streams)} on {args.count} connections "
         f"(origin allows {result['server_max_streams']} per connection); open failures {result['open_failures'] or 'none'}",
         None, None),
        ("response statuses", str(harness.counts(s["status"] for s in streams)), None, None),
        ("how streams ended", str(harness.counts(s["ended_by"] for s in streams)), None, None),
        ("time from stream start to its end", harness.fmt_spread(harness.spread(s["after_s"] for s in ended)),
         f"≤ send_timeout + 5 = {limit:g} s{short}", bool(streams) and len(in_time) == len(streams)),
        ("streams never reset within the run", f"{never} of {len(streams)}", "0", never == 0),
        ("DATA bytes received while the window was shut", str(result["data_bytes"]), f"≤ {args.window} per stream", None),
    ]


CASE = Case(
    doc=__doc__,
    name="h2-stall",
    summary="HTTP/2 streams under a zero flow-control window: are they reset, is memory bounded?",
    count=20, count_means="connections", seconds=30,
    documented="--count 100 --streams 100 --seconds 120 --set server.send_timeout=60s",
    attack=attack, rows=rows, add_arguments=add_arguments, extra_parameters=("streams", "window"),
    # The origin opens the object once per stream: one descriptor each, beside the connection's.
    fds_needed=lambda args: args.count * (args.streams + 1),
)
