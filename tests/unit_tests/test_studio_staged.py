"""The first version alone, its siblings only when it fails (`Context.staged`).

Fake agent models with scripted answers; the sandbox and its tests are real.
"""

from __future__ import annotations

from graphs.studio import graph
from graphs.studio_context import Context
from tests.studio_fakes import CLEAN, WRONG

STATED = "Write add(a, b) in solution.py. add(1, 2) returns 3."
"""A short task with one example of its own: a failure of it is certain, so it gets a fix."""


def origins(out: dict) -> list[str]:
    return [c["origin"] for c in out["candidates"]]


def test_a_first_version_failing_a_stated_example_brings_its_siblings_beside_its_fix(
    fakes,
) -> None:
    fake = fakes(coder=[WRONG, CLEAN])
    out = graph.invoke({"task": STATED}, context=Context(staged=True))
    # One turn alone, then the fix and the two samples of a short task in one turn.
    assert fake.calls.count("coder") == 4 and origins(out) == ["first", "fix", "sample", "sample"]
    coders = [c for c in fake.configs if c.model == "terraqore/coder"]
    assert [c.temperature for c in coders] == [None, None, 0.5, 0.5]
    assert out["rounds"]["fix"] == 1 and out["validation"]["passed"]
    assert out["selected"] != 0 and "a + b" in out["files"]["solution.py"]
    assert any("failed" in n and "beside the fix" in n for n in out["notes"])


def test_widening_spends_the_fix_round_so_a_route_still_failing_stops(fakes) -> None:
    fake = fakes(coder=[WRONG])
    out = graph.invoke({"task": STATED}, context=Context(staged=True, max_fix_rounds=1))
    assert fake.calls.count("coder") == 4 and out["rounds"]["fix"] == 1
    assert not out["validation"]["passed"] and fake.calls[-1] == "security"


def test_a_first_version_failing_only_a_doubted_test_brings_its_siblings_without_a_fix(
    fakes,
) -> None:
    # The task states no example: the Validator's add(1, 2) == 3 is its own, not certain.
    fake = fakes(coder=[WRONG, CLEAN])
    out = graph.invoke({"task": "add"}, context=Context(staged=True, short_path=False))
    assert fake.calls.count("coder") == 3 and origins(out) == ["first", "direct", "sample"]
    assert out["rounds"]["fix"] == 0 and out["validation"]["passed"]
    assert any("2 more version(s)" in n and "fix" not in n for n in out["notes"])


def test_an_unusable_first_version_has_its_siblings_written_in_the_same_turn(fakes) -> None:
    prose = "The function adds the two numbers and returns their sum."
    fake = fakes(coder=[prose, prose, CLEAN])
    out = graph.invoke({"task": "add"}, context=Context(staged=True, short_path=False))
    assert fake.calls.count("coder") == 4  # the first twice (its retry), then two more
    assert origins(out) == ["direct", "sample"] and out["validation"]["passed"]
    assert any("first version was unusable" in n for n in out["notes"])


def test_with_no_test_to_run_a_first_version_that_keeps_the_names_is_kept(fakes) -> None:
    fake = fakes(validator=['{"tests": []}'])
    out = graph.invoke({"task": "Write add(a, b) in solution.py."}, context=Context(staged=True))
    assert fake.calls.count("coder") == 1 and origins(out) == ["first"]
    assert out["validation"]["sandbox"] == "none"


def test_one_version_asked_for_is_one_version_written(fakes) -> None:
    fake = fakes(coder=[WRONG])
    out = graph.invoke({"task": STATED}, context=Context(staged=True, coder_candidates=1))
    # No siblings to bring: the first version's one fix round, as before.
    assert fake.calls.count("coder") == 2 and origins(out) == ["first", "fix"]


def test_a_first_version_passing_every_stated_example_is_kept_whatever_the_validator_says(
    fakes,
) -> None:
    three = CLEAN.replace("a + b", "3")  # add(1, 2) == 3 holds; the Validator's add(0, 0) fails
    fake = fakes(coder=[three, CLEAN])
    out = graph.invoke({"task": STATED}, context=Context(staged=True))
    assert fake.calls.count("coder") == 1 and origins(out) == ["first"]
    assert out["validation"]["stated_passed"] == out["validation"]["stated_run"] >= 1
    assert not out["validation"]["passed"] and out["rounds"]["fix"] == 0
    assert any("passed the task's 1 example(s)" in n for n in out["notes"])
    # That note says the Validator's failures were not sent back, and why; no second note.
    assert sum("not sent back" in n for n in out["notes"]) == 1, out["notes"]


def test_the_validator_tests_a_kept_first_version_fails_are_doubted_and_the_build_says_so(
    fakes,
) -> None:
    from nodes.report import outcome

    three = CLEAN.replace("a + b", "3")
    fakes(coder=[three])
    out = graph.invoke({"task": STATED}, context=Context(staged=True))
    # add(0, 0) == 0 is the Validator's own: no version passed it, and the task never says it.
    assert [t.split("::")[-1] for t in out["validation"]["doubted"]] == ["test_02_zero"]
    assert outcome(out["validation"], out["security"]) == "doubted"
