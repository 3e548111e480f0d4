"""Run the tests against every new candidate in the sandbox, keep the best, and route the run.

The Validator's verdict is the tests' outcome, not a model's opinion: pass only when every
test ran and passed. Each candidate the Coder wrote runs with the designed tests (and any
tests of its own) in a fresh sandbox; `codecheck.selection` keeps the best one, so a worse fix
never replaces better code. Only credible failures (tests some candidate passes) are
explained to the Coder, in a few lines each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from langgraph.runtime import Runtime

from graphs.studio_context import Context
from graphs.studio_state import State
from terraqore.codecheck.behaviour import probe
from terraqore.codecheck.code_tidy import is_test_path
from terraqore.codecheck.contract_check import check, screen_tests
from terraqore.codecheck.project_files import ProjectFileError
from terraqore.codecheck.reach import reach, untested
from terraqore.codecheck.sandbox import SandboxLimits, SandboxResult, SandboxUnavailable, run_pytest
from terraqore.codecheck.selection import (
    DESIGNED,
    Candidate,
    choose,
    credible_failures,
    passed,
    tested,
)
from terraqore.codecheck.test_file import TEST_FILE, render_tests, stated_ids

MAX_EXPLAINED = 4
"""Failures explained to the Coder per round (more would crowd its context)."""


def explain(failures: Sequence[Mapping[str, str]]) -> str:
    """A few lines for the Coder: each failing test and the lines that say why."""
    lines = []
    for failure in failures[:MAX_EXPLAINED]:
        detail = failure["detail"].strip().splitlines()
        why = [line.strip() for line in detail if line.lstrip().startswith(("E ", ">"))][-4:]
        if not why:
            why = [line.strip() for line in detail if line.strip()][-3:]
        lines.append(f"- {failure['test']} failed:\n    " + "\n    ".join(why))
    if len(failures) > MAX_EXPLAINED:
        lines.append(f"- and {len(failures) - MAX_EXPLAINED} more failing test(s)")
    return "\n".join(lines)


def summarise(result: SandboxResult) -> dict[str, Any]:
    """The validation record the state and the report carry."""
    failures = [{"test": f.id, "detail": f.detail} for f in result.failed]
    if result.timed_out:
        failures.append({"test": "(whole run)", "detail": "timed out: the tests did not finish"})
    elif result.stopped:  # the disk or memory cap: the output's first line says which
        failures.append({"test": "(whole run)", "detail": result.output.split("\n", 1)[0]})
    return {
        "passed": bool(result.tests) and not failures,
        "tests_run": len(result.tests),
        "tests_passed": result.passed,
        "outcomes": {t.id: t.outcome for t in result.tests},
        "failures": failures,
        "output": result.output,
        "sandbox": result.sandbox,
        "seconds": result.seconds,
        "explanation": explain(failures),
    }


def unavailable(reason: str) -> dict[str, Any]:
    """The validation record of tests that could not run."""
    return {
        "passed": False,
        "tests_run": 0,
        "tests_passed": 0,
        "outcomes": {},
        "failures": [{"test": "(sandbox)", "detail": reason}],
        "output": "",
        "sandbox": "none",
        "seconds": 0.0,
        "explanation": "",
    }


def test_candidate(candidate: Candidate, state: State, ctx: Context) -> dict[str, Any]:
    """Run the designed tests and the candidate's own in the sandbox; its validation record."""
    files = candidate["files"]
    designed = render_tests(state.designed_tests, files) if state.designed_tests else ""
    project = {**files, TEST_FILE: designed} if designed else dict(files)
    test_paths = sorted(p for p in project if is_test_path(p))
    if not test_paths:
        # Nothing to run, but the versions still differ in whether they keep the task's names
        # (and parse): that ranks them, rather than which came first.
        return held_to_contract(unavailable("no tests were written"), check(files, state.contract))
    limits = SandboxLimits(wall_seconds=ctx.test_seconds)
    code = sorted(p for p in files if p.endswith(".py") and not is_test_path(p))
    try:
        result = run_pytest(project, test_paths, limits, ctx.sandbox or None, cover=code)
    except (SandboxUnavailable, ProjectFileError) as exc:
        return unavailable(str(exc))
    record = {
        **summarise(result),
        "reach": reach(files, result.lines),
        "behaviour": behaviour(candidate, state, ctx, limits),
    }
    return held_to_contract(record, check(files, state.contract))


