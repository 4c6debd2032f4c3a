"""Runs the README's "Try it with curl" commands as written, against `cargo run`'s setup, then
the curl block of "HLS and DASH from one MP4".

Starts the origin the way the README does (no configuration file, from the repository's root,
so on its documented ports: 8443, 8080, 8444 and 9090), then runs every command of the first
```sh block after "Try it with curl", in order, with bash: each must exit 0, and a command
whose comment starts with a status (`# 403: ...`, `# 301 to ...`) must print that status line.
Variables a command sets (`etag=$(...)`) are there for the commands after it.

    cargo build && python3 tests/readme/try_it.py [--origin-bin target/debug/vod-origin]
"""

import argparse
import re
import subprocess
import sys
import time
import urllib.request

import blocks

READY_URL = "http://127.0.0.1:9090/readyz"
START_DEADLINE_S = 60


def wait_ready(origin):
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        if origin.poll() is not None:
            sys.exit(f"the origin exited with status {origin.returncode}")
        try:
            with urllib.request.urlopen(READY_URL, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"the origin was not ready within {START_DEADLINE_S} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origin-bin", default=str(blocks.REPO / "target/debug/vod-origin"))
    args = parser.parse_args()
    listed = blocks.block_after("Try it with curl") + blocks.block_after("## HLS and DASH from one MP4")
    origin = subprocess.Popen([args.origin_bin], cwd=blocks.REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    failures = []
    try:
        wait_ready(origin)
        assignments = []
        for command in listed:
            problem = blocks.run(command, assignments)
            print(f"{'FAIL' if problem else 'ok  '} {command}")
            if problem:
                failures.append(f"{command}\n  {problem}")
            elif re.match(r"^\w+=\$\(", command):
                assignments.append(command)
    finally:
        origin.terminate()
        origin.wait(timeout=30)
    return blocks.report(failures, len(listed))


if __name__ == "__main__":
    sys.exit(main())
