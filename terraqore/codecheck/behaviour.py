"""What each candidate does on the designed tests' inputs, so candidates can vote by behaviour.

The designed tests are written by a small model, and their expected values are often wrong;
their *inputs* are still good questions to ask. So every candidate also runs a probe: each
designed test with its asserts turned into records (`assert f(x) == 3` records `f(x)`;
`with pytest.raises(E)` records which exception, if any, was raised). Candidates that give
the same answers to every question behave the same, and the answer most candidates agree
on is more likely right than any one candidate's (MBR-exec, Shi et al., 2022; AlphaCode's
clustering, Li et al., 2022). `codecheck.selection` uses the agreement; no expected value from
the model is needed.

The probe runs in the sandbox like every generated test (`codecheck.sandbox`), never here, and
writes its answers to a JSON file in its own folder, which is read back bounded and parsed
strictly.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from terraqore.codecheck import probe_runtime
from terraqore.codecheck.sandbox import SandboxLimits, run_pytest
from terraqore.codecheck.test_file import generated_test_header, normalise

PROBE_FILE = "test_validator_probe.py"
ANSWERS_FILE = probe_runtime._ANSWERS_FILE
MAX_ANSWER = probe_runtime._MAX_ANSWER
"""Characters kept of one recorded value."""
MAX_ANSWERS = probe_runtime._MAX_ANSWERS
"""Values recorded per probe (a loop of asserts can record no more)."""
PROBE_SECONDS = probe_runtime._PROBE_SECONDS
"""Wall-clock limit of one probe, so one hanging input does not silence the others."""
Signature = tuple[tuple[str, tuple[str, ...]], ...]
"""Each probe's name and the values it recorded, in order."""


class _Record(ast.NodeTransformer):
    """Asserts become records of the values they check; `pytest.raises` records the error."""

    def visit_Assert(self, node: ast.Assert) -> ast.stmt:
        calls = [ast.Expr(_call("_seen", e)) for e in _checked(node.test)]
        return ast.If(test=ast.Constant(True), body=list(calls), orelse=[])

    def visit_With(self, node: ast.With) -> ast.With:
        self.generic_visit(node)
        for item in node.items:
            call = item.context_expr
            if isinstance(call, ast.Call) and ast.unparse(call.func) in ("pytest.raises", "raises"):
                item.context_expr = _call("_raises")  # `as caught` still binds (`_Caught`)
        return node


def _checked(test: ast.expr) -> list[ast.expr]:
    """The values an assert checks.

    Each computed side of a comparison, each operand of `and`, the operand of `not`, else
    the whole expression.
    """
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _checked(test.operand)
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return [e for value in test.values for e in _checked(value)]
    if isinstance(test, ast.Compare):
        return [e for e in (test.left, *test.comparators) if _computed(e)] or [test]
    return [test]


def _computed(node: ast.expr) -> bool:
    """An expression that calls or looks something up (a literal answers nothing)."""
    kinds = ast.Call | ast.Name | ast.Attribute | ast.Subscript
    return any(isinstance(n, kinds) for n in ast.walk(node))


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


def probe_body(code: str) -> str | None:
    """One designed test's code with its asserts turned into records, or None if unusable."""
    fixed = normalise(code)
    if fixed is None:
        return None
    tree = _Record().visit(ast.parse(fixed))
    if any(isinstance(n, ast.Yield | ast.YieldFrom | ast.Await) for n in ast.walk(tree)):
        return None  # the probe would become a generator and record nothing
    body = ast.unparse(ast.fix_missing_locations(tree))
    wrapped = "def _probe():\n" + "\n".join(f"    {line}" for line in body.splitlines())
    try:
        # Compiled, never run: a star import or `nonlocal` in one snippet would otherwise
        # break the whole probe file.
        compile(wrapped, "<probe>", "exec")
    except (SyntaxError, ValueError, RecursionError):
        return None
    return body


@cache
def _runtime_source() -> str:
    """The probe file's runtime: `probe_runtime`'s source, checked by ruff and mypy as a module."""
    return Path(probe_runtime.__file__).read_text(encoding="utf-8")


def probe_source(tests: Sequence[Mapping[str, str]], files: Mapping[str, str]) -> str | None:
    """The probe as one pytest file, or None if no designed test can be probed."""
    bodies = {f"p{i:02d}": probe_body(t.get("code", "")) for i, t in enumerate(tests, 1)}
    usable = {name: body for name, body in bodies.items() if body}
    if not usable:
        return None
    lines = [generated_test_header(files), _runtime_source()]
    for name, body in usable.items():
        lines += [f"def _{name}():", *(f"    {line}" for line in body.splitlines()), ""]
    probes = ", ".join(f"{n!r}: _{n}" for n in usable)
    lines.append(f"_PROBES.update({{{probes}}})")
    return "\n".join(lines) + "\n"


def parse_answers(raw: str) -> Signature | None:
    """The answers file as a signature, or None if it is not what the probe writes."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not data:
        return None
    out = []
    for name, values in sorted(data.items()):
        if not (isinstance(name, str) and re.fullmatch(r"p\d{2}", name)):
            return None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return None
        out.append((name, tuple(v[:MAX_ANSWER] for v in values[:MAX_ANSWERS])))
    return tuple(out)


_SILENT = ("None", "'no exception'")


def informative(signature: Signature | None) -> bool:
    """Whether the answers say anything.

    Broken code that raises on every probe says nothing, nor does code that prints instead
    of returning (every answer `None`): two such versions agreeing is no evidence.
    """
    if not signature:
        return False
    return any(v not in _SILENT and not v.startswith("raised ") for _, vs in signature for v in vs)


def probe(
    tests: Sequence[Mapping[str, str]],
    files: Mapping[str, str],
    limits: SandboxLimits,
    kind: str | None = None,
) -> list[list[Any]] | None:
    """Run the probe on one candidate in the sandbox: its signature as JSON-friendly lists.

    None when there is nothing to probe or the probe gave no usable answers (the code did
    not import, timed out, or wrote no answers file).
    """
    source = probe_source(tests, files)
    if source is None:
        return None
    project = {**files, PROBE_FILE: source}
    # Its own wall clock: each probe's limit, plus pytest's start.
    seconds = min(limits.wall_seconds, PROBE_SECONDS * source.count("\ndef _p") + 10)
    result = run_pytest(
        project, [PROBE_FILE], replace(limits, wall_seconds=seconds), kind, keep=ANSWERS_FILE
    )
    signature = parse_answers(result.kept) if result.kept else None
    return [[name, list(values)] for name, values in signature] if signature else None


def as_signature(stored: Any) -> Signature | None:
    """A signature stored in the state (lists, after JSON) back as a hashable tuple."""
    if not stored:
        return None
    return tuple((str(name), tuple(str(v) for v in values)) for name, values in stored)
