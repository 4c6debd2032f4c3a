#!/usr/bin/env python3
"""Many idle and slow connections against a running origin: its memory, and a legitimate
client's latency while they are open.

    bench/many-connections.py --url https://localhost:8443/sample/hls/index.m3u8 \\
        --cacert certs/dev-ca.pem --pid $(pgrep -f target/release/vod-origin) --idle 4000 --slow 1000

Three kinds of connection are opened and held:
  idle  TLS handshake, one keep-alive request answered, then silence (a CDN's pooled connection);
  slow  TLS handshake, then a request head sent a few bytes at a time (slowloris);
and, while they are held, a legitimate client makes requests on fresh connections and the
latency of each is recorded. The origin's resident memory (VmRSS of --pid) is sampled before,
while held, and after. Needs only Python 3's standard library; raise `ulimit -n` first.
"""

import argparse
import asyncio
import ssl
import statistics
import time
from urllib.parse import urlsplit


def rss_kib(pid):
    if not pid:
        return None
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


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


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--cacert", help="CA to trust (the development CA)")
    parser.add_argument("--header", action="append", default=[], help="extra request header, e.g. the secret")
    parser.add_argument("--pid", type=int, help="the origin's process, for its memory")
    parser.add_argument("--idle", type=int, default=4000)
    parser.add_argument("--slow", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=20, help="seconds to hold the connections")
    parser.add_argument("--samples", type=int, default=200, help="legitimate requests per phase")
    args = parser.parse_args()

    url = urlsplit(args.url)
    target = argparse.Namespace(host=url.hostname, port=url.port or 443, path=url.path or "/",
                                extra="".join(f"{h}\r\n" for h in args.header), failures={})
    target.ssl = ssl.create_default_context(cafile=args.cacert)
    # Handshakes in progress at once: Python's one thread must finish each within the origin's
    # handshake deadline, or the measurement is of this script.
    target.opening = asyncio.Semaphore(64)

    baseline = await legitimate_latencies(target, args.samples)
    rss_before = rss_kib(args.pid)
    held, opened = asyncio.Event(), []
    tasks = [asyncio.create_task(idle_connection(target, held, opened)) for _ in range(args.idle)]
    tasks += [asyncio.create_task(slow_connection(target, held, opened)) for _ in range(args.slow)]
    # Let the handshakes finish (they compete with the legitimate client for the same cores).
    deadline = time.monotonic() + 180
    while len(opened) < args.idle + args.slow and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    rss_held = rss_kib(args.pid)
    loaded = await legitimate_latencies(target, args.samples)
    await asyncio.sleep(max(0, args.hold - 0))
    rss_later = rss_kib(args.pid)
    held.set()
    await asyncio.gather(*tasks)
    await asyncio.sleep(2)
    rss_after = rss_kib(args.pid)

    print(f"connections open: {len(opened)} of {args.idle} idle + {args.slow} slow")
    print(f"legitimate client, alone:            {summary(baseline)}")
    print(f"legitimate client, beside them:      {summary(loaded)}")
    if rss_before is not None:
        per = (rss_held - rss_before) / max(1, len(opened))
        print(f"origin RSS: {rss_before} KiB before, {rss_held} KiB held ({per:.1f} KiB per connection), "
              f"{rss_later} KiB after {args.hold:.0f} s, {rss_after} KiB after closing")
    if target.failures:
        print(f"failures: {target.failures}")


if __name__ == "__main__":
    asyncio.run(main())
