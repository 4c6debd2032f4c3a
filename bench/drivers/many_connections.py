"""many-connections: many idle and slow connections against the origin: its memory, and a
legitimate client's latency while they are open.

Two kinds of connection are opened and held:
  idle  TLS handshake, one keep-alive request answered, then silence (a CDN's pooled connection);
  slow  TLS handshake, then a request head sent a few bytes at a time (slowloris);
and, while they are held, a legitimate client makes requests on fresh connections and the
latency of each is recorded. The origin (a fresh one, on the local folder, serving a small
playlist) has its resident memory (VmRSS) sampled before, while held, and after. The harness
raises its descriptor limit to the hard one, and fails early when that is too low.
"""

import argparse
import asyncio
import ssl
import statistics
import time

from drivers import common
from rig.sampler import rss_kib

NAME = "many-connections"
SUMMARY = "thousands of idle and slowloris connections: memory, and a legitimate client's latency"
# Bounds on the phases: opening every connection, and closing them all at the end.
OPEN_DEADLINE_S = 180
CLOSE_DEADLINE_S = 60


def request_head(host, path, extra=""):
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return int(head.split(b" ")[1])


async def idle_connection(target, held, opened):
    try:
        async with target.opening:
            reader, writer = await asyncio.open_connection(target.host, target.port, ssl=target.ssl,
                                                           server_hostname=target.host)
            writer.write(request_head(target.host, target.path, target.extra))
            await read_response(reader)
        opened.append(1)
        await held.wait()
        writer.close()
    except Exception as error:  # counted, not fatal: the point is what the server does
        target.failures[type(error).__name__] = target.failures.get(type(error).__name__, 0) + 1


async def slow_connection(target, held, opened):
    try:
        async with target.opening:
            reader, writer = await asyncio.open_connection(target.host, target.port, ssl=target.ssl,
                                                           server_hostname=target.host)
        opened.append(1)
        head = request_head(target.host, target.path, target.extra)
        for i in range(len(head) - 4):
            if held.is_set():
                break
            writer.write(head[i:i + 1])
            await writer.drain()
            await asyncio.sleep(2)
        writer.close()
    except Exception as error:
        target.failures[type(error).__name__] = target.failures.get(type(error).__name__, 0) + 1


async def legitimate_latencies(target, count):
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        reader, writer = await asyncio.open_connection(target.host, target.port, ssl=target.ssl,
                                                       server_hostname=target.host)
        writer.write(request_head(target.host, target.path, target.extra + "Connection: close\r\n"))
        status = await read_response(reader)
        latencies.append((time.perf_counter() - start) * 1000)
        writer.close()
        if status >= 400:
            target.failures[f"legitimate {status}"] = target.failures.get(f"legitimate {status}", 0) + 1
    return latencies


def summary(latencies):
    latencies = sorted(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return f"p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms"


async def hold(args, target, pid):
    """The three phases: the legitimate client alone, beside the held connections, and after."""
    baseline = await legitimate_latencies(target, args.samples)
    rss_before = rss_kib(pid)
    held, opened = asyncio.Event(), []
    tasks = [asyncio.create_task(idle_connection(target, held, opened)) for _ in range(args.idle)]
    tasks += [asyncio.create_task(slow_connection(target, held, opened)) for _ in range(args.slow)]
    # Let the handshakes finish (they compete with the legitimate client for the same cores).
    deadline = time.monotonic() + OPEN_DEADLINE_S
    while len(opened) < args.idle + args.slow and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    rss_held = rss_kib(pid)
    loaded = await legitimate_latencies(target, args.samples)
    await asyncio.sleep(args.hold)
    rss_later = rss_kib(pid)
    held.set()
    await asyncio.wait_for(asyncio.gather(*tasks), CLOSE_DEADLINE_S)
    await asyncio.sleep(2)
    rss_after = rss_kib(pid)

    print(f"connections open: {len(opened)} of {args.idle} idle + {args.slow} slow")
    print(f"legitimate client, alone:            {summary(baseline)}")
    print(f"legitimate client, beside them:      {summary(loaded)}")
    per = (rss_held - rss_before) / max(1, len(opened))
    print(f"origin RSS: {rss_before} KiB before, {rss_held} KiB held ({per:.1f} KiB per connection), "
          f"{rss_later} KiB after {args.hold:.0f} s, {rss_after} KiB after closing")
    if target.failures:
        print(f"failures: {target.failures}")


def add_arguments(parser):
    parser.add_argument("--idle", type=int, default=4000, help="idle keep-alive connections (default 4000)")
    parser.add_argument("--slow", type=int, default=1000, help="slowloris connections (default 1000)")
    parser.add_argument("--hold", type=float, default=20, help="seconds to hold the connections (default 20)")
    parser.add_argument("--samples", type=int, default=200, help="legitimate requests per phase (default 200)")


def run(args):
    common.raise_fd_limit(2 * (args.idle + args.slow) + 256)
    with common.Servers(args, NAME) as servers:
        media = servers.workdir / "media"
        media.mkdir()
        (media / "index.m3u8").write_bytes(b"#EXTM3U\n" + b"#" * 1000 + b"\n")
        origin = servers.origin("vod-local", media=media)
        target = argparse.Namespace(host="localhost", port=origin.https[1], path="/index.m3u8", extra="",
                                    failures={}, ssl=ssl.create_default_context(cafile=str(servers.ca)))
        # Handshakes in progress at once: Python's one thread must finish each within the origin's
        # handshake deadline, or the measurement is of this script.
        target.opening = asyncio.Semaphore(64)
        asyncio.run(hold(args, target, origin.pid))
    return 0
