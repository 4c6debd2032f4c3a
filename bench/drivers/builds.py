"""builds: two origin builds side by side, for a change on the hot path.

Both builds serve the same local folder; in each round curl asks each for a 1 KiB range
`--first-bytes` times on one kept-alive connection (the median first byte: what a request costs
before its body), then wrk asks each for 1 MiB ranges at random offsets of a large object, the
builds taking turns round by round (the order alternating), and each round's median first byte,
server CPU per GB, req/s and p99 is kept. On these shared 2-core machines rounds of one build
differ by ±15%, more than most changes: compare the medians, read the spread, and prefer
callgrind (`bench/run.py callgrind`) for what instruction counts can show.

    python3 bench/run.py builds --origin-bin NEW --baseline-bin OLD --connections 64 --rounds 5
"""

import statistics

from drivers import common
from rig import clients, sampler, scratch

NAME = "builds"
SUMMARY = "two builds side by side in interleaved rounds: first byte of 1 KiB ranges; 1 MiB ranges' CPU per GB, req/s, p99"
MIB = common.MIB
SIDES = ("baseline", "origin")
MEASURES = ("first_byte_ms", "cpu_s_per_gb", "rps", "p99_ms")
FIRST_BYTE_RANGE = f"bytes={MIB}-{MIB + 1023}"


def add_arguments(parser):
    parser.add_argument("--baseline-bin", required=True, help="the build --origin-bin is compared with")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each build once per round (default 5)")
    parser.add_argument("--seconds", type=float, default=10, help="each wrk run, s (default 10)")
    parser.add_argument("--big-mib", type=int, default=1024, help="the object's size, MiB (default 1024)")
    parser.add_argument("--first-bytes", type=int, default=200, help="1 KiB ranges per round and build (default 200)")


def run(args):
    clients.require("wrk")
    common.check_binary(args.baseline_bin)
    with common.Servers(args, NAME) as servers:
        media = servers.workdir / "media"
        big = scratch.random_file(media / "big.bin", args.big_mib * MIB)
        origins = {"baseline": servers.origin("baseline", media=media, binary=args.baseline_bin),
                   "origin": servers.origin("origin", media=media)}
        samples = {side: {name: [] for name in MEASURES} for side in SIDES}
        for side, server in origins.items():
            clients.ranges(f"{server.base_url()}/big.bin", big.stat().st_size, 16, 2)
        for round_ in range(args.rounds):
            for side in (SIDES if round_ % 2 == 0 else reversed(SIDES)):
                common.say(f"round {round_ + 1} of {args.rounds}: {side}")
                measure(origins[side], big, args, samples[side], servers.ca)
            servers.check_alive()
    report(samples, args)
    return 0


def measure(server, big, args, into, ca):
    urls = [f"{server.base_url()}/big.bin"] * (args.first_bytes + 1)
    into["first_byte_ms"].append(clients.median_first_byte(urls, ca, FIRST_BYTE_RANGE))
    before = sampler.cost([server.pid])
    got = clients.ranges(f"{server.base_url()}/big.bin", big.stat().st_size, args.connections, args.seconds)
    spent = sampler.cost_between(before, sampler.cost([server.pid]))
    into["cpu_s_per_gb"].append(spent["cpu_s"] / (got["bytes"] / 1e9))
    into["rps"].append(got["rps"])
    into["p99_ms"].append(got["p99_ms"])


def report(samples, args):
    print(f"\nfirst byte: median of {args.first_bytes} 1 KiB ranges; then {args.connections} connections, "
          f"1 MiB ranges, {args.rounds} rounds of {args.seconds:g} s; "
          f"baseline {args.baseline_bin}, origin {args.origin_bin}\n")
    print("| measure | baseline (median) | origin (median) | origin / baseline | origin's rounds | baseline's rounds |")
    print("|---|---|---|---|---|---|")
    for measure_name in MEASURES:
        base, new = samples["baseline"][measure_name], samples["origin"][measure_name]
        ratio = statistics.median(new) / statistics.median(base)
        print(f"| {measure_name} | {statistics.median(base):.3f} | {statistics.median(new):.3f} | {ratio:.2f}× | "
              f"{' '.join(f'{v:.3f}' for v in new)} | {' '.join(f'{v:.3f}' for v in base)} |")
