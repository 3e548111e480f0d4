"""Through the graph, the task wins: its names, its examples, and an exit status to act on.

Scripted fake models (LangChain's fake chat models) stand in for the agents; the sandbox,
bandit and the CLI are real.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import agents.structured
from graphs.studio import graph
from graphs.studio_context import Context
from terraqore.app.cli.app import app
from tests.studio_fakes import CLEAN

DEMO = (
    "a Python function is_palindrome(text) that ignores case, spaces and punctuation;"
    " `is_palindrome('A man, a plan, a canal: Panama')` is `True`"
)
RENAMING_PLAN = json.dumps(
    {
        "files": [{"path": "src/text_palindrome.py", "purpose": "text_palindrome(text)"}],
        "steps": ["Write `text_palindrome` that normalises the text", "Compare it reversed"],
        "acceptance": ["text_palindrome('A man') is True"],
        "tests": ["text_palindrome('ab') -> False"],
    }
)
RENAMED = (
    "```python\n# src/text_palindrome.py\ndef text_palindrome(text):\n"
    "    t = [c.lower() for c in text if c.isalnum()]\n    return t == t[::-1]\n```\n"
)
RENAMING_IDEA = json.dumps(
    {
        "title": "Palindrome Function",
        "summary": "Python function `text_palindrome` ignores case, spaces, and punctuation.",
        "users": "developers",
        "done_when": ["text_palindrome('A man') is True"],
        "assumptions": [],
    }
)
FOLLOWING_TESTS = json.dumps(
    {
        "tests": [
            {"name": "plan_name", "code": "assert text_palindrome('abba') == True"},
            {"name": "mixed", "code": "assert is_palindrome('No lemon, no melon') == True"},
            {"name": "not", "code": "assert is_palindrome('ab') == False"},
        ]
    }
)


def spy_prompts(monkeypatch: pytest.MonkeyPatch, fake) -> list[tuple[str, str]]:
    """Record (role, last prompt) of every model call."""
    prompts: list[tuple[str, str]] = []
    real = fake.model_for

    def spy(config, agent="", **options):
        model = real(config, agent, **options)
        original = model.invoke

        def invoke(messages, *a, **kw):
            prompts.append((config.model.split("/")[-1], messages[-1].content))
            return original(messages, *a, **kw)

        object.__setattr__(model, "invoke", invoke)
        return model

    monkeypatch.setattr(agents.structured, "model_for", spy)
    return prompts


def test_the_demo_keeps_is_palindrome_though_the_plan_and_the_coder_renamed_it(
    fakes, monkeypatch
) -> None:
    fake = fakes(
        idea=[RENAMING_IDEA], planner=[RENAMING_PLAN], coder=[RENAMED], validator=[FOLLOWING_TESTS]
    )
    prompts = spy_prompts(monkeypatch, fake)
    out = graph.invoke({"task": DEMO}, context=Context(coder_candidates=2, short_path=False))
    # The contract, read without a model.
    assert out["contract"]["callables"][0]["name"] == "is_palindrome"
    # The brief (as the 0.5B wrote it in a by-hand build) is corrected before the Planner
    # reads it, the plan before the Coder reads it, and the Coder is told the names.
    assert "`is_palindrome`" in out["idea"]["summary"]
    planner_prompt = next(p for role, p in prompts if role == "planner")
    assert "text_palindrome" not in planner_prompt
    assert "text_palindrome" not in json.dumps(out["plan"])
    assert out["plan"]["files"][0]["path"] == "src/is_palindrome.py"
    coder_prompt = next(p for role, p in prompts if role == "coder")
    assert "text_palindrome" not in coder_prompt and "- is_palindrome(text)" in coder_prompt
    # The Coder still wrote text_palindrome: renamed back, without a model.
    assert "def is_palindrome(text):" in out["files"]["src/text_palindrome.py"]
    assert any("renamed text_palindrome to is_palindrome" in n for n in out["notes"])
    # The Validator's test of the plan's name is dropped; the task's example runs as a test.
    names = [t["name"] for t in out["designed_tests"]]
    assert names[0].startswith("task_example_is_palindrome") and "plan_name" not in names
    assert any("they use text_palindrome" in n for n in out["notes"])
    v = out["validation"]
    assert v["passed"] and v["contract"] == {"kept": True, "broken": []}
    assert (v["stated_run"], v["stated_passed"]) == (1, 1)
    report = out["report"].splitlines()
    assert report[4].startswith("**Works**")
    assert report[6] == "- The task's names: `is_palindrome(text)`; the chosen code keeps them."


TWO_NAMES = "Write `double(x)` and `half(x)` in `solution.py`."
BOTH_TESTS = json.dumps(
    {
        "tests": [
            {"name": "double", "code": "assert double(2) == 4"},
            {"name": "double_zero", "code": "assert double(0) == 0"},
            {"name": "half", "code": "assert half(4) == 2"},
        ]
    }
)
ONLY_DOUBLE = "```python\n# solution.py\ndef double(x):\n    return 2 * x\n\n\ndef halve(a, b):\n    return a\n```\n"
BOTH_HALF_RIGHT = "```python\n# solution.py\ndef double(x):\n    return x\n\n\ndef half(x):\n    return x // 2\n```\n"
BOTH_RIGHT = "```python\n# solution.py\ndef double(x):\n    return 2 * x\n\n\ndef half(x):\n    return x // 2\n```\n"


def test_a_version_that_breaks_the_contract_ranks_last_whatever_it_passes(fakes) -> None:
    fakes(coder=[ONLY_DOUBLE, BOTH_HALF_RIGHT], validator=[BOTH_TESTS])
    out = graph.invoke({"task": TWO_NAMES}, context=Context(coder_candidates=2, max_fix_rounds=0))
    first, second = out["candidates"]
    assert first["validation"]["tests_passed"] == 2 and second["validation"]["tests_passed"] == 2
    assert not first["validation"]["contract"]["kept"]  # halve(a, b) is not half(x)
    assert first["validation"]["failures"][0]["test"] == "(the task's names)"
    assert out["selected"] == 1


def test_a_broken_contract_goes_back_to_the_coder_with_the_names(fakes, monkeypatch) -> None:
    fake = fakes(coder=[ONLY_DOUBLE, BOTH_RIGHT], validator=[BOTH_TESTS])
    prompts = spy_prompts(monkeypatch, fake)
    out = graph.invoke({"task": TWO_NAMES}, context=Context(coder_candidates=1, max_fix_rounds=1))
    fix = [p for role, p in prompts if role == "coder"][1]
    assert "the task names half(x): half is not defined" in fix
    assert out["rounds"]["fix"] == 1 and out["validation"]["passed"]


DOCTEST_TASK = '''Complete `solution.py`:

```python
def clamp(x, lo, hi):
    """x, kept between lo and hi.

    >>> clamp(5, 0, 3)
    3
    >>> clamp(-1, 0, 3)
    0
    """
```
'''
UNRELATED_TESTS = json.dumps(
    {
        "tests": [
            {"name": "inside", "code": "assert clamp(2, 0, 3) == 2"},
            {"name": "x", "code": "assert clamp(1, 1, 1) == 1"},
        ]
    }
)
NO_LOWER_BOUND = "```python\n# solution.py\ndef clamp(x, lo, hi):\n    return min(x, hi)\n```\n"
CLAMP = "```python\n# solution.py\ndef clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n```\n"


def test_the_task_s_doctest_is_believed_though_the_validator_restates_none(
    fakes, monkeypatch
) -> None:
    fake = fakes(coder=[NO_LOWER_BOUND, CLAMP], validator=[UNRELATED_TESTS])
    prompts = spy_prompts(monkeypatch, fake)
    out = graph.invoke({"task": DOCTEST_TASK}, context=Context(coder_candidates=1))
    stated = [t for t in out["designed_tests"] if t["stated"]]
    assert [t["origin"] for t in stated] == ["task", "task"]
    # The version that fails one example goes back with the call, expected and actual value.
    fix = [p for role, p in prompts if role == "coder"][1]
    assert "clamp(-1, 0, 3) returned -1; the task's example expects 0" in fix
    assert out["validation"]["passed"] and out["validation"]["stated_passed"] == 2


WRONG_EXPECTATION = json.dumps(
    {
        "tests": [
            {"name": "small", "code": "assert add(1, 2) == 3"},
            {"name": "wrong", "code": "assert add(1, 1) == 3"},
            {"name": "zero", "code": "assert add(0, 0) == 0"},
        ]
    }
)


def test_the_exit_status_says_works_doubted_or_fails(fakes, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path / "home"))
    task = "Write add(a, b) in solution.py"
    fakes(validator=[WRONG_EXPECTATION])
    result = CliRunner().invoke(app, ["build", task, "--out", str(tmp_path / "doubted")])
    assert result.exit_code == 3, result.output
    assert "works, with doubts: only doubted tests fail (test_02_wrong)" in result.output
    assert "the task's names: add(a, b), file solution.py (kept)" in result.output
    report = (tmp_path / "doubted" / "REPORT.md").read_text().splitlines()
    assert report[4].startswith("**Works, with doubts**")
    assert (
        report[6]
        == "- The task's names: `add(a, b)`, `file solution.py`; the chosen code keeps them."
    )
    assert report[7] == "- Works: 2 of 3 tests pass."
    assert report[8].startswith("- Doubted (1): no version passed them and they restate no example")
    assert report[8].endswith("`test_02_wrong`.")
    # The short path's summary is the task's own text: said once, on the "Task:" line.
    assert [line for line in report if task in line] == [f"Task: {task}"]
    # One version: nothing to compare with, so the failure is credible, and the build fails.
    monkeypatch.setenv("TERRAQORE_CODER_CANDIDATES", "1")
    fakes(validator=[WRONG_EXPECTATION], coder=[CLEAN])
    failed = ["build", task, "--out", str(tmp_path / "failed"), "--max-fix-rounds", "0"]
    result = CliRunner().invoke(app, failed)
    assert result.exit_code == 1, result.output
    assert (
        (tmp_path / "failed" / "REPORT.md")
        .read_text()
        .splitlines()[4]
        .startswith("**Does not work yet**")
    )
