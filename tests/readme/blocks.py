"""The README's shell blocks as commands, and what each promises: shared by the scripts that run them.

A block is the first ```sh fence after a marker text. Its commands are its lines with
continuations joined and comment-only lines dropped. A command's trailing comment may promise
something: a status (`# 403: ...`, `# 301 to ...`: that status line must be printed) or a quoted
text (`# "ok" once ...`: that text must be printed).
"""

import pathlib
import re
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def block_after(marker):
    """The commands of the first ```sh block after `marker` in the README."""
    text = README.read_text()
    found = re.search(re.escape(marker) + r".*?```sh\n(.*?)```", text, re.DOTALL)
    if not found:
        raise SystemExit(f"README.md has no ```sh block after {marker!r}")
    joined = re.sub(r"\\\n\s*", " ", found.group(1))
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def comment_of(command):
    """The trailing comment of `command`, if any (a `#` after whitespace, outside `$(...)`)."""
    found = re.search(r"\s#\s*(.*)$", command)
    return found.group(1) if found else ""


def promise(command):
    """What `command` must print: ("status", "403"), ("text", "ok"), or None."""
    comment = comment_of(command)
    if found := re.match(r"(\d{3})\b", comment):
        return ("status", found.group(1))
    if found := re.match(r'"([^"]+)"', comment):
        return ("text", found.group(1))
    return None


def run(command, assignments=(), timeout=30):
    """Runs `command` with bash from the repository's root, after `assignments` (earlier
    `name=$(...)` commands). Returns None if it exited 0 and printed what it promises, else why
    not."""
    script = "set -o pipefail\n" + "".join(f"{a}\n" for a in assignments) + command
    done = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        return f"exited with status {done.returncode}:\n{output}"
    expected = promise(command)
    if expected and expected[0] == "status" and not re.search(rf"^HTTP/[\d.]+ {expected[1]}\b", done.stdout, re.M):
        return f"printed no {expected[1]} status line:\n{output}"
    if expected and expected[0] == "text" and expected[1] not in done.stdout:
        return f"did not print {expected[1]!r}:\n{output}"
    return None


def report(failures, count):
    """Exits with the failures, if any, else says that `count` commands ran as written; 0."""
    if failures:
        sys.exit("README commands that did not do what it says:\n" + "\n".join(failures))
    print(f"{count} README commands ran as written")
    return 0
