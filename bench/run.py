#!/usr/bin/env python3
"""Every benchmark of vod-origin, from one entry point, on one rig (bench/rig).

    python3 bench/run.py compare                 # the table of docs/benchmarks.md (5 A/B pairs)
    python3 bench/run.py compare --quick         # 1 pair, tiny sizes: the harness end to end (CI)
    python3 bench/run.py <benchmark> --help      # a benchmark's own options and defaults
    python3 bench/run.py attack <case> [...]     # bench/attack/run.py (the attack harness)

Each benchmark starts what it measures (the S3 stand-in, vod-origin, nginx) on kernel-chosen
ports in a scratch folder, with a deadline on every wait, and ends every process it started
and removes the folder on any way out (--keep keeps the folder). The origin binary is
target/release/vod-origin unless --origin-bin names another: build it with
`cargo build --release --bin vod-origin`.

Needs: `python3 -m pip install -r bench/requirements.txt` (moto[server], boto3, h2) and, from
Debian, `apt-get install -y nginx wrk curl` (and valgrind for `callgrind`).
"""

import argparse
import pathlib
import runpy
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from drivers import all_drivers, common  # noqa: E402
from rig import processes  # noqa: E402


def build_parser(drivers):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="benchmark", required=True, metavar="benchmark")
    for driver in drivers:
        driver_parser = sub.add_parser(driver.NAME, help=driver.SUMMARY, description=driver.__doc__,
                                       formatter_class=argparse.RawDescriptionHelpFormatter)
        common.add_common(driver_parser)
        driver.add_arguments(driver_parser)
        driver_parser.set_defaults(driver=driver)
    sub.add_parser("attack", help="the attack harness: bench/attack/run.py <case> [options]", add_help=False)
    return parser


def run_attack(argv):
    """Hands the rest of the command line to bench/attack/run.py, in this process."""
    script = HERE / "attack" / "run.py"
    sys.argv = [str(script)] + argv
    runpy.run_path(str(script), run_name="__main__")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "attack":
        run_attack(sys.argv[2:])
        return
    drivers = all_drivers()
    args = build_parser(drivers).parse_args()
    processes.install_cleanup()
    try:
        status = args.driver.run(args)
    except (RuntimeError, TimeoutError, OSError) as error:
        print(f"run.py {args.benchmark}: FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        status = 1
    finally:
        processes.end_all()
    sys.exit(status)


if __name__ == "__main__":
    main()
