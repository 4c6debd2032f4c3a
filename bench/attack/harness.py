"""The harness every case runs in: one origin, the samples, the legitimate client, the verdicts.

A run of one case reads top to bottom in `run_case`:
  [with --store s3: start the S3 stand-in, seeded with the media] -> start the origin (fresh, on
  port 0) -> sample it -> baseline latency of the legitimate client
  -> attack for --seconds, and measure the legitimate client again once the attack is in place
  -> recovery (do the descriptors come back?) -> /metrics -> stop the origin.
Every wait has a deadline, so a case that hangs fails instead of blocking `run.py all`.
"""

import asyncio
import json
import os
import pathlib
import ssl
import statistics
import sys
import time

import wire
from rig import origin as origin_mod
from rig import s3 as s3_mod
from rig import sampler as sampler_mod

HERE = pathlib.Path(__file__).resolve().parent
MIB = 1 << 20
BIG_OBJECT = "/big.bin"
SMALL_OBJECT = "/tiny.bin"
# After the attack ends, how many descriptors above the baseline still count as "back"
# (a metrics scrape, a lingering close).
FD_SLACK = 4
# The least time between the attack's end and the /metrics scrape: some of the origin's gauges
# (vod_origin_body_buffer_bytes) are refreshed by a ticker every few seconds, and read sooner
# they still show the attack.
SETTLE_S = 6.0


class Run:
    """What a case's attack gets: the origin's address and secret, the S3 stand-in if any, a
    clock, and a way to note events. The attack must return by `deadline` (loop time) and close
    what it opened; a case may move `deadline` while it runs (slow-viewers, once all are in)."""

    def __init__(self, args, origin, started_at, store=None):
        self.args = args
        self.origin = origin
        self.store = store  # the S3 stand-in, or None for the local folder
        self.clock = wire.now_clock(started_at)
        self.events = []
        self.established = asyncio.Event()
        self.deadline = None

    @property
    def address(self):
        return self.origin.https

    @property
    def secret(self):
        return self.origin.secret

    def remaining(self):
        return max(0.0, self.deadline - asyncio.get_running_loop().time())

    def io_timeout(self):
        """A socket wait's timeout: the usual one, cut short near the deadline so the attack
        ends on time (one extra second for a last write to finish)."""
        return min(wire.IO_TIMEOUT_S, self.remaining() + 1.0)

    def h2_context(self):
        return wire.tls_context(self.origin.ca, "h2")

    def h1_context(self):
        return wire.tls_context(self.origin.ca, "http/1.1")

    def mark(self, what, **details):
        """Notes an event in the report and on stderr, for the human watching."""
        event = {"t": self.clock(), "event": what, **details}
        self.events.append(event)
        extra = " ".join(f"{k}={v}" for k, v in details.items())
        print(f"  [{event['t']:7.2f} s] {what} {extra}", file=sys.stderr, flush=True)


# ---- the legitimate client ---------------------------------------------------------------

async def legit_phase(origin, args, count, budget_s, label):
    """Runs legit.py in its own process for at most `budget_s` (+ one request's timeout)."""
    argv = [sys.executable, str(HERE / "legit.py"), "--port", str(origin.https[1]), "--ca", str(origin.ca),
            "--path", BIG_OBJECT, "--object-bytes", str(args.media_mib * MIB), "--count", str(count),
            "--mode", args.legit_mode, "--timeout", str(args.legit_timeout), "--budget", str(budget_s)]
    if origin.secret:
        argv += ["--header", f"{origin.secret[0]}: {origin.secret[1]}"]
    child = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE, start_new_session=True)
    try:
        out, err = await asyncio.wait_for(child.communicate(), budget_s + 3 * args.legit_timeout + 10)
    except asyncio.TimeoutError:
        child.kill()
        await child.wait()
        return {"label": label, "error": "legit.py overran its deadline", "requests": []}
    if child.returncode != 0:
        return {"label": label, "error": err.decode(errors="replace")[-500:], "requests": []}
    result = json.loads(out)
    result["label"] = label
    result["summary"] = latency_summary(result["requests"])
    return result


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def latency_summary(records):
    """p50/p99/max of the successful requests, and the failures by status or error."""
    ok = sorted(r["ms"] for r in records if r.get("ok"))
    failures = {}
    for r in records:
        if not r.get("ok"):
            kind = str(r.get("status") or r.get("error"))
            failures[kind] = failures.get(kind, 0) + 1
    return {"requests": len(records), "ok": len(ok), "failures": failures,
            "p50_ms": statistics.median(ok) if ok else None, "p99_ms": percentile(ok, 0.99),
            "max_ms": ok[-1] if ok else None}