CONTRACT = "(the task's names)"
"""The failure a version that breaks the task's contract carries (first, and always sent)."""


def held_to_contract(record: dict[str, Any], contract: dict[str, Any]) -> dict[str, Any]:
    """A version's record with its contract check; a broken contract is a failure of its own.

    Code that passes every test under another name than the task's fails the user who
    calls it by the task's name (`terraqore.codecheck.contract_check`), so it does not pass, and the
    Coder is told which names to keep.
    """
    record = {**record, "contract": contract}
    if contract["kept"]:
        return record
    detail = "\n".join(f"E   the task names {broken}" for broken in contract["broken"])
    failures = [{"test": CONTRACT, "detail": detail}, *record["failures"]]
    return {**record, "passed": False, "failures": failures, "explanation": explain(failures)}


def behaviour(
    candidate: Candidate, state: State, ctx: Context, limits: SandboxLimits
) -> list[list[Any]] | None:
    """The candidate's answers on the designed inputs (`codecheck.behaviour`), for the vote.

    Only when the Coder writes several versions: one version has no one to agree with. A
    probe that cannot run costs the vote, never the test results.
    """
    if ctx.coder_candidates < 2 or not state.designed_tests:
        return None
    try:
        return probe(state.designed_tests, candidate["files"], limits, ctx.sandbox or None)
    except (SandboxUnavailable, ProjectFileError, OSError):
        return None


