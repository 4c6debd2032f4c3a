"""The load a benchmark puts on a server: the same clients, the same way, for every side.

- `bulk`: one whole-object GET with curl, its bytes checked and its speed read.
- `first_bytes`: curl's time to first byte for a list of URLs over one kept-alive connection
  (the first, which pays the handshake, is a warm-up and not returned).
- `ranges`: wrk with `ranges.lua`, 1 MiB ranges at random MiB-aligned offsets; its one
  RESULT line is parsed field by field.
- `check_range`: a range fetched and compared byte for byte with the file it came from.
Every client runs under a deadline; a client that fails, or a status that is not the one
expected, fails the measurement.
"""

import os
import pathlib
import shutil
import ssl
import statistics
import urllib.request

from . import processes

MIB = 1 << 20
RANGES_LUA = pathlib.Path(__file__).resolve().parent / "ranges.lua"
LIST_LUA = pathlib.Path(__file__).resolve().parent / "list.lua"
# A client that takes this much longer than it was asked to run has hung.
SLACK_S = 60


def require(*tools):
    """Fails early, with the Debian package to install, when a client is missing."""
    packages = {"wrk": "wrk", "curl": "curl", "nginx": "nginx", "valgrind": "valgrind",
                "callgrind_control": "valgrind"}
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        names = " ".join(sorted({packages.get(tool, tool) for tool in missing}))
        raise RuntimeError(f"missing {', '.join(missing)}: apt-get install -y {names}")


def bulk(url, ca, expect_bytes, http="1.1", deadline_s=600):
    """One GET of a whole object with curl: {"bytes", "mb_s"}; fails unless 200 with every byte."""
    flag = "--http2" if http == "2" else "--http1.1"
    done = processes.run(["curl", "-s", flag, "--cacert", str(ca), "-o", os.devnull, "-w",
                          "%{http_code} %{size_download} %{speed_download} %{http_version}", url],
                         deadline_s, f"curl {url}")
    code, size, speed, version = done.stdout.split()
    if (code, int(size)) != ("200", expect_bytes):
        raise RuntimeError(f"GET {url}: expected 200 with {expect_bytes} bytes, got {code} with {size}")
    if version != {"1.1": "1.1", "2": "2"}[http]:
        raise RuntimeError(f"GET {url}: asked HTTP/{http}, got HTTP/{version}")
    return {"bytes": int(size), "mb_s": float(speed) / 1e6}


def first_bytes(urls, ca, range_header, expect="206", deadline_s=300):
    """Times to first byte, in ms, of GETs of `urls[1:]` over one connection (urls[0] opens it).

    One curl for the whole list, so each time is curl's own `time_starttransfer` (from the
    request's start to the first byte of the answer) on a warm connection, with no process
    start in it."""
    argv = ["curl", "-s", "--http1.1", "--cacert", str(ca), "-H", f"Range: {range_header}",
            "-w", "%{http_code} %{time_starttransfer}\\n"]
    for url in urls:
        argv += ["-o", os.devnull, url]
    lines = processes.run(argv, deadline_s, f"curl (first bytes of {len(urls)} URLs)").stdout.splitlines()
    if len(lines) != len(urls):
        raise RuntimeError(f"curl answered {len(lines)} of {len(urls)} requests")
    statuses = {line.split()[0] for line in lines}
    if statuses != {expect}:
        raise RuntimeError(f"first bytes from {urls[0]}...: expected only {expect}, got {sorted(statuses)}")
    return [float(line.split()[1]) * 1000 for line in lines[1:]]