# ---- scratch space -----------------------------------------------------------------------

def make_media(folder, mib):
    """big.bin of `mib` MiB of random bytes (incompressible, like video) and a 1 KiB tiny.bin;
    kept between cases of one run, remade when the size asked differs."""
    folder.mkdir(parents=True, exist_ok=True)
    big = folder / BIG_OBJECT.lstrip("/")
    if not big.exists() or big.stat().st_size != mib * MIB:
        with open(big, "wb") as out:
            for _ in range(mib):
                out.write(os.urandom(MIB))
    (folder / SMALL_OBJECT.lstrip("/")).write_bytes(os.urandom(1024))
    return folder


def settings_for(case, args, workdir, media, store=None):
    """Base settings (the S3 stand-in's instead of the local folder, when there is one), then
    the harness's short timeouts, then the case's, then --set."""
    settings = origin_mod.base_settings(workdir, media, secret=case.secret and not args.no_secret)
    if store is not None:
        del settings["storage.root"]
        settings.update(store.settings(args.cache))
    settings["server.send_timeout"] = args.send_timeout
    settings.update(case.settings(args))
    for text in args.set:
        key, value = origin_mod.parse_setting(text)
        settings[key] = value
    return settings


# ---- one case ------------------------------------------------------------------------------

async def run_case(case, args, workdir, media):
    """Runs one attack case end to end and returns its report (a JSON-able dict). With --store
    s3 the origin reads the media through a fresh S3 stand-in, which lives as long as the case."""
    store = start_store(workdir, media, args) if args.store == "s3" else None
    try:
        return await run_origin(case, args, workdir, media, store)
    finally:
        if store is not None:
            store.stop()


def start_store(workdir, media, args):
    """The S3 stand-in (bench/rig/s3.py), with the media folder put into its bucket."""
    if args.s3_server == "s3s-fs":
        return s3_mod.S3sFsServer(workdir, args.s3s_bin).seed_with(media).start()
    store = s3_mod.S3Server(workdir).start()
    try:
        store.put_folder(media)
    except BaseException:
        store.stop()
        raise
    return store


# Substrings of the metric names worth reporting after an attack (the brief's list, plus
# aborted responses and the active-connection gauge, which say the same thing from other sides,
# and, with the S3 store, what was read from S3, resumed, and sent or held by the edge cache).
METRIC_WORDS = ("stall", "reset", "closed", "refus", "shed", "timeout", "buffer", "abort", "connections_active",
                "s3_bytes", "resumes", "cache_bytes", "cache_memory")


def metrics_of_interest(text):
    """`{"name{labels}": value}` for every sample whose metric name contains one of METRIC_WORDS."""
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name = series.partition("{")[0]
        if any(word in name for word in METRIC_WORDS):
            try:
                found[series] = float(value)
            except ValueError:
                continue
    return found


