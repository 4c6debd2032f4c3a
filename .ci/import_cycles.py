#!/usr/bin/env python3
"""Fails when the modules of src/ import each other in a circle.

The graph comes from `use crate::...` and `use super::...` lines (and `crate::` paths in code), at
the granularity of top-level modules (`crate::store`, `crate::pipeline`): a submodule may use its
parent's items, but no two top-level modules may depend on each other, directly or around a loop.
"""
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


def top_module(path: pathlib.Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[0] if parts[0] not in ("lib", "main") else ""


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for file in SRC.rglob("*.rs"):
        source = top_module(file)
        if not source:
            continue
        text = file.read_text()
        # Tests may reach anywhere: only the shipped code's graph must be a tree.
        text = text.split("#[cfg(test)]\nmod tests", 1)[0]
        if file.name == "tests.rs" or file.name.endswith("_tests.rs") or file.name.endswith("_proptests.rs"):
            continue
        # Comments name modules in doc links without depending on them.
        code = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
        for target in PATH.findall(code):
            if target != source:
                edges.setdefault(source, set()).add(target)
    return edges


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def main() -> int:
    edges = graph()
    found = cycle(edges)
    if found:
        print("import cycle: " + " -> ".join(found), file=sys.stderr)
        for a, b in zip(found, found[1:]):
            print(f"  {a} uses crate::{b}", file=sys.stderr)
        return 1
    print(f"no import cycles among {len(edges)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
