"""What a server costs, read from /proc: CPU and page faults around a measured run (`cost`),
and memory, descriptors and TCP memory at about 4 Hz on a thread while it is attacked (`Sampler`).

A thread, not an asyncio task: the attack's event loop may be saturated (that is the point of
some cases), and samples must keep their rhythm regardless. Reading /proc holds the GIL only
for microseconds, so the thread does not slow the attack down measurably.
"""

import os
import statistics
import threading
import time

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Sampling period: 4 Hz catches a spike that lasts a second without a sample costing much
# (smaps_rollup walks every mapping of the process).
INTERVAL_S = 0.25


def _kib_field(path, name):
    """The KiB value of the `name:` line of a /proc file, or None when the process is gone."""
    try:
        with open(path) as lines:
            for line in lines:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def rss_kib(pid):
    """Resident set (VmRSS) in KiB, or None when the process is gone."""
    return _kib_field(f"/proc/{pid}/status", "VmRSS")


def pss_kib(pid):
    """Proportional set size in KiB: shared pages divided among the processes mapping them."""
    return _kib_field(f"/proc/{pid}/smaps_rollup", "Pss")


def rollup(pid):
    """Every KiB field of /proc/PID/smaps_rollup (Rss, Pss, Anonymous, Private_Dirty...), to say
    where a process's memory is; an empty dict when it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup_file:
            fields = [line.split() for line in rollup_file]
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return {f[0].rstrip(":"): int(f[1]) for f in fields if len(f) == 3 and f[2] == "kB"}


def fd_count(pid):
    """Open file descriptors (sockets included), or None when the process is gone."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None


def cpu_seconds(pid):
    """User + system CPU time of the process so far, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Fields 14 and 15 of stat(5) (utime, stime), counted after the ")" that ends the name.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the ")" that ends the name (so field 3 is index 0)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()


def cost(pids):
    """CPU seconds (utime + stime, every thread) and page faults (minflt + majflt) so far, summed
    over `pids`: the server's process, or nginx's master and workers. Read it before and after
    a run; the difference is the run's cost. A process that is gone fails the measurement."""
    cpu_ticks = faults = 0
    for pid in pids:
        fields = _stat_fields(pid)
        # stat(5): minflt 10, majflt 12, utime 14, stime 15.
        faults += int(fields[7]) + int(fields[9])
        cpu_ticks += int(fields[11]) + int(fields[12])
    return {"cpu_s": cpu_ticks / CLOCK_TICKS, "faults": faults}


def cost_between(before, after):
    """What a run cost: the difference of two `cost` readings."""
    return {key: after[key] - before[key] for key in before}


def tcp_sockstat():
    """The kernel's TCP line of /proc/net/sockstat: inuse, orphan, tw, alloc, mem (pages).

    This is the whole network namespace: on loopback the attacker's receive buffers count as
    much as the origin's send buffers.
    """
    with open("/proc/net/sockstat") as sockstat:
        for line in sockstat:
            if line.startswith("TCP:"):
                fields = line.split()[1:]
                return {name: int(value) for name, value in zip(fields[::2], fields[1::2])}
    return {}


def tcp_mem_thresholds():
    """net.ipv4.tcp_mem in bytes: (low, pressure, high). Above `pressure` the kernel starts
    shrinking socket buffers; above `high` it refuses to allocate and drops."""
    with open("/proc/sys/net/ipv4/tcp_mem") as limits:
        low, pressure, high = (int(pages) * PAGE_BYTES for pages in limits.read().split())
    return {"low": low, "pressure": pressure, "high": high}


def sample(pid):
    """One sample of the process and of the kernel's TCP memory."""
    tcp = tcp_sockstat()
    return {
        "rss_kib": rss_kib(pid),
        "pss_kib": pss_kib(pid),
        "fds": fd_count(pid),
        "cpu_s": cpu_seconds(pid),
        "tcp_mem_bytes": tcp.get("mem", 0) * PAGE_BYTES,
        "tcp_inuse": tcp.get("inuse"),
        "tcp_orphan": tcp.get("orphan"),
        "tcp_tw": tcp.get("tw"),
    }


class Sampler(threading.Thread):
    """Samples one process until stopped; every sample carries the phase it was taken in, and
    the VmRSS of the `others` ({name: pid}, e.g. the S3 stand-in) as `<name>_rss_kib`."""

    def __init__(self, pid, started_at, others=None):
        super().__init__(name=f"sampler-{pid}", daemon=True)
        self.pid = pid
        self.others = dict(others or {})
        self.started_at = started_at
        self.phase = "start"
        self.samples = []
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            row = {"t": round(time.monotonic() - self.started_at, 3), "phase": self.phase}
            row.update(sample(self.pid))
            row.update({f"{name}_rss_kib": rss_kib(pid) for name, pid in self.others.items()})
            self.samples.append(row)
            self._stop_event.wait(INTERVAL_S)

    def stop(self):
        self._stop_event.set()
        self.join(timeout=5)

    def latest(self, key):
        """The most recent non-empty value of `key`."""
        for row in reversed(self.samples):
            if row.get(key) is not None:
                return row[key]
        return None


def summarise(samples):
    """Per phase and key: first, min, median, max and last value."""
    keys = ("rss_kib", "pss_kib", "fds", "cpu_s", "tcp_mem_bytes", "tcp_inuse", "tcp_orphan", "s3_rss_kib")
    phases = {}
    for row in samples:
        phases.setdefault(row["phase"], []).append(row)
    summary = {}
    for phase, rows in phases.items():
        summary[phase] = {}
        for key in keys:
            values = [row[key] for row in rows if row.get(key) is not None]
            if values:
                summary[phase][key] = {"first": values[0], "min": min(values), "median": statistics.median(values),
                                       "max": max(values), "last": values[-1]}
    return summary