async def run_origin(case, args, workdir, media, store):
    """The case on a fresh origin, reading the local folder or `store`."""
    settings = settings_for(case, args, workdir, media, store)
    origin = origin_mod.Origin(args.origin_bin, workdir, case.name, settings,
                               env=s3_mod.CREDENTIALS if store else None)
    started_at = time.monotonic()
    origin.start()
    sampler = sampler_mod.Sampler(origin.pid, started_at, others={"s3": store.pid} if store else None)
    sampler.start()
    run = Run(args, origin, started_at, store)
    parameters = case.parameters(args)
    if store is not None:
        parameters.update(store="s3", cache=args.cache, s3_server=args.s3_server)
    report = {"case": case.name, "settings": settings, "parameters": parameters,
              "legit_mode": args.legit_mode, "tcp_mem_thresholds": sampler_mod.tcp_mem_thresholds()}
    try:
        await warm_up(origin, args)
        sampler.phase = "baseline"
        if case.legit:
            report["baseline"] = await legit_phase(origin, args, case.legit_count(args), args.seconds, "baseline")
        metrics_before = metrics_of_interest(origin.metrics_text())
        report["before"] = snapshot(origin, store)
        sampler.phase = "attack"
        report["attack"], report["during"] = await attack_with_legit(case, run, args)
        sampler.phase = "recovery"
        report["recovery"] = await recover(origin, report["before"]["fds"], args.recovery)
        await asyncio.sleep(max(0.0, SETTLE_S - report["recovery"]["after_s"]))
        report["after"] = snapshot(origin, store)
        metrics_text = origin.metrics_text()
        (pathlib.Path(workdir) / f"{case.name}.metrics.txt").write_text(metrics_text)
        metrics_after = metrics_of_interest(metrics_text)
        report["metrics"] = {name: {"before": metrics_before.get(name, 0.0), "after": value}
                             for name, value in metrics_after.items()}
        report["origin_alive"] = origin.alive()
    finally:
        sampler.stop()
        origin.stop()
    report["events"] = run.events
    report["samples"] = sampler.samples
    report["phases"] = sampler_mod.summarise(sampler.samples)
    report["rows"] = case.rows(report, args) + common_rows(report, case, args)
    return report


def snapshot(origin, store):
    """One sample of the origin, with the S3 stand-in's RSS when there is one."""
    taken = sampler_mod.sample(origin.pid)
    if store is not None:
        taken["s3_rss_kib"] = sampler_mod.rss_kib(store.pid)
    return taken


async def warm_up(origin, args):
    """A few requests so the page cache, allocator and TLS state are warm before the baseline."""
    result = await legit_phase(origin, args, 5, 30, "warm-up")
    if not result.get("summary", {}).get("ok"):
        raise RuntimeError(f"the origin does not serve ranges before the attack: {result}")


