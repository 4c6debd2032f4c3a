"""callgrind: instruction counts for sequential 1 MiB ranges on one keep-alive TLS connection.

valgrind's callgrind counts are repeatable on a shared machine, unlike time: the origin runs
under callgrind on the local folder; counting is zeroed after a warm-up request (startup,
aws-lc's entropy seeding above all, is not what is measured) and dumped after the workload.

    python3 bench/run.py callgrind --output callgrind.ranges.out
    callgrind_annotate --inclusive=yes callgrind.ranges.out.1 | head -40
"""

import os
import pathlib
import re

from drivers import common
from rig import clients, processes, scratch

NAME = "callgrind"
SUMMARY = "callgrind instruction counts for sequential 1 MiB ranges (docs/resources.md)"
MIB = common.MIB
# Under callgrind the origin starts and answers some fifty times slower.
START_DEADLINE_S = 300
WORKLOAD_DEADLINE_S = 900


def add_arguments(parser):
    parser.add_argument("--requests", type=int, default=100, help="sequential ranges (default 100)")
    parser.add_argument("--range-bytes", type=int, default=MIB,
                        help="bytes per range (default 1 MiB; a small one measures what each request costs)")
    parser.add_argument("--output", default="callgrind.ranges.out",
                        help="callgrind's output file; the dump after the workload is OUTPUT.1")


def curl_config(path, url, requests):
    """A curl config of `requests` GETs of one URL; -r on the command line makes each a range."""
    path.write_text(f'url = "{url}"\noutput = "{os.devnull}"\n' * requests)
    return path


def run(args):
    clients.require("curl", "valgrind", "callgrind_control", "callgrind_annotate")
    output = pathlib.Path(args.output).resolve()
    with common.Servers(args, NAME) as servers:
        media = servers.workdir / "media"
        scratch.random_file(media / "big.bin", 64 * MIB)
        (media / "tiny.bin").write_bytes(b"t" * 1024)
        wrapper = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={output}"]
        origin = servers.origin("vod-callgrind", media=media, wrapper=wrapper, deadline_s=START_DEADLINE_S)
        url = f"{origin.base_url()}/big.bin"
        processes.run(["curl", "-s", "--cacert", str(servers.ca), "-r", "0-0", "-o", os.devnull, url], 120, "warm-up")
        processes.run(["callgrind_control", "-z", str(origin.pid)], 120, "callgrind_control -z")
        config = curl_config(servers.workdir / "curl.cfg", url, args.requests)
        processes.run(["curl", "-s", "--http1.1", "--cacert", str(servers.ca), "-r", f"{MIB}-{MIB + args.range_bytes - 1}",
                       "-K", str(config)], WORKLOAD_DEADLINE_S, "the workload")
        processes.run(["callgrind_control", "-d", str(origin.pid)], 120, "callgrind_control -d")
        servers.retire(origin)
    dump = pathlib.Path(f"{output}.1")
    totals = processes.run(["callgrind_annotate", str(dump)], 120, "callgrind_annotate").stdout
    found = re.search(r"^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", totals, re.MULTILINE) or \
        re.search(r"^([\d,]+)\s+PROGRAM TOTALS", totals, re.MULTILINE)
    print(f"{args.requests} sequential ranges of {args.range_bytes} bytes: {found.group(1) if found else '?'} instructions "
          f"(PROGRAM TOTALS of {dump})")
    return 0
