"""The designed tests choose among the Coder's candidates, and only credible failures go back.

Fake agent models with scripted answers; the sandbox and its tests are real.
"""

from __future__ import annotations

import json

import httpx
import ollama
import pytest

from graphs.studio import graph
from graphs.studio_context import Context
from terraqore.codecheck.selection import choose, credible, credible_failures
from terraqore.codecheck.test_file import TEST_FILE
from tests.studio_fakes import CLEAN, VULNERABLE, WRONG

T = f"{TEST_FILE}::test_0"


def candidate(i: int, outcomes: dict[str, str], route: str = "local:a") -> dict:
    failures = [
        {"test": t, "detail": "E assert 1 == 2"} for t, o in outcomes.items() if o != "passed"
    ]
    validation = {
        "passed": not failures,
        "tests_passed": sum(o == "passed" for o in outcomes.values()),
        "outcomes": outcomes,
        "failures": failures,
    }
    return {"id": i, "route": route, "origin": "first", "files": {}, "validation": validation}


def test_the_candidate_passing_most_tests_wins_and_agreement_breaks_ties() -> None:
    a = candidate(0, {f"{T}1": "passed", f"{T}2": "failed"})
    b = candidate(1, {f"{T}1": "failed", f"{T}2": "passed"})
    c = candidate(2, {f"{T}1": "failed", f"{T}2": "passed"})
    best = candidate(3, {f"{T}1": "passed", f"{T}2": "passed"})
    assert choose([a, b, c, best])["id"] == 3
    assert choose([a, b, c])["id"] == 1  # b and c agree; a stands alone
    assert choose([a, b, c, best], blocked=[3])["id"] == 1
    assert choose([best], blocked=[3])["id"] == 3  # nothing else to choose
    assert choose([{"id": 0, "route": "x", "origin": "first", "files": {}}]) is None


def test_a_failure_is_credible_only_if_some_candidate_passes_that_test() -> None:
    a = candidate(0, {f"{T}1": "passed", f"{T}2": "failed", f"{T}3": "failed"})
    b = candidate(1, {f"{T}1": "failed", f"{T}2": "passed", f"{T}3": "failed"})
    assert credible([a, b]) == {f"{T}1", f"{T}2"}
    assert [f["test"] for f in credible_failures(a, [a, b])] == [f"{T}2"]
    # Alone, a candidate has nothing to be compared with: every failure counts.
    assert len(credible_failures(a, [a])) == 2


def test_the_tests_choose_the_right_candidate(fakes) -> None:
    fake = fakes(coder=[WRONG, CLEAN])
    out = graph.invoke({"task": "add"}, context=Context(coder_candidates=3))
    assert fake.calls.count("coder") == 3 and out["rounds"]["fix"] == 0
    assert out["selected"] == 1 and "a + b" in out["files"]["solution.py"]
    assert out["validation"]["passed"]
    assert "the tests chose #1 (direct)" in out["report"]


def test_an_unusable_first_version_does_not_stop_the_others(fakes) -> None:
    prose = "The function adds the two numbers and returns their sum."
    fake = fakes(coder=[prose, prose, CLEAN])
    out = graph.invoke({"task": "add"}, context=Context(coder_candidates=3))
    assert fake.calls.count("coder") == 4  # the first twice (its retry), then two more
    assert [c["origin"] for c in out["candidates"]] == ["direct", "sample"]
    assert out["validation"]["passed"] and "a + b" in out["files"]["solution.py"]
    assert any(n.startswith("the first candidate was unusable") for n in out["notes"])


def test_a_later_call_that_times_out_keeps_the_versions_already_written(fakes) -> None:
    fake = fakes(coder=[CLEAN, httpx.ReadTimeout("timed out")])
    out = graph.invoke({"task": "add"}, context=Context(coder_candidates=3))
    # The three versions are asked at once; the two later ones time out.
    assert fake.calls.count("coder") == 3 and not out["escalations"]
    assert [c["origin"] for c in out["candidates"]] == ["first"]
    assert out["validation"]["passed"]
    assert any("direct candidate's call failed (ReadTimeout)" in n for n in out["notes"])


def test_a_first_call_the_server_stopped_keeps_the_versions_written(fakes) -> None:
    # A bench run: the first version ran past the server's request timeout, which came as an
    # error in the stream (ollama.ResponseError), and the whole build ended with it.
    stopped = ollama.ResponseError("the request ran past its timeout of 600s", -1)
    fake = fakes(coder=[stopped, CLEAN])
    out = graph.invoke({"task": "add"}, context=Context(coder_candidates=3))
    assert fake.calls.count("coder") == 3 and not out["escalations"]
    assert [c["origin"] for c in out["candidates"]] == ["direct", "sample"]
    assert out["validation"]["passed"]
    assert any("first candidate's call failed (ResponseError)" in n for n in out["notes"])


