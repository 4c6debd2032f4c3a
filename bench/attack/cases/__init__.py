"""The attack cases: each module defines one `CASE`, which run.py turns into a subcommand.

A case says what it sends (`attack`, an async function of the harness's `Run` and the parsed
arguments), how it reads the result (`rows`: measurement, value, target, met), what it needs
from the origin's configuration (`settings`), and its default and documented sizes. Cases that
do not fit the one-origin-one-attack shape (idle: origin and nginx side by side) give `custom`
instead, and run themselves.
"""

from dataclasses import dataclass, field
from typing import Callable, Optional


def _no_arguments(_parser):
    return None


def _no_settings(_args):
    return {}


@dataclass(frozen=True)
class Case:
    name: str
    summary: str
    count: int
    count_means: str
    seconds: float
    documented: str
    attack: Optional[Callable] = None
    rows: Callable = field(default=lambda report, args: [])
    settings: Callable = _no_settings
    add_arguments: Callable = _no_arguments
    extra_parameters: tuple = ()
    legit: bool = True
    secret: bool = True
    default_legit_count: Optional[int] = None
    custom: Optional[Callable] = None
    # Descriptors the attack needs: the origin inherits the harness's limit and holds a socket
    # and, while it answers, an open file per connection.
    fds_needed: Callable = field(default=lambda args: 2 * args.count)
    # The most the origin's RSS may grow during the attack, MiB (issue targets: a fixed 64 MiB,
    # or a budget per connection).
    rss_budget_mib: Callable = field(default=lambda args: 64)
    doc: str = ""

    def parameters(self, args):
        """The sizes this run used, for the report."""
        chosen = {"count": args.count, "count_means": self.count_means, "seconds": args.seconds}
        chosen.update({name: getattr(args, name) for name in self.extra_parameters})
        return chosen

    def legit_count(self, args):
        return args.legit_count if args.legit_count is not None else (self.default_legit_count or 30)


def all_cases():
    """Every case, in the order `run.py all` runs them."""
    from cases import (continuation_flood, h2_stall, idle, preauth_hold, rapid_reset, settings_flood, slow_headers,
                       slow_read, slow_viewers)
    return [h2_stall.CASE, preauth_hold.CASE, slow_read.CASE, slow_viewers.CASE, slow_headers.CASE, rapid_reset.CASE,
            continuation_flood.CASE, settings_flood.CASE, idle.CASE]
