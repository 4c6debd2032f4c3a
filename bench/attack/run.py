#!/usr/bin/env python3
"""A repeatable attack harness for vod-origin: loopback only, bounded in count and in time.

    python3 bench/attack/run.py <case> [options]      one case on a fresh origin
    python3 bench/attack/run.py all [options]         every case in turn, each on a fresh origin
    python3 bench/attack/run.py <case> --help         the case's own options and defaults

Each case starts the origin binary (--origin-bin) on kernel-chosen ports with a generated
configuration, samples its RSS, Pss, descriptors and the kernel's TCP memory at 4 Hz, measures a
legitimate client's 1 MiB range GETs before and during the attack, and prints a table; --json
writes every sample. bench/attack/README.md lists the cases and their documented sizes.
Also `python3 bench/run.py attack <case> [options]`. The origin, nginx, the S3 stand-in (moto,
for --store s3) and the sampling come from bench/rig, shared with every benchmark.
Needs: pip install -r bench/requirements.txt (h2, and moto and boto3 for --store s3);
apt-get install -y nginx (idle), slowhttptest (slow-read --tool slowhttptest).
"""

import argparse
import asyncio
import importlib.metadata
import importlib.util
import os
import pathlib
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))  # bench/, for the shared rig

if importlib.util.find_spec("h2") is None:
    sys.exit("run.py: the h2 package is missing: pip install -r bench/requirements.txt")

import harness  # noqa: E402
import report as report_mod  # noqa: E402
from cases import all_cases  # noqa: E402
from rig import processes  # noqa: E402

REPO = HERE.parent.parent
# Descriptors the harness itself needs beyond one per attacking connection (pipes, logs, the
# legitimate client, Python's own).
FD_MARGIN = 256


def common_options():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--origin-bin", default=str(REPO / "target/release/vod-origin"),
                        help="the vod-origin binary (default target/release/vod-origin)")
    common.add_argument("--count", type=int, help="the case's size (what it counts: see the case's --help)")
    common.add_argument("--seconds", type=float, help="how long the attack lasts")
    common.add_argument("--json", help="write the full report, every sample included, to this file")
    common.add_argument("--media-mib", type=int, default=128, help="size of the big object, MiB (default 128)")
    common.add_argument("--store", choices=("local", "s3"), default="local",
                        help="the origin reads the media folder (default) or the S3 stand-in (moto) seeded "
                             "with it; moto copies a whole object per GET, so keep --media-mib small with s3")
    common.add_argument("--s3-server", choices=("moto", "s3s-fs"), default="moto",
                        help="with --store s3: the stand-in; s3s-fs (examples/s3-dev-server) streams a large "
                             "object to many viewers, which moto cannot (see bench/rig/s3.py)")
    common.add_argument("--s3s-bin", default=str(REPO / "target/release/examples/s3-dev-server"),
                        help="the s3-dev-server binary for --s3-server s3s-fs "
                             "(cargo build --release --example s3-dev-server)")
    common.add_argument("--cache", choices=("on", "off"), default="on",
                        help="with --store s3: the edge cache (storage.cache.enabled; default on)")
    common.add_argument("--send-timeout", default="10s",
                        help="server.send_timeout for the run (default 10s; the shipped default is 60s)")
    common.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any origin setting, e.g. --set server.max_connections=500 (repeatable; wins)")
    common.add_argument("--no-secret", action="store_true", help="run the origin without access.secrets")
    common.add_argument("--legit-count", type=int, help="legitimate requests per phase (default 30; preauth-hold 10)")
    common.add_argument("--legit-mode", choices=("fresh", "keepalive"), default="fresh",
                        help="legitimate client: a new TLS connection per request (default) or one kept alive")
    common.add_argument("--legit-timeout", type=float, default=10, help="legitimate client's socket timeout, s")
    common.add_argument("--recovery", type=float, default=15,
                        help="seconds to wait after the attack for descriptors to come back (default 15)")
    common.add_argument("--workdir", help="scratch folder (default: a new temporary one, removed unless --keep)")
    common.add_argument("--keep", action="store_true", help="keep the scratch folder (logs, configs) for a post-mortem")
    return common


def build_parser(cases):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="case", required=True, metavar="case")
    common = common_options()
    for case in cases:
        case_parser = sub.add_parser(case.name, parents=[common], help=case.summary,
                                     description=case.doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=f"defaults: --count {case.count} ({case.count_means}), --seconds "
                                            f"{case.seconds:g}; documented larger run: {case.documented}")
        case.add_arguments(case_parser)
    sub.add_parser("all", parents=[common], help="every case in turn (common options only)")
    return parser


def arguments_for(parser, case, argv):
    """The case's arguments: its own defaults, with the common options given on the command line."""
    args = parser.parse_args([case.name] + argv)
    if args.count is None:
        args.count = case.count
    if args.seconds is None:
        args.seconds = case.seconds
    return args


def raise_fd_limit(needed):
    """Raises the soft descriptor limit to the hard one; fails early when even that is short."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if needed > hard:
        sys.exit(f"run.py: {needed} descriptors needed, the hard limit is {hard}: raise it first (ulimit -Hn, "
                 f"or LimitNOFILE), e.g. `ulimit -n {needed * 2}` as root")


def machine():
    """What a reader of the numbers needs to know about where they came from."""
    def git(*argv):
        result = subprocess.run(["git", "-C", str(REPO), *argv], capture_output=True, text=True, timeout=10)
        return result.stdout.strip()
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "cores": len(os.sched_getaffinity(0)),
            "kernel": platform.release(), "python": platform.python_version(),
            "h2": importlib.metadata.version("h2"),
            "commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "--porcelain", "--", "src")),
            "loadavg": pathlib.Path("/proc/loadavg").read_text().split()[:3]}


async def run_one(case, args, workdir, media):
    print(f"== {case.name}: {case.summary}", file=sys.stderr, flush=True)
    if case.custom is not None:
        return await case.custom(args, workdir, media)
    return await harness.run_case(case, args, workdir, media)


def main():
    cases = all_cases()
    parser = build_parser(cases)
    args = parser.parse_args()
    argv = sys.argv[2:]
    chosen = cases if args.case == "all" else [c for c in cases if c.name == args.case]
    runs = [(case, arguments_for(parser, case, argv)) for case in chosen]
    if not pathlib.Path(args.origin_bin).is_file():
        sys.exit(f"run.py: no origin binary at {args.origin_bin} (cargo build --release, or --origin-bin)")
    raise_fd_limit(max(case.fds_needed(case_args) for case, case_args in runs) + FD_MARGIN)
    processes.install_cleanup()

    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="vod-attack."))
    workdir.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine(), "origin_bin": args.origin_bin, "cases": []}
    try:
        media = harness.make_media(workdir / "media", args.media_mib)
        for case, case_args in runs:
            try:
                case_report = asyncio.run(run_one(case, case_args, workdir, media))
            except (RuntimeError, TimeoutError, OSError) as error:
                case_report = {"case": case.name, "error": f"{type(error).__name__}: {error}", "rows": []}
            result["cases"].append(case_report)
            print(report_mod.table(case_report), flush=True)
            if args.json:
                report_mod.write_json(args.json, result)
    finally:
        processes.end_all()
        if args.keep or args.workdir:
            print(f"scratch folder kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    failed = [c["case"] for c in result["cases"] if "error" in c]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
