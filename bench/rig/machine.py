"""What a reader of the numbers needs to know about where they came from: the machine, its
load before and after, the commit measured, and the versions of the servers and clients."""

import os
import pathlib
import platform
import re
import shutil
import subprocess

REPO = pathlib.Path(__file__).resolve().parent.parent.parent


def _output(argv):
    """A version command's first line (stdout or stderr), or "unknown"; never fails the run."""
    if shutil.which(argv[0]) is None:
        return "not installed"
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def _words(text, start, end):
    return " ".join(text.split()[start:end])


def load_average():
    return " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])


def commit():
    """The short commit of the worktree, and whether src/ differs from it."""
    head = _output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"],
                           capture_output=True, text=True, timeout=10).stdout.strip()
    return head + (" (with uncommitted changes)" if dirty else "")


def rustc_of(binary):
    """The rustc version recorded in the binary's .comment section, if readelf can read it."""
    text = subprocess.run(["readelf", "-p", ".comment", str(binary)], capture_output=True, text=True,
                          timeout=10).stdout if shutil.which("readelf") else ""
    found = re.search(r"rustc version [^)]*\)", text)
    return found.group(0) if found else "rustc unknown"


def kernel_tls():
    if os.path.exists("/proc/net/tls_stat"):
        return "the kernel has TLS (/proc/net/tls_stat exists): nginx runs with Options -KTLS regardless"
    return "no kernel TLS (no /proc/net/tls_stat)"


def describe(origin_bin, load_before):
    """Markdown bullet lines for the report's footer."""
    cpu = next((line.split(":", 1)[1].strip() for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    return "\n".join([
        f"- {len(os.sched_getaffinity(0))} cores, {cpu}, {memory_gib:.0f} GiB RAM; kernel {platform.release()}",
        f"- load average before: {load_before}; after: {load_average()}",
        f"- vod-origin {commit()}, {origin_bin} ({rustc_of(origin_bin)})",
        f"- {_words(_output(['nginx', '-v']), 2, 3)}; {_words(_output(['openssl', 'version']), 0, 2)}; "
        f"{kernel_tls()}",
        f"- clients: {_words(_output(['curl', '--version']), 0, 2)}, {_words(_output(['wrk', '-v']), 0, 2)}, "
        f"Python {platform.python_version()}",
        f"- S3 stand-in: moto {_moto_version()} (bench/rig/moto_serve.py)",
        "- clients, servers and the S3 stand-in share the same cores",
    ])


def _moto_version():
    try:
        import importlib.metadata
        return importlib.metadata.version("moto")
    except Exception:  # noqa: BLE001 - a description, never a failure
        return "unknown"
