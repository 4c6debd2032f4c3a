"""Runs the README's "Serve S3" commands as written: the in-process S3 server, then s3s-fs.

Two blocks, each run from the repository's root on their documented ports (S3 on 9000, the
origin on 8443 with its admin listener on 9090):

1. "Without installing anything": `cargo run --example s3-dev-server -- --seed media` and the
   origin on `config/minio.toml`, then the block's curl commands.
2. "The standalone s3s-fs server": `cargo install s3s-fs@0.14.1 ...`, the bucket folder, s3s-fs
   itself, then the origin and the curl commands of the first block, as the README's "works the
   same way" says.

A command that starts a server (`cargo run ...`, `s3s-fs ...`: they run until stopped) is started
in the background, in a process group of its own, and stopped with its block. Every other
command must exit 0 and print what its comment promises (`blocks.py`). Servers take a while to
come up (a build, the seeding, S3's first answer), so a failing command is tried again until
START_DEADLINE_S after its block's servers started; a server that exits fails the block.

    cargo build --all-targets && python3 tests/readme/serve_s3.py [--skip-install]

--skip-install leaves out the `cargo install` line when `s3s-fs` is already on the PATH.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

import blocks

START_DEADLINE_S = 180
INSTALL_DEADLINE_S = 1200


def is_server(command):
    return "cargo run" in command or command.startswith("s3s-fs ")


class Servers:
    """The servers a block started, each in a process group of its own, all stopped on exit."""

    def __init__(self):
        self.started = []

    def start(self, command):
        process = subprocess.Popen(["bash", "-c", command], cwd=blocks.REPO, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.started.append((command, process))

    def exited(self):
        """Why a server is no longer running, if one is not."""
        for command, process in self.started:
            if process.poll() is not None:
                return f"the server `{command}` exited with status {process.returncode}:\n{process.stderr.read()[-2000:]}"
        return None

    def __enter__(self):
        return self

    def __exit__(self, *_):
        for _, process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, process in self.started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def run_until_deadline(command, servers, deadline):
    """Runs `command` until it does what it says or `deadline` passes; None, or why it failed."""
    while True:
        problem = blocks.run(command, timeout=60)
        if problem is None:
            return None
        if stopped := servers.exited():
            return stopped
        if time.monotonic() > deadline:
            return problem
        time.sleep(0.5)


def run_block(name, commands):
    """Runs `commands` in order, servers in the background; returns the failures."""
    failures = []
    with Servers() as servers:
        deadline = None
        for command in commands:
            if is_server(command):
                servers.start(command)
                deadline = time.monotonic() + START_DEADLINE_S
                print(f"bg   {command}", flush=True)
                continue
            timeout = INSTALL_DEADLINE_S if command.startswith("cargo install") else 60
            problem = (run_until_deadline(command, servers, deadline) if deadline
                       else blocks.run(command, timeout=timeout))
            print(f"{'FAIL' if problem else 'ok  '} {command}", flush=True)
            if problem:
                failures.append(f"[{name}] {command}\n  {problem}")
                break
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-install", action="store_true",
                        help="leave out `cargo install s3s-fs` when s3s-fs is on the PATH")
    args = parser.parse_args()
    in_process = blocks.block_after("**Without installing anything**")
    standalone = blocks.block_after("The standalone s3s-fs server works the same way")
    if args.skip_install and shutil.which("s3s-fs"):
        standalone = [c for c in standalone if not c.startswith("cargo install")]
    # The first block's origin and curl commands, after s3s-fs instead of the in-process server.
    standalone += [c for c in in_process if not c.startswith("cargo run --example")]
    failures = run_block("in-process S3", in_process) + run_block("s3s-fs", standalone)
    return blocks.report(failures, len(in_process) + len(standalone))


if __name__ == "__main__":
    sys.exit(main())
