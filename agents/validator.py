"""The Validator agent: designs tests from the task and the plan, never from the code.

This is AgentCoder's test designer: tests written apart from the code catch what the
Coder's own tests share its blind spots on. The tests are asked for as short snippets of
`assert` lines (schema-constrained JSON, which a small model gets right far more often than
a whole pytest file); `render_tests` turns them into one pytest file, and the sandbox runs
it with the Coder's own tests (see `nodes.run_tests`).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agents.structured import Unusable, ask_structured
from agents.studio_prompts import contract_section, plan_section, sources_section, task_section
from graphs.state import UsageRecord
from graphs.studio_context import Context
from graphs.studio_state import State
from terraqore.codecheck.task_contract import functions, names
from terraqore.codecheck.task_examples import (
    Example,
    call_source,
    calls,
    example_tests,
    examples,
    literal,
    resolve,
    same,
)
from terraqore.codecheck.test_file import MAX_TEST_NAME, normalise

# Examples first, and an error only where the task names one: a prompt that lists edge cases
# or shows `pytest.raises(ValueError): f(-1)` as the shape gets them retyped by a small model
# into tests the task never asked for (bench/validator_prompt.py; bench/README.md, "The
# studio graph").
PROMPT = """{sources}

{task}
{names}
{plan}

<INSTRUCTIONS>
Design four to six tests that check the task is done, without seeing any code. Each test's
code is one or two lines that call the functions or classes exactly as the task names them
(they are already imported) and assert the result. First restate each example the task
gives, with the task's own values. Then add normal cases whose results follow from the
task's own words. Test an edge case only where the task describes it, and an error only
where the task names it, as `with pytest.raises(TheError): call(...)` with that error's
name. Never define the function yourself.
The shape of one test, shown for a different task (a function `area(w, h)`; do not copy
it): {{"name": "area_of_two_by_three", "code": "assert area(2, 3) == 6"}}
</INSTRUCTIONS>"""


class DesignedTest(BaseModel):
    """One test: a name and a few lines of asserts."""

    name: str = Field(description="snake_case, what it checks", max_length=MAX_TEST_NAME)
    code: str = Field(description="One or two lines of Python that assert.", max_length=240)


class TestDesign(BaseModel):
    """The Validator's tests."""

    tests: list[DesignedTest] = Field(min_length=3, max_length=6)


def _check(design: TestDesign) -> str | None:
    if not any(normalise(t.code) for t in design.tests):
        return "no test is valid Python with an assert; write one to four assert lines each"
    return None


def stated(code: str, task: str) -> bool:
    """Whether every check in a test is one of the task's own examples (`examples`).

    A small model's expected values are often wrong; a test that only restates an example
    the task gives (same call, same arguments, same result) is believed even when no
    candidate passes it (see `codecheck.selection`). Only plain `assert call(...) == value`
    lines qualify.
    """
    return restates(code, examples(task))


def restates(code: str, known: Sequence[Example]) -> bool:
    """Whether every check in a test is one of these examples (see `stated`)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return False
    checks = [n for n in ast.walk(tree) if isinstance(n, ast.Assert)]
    if not known or not checks or len(checks) != len(tree.body):
        return False
    for assertion in checks:
        test = assertion.test
        if not (isinstance(test, ast.Compare) and [type(o) for o in test.ops] == [ast.Eq]):
            return False
        sides = [test.left, test.comparators[0]]
        calls = [s for s in sides if isinstance(s, ast.Call) and not s.keywords]
        if len(calls) != 1:
            return False
        call = calls[0]
        ok, expected = literal(sides[1] if sides[0] is call else sides[0])
        args = [literal(a) for a in call.args]
        if not ok or not all(good for good, _ in args):
            return False
        name = ast.unparse(call.func).rsplit(".", 1)[-1]
        values = tuple(v for _, v in args)
        if not any(
            (n == name or n == "") and given == values and same(out, expected)
            for n, given, out in known
        ):
            return False
    return True


ERROR_WORDS = ("raise", "error", "exception", "invalid", "reject", "refuse", "fail")
"""Words by which a task asks for errors at all (`expects_invented_error`)."""


def expected_errors(code: str) -> set[str]:
    """The exception names a test expects (`pytest.raises(E)`, `raises((E, F))`)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("raises") and node.args:
            first = node.args[0]
            parts = first.elts if isinstance(first, ast.Tuple) else [first]
            found |= {ast.unparse(p).rsplit(".", 1)[-1] for p in parts}
    return found