def run_tests(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Test every candidate not tested yet; select the best; explain its credible failures."""
    ctx = runtime.context
    screened: dict[str, Any] = {}
    if not tested(state.candidates) and state.designed_tests:
        # The tests were designed beside the first versions: now they meet the code.
        kept, foreign = screen_tests(
            state.designed_tests, state.contract, [c["files"] for c in state.candidates]
        )
        if foreign:
            dropped = len(state.designed_tests) - len(kept)
            screened["notes"] = [
                f"{dropped} designed test(s) dropped: they use {', '.join(foreign)},"
                " which neither the task nor the code defines"
            ]
            screened["designed_tests"] = kept
            state = replace(state, designed_tests=kept)
    pool = [
        c if c.get("validation") else {**c, "validation": test_candidate(c, state, ctx)}
        for c in state.candidates
    ]
    stated = stated_ids(state.designed_tests)
    chosen = choose(pool, state.blocked, stated)
    if chosen is None:
        validation = unavailable("the coder wrote no code")
        return {**screened, "validation": validation, "notes": ["the tests did not run: no code"]}
    # The task's names first, then its examples: what the Coder must fix before anything.
    sent = sorted(
        credible_failures(chosen, pool, stated),
        key=lambda f: (f["test"] != CONTRACT, f["test"] not in stated),
    )
    wide = widen(pool, chosen, stated, state, ctx)
    alone = first_alone(pool, state, ctx)
    if alone and not wide and stated:
        # Kept alone on the task's examples: the Validator's own tests it fails are doubted,
        # as a test no version passes is when several were written.
        sent = [f for f in sent if certain(f, stated) or not f["test"].startswith(DESIGNED)]
    validation = {**chosen["validation"], **trust(chosen, sent, stated)}
    validation["untested"] = untested(validation.get("reach") or [], state.contract)
    back = sent if ctx.fix_on == "credible" else [f for f in sent if certain(f, stated)]
    feedback = explain(back) if not validation["passed"] else ""
    designed = render_tests(state.designed_tests, chosen["files"]) if state.designed_tests else ""
    update: dict[str, Any] = {
        "candidates": pool,
        "selected": chosen["id"],
        "code_route": chosen["route"],
        "files": chosen["files"],
        "validation": validation,
        "test_files": {TEST_FILE: designed} if designed else {},
        "feedback": feedback,
        "feedback_kind": "tests" if feedback else "",
    }
    update.update(screened)
    notes = list(screened.get("notes", []))
    update["widen"] = wide
    # Kept alone on the task's examples: that note says why the rest were not sent back.
    kept_on_examples = alone and not validation["passed"] and validation["sandbox"] != "none"
    kept_on_examples = kept_on_examples and bool(stated) and not wide
    if wide:
        failing = validation["tests_run"] - validation["tests_passed"]
        notes.append(
            f"the first version failed {failing} of {validation['tests_run']} test(s):"
            f" the coder writes {ctx.coder_candidates - 1} more version(s)"
            + (" beside the fix" if feedback else "")
        )
    elif alone and validation["passed"]:
        notes.append("the first version passed every test, so no other versions were written")
    elif kept_on_examples:
        notes.append(
            f"the first version passed the task's {len(stated)} example(s) and failed only the"
            " validator's own test(s), which were not sent back; no other versions were written"
        )
    fixes = [c for c in pool[len(tested(state.candidates)) :] if c["origin"] == "fix"]
    if fixes and chosen["id"] != fixes[-1]["id"]:
        notes.append(
            f"the fix passed {fixes[-1]['validation']['tests_passed']} test(s), no more than"
            f" candidate #{chosen['id']}'s {validation['tests_passed']}; #{chosen['id']} was kept"
        )
    if validation["sandbox"] == "none":
        reason = next(
            (f["detail"] for f in validation["failures"] if f["test"] == "(sandbox)"), "unknown"
        )
        notes.append(f"the tests did not run: {reason}")
    elif validation["passed"] or feedback or kept_on_examples:
        pass
    elif sent:
        notes.append(
            "the failing tests restate no example of the task and were not sent back"
            " (fix_on=stated)"
        )
    else:
        notes.append("no candidate passed the remaining failing test(s); they were not sent back")
    update["notes"] = notes
    return update


def first_alone(pool: Sequence[Candidate], state: State, ctx: Context) -> bool:
    """Whether the route has written only its first version, held back by `Context.staged`."""
    if not ctx.staged or ctx.coder_candidates < 2:
        return False
    return [c["origin"] for c in pool if c["route"] == state.coder_route] == ["first"]


def widen(
    pool: Sequence[Candidate],
    chosen: Candidate,
    stated: set[str],
    state: State,
    ctx: Context,
) -> bool:
    """Whether the route's other versions are wanted (`Context.staged`): its first failed.

    Failed means: the task's names broken; else, when the task states examples, one of them
    failing (the Validator's own tests are wrong often enough, 29% on the suite, that a
    first version passing every example is kept whatever they say); else any test failing.
    A first version that no test could run on and that keeps the names is as good as any.
    Chosen on the dev half of the stored runs, the held-out re-scores in view (bench/README.md,
    "The first version alone").
    """
    validation = chosen["validation"]
    if not first_alone(pool, state, ctx) or validation["passed"]:
        return False
    if not (validation.get("contract") or {}).get("kept", True):
        return True
    if validation["sandbox"] == "none":
        return False
    return bool(stated - passed(chosen)) if stated else True


def certain(failure: Mapping[str, str], stated: set[str]) -> bool:
    """A failure of the task's own names or of one of its examples: certainly worth a fix."""
    return failure["test"] == CONTRACT or failure["test"] in stated


def trust(chosen: Candidate, sent: Sequence[Mapping[str, str]], stated: set[str]) -> dict[str, Any]:
    """What the report says of the chosen version's tests beyond the count.

    `stated_run`/`stated_passed`: the designed tests that restate the task's own examples,
    and how many of them it passed. `doubted`: its failing tests that were not sent back to
    the Coder, because no version passed them and they restate no example of the task (a
    1.5B Validator often expects the wrong thing: `roman_to_int('I')` raising, say).
    """
    kept = {f["test"] for f in sent}
    return {
        "stated_run": len(stated),
        "stated_passed": len(stated & passed(chosen)),
        "doubted": [f["test"] for f in chosen["validation"]["failures"] if f["test"] not in kept],
    }
