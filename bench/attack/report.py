"""The human table on stdout and the JSON file: the same report, two readers.

Rows are (measurement, value, target, met): `met` is True, False or None (no target, or not
measurable); a target is printed for context and never changes the exit status.
"""

import json
import pathlib

MARKS = {True: "yes", False: "NO", None: ""}


def table(report):
    """One case's report as an aligned text table."""
    lines = [f"\n## {report['case']}  {_parameters(report)}"]
    if "error" in report:
        lines.append(f"   FAILED: {report['error']}")
    rows = report.get("rows", [])
    if rows:
        width = min(60, max(len(r[0]) for r in rows))
        target_width = max((len(str(r[2])) for r in rows if r[2]), default=0)
        for measurement, value, target, met in rows:
            target_text = f"{target:<{target_width}}" if target else " " * target_width
            lines.append(f"   {measurement:<{width}}  {target_text}  {MARKS[met]:<3}  {value}")
    return "\n".join(lines)


def _parameters(report):
    chosen = report.get("parameters") or {}
    return ", ".join(f"{k}={v}" for k, v in chosen.items())


def write_json(path, result):
    """Writes atomically (a temporary file, then rename): a reader never sees half a report."""
    target = pathlib.Path(path)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(result, indent=1, default=str))
    partial.replace(target)
