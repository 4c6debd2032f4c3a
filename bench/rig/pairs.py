"""Interleaved A/B pairs and what they add up to: per metric, each side's median, and the
ratio A / B computed within each pair, summarised as its median and its min–max.

Within a pair every measurement runs against one side and then the other; the first side
alternates from pair to pair (`order`), so a drift of the machine's load is spread over both.
Targets are printed beside the ratio for context and never asserted.
"""

import collections
import dataclasses
import json
import statistics
from typing import Optional

# How the sides are named in the table's header and rows.
SIDE_NAMES = {"vod": "vod-origin", "nginx": "nginx", "direct": "S3 directly"}


@dataclasses.dataclass(frozen=True)
class Metric:
    """One row: `a` over `b` (sides), `better` is "lower" or "higher", `target` a ratio or None."""
    key: str
    label: str
    unit: str
    b: str = "nginx"
    a: str = "vod"
    better: str = "lower"
    target: Optional[float] = None
    # False where a ratio says little (shares; counts that are zero on one side): both medians
    # are shown, with `goal` (an absolute target) in the target column.
    ratio: bool = True
    goal: str = ""


def order(pair, sides):
    """The sides in the order pair `pair` (counted from 1) measures them: as given in odd pairs,
    reversed in even ones."""
    return list(sides) if pair % 2 else list(reversed(sides))


class Samples:
    """Every sample of a run: metric -> side -> pair -> value."""

    def __init__(self):
        self.values = collections.defaultdict(lambda: collections.defaultdict(dict))

    def add(self, pair, metric, side, value):
        self.values[metric][side][pair] = float(value)

    def ratios(self, metric):
        """a / b for every pair where both were measured and b is not zero."""
        by_side = self.values.get(metric.key, {})
        a, b = by_side.get(metric.a, {}), by_side.get(metric.b, {})
        return [a[p] / b[p] for p in sorted(set(a) & set(b)) if b[p]]

    def median(self, metric_key, side):
        values = self.values.get(metric_key, {}).get(side)
        return statistics.median(values.values()) if values else None

    def row(self, metric, names):
        """One markdown row, or None when the metric was not measured on both sides."""
        a, b = self.median(metric.key, metric.a), self.median(metric.key, metric.b)
        if a is None or b is None:
            return None
        label = f"{metric.label.format(**names)} (vs {SIDE_NAMES[metric.b]})"
        if not metric.ratio:
            return f"| {label} | {metric.unit} | {number(a)} | {number(b)} | | | {metric.goal} |"
        ratios = self.ratios(metric)
        if not ratios:
            return None
        goal = "—" if metric.target is None else f"{'≤' if metric.better == 'lower' else '≥'} {metric.target}×"
        return (f"| {label} | {metric.unit} | {number(a)} | {number(b)} | **{statistics.median(ratios):.2f}×** "
                f"| {min(ratios):.2f}–{max(ratios):.2f} | {goal} |")

    def table(self, metrics, names):
        """The markdown table of `metrics` (rows of metrics not measured are left out)."""
        lines = ["| measurement | unit | vod-origin | reference | ratio (median of pairs) | min–max | target |",
                 "|---|---|---|---|---|---|---|"]
        lines += [row for row in (self.row(m, names) for m in metrics) if row]
        return "\n".join(lines)

    def every_sample(self):
        """Every value, pair by pair, as a markdown table (for a <details> block)."""
        lines = ["| metric | side | samples, pair by pair |", "|---|---|---|"]
        for metric in sorted(self.values):
            for side, by_pair in sorted(self.values[metric].items()):
                lines.append(f"| {metric} | {side} | {' '.join(number(by_pair[p]) for p in sorted(by_pair))} |")
        return "\n".join(lines)

    def to_json(self):
        return json.dumps({m: {s: dict(p) for s, p in sides.items()} for m, sides in self.values.items()}, indent=1)


def number(value):
    """Three significant figures or so, without a trailing ".00" on large values."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