def first_bytes_each(requests, ca, expect="206", deadline_s=300):
    """Like `first_bytes`, for (url, range header) pairs that each have their own range: one
    curl, its requests separated by `--next`, so the connection is still reused."""
    argv = ["curl"]
    for url, range_header in requests:
        argv += ["-s", "--http1.1", "--cacert", str(ca), "-H", f"Range: {range_header}",
                 "-w", "%{http_code} %{time_starttransfer}\\n", "-o", os.devnull, url, "--next"]
    lines = processes.run(argv[:-1], deadline_s, f"curl (first bytes of {len(requests)} ranges)").stdout.splitlines()
    if len(lines) != len(requests) or {line.split()[0] for line in lines} != {expect}:
        raise RuntimeError(f"first bytes from {requests[0][0]}...: expected {len(requests)} answers {expect}, "
                           f"got {sorted(set(line.split()[0] for line in lines))} x {len(lines)}")
    return [float(line.split()[1]) * 1000 for line in lines[1:]]


def median_first_byte(urls, ca, range_header, expect="206"):
    """The median of `first_bytes`, in ms."""
    return statistics.median(first_bytes(urls, ca, range_header, expect))


def ranges(url, object_bytes, connections, seconds, threads=None):
    """wrk: 1 MiB ranges at random offsets of an object for `seconds`.

    Returns {"requests", "seconds", "bytes", "rps", "p50_ms", "p99_ms"}; any socket error,
    timeout or non-2xx answer fails the run."""
    threads = threads or min(connections, len(os.sched_getaffinity(0)))
    env = {**os.environ, "OBJECT_MIB": str(max(1, object_bytes // MIB))}
    seconds = max(1, round(seconds))  # wrk takes whole seconds
    done = processes.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
                          "-s", str(RANGES_LUA), url], seconds + SLACK_S, f"wrk -c{connections} {url}", env=env)
    return _wrk_summary(done.stdout, f"wrk -c{connections} {url}")


def listed(base_url, list_file, connections, seconds, threads=None):
    """wrk: requests drawn at random from `list_file` (`list.lua`) for `seconds`; returns what
    `ranges` returns, and fails as it does."""
    threads = threads or min(connections, len(os.sched_getaffinity(0)))
    env = {**os.environ, "LIST_FILE": str(list_file)}
    seconds = max(1, round(seconds))
    done = processes.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
                          "-s", str(LIST_LUA), base_url], seconds + SLACK_S, f"wrk -c{connections} {list_file}", env=env)
    return _wrk_summary(done.stdout, f"wrk -c{connections} {list_file}")


def _wrk_summary(output, what):
    result = parse_wrk_result(output)
    if result["errors"]:
        raise RuntimeError(f"{what}: {result['errors']} errors")
    if not result["requests"]:
        raise RuntimeError(f"{what}: no request completed")
    elapsed = result["duration_us"] / 1e6
    return {"requests": result["requests"], "seconds": elapsed, "bytes": result["bytes"],
            "rps": result["requests"] / elapsed, "p50_ms": result["p50_us"] / 1000, "p99_ms": result["p99_us"] / 1000}


def parse_wrk_result(output):
    """`RESULT requests=1 duration_us=2 ...` (ranges.lua's last line) as {name: int}."""
    for line in output.splitlines():
        if line.startswith("RESULT "):
            return {name: int(value) for name, _, value in (f.partition("=") for f in line.split()[1:])}
    raise RuntimeError(f"wrk printed no RESULT line: {output[-300:]}")


def check_range(url, ca, path, offset=MIB, length=MIB, headers=None):
    """Fetches bytes offset..offset+length-1 of `url` and compares them with the same bytes of
    the file at `path`; fails on a status other than 206 or on any difference."""
    context = ssl.create_default_context(cafile=str(ca))
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-{offset + length - 1}",
                                                   **(headers or {})})
    with urllib.request.urlopen(request, context=context, timeout=60) as answer:
        status, body = answer.status, answer.read()
    with open(path, "rb") as source:
        source.seek(offset)
        expected = source.read(length)
    if status != 206 or body != expected:
        raise RuntimeError(f"{url}: expected 206 with bytes {offset}+{length} of {path}, "
                           f"got {status} with {len(body)} bytes{' (different)' if len(body) == length else ''}")
