"""Turns bench/compare.sh's samples into the markdown table of docs/benchmarks.md.

Input: a TSV of `pair  metric  server  value` lines (server: vod, nginx, or direct for the S3
server itself). For each metric: the median of each server's samples, and the ratio
vod-origin / nginx computed within each A/B pair, summarised as its median and its min-max.
Targets are printed for context, never asserted.

    python3 report.py samples.tsv --big-mib 1024 --s3-mib 256 --idle 2000 --seconds 10
"""

import argparse
import collections
import statistics

# (metric, label, unit, better, target ratio): `better` is "higher" or "lower".
METRICS = [
    ("bulk_local_h1", "{big} GET, local folder, HTTP/1.1 (curl)", "MB/s", "higher", 1.2),
    ("bulk_local_h2", "{big} GET, local folder, HTTP/2 (curl)", "MB/s", "higher", 1.2),
    ("bulk_s3_h1", "{s3} GET through S3 (moto), HTTP/1.1 (curl)", "MB/s", "higher", None),
    ("ranges16_rps", "1 MiB ranges, 16 conns, HTTP/1.1 (wrk)", "req/s", "higher", None),
    ("ranges16_p50", "… p50", "ms", "lower", None),
    ("ranges16_p99", "… p99", "ms", "lower", None),
    ("ranges64_rps", "1 MiB ranges, 64 conns, HTTP/1.1 (wrk)", "req/s", "higher", 1.2),
    ("ranges64_p50", "… p50", "ms", "lower", None),
    ("ranges64_p99", "… p99", "ms", "lower", 1.0),
    ("ranges_h2_rps", "1 MiB range (fixed), 16 conns × 4 streams, HTTP/2 (h2load)", "req/s", "higher", None),
    ("cpu_bulk_local", "server CPU per GB: {big} GETs, local, HTTP/1.1", "CPU s/GB", "lower", 0.8),
    ("cpu_bulk_local_kernel", "… of which in the kernel", "%", "lower", None),
    ("cpu_ranges64", "server CPU per GB: 1 MiB ranges, 64 conns", "CPU s/GB", "lower", 0.8),
    ("cpu_ranges64_kernel", "… of which in the kernel", "%", "lower", None),
    ("cpu_bulk_s3", "server CPU per GB: {s3} GETs through S3 (proxy only)", "CPU s/GB", "lower", None),
    ("cpu_bulk_s3_kernel", "… of which in the kernel", "%", "lower", None),
    ("idle_pss", "memory per idle keep-alive TLS connection ({idle} conns, Pss)", "KiB", "lower", 1.0),
    ("ttfb_s3", "first byte, 1 KiB range through S3, warm connection (median)", "ms", "lower", None),
]


def read_samples(path):
    samples = collections.defaultdict(lambda: collections.defaultdict(dict))
    with open(path) as f:
        for line in f:
            pair, metric, server, value = line.split("\t")
            samples[metric][server][int(pair)] = float(value)
    return samples


def number(value):
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def verdict(ratio, better, target):
    if target is None:
        return "—", ""
    if better == "higher":
        return f"≥ {target}×", "yes" if ratio >= target else "**no**"
    return f"≤ {target}×", "yes" if ratio <= target else "**no**"


def table(samples, names):
    rows = [
        "| measurement | unit | vod-origin | nginx | vod/nginx (median of pairs) | spread (min–max) | target | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for metric, label, unit, better, target in METRICS:
        by_server = samples.get(metric)
        if not by_server or "vod" not in by_server or "nginx" not in by_server:
            continue
        vod, nginx = by_server["vod"], by_server["nginx"]
        pairs = sorted(set(vod) & set(nginx))
        if unit == "%":  # a share, shown beside the figure it splits; a ratio of shares says little
            rows.append(f"| {label} | {unit} | {number(statistics.median(vod.values()))} "
                        f"| {number(statistics.median(nginx.values()))} | | | | |")
            continue
        ratios = [vod[p] / nginx[p] for p in pairs if nginx[p] > 0]
        if not ratios:
            continue
        ratio = statistics.median(ratios)
        goal, met = verdict(ratio, better, target)
        rows.append(
            f"| {label.format(**names)} | {unit} | {number(statistics.median(vod.values()))} "
            f"| {number(statistics.median(nginx.values()))} | **{ratio:.2f}×** "
            f"| {min(ratios):.2f}–{max(ratios):.2f} | {goal} | {met} |"
        )
        if "direct" in by_server:
            direct = statistics.median(by_server["direct"].values())
            rows.append(f"| … the S3 server directly (plain HTTP), for reference | {unit} | {number(direct)} | | | | | |")
    return "\n".join(rows)


def per_pair(samples):
    lines = ["| metric | server | samples, pair by pair |", "|---|---|---|"]
    for metric, *_ in METRICS:
        for server, values in sorted(samples.get(metric, {}).items()):
            lines.append(f"| {metric} | {server} | {' '.join(number(values[p]) for p in sorted(values))} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("samples")
    parser.add_argument("--big-mib", type=int, required=True)
    parser.add_argument("--s3-mib", type=int, required=True)
    parser.add_argument("--idle", type=int, required=True)
    args = parser.parse_args()

    def size(mib):
        return f"{mib // 1024} GiB" if mib % 1024 == 0 else f"{mib} MiB"

    samples = read_samples(args.samples)
    print(table(samples, {"big": size(args.big_mib), "s3": size(args.s3_mib), "idle": f"{args.idle:,}"}))
    print()
    print("<details><summary>Every sample</summary>\n")
    print(per_pair(samples))
    print("\n</details>")


if __name__ == "__main__":
    main()