@pytest.mark.parametrize("agent", ["idea", "planner", "validator", "security"])
def test_an_agent_whose_call_fails_falls_back_and_the_build_goes_on(fakes, agent) -> None:
    # The Validator runs beside the Coder's long first turn; a server that stops one of its
    # calls ended the whole build, though each of these agents has a fallback for a bad answer.
    stopped = ollama.ResponseError("the request ran past its timeout of 600s", -1)
    fake = fakes(**{agent: [stopped]})
    ctx = Context(coder_candidates=1, short_path=False)
    out = graph.invoke({"task": "add"}, context=ctx)
    assert agent in fake.calls and "a + b" in out["files"]["solution.py"]
    assert out["security"]["verdict"] == "pass" and out["report"]
    assert any("600s" in n for n in out["notes"]), out["notes"]


def test_a_test_no_candidate_passes_is_not_sent_back(fakes) -> None:
    tests = {
        "tests": [
            {"name": "sum", "code": "assert add(1, 2) == 3"},
            {"name": "wrong", "code": "assert add(2, 2) == 5"},
            {"name": "zero", "code": "assert add(0, 0) == 0"},
        ]
    }
    fake = fakes(validator=[json.dumps(tests)])
    out = graph.invoke({"task": "add"}, context=Context(coder_candidates=3, max_fix_rounds=2))
    assert fake.calls.count("coder") == 3 and out["rounds"]["fix"] == 0
    assert out["validation"]["tests_passed"] == 2 and not out["validation"]["passed"]
    assert any("not sent back" in n for n in out["notes"])


def test_a_credible_failure_goes_back_and_the_fix_is_chosen(fakes) -> None:
    three = CLEAN.replace("a + b", "3")  # passes add(1, 2) == 3 only, so that test is credible
    fake = fakes(coder=[WRONG, three, WRONG, CLEAN])
    ctx = Context(coder_candidates=3, max_fix_rounds=2, fix_on="credible")
    out = graph.invoke({"task": "add"}, context=ctx)
    # WRONG twice agree (add(0, 0) passes), so one of them is chosen and told about add(1, 2).
    assert fake.calls.count("coder") == 4 and out["rounds"]["fix"] == 1
    assert out["selected"] == 3 and out["candidates"][3]["origin"] == "fix"
    assert out["validation"]["passed"]


def test_a_blocked_candidate_gives_way_to_a_clean_one(fakes) -> None:
    fake = fakes(coder=[VULNERABLE, CLEAN])
    out = graph.invoke({"task": "add"}, context=Context(coder_candidates=3, max_security_rounds=1))
    assert out["security"]["verdict"] == "pass" and "shell" not in out["files"]["solution.py"]
    assert fake.calls.count("coder") == 4 and out["selected"] != 0


def test_behaviour_votes_break_a_tie_the_tests_cannot() -> None:
    sig = [["p01", ["3"]]]
    a = candidate(0, {f"{T}1": "passed"})
    b = candidate(1, {f"{T}1": "passed"})
    c = candidate(2, {f"{T}1": "passed"})
    for x in (a, b, c):
        x["files"] = {"solution.py": f"# version {x['id']}"}
    a["validation"]["behaviour"] = [["p01", ["-1"]]]
    b["validation"]["behaviour"] = c["validation"]["behaviour"] = sig
    assert choose([a, b, c])["id"] == 1  # b and c answer alike; a stands alone
    # The same code twice is one vote: a and c tie, and the earlier wins.
    c["files"] = b["files"]
    assert choose([a, b, c])["id"] == 0
    c["files"] = {"solution.py": "# version 2"}
    # Code that raises on every input, or returns nothing, agrees with no one.
    for silent in ("raised NameError", "None"):
        for x in (b, c):
            x["validation"]["behaviour"] = [["p01", [silent]]]
        assert choose([a, b, c])["id"] == 0
    # Passing more designed tests still comes first.
    best = candidate(3, {f"{T}1": "passed", f"{T}2": "passed"})
    assert choose([a, b, c, best])["id"] == 3


