"""What the tests reached: per function of the written code, how many of its lines ran.

A build whose tests pass but never call the behaviour the task asked for is not shown to
work: a duplicate-photos build can pass "1 of 1" with a single test that a missing folder
raises, while its search never runs. The sandbox records the lines the tests
ran of each written module (`run_pytest(cover=...)`); this module compares them with the
lines each function has, read from the compiled code (never run here), and names what no
test reached.

Only code the tests ran in the pytest process counts: a CLI a test starts as a subprocess
shows as not reached, and the report says so in those words.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from types import CodeType
from typing import Any, TypedDict

MAX_SOURCE = 200_000
"""Characters of one module compiled to find its functions' lines; longer ones are skipped."""


class Reach(TypedDict):
    """One function's lines, and how many of them the tests ran."""

    file: str
    name: str
    """`function`, or `Class.method`."""
    lines: int
    ran: int


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Top-level functions and methods of top-level classes, with their qualified names."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield f"{node.name}.{item.name}", item


def _all_lines(code: CodeType) -> set[int]:
    lines = {line for _, _, line in code.co_lines() if line is not None}
    for const in code.co_consts:
        if isinstance(const, CodeType):
            lines |= _all_lines(const)
    return lines


def reach(files: Mapping[str, str], ran: Mapping[str, list[int]]) -> list[Reach]:
    """Every function of the covered files (`ran`'s keys), in file and line order."""
    found: list[Reach] = []
    for path in sorted(ran):
        source = files.get(path, "")
        if not source or len(source) > MAX_SOURCE:
            continue
        try:
            tree = ast.parse(source)
            module = compile(tree, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        executable = _all_lines(module)
        done = set(ran[path])
        for name, node in _functions(tree):
            body = {n for n in range(node.body[0].lineno, (node.end_lineno or 0) + 1)}
            docstring = ast.get_docstring(node) is not None
            if docstring:
                first = node.body[0]
                body -= set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
            lines = body & executable
            if not lines:
                continue
            found.append(
                {"file": path, "name": name, "lines": len(lines), "ran": len(lines & done)}
            )
    return found


def unreached(found: list[Reach]) -> list[str]:
    """The functions no test called (none of their lines ran)."""
    return [r["name"] for r in found if r["ran"] == 0]


def partly(found: list[Reach]) -> list[str]:
    """Functions the tests called that kept some lines unrun: `name (ran of lines lines)`."""
    return [
        f"{r['name']} ({r['ran']} of {r['lines']} lines)"
        for r in found
        if 0 < r["ran"] < r["lines"]
    ]


def untested(found: list[Reach], contract: Mapping[str, Any] | None) -> list[str]:
    """The functions and methods the task names that no test called (`[]` when unknown)."""
    named = [
        f"{c['owner']}.{c['name']}" if c.get("kind") == "method" else c["name"]
        for c in (contract or {}).get("callables", [])
        if c.get("kind") in ("function", "method")
    ]
    never = set(unreached(found))
    return [n for n in named if n in never]
