"""Run the Coder's tests and the Validator's together in the sandbox, and judge the round.

The Validator's verdict is the tests' outcome, not a model's opinion: pass only when every
test ran and passed. Failures are explained to the Coder in a few lines (the test and its
assertion message). The best round so far (most tests passed) is kept, and when the fix
rounds run out the run falls back to it, so a bad fix never replaces better code.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime

from agents.studio_context import Context
from agents.studio_state import State
from agents.validator import TEST_FILE, render_tests
from nodes.project_files import ProjectFileError
from nodes.sandbox import CaseOutcome, SandboxLimits, SandboxResult, SandboxUnavailable, run_pytest

MAX_EXPLAINED = 4
"""Failures explained to the Coder per round (more would crowd its context)."""


def _is_test(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def explain(failures: list[CaseOutcome]) -> str:
    """A few lines for the Coder: each failing test and the lines that say why."""
    lines = []
    for failure in failures[:MAX_EXPLAINED]:
        detail = failure.detail.strip().splitlines()
        why = [line.strip() for line in detail if line.lstrip().startswith(("E ", ">"))][-4:]
        if failure.outcome == "error":
            why = [line.strip() for line in detail if line.strip()][-3:]
        lines.append(f"- {failure.id} failed:\n    " + "\n    ".join(why or detail[-2:]))
    if len(failures) > MAX_EXPLAINED:
        lines.append(f"- and {len(failures) - MAX_EXPLAINED} more failing test(s)")
    return "\n".join(lines)


def summarise(result: SandboxResult) -> dict[str, Any]:
    """The validation record the state and the report carry."""
    failures = [{"test": f.id, "detail": f.detail} for f in result.failed]
    if result.timed_out:
        failures.append({"test": "(whole run)", "detail": "timed out: the tests did not finish"})
    return {
        "passed": bool(result.tests) and not failures,
        "tests_run": len(result.tests),
        "tests_passed": result.passed,
        "failures": failures,
        "output": result.output,
        "sandbox": result.sandbox,
        "seconds": result.seconds,
        "explanation": explain(result.failed)
        or ("the tests timed out" if result.timed_out else ""),
    }


def _unavailable(reason: str) -> dict[str, Any]:
    return {
        "validation": {
            "passed": False,
            "tests_run": 0,
            "tests_passed": 0,
            "failures": [{"test": "(sandbox)", "detail": reason}],
            "output": "",
            "sandbox": "none",
            "seconds": 0.0,
            "explanation": "",
        },
        "notes": [f"the tests did not run: {reason}"],
    }


def run_tests(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Run every test in the sandbox; keep the best round; fall back to it when out of rounds."""
    ctx = runtime.context
    designed = render_tests(state.designed_tests, state.files) if state.designed_tests else ""
    tests = {TEST_FILE: designed} if designed else {}
    files = {**state.files, **tests}
    test_paths = sorted(p for p in files if _is_test(p))
    if not test_paths:
        return _unavailable("no tests were written")
    limits = SandboxLimits(wall_seconds=ctx.test_seconds)
    try:
        result = run_pytest(files, test_paths, limits, ctx.sandbox or None)
    except (SandboxUnavailable, ProjectFileError) as exc:
        return _unavailable(str(exc))
    validation = summarise(result)
    update: dict[str, Any] = {
        "validation": validation,
        "test_files": tests,
        "feedback": validation["explanation"],
        "feedback_kind": "tests" if not validation["passed"] else "",
    }
    best = state.best
    if not best or validation["tests_passed"] >= best["validation"]["tests_passed"]:
        update["best"] = {"files": dict(state.files), "validation": validation}
    elif not validation["passed"] and state.rounds.get("fix", 0) >= ctx.max_fix_rounds:
        update.update(files=best["files"], validation=best["validation"], feedback="")
        update["notes"] = ["the last fix passed fewer tests; the best round's code was kept"]
    return update


def after_tests(state: State, runtime: Runtime[Context]) -> Literal["coder", "security_scan"]:
    """Route: failing tests go back to the Coder while fix rounds remain."""
    validation = state.validation
    fixable = validation.get("sandbox") != "none" and not validation.get("passed")
    if fixable and state.rounds.get("fix", 0) < runtime.context.max_fix_rounds:
        return "coder"
    return "security_scan"