def expects_invented_error(code: str, task: str) -> bool:
    """Whether a test expects an exception the task never asks for.

    The task asks for one when it names the exception or speaks of errors at all
    (`ERROR_WORDS`); otherwise the expectation is the small Validator's invention (the demo's
    `is_palindrome('12345')` raising ValueError), and it can only fail correct code.
    """
    errors = expected_errors(code)
    if not errors:
        return False
    lowered = task.lower()
    if any(word in lowered for word in ERROR_WORDS):
        return False
    return not any(error in task for error in errors)


def held_to_task(
    designed: list[dict[str, Any]], state: State
) -> tuple[list[dict[str, Any]], list[str]]:
    """The task's examples as tests, then the Validator's that add to them; notes on the rest.

    A Validator test that only restates examples already run as the task's own is left out
    (it would count twice), and so is one that expects an exception the task never asks for
    (`expects_invented_error`). One that uses a name nothing defines is dropped when it
    meets the code (`codecheck.contract_check.screen_tests`, in `nodes.run_tests`): the
    Validator designs beside the Coder, before there is code.
    """
    fixed = functions(state.contract)
    from_task = example_tests(state.task, fixed, names(state.contract))
    # The examples that run as the task's own tests (a test's `_actual = call` line).
    lines = {line for test in from_task for line in test["code"].splitlines()}
    resolved = [e for e in (resolve(e, fixed) for e in calls(state.task)) if e and e[0]]
    covered = [e for e in resolved if f"_actual = {call_source(e)}" in lines]
    kept, invented = [], []
    for test in designed:
        if from_task and test["stated"] and restates(test["code"], covered):
            continue
        if expects_invented_error(test["code"], state.task):
            invented.append(test["name"])
            continue
        kept.append(test)
    notes = []
    if invented:
        notes.append(
            f"{len(invented)} designed test(s) dropped: they expect an error the task never"
            f" asks for ({', '.join(invented)})"
        )
    return [*from_task, *kept], notes


def validator(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Design the tests, once per run: they do not change when the code does.

    The graph runs it once, beside the Coder's first turn (`graphs.studio`): it reads the
    task and the plan, not the code, so the two ask the server at once (a batching server
    decodes the Validator's answer in the same passes as the Coder's versions).
    The task's own examples become tests without a model (`codecheck.task_examples`); the
    Validator's tests are added to them (`held_to_task`).
    """
    prompt = PROMPT.format(
        task=task_section(state.task),
        names=contract_section(state.contract),
        plan=plan_section(state.plan),
        sources=sources_section(state.sources),
    )
    notes: list[str] = []
    usage: list[UsageRecord] = []
    designed: list[dict[str, Any]] = []
    try:
        design, usage = ask_structured(
            "validator",
            runtime.context.validator,
            [HumanMessage(content=prompt)],
            TestDesign,
            _check,
        )
        designed = [
            {"name": t.name, "code": code, "stated": stated(code, state.task)}
            for t in design.tests
            if (code := normalise(t.code))
        ]
    except Unusable as exc:
        notes.append(f"the validator designed no tests ({exc})")
    tests, dropped = held_to_task(designed, state)
    if not tests:
        return {"notes": [*notes, "the coder's tests ran alone"], "usage": usage}
    return {"designed_tests": tests, "usage": usage, "notes": [*notes, *dropped]}
