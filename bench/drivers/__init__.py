"""The benchmarks, one module each; `bench/run.py` turns every one into a subcommand.

A driver module has `NAME`, `SUMMARY`, `add_arguments(parser)` and `run(args)` (which returns
the exit status). Drivers start what they measure with `bench/rig`, under `common.Servers`.
"""


def all_drivers():
    """Every driver, in the order `bench/run.py --help` lists them."""
    from drivers import (builds, cache_hammer, cache_vs_nginx, callgrind, cold_ttfb, compare, many_connections, packaging,
                         profile, slow_readers)
    return [compare, builds, cache_vs_nginx, cache_hammer, cold_ttfb, slow_readers, many_connections, callgrind, profile,
            packaging]
