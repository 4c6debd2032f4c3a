#!/usr/bin/env python3
"""The legitimate client: 1 MiB range GETs over HTTPS/1.1, each timed, as a CDN would make them.

It runs in its own process (the harness starts `python3 legit.py ...`), so that an attack
saturating the harness's event loop and GIL does not show up as the origin's latency. Each
request asks for a random MiB-aligned range of the big object and must get a 206 with exactly
1 MiB; anything else is recorded as a failure with its status or exception name.

    python3 legit.py --port 8443 --ca certs/dev-ca.pem --object-bytes 268435456 --count 40 \\
        --mode fresh --header 'X-Origin-Verify: secret'

Prints one JSON object: {"mode", "requests": [{"t", "ms", "ok", "status" | "error"}]}.
"""

import argparse
import http.client
import json
import random
import socket
import ssl
import sys
import time

MIB = 1 << 20


def connect(args, context):
    """A TLS connection to 127.0.0.1 that checks the certificate for `localhost`."""
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout)
    try:
        tls = context.wrap_socket(sock, server_hostname="localhost")
    except BaseException:
        sock.close()
        raise
    connection = http.client.HTTPConnection("localhost", args.port, timeout=args.timeout)
    connection.sock = tls
    return connection


def one_range(connection, args, headers):
    """One GET of a random MiB of the object; (ok, status)."""
    offset = random.randrange(max(1, args.object_bytes // MIB)) * MIB
    end = min(offset + MIB, args.object_bytes) - 1
    connection.request("GET", args.path, headers={**headers, "Range": f"bytes={offset}-{end}"})
    response = connection.getresponse()
    body = response.read()
    return response.status == 206 and len(body) == end - offset + 1, response.status, response.will_close


def run(args):
    context = ssl.create_default_context(cafile=args.ca)
    context.set_alpn_protocols(["http/1.1"])
    headers = dict(h.split(": ", 1) for h in args.header)
    started = time.monotonic()
    records, connection = [], None
    for _ in range(args.count):
        if time.monotonic() - started > args.budget:
            break
        begin = time.monotonic()
        record = {"t": round(begin - started, 3)}
        try:
            if connection is None:
                connection = connect(args, context)
            ok, status, will_close = one_range(connection, args, headers)
            record.update(ok=ok, status=status)
            if args.mode == "fresh" or will_close:
                connection.close()
                connection = None
        except (OSError, http.client.HTTPException, ssl.SSLError) as error:
            record.update(ok=False, error=type(error).__name__)
            if connection is not None:
                connection.close()
            connection = None
        record["ms"] = round((time.monotonic() - begin) * 1000, 2)
        records.append(record)
        if args.pause > 0:
            time.sleep(args.pause)
    if connection is not None:
        connection.close()
    return {"mode": args.mode, "requests": records}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--path", default="/big.bin")
    parser.add_argument("--object-bytes", type=int, required=True)
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--mode", choices=("fresh", "keepalive"), default="fresh",
                        help="fresh: a TLS connection per request; keepalive: one, reopened when closed")
    parser.add_argument("--timeout", type=float, default=10, help="per socket operation, seconds")
    parser.add_argument("--budget", type=float, default=60, help="no new request after this many seconds")
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between requests")
    json.dump(run(parser.parse_args()), sys.stdout)


if __name__ == "__main__":
    main()
