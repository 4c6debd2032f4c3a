"""Idle keep-alive TLS connections, in a process of their own (bench/attack's `idle` case).

Opens COUNT TLS 1.3 connections (HTTP/1.1 by ALPN, as CloudFront talks to an origin), completes
one GET on each, keeps them all open and idle, prints "ready N", then waits for a line on stdin.
It then sends a second GET on every connection and prints "alive N": the connections the server
kept open through the measurement. Bounded: gives up after --timeout seconds.

    python3 bench/rig/idle_client.py --port 8443 --path /tiny.txt --count 2000 --ca certs/dev-ca.pem
"""

import argparse
import asyncio
import ssl
import sys

# Handshakes in flight at once: enough to open 2,000 connections in a few seconds, few enough
# not to trip a listen backlog.
OPENING_AT_ONCE = 100


async def get(reader, writer, path):
    """One GET on an open connection; True when a complete 200 came back."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return lines[0].split(" ")[1] == "200"


async def open_one(args, context, gate):
    async with gate:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", args.port, ssl=context, server_hostname="localhost"
        )
        if not await get(reader, writer, args.path):
            raise RuntimeError("the first GET was not a 200")
        return reader, writer


async def still_alive(connection, path):
    reader, writer = connection
    try:
        return await get(reader, writer, path)
    except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
        return False


async def main(args):
    context = ssl.create_default_context(cafile=args.ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.set_alpn_protocols(["http/1.1"])
    gate = asyncio.Semaphore(OPENING_AT_ONCE)
    connections = await asyncio.gather(*(open_one(args, context, gate) for _ in range(args.count)))
    print(f"ready {len(connections)}", flush=True)

    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    alive = await asyncio.gather(*(still_alive(c, args.path) for c in connections))
    print(f"alive {sum(alive)}", flush=True)
    for _, writer in connections:
        writer.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--timeout", type=float, default=120)
    arguments = parser.parse_args()
    try:
        asyncio.run(asyncio.wait_for(main(arguments), arguments.timeout))
    except Exception as error:  # noqa: BLE001 - report and fail, the caller prints our stderr
        print(f"idle.py: {error!r}", file=sys.stderr)
        sys.exit(1)