async def attack_with_legit(case, run, args):
    """The attack for --seconds; the legitimate client measured once the attack is in place."""
    loop = asyncio.get_running_loop()
    run.deadline = loop.time() + args.seconds
    run.mark("attack starts", case=case.name)
    attack = asyncio.create_task(case.attack(run, args))
    during = None
    if case.legit:
        ready = asyncio.create_task(run.established.wait())
        await asyncio.wait({ready, attack}, timeout=args.seconds / 2, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        budget = max(1.0, run.remaining() - 1)
        run.mark("legitimate client starts", established=run.established.is_set(), budget_s=round(budget, 1))
        during = await legit_phase(run.origin, args, case.legit_count(args), budget, "during")
        run.mark("legitimate client done", ok=during.get("summary", {}).get("ok"))
    try:
        # The attack ends itself at the deadline; the margin is for closing what it opened.
        result = await asyncio.wait_for(attack, run.remaining() + 30)
    except asyncio.TimeoutError:
        result = {"error": "the attack overran its deadline by 30 s and was cancelled"}
    run.mark("attack ends")
    return result, during


async def recover(origin, baseline_fds, seconds):
    """Waits (at most `seconds`) for the origin's descriptors to come back to the baseline."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        fds = sampler_mod.fd_count(origin.pid)
        if fds is not None and baseline_fds is not None and fds <= baseline_fds + FD_SLACK:
            return {"fds_back": True, "after_s": round(loop.time() - start, 2), "fds": fds, "baseline_fds": baseline_fds}
        if loop.time() - start >= seconds:
            return {"fds_back": False, "after_s": seconds, "fds": fds, "baseline_fds": baseline_fds}
        await asyncio.sleep(0.25)


# ---- rows every case shares --------------------------------------------------------------

def common_rows(report, case, args):
    """(measurement, value, target, met) rows for memory, descriptors, TCP memory, latency."""
    rows = []
    phases = report["phases"]
    base = report["before"]
    attack = phases.get("attack", {})
    peak_rss = attack.get("rss_kib", {}).get("max")
    if peak_rss is not None and base["rss_kib"] is not None:
        grew = (peak_rss - base["rss_kib"]) / 1024
        after = report["after"]["rss_kib"]
        budget = case.rss_budget_mib(args)
        rows.append(("origin RSS: before → peak during attack → after", f"{base['rss_kib'] / 1024:.1f} → {peak_rss / 1024:.1f} "
                     f"(+{grew:.1f}) → {after / 1024:.1f} MiB", f"peak ≤ +{budget:g} MiB", grew <= budget))
    peak_pss = attack.get("pss_kib", {}).get("max")
    if peak_pss is not None and base["pss_kib"] is not None:
        rows.append(("origin Pss: before → peak", f"{base['pss_kib'] / 1024:.1f} → {peak_pss / 1024:.1f} MiB", None, None))
    peak_fds = attack.get("fds", {}).get("max")
    recovery = report["recovery"]
    rows.append(("origin fds: before / peak / after recovery",
                 f"{base['fds']} / {peak_fds} / {recovery['fds']} ({'back' if recovery['fds_back'] else 'NOT back'} "
                 f"after {recovery['after_s']} s)", "back to baseline", recovery["fds_back"]))
    peak_tcp = attack.get("tcp_mem_bytes", {}).get("max")
    if peak_tcp is not None:
        limits = report["tcp_mem_thresholds"]
        rows.append(("kernel TCP memory: peak (whole host, both ends) → after",
                     f"{peak_tcp / MIB:.1f} → {report['after']['tcp_mem_bytes'] / MIB:.1f} MiB; peak = "
                     f"{100 * peak_tcp / limits['pressure']:.1f}% of tcp_mem pressure "
                     f"({limits['pressure'] / MIB:.0f} MiB; high {limits['high'] / MIB:.0f} MiB)",
                     "< pressure", peak_tcp < limits["pressure"]))
    orphans = attack.get("tcp_orphan", {}).get("max")
    if orphans:
        rows.append(("orphaned TCP sockets (closed, unsent data queued): peak → after",
                     f"{orphans} → {report['after']['tcp_orphan']}", None, None))
    peak_s3 = attack.get("s3_rss_kib", {}).get("max")
    if peak_s3 is not None and base.get("s3_rss_kib") is not None:
        after_s3 = report["after"]["s3_rss_kib"]
        rows.append((f"S3 stand-in ({args.s3_server}) RSS: before → peak during attack → after",
                     f"{base['s3_rss_kib'] / 1024:.1f} → {peak_s3 / 1024:.1f} → {after_s3 / 1024:.1f} MiB", None, None))
    cpu_before, cpu_after = base.get("cpu_s"), report["after"].get("cpu_s")
    if cpu_before is not None and cpu_after is not None:
        rows.append(("origin CPU during attack + recovery", f"{cpu_after - cpu_before:.1f} s", None, None))
    if case.legit:
        rows.extend(latency_rows(report))
    for name, values in sorted(report.get("metrics", {}).items()):
        if values["after"] != values["before"] or values["after"]:
            rows.append((f"/metrics {name}", f"{_number(values['before'])} → {_number(values['after'])}", None, None))
    if not report.get("origin_alive", True):
        rows.append(("origin still running after the attack", "NO", "yes", False))
    return rows


def latency_rows(report):
    base = report.get("baseline", {}).get("summary")
    during = (report.get("during") or {}).get("summary")
    mode = report["legit_mode"]
    rows = []
    for label, summary in (("baseline", base), ("during attack", during)):
        if summary is None:
            rows.append((f"legit 1 MiB GETs ({mode}), {label}", "not measured", None, None))
            continue
        p50, p99 = summary["p50_ms"], summary["p99_ms"]
        text = f"{summary['ok']}/{summary['requests']} ok; p50 {_ms(p50)}, p99 {_ms(p99)}"
        if summary["failures"]:
            text += f"; failures {summary['failures']}"
        rows.append((f"legit 1 MiB GETs ({mode} connections), {label}", text, None, None))
    if base and during and base["p99_ms"] and during["p99_ms"]:
        ratio = during["p99_ms"] / base["p99_ms"]
        rows.append(("legit p99 during / baseline", f"{ratio:.2f}×", "≤ 2×", ratio <= 2))
    if during is not None:
        served = during["ok"] / during["requests"] if during["requests"] else 0
        rows.append(("legit requests served during attack", f"{100 * served:.0f}%", "100%", served == 1))
    return rows


def _number(value):
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.4g}"


def _ms(value):
    return "n/a" if value is None else f"{value:.1f} ms"


# ---- small helpers for the cases ---------------------------------------------------------

def seconds_of(duration):
    """A duration as the origin's config writes it ("500ms", "10s", "2m", "1h") in seconds."""
    text = str(duration).strip()
    for suffix, scale in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if text.endswith(suffix) and text[:-len(suffix)].replace(".", "", 1).isdigit():
            return float(text[:-len(suffix)]) * scale
    raise ValueError(f"not a duration: {duration!r}")


def spread(values):
    """min / median / max of a list of numbers, or None when empty."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return {"n": len(values), "min": values[0], "median": statistics.median(values), "max": values[-1]}


def fmt_spread(stats, unit="s"):
    """"1.50 s median (1.20–3.00, n=8)"; counts (whole numbers) without decimals."""
    if stats is None:
        return "none"
    whole = all(float(stats[k]).is_integer() for k in ("min", "median", "max"))
    f = (lambda v: f"{v:.0f}") if whole else (lambda v: f"{v:.2f}")
    return f"{f(stats['median'])} {unit} median ({f(stats['min'])}–{f(stats['max'])}, n={stats['n']})"


def counts(items):
    """{item: how many}, most frequent first."""
    tally = {}
    for item in items:
        tally[item] = tally.get(item, 0) + 1
    return dict(sorted(tally.items(), key=lambda kv: -kv[1]))


def error_counts(results):
    """{error name: how many} over the exceptions among `results`. Network failures are named
    by type alone; anything else (a bug in a case, say) keeps its message, to be seen."""
    def name(error):
        if isinstance(error, (OSError, asyncio.TimeoutError, ssl.SSLError)):
            return type(error).__name__
        return f"{type(error).__name__}: {error}"
    return counts(name(r) for r in results if isinstance(r, BaseException))


async def open_all(count, opener, at_once):
    """Opens `count` attacking connections with `opener()`, at most `at_once` at a time: the
    ones that opened, and {error name: how many} for the ones that did not."""
    opened = await gather_bounded([opener for _ in range(count)], at_once)
    return [o for o in opened if not isinstance(o, BaseException)], error_counts(opened)


def attacker_errors_row(result):
    """The report row of the errors the attacking workers met (none, usually)."""
    return ("attacker errors", str(result["worker_errors"] or "none"), None, None)


async def gather_bounded(factories, at_once):
    """Runs the coroutine factories with at most `at_once` in flight; results or exceptions.

    Opening thousands of TLS connections at once would measure Python's handshakes and the
    listen backlog rather than the origin, so openings are gated."""
    gate = asyncio.Semaphore(at_once)

    async def gated(factory):
        async with gate:
            return await factory()

    return await asyncio.gather(*(gated(f) for f in factories), return_exceptions=True)
