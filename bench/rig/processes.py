"""Every child process a benchmark starts, in its own process group, ended on every way out.

A `try/finally` covers exceptions (Ctrl-C is one: KeyboardInterrupt), `atexit` covers
`sys.exit`, and SIGTERM/SIGHUP are turned into `SystemExit` so both run; only SIGKILL of the
harness itself can leave a child behind.
Each child gets its own process group (`start_new_session`) so that whatever it forks (nginx's
workers) goes with it.
"""

import atexit
import os
import signal
import subprocess
import sys
import time

_children = []


def spawn(argv, **popen_args):
    """Starts `argv` in a new process group and remembers it for `end_all`."""
    child = subprocess.Popen(argv, start_new_session=True, **popen_args)
    _children.append(child)
    return child


class Server:
    """What every server a benchmark starts shares: its child process (`self.child`, None until
    started) and its log (`self.log_path`)."""

    child = None
    log_path = None

    def alive(self):
        return self.child is not None and self.child.poll() is None

    def log_tail(self, lines=5):
        """The log's last lines, on one line, for an error message."""
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (AttributeError, FileNotFoundError):
            return "(no log)"

    def stop(self):
        if self.child is not None:
            end(self.child)


def end(child, grace_s=5.0):
    """SIGTERM to the child's group, then SIGKILL after `grace_s`; waits for the child."""
    if child.poll() is None:
        _signal_group(child, signal.SIGTERM)
        try:
            child.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.wait(timeout=5)
    # The leader is gone; members it left behind (nginx workers) are killed with the group.
    _signal_group(child, signal.SIGKILL)
    if child in _children:
        _children.remove(child)


def _signal_group(child, signum):
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass


def end_all():
    for child in list(_children):
        end(child, grace_s=2.0)


def _exit_on_signal(signum, _frame):
    sys.exit(128 + signum)


def install_cleanup():
    """Ends every child at exit, including on SIGTERM and SIGHUP."""
    atexit.register(end_all)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)


def run(argv, deadline_s, what, **run_args):
    """Runs a short command to completion under a deadline; its CompletedProcess (text output).

    Raises RuntimeError with the command's stderr when it fails, and TimeoutError (after
    killing it) when it overruns."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=deadline_s, **run_args)
    except subprocess.TimeoutExpired as error:
        raise TimeoutError(f"{what} took longer than {deadline_s:.0f} s") from error
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip())[-500:]
        raise RuntimeError(f"{what} failed with status {done.returncode}: {said}")
    return done


def wait_for(predicate, deadline_s, what, interval_s=0.1):
    """Polls `predicate` until it returns a true value, for at most `deadline_s` seconds."""
    give_up = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= give_up:
            raise TimeoutError(f"gave up after {deadline_s:.0f} s waiting for {what}")
        time.sleep(interval_s)
