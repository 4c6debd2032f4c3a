"""The scratch folder a run works in, and the random media it serves.

The folder is created under /tmp and removed when the run ends, however it ends, unless the
caller keeps it (`--keep`) for a post-mortem: logs, configurations and samples are all in it.
"""

import contextlib
import os
import pathlib
import shutil
import sys
import tempfile

MIB = 1 << 20


@contextlib.contextmanager
def folder(prefix, keep=False):
    """A fresh folder under /tmp, world-readable (nginx's workers read media in it)."""
    path = pathlib.Path(tempfile.mkdtemp(prefix=f"vod-{prefix}."))
    path.chmod(0o755)
    try:
        yield path
    finally:
        if keep:
            print(f"scratch folder kept: {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def random_file(path, size):
    """`size` random bytes (incompressible, like video) at `path`, written a MiB at a time."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        left = size
        while left > 0:
            step = min(left, MIB)
            out.write(os.urandom(step))
            left -= step
    return path


def read_through(path):
    """Reads a file once, so its pages are in the page cache before it is measured."""
    with open(path, "rb") as source:
        while source.read(8 * MIB):
            pass
