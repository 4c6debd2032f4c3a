"""Runs the README's "Try it with curl" commands as written, against `cargo run`'s setup.

Starts the origin the way the README does (no configuration file, from the repository's root,
so on its documented ports: 8443, 8080, 8444 and 9090), then runs every command of the first
```sh block after "Try it with curl", in order, with bash: each must exit 0, and a command
whose comment starts with a status (`# 403: ...`, `# 301 to ...`) must print that status line.
Variables a command sets (`etag=$(...)`) are there for the commands after it.

    cargo build && python3 tests/readme/try_it.py [--origin-bin target/debug/vod-origin]
"""

import argparse
import pathlib
import re
import subprocess
import sys
import time
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[2]
READY_URL = "http://127.0.0.1:9090/readyz"
START_DEADLINE_S = 60
COMMAND_DEADLINE_S = 30


def commands(readme):
    """The commands of the block after "Try it with curl": continuation lines joined."""
    text = readme.read_text()
    block = re.search(r"Try it with curl.*?```sh\n(.*?)```", text, re.DOTALL).group(1)
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def expected_status(command):
    """`# 403: ...` after a command: the status it must print."""
    found = re.search(r"#\s*(\d{3})\b", command)
    return found.group(1) if found else None


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


def run(command, assignments):
    script = "set -o pipefail\n" + "".join(f"{a}\n" for a in assignments) + command
    done = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=COMMAND_DEADLINE_S)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        return f"exited with status {done.returncode}:\n{output}"
    status = expected_status(command)
    if status and not re.search(rf"^HTTP/[\d.]+ {status}\b", done.stdout, re.MULTILINE):
        return f"printed no {status} status line:\n{output}"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origin-bin", default=str(REPO / "target/debug/vod-origin"))
    args = parser.parse_args()
    listed = commands(REPO / "README.md")
    origin = subprocess.Popen([args.origin_bin], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    failures = []
    try:
        wait_ready(origin)
        assignments = []
        for command in listed:
            problem = run(command, assignments)
            print(f"{'FAIL' if problem else 'ok  '} {command}")
            if problem:
                failures.append(f"{command}\n  {problem}")
            elif re.match(r"^\w+=\$\(", command):
                assignments.append(command)
    finally:
        origin.terminate()
        origin.wait(timeout=30)
    if failures:
        sys.exit("README commands that did not do what it says:\n" + "\n".join(failures))
    print(f"{len(listed)} README commands ran as written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