def test_a_stated_test_ranks_first_and_is_always_credible() -> None:
    stated = {f"{T}2"}
    a = candidate(0, {f"{T}1": "passed", f"{T}3": "passed", f"{T}2": "failed"})
    b = candidate(1, {f"{T}1": "failed", f"{T}3": "failed", f"{T}2": "passed"})
    assert choose([a, b])["id"] == 0
    assert choose([a, b], stated=stated)["id"] == 1
    c = candidate(2, {f"{T}1": "passed", f"{T}2": "failed"})
    # No candidate passes T2 here, but it is the task's own example: it goes back.
    assert [f["test"] for f in credible_failures(c, [a, c])] == []
    assert [f["test"] for f in credible_failures(c, [a, c], stated)] == [f"{T}2"]


def test_a_failing_stated_test_goes_back_even_when_no_candidate_passes_it(fakes) -> None:
    tests = {
        "tests": [
            {"name": "example", "code": "assert add(2, 2) == 5"},  # the task's own example
            {"name": "made_up", "code": "assert add(3, 3) == 7"},
            {"name": "zero", "code": "assert add(0, 0) == 0"},
        ]
    }
    task = "Write `add(a, b)` in solution.py; in this odd arithmetic `add(2, 2)` is `5`."
    fake = fakes(validator=[json.dumps(tests)])
    out = graph.invoke({"task": task}, context=Context(coder_candidates=3, max_fix_rounds=1))
    assert [t["stated"] for t in out["designed_tests"]] == [True, False, False]
    # Every version fails both wrong-looking tests; only the stated one is sent back.
    assert out["rounds"]["fix"] == 1 and fake.calls.count("coder") == 4
    # The example runs as the task's own test; the Validator's restatement of it is dropped.
    assert (
        "test_01_task_example_add_2_2" in out["candidates"][3]["validation"]["failures"][0]["test"]
    )
    assert all(c["validation"]["behaviour"] for c in out["candidates"])
    # The report tells the two apart: the example is not met, the made-up test is doubted.
    v = out["validation"]
    assert (v["stated_run"], v["stated_passed"]) == (1, 0)
    assert v["doubted"] == ["test_validator_designed.py::test_02_made_up"]
    report = out["report"]
    assert "The task's own examples, restated as tests: 0 of 1 passed." in report
    assert "test_02_made_up` (doubted" in report
    assert not any("task_example" in t for t in v["doubted"])


def test_with_no_tests_a_version_that_keeps_the_tasks_names_wins_over_one_that_does_not_parse(
    fakes,
) -> None:
    """No test ran (the Validator designed none): the versions still differ in whether they
    parse and keep the task's names, and that chooses, not which came first (task 58 once got
    a first version that did not parse)."""
    broken = '```python\n# solution.py\ndef add(a, b):\n    """Add\n```\n'
    fake = fakes(coder=[broken, CLEAN], validator=['{"tests": []}'])
    out = graph.invoke({"task": "add(a, b) returns the sum"}, context=Context(coder_candidates=3))
    assert fake.calls.count("coder") == 3
    assert out["selected"] != 0 and "a + b" in out["files"]["solution.py"]
    first = out["candidates"][0]["validation"]["contract"]
    assert not first["kept"] and "file solution.py: does not parse" in first["broken"]
    assert any(n == "the tests did not run: no tests were written" for n in out["notes"])


def test_with_no_tests_a_broken_contract_still_goes_back_to_the_coder_once(fakes) -> None:
    """Task 60 ended with one file of three in every version: no test had run, so the graph
    went straight to the security gate and the missing files were never asked for."""
    broken = '```python\n# solution.py\ndef add(a, b):\n    """Add\n```\n'
    fake = fakes(coder=[broken, broken, broken, CLEAN], validator=['{"tests": []}'])
    out = graph.invoke({"task": "add(a, b) returns the sum"}, context=Context(coder_candidates=3))
    assert fake.calls.count("coder") == 4 and out["rounds"]["fix"] == 1
    assert out["candidates"][3]["origin"] == "fix" and out["selected"] == 3
    assert out["validation"]["contract"]["kept"] and "a + b" in out["files"]["solution.py"]


def test_a_version_that_breaks_the_contract_in_fewer_places_ranks_higher() -> None:
    """Task 60: the fix wrote two of the task's three files, the first version one; with no
    test run, the first was kept because both broke the contract."""
    one_file = candidate(0, {})
    two_files = candidate(1, {})
    one_file["validation"]["contract"] = {"kept": False, "broken": ["file a: x", "file b: x"]}
    two_files["validation"]["contract"] = {"kept": False, "broken": ["file b: x"]}
    kept = candidate(2, {f"{T}1": "failed"})
    kept["validation"]["contract"] = {"kept": True, "broken": []}
    assert choose([one_file, two_files])["id"] == 1
    assert choose([one_file, two_files, kept])["id"] == 2
