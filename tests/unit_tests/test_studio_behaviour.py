"""Candidates vote by behaviour: the probe records what each one answers on the designed inputs.

The transform and the parsing are pure; the probes run in the real sandbox (no model).
"""

from __future__ import annotations

import json

import pytest

from terraqore.codecheck.behaviour import (
    ANSWERS_FILE,
    MAX_ANSWER,
    as_signature,
    informative,
    parse_answers,
    probe,
    probe_body,
)
from terraqore.codecheck.sandbox import SandboxLimits, SandboxUnavailable, choose, run_pytest

LIMITS = SandboxLimits(wall_seconds=30)


def _sandbox_here() -> bool:
    try:
        choose()
    except SandboxUnavailable:
        return False
    return True


needs_sandbox = pytest.mark.skipif(not _sandbox_here(), reason="no sandbox here")

TESTS = [
    {"name": "normal", "code": "assert add(1, 2) == 4"},  # a wrong expected value
    {"name": "negative", "code": "with pytest.raises(ValueError): add(-1, 2)"},
    {"name": "zero", "code": "assert not add(0, 0) and add(2, 2) > 1"},
]
RIGHT = "def add(a, b):\n    if a < 0:\n        raise ValueError(a)\n    return a + b\n"
SAME = "def add(a, b):\n    if min(a, 0) < 0:\n        raise ValueError('negative')\n    return sum([a, b])\n"
WRONG = "def add(a, b):\n    return a - b\n"


def answers(tests: list[dict[str, str]], code: str) -> dict[str, list[str]]:
    """Each probe's recorded values for this `solution.py` ({} if the probe gave none)."""
    return {name: values for name, values in probe(tests, {"solution.py": code}, LIMITS) or []}


def test_asserts_become_records_of_the_values_they_check() -> None:
    body = probe_body("assert add(1, 2) == 4")
    assert body is not None and "_seen(add(1, 2))" in body and "4" not in body
    both = probe_body("assert not f(x) and g(y) > 3")
    assert both is not None and "_seen(f(x))" in both and "_seen(g(y))" in both
    raises = probe_body("with pytest.raises(ValueError, match='x'): f(-1)")
    assert raises is not None and "_raises()" in raises and "pytest" not in raises
    assert probe_body("def f():\n    return 1") is None  # it wrote code, not a test
    assert probe_body("not python at all (") is None


def test_answers_are_parsed_strictly_and_broken_code_says_nothing() -> None:
    good = parse_answers(json.dumps({"p01": ["3"], "p02": ["raised ValueError"]}))
    assert good == (("p01", ("3",)), ("p02", ("raised ValueError",)))
    assert informative(good)
    long = parse_answers(json.dumps({"p01": ["x" * 10_000]}))
    assert long is not None and len(long[0][1][0]) == MAX_ANSWER
    for bad in ("[1, 2]", "{}", '{"p01": [1]}', '{"other": ["1"]}', "root:x:0:0", '{"p01": "3"}'):
        assert parse_answers(bad) is None, bad
    assert not informative(parse_answers('{"p01": ["raised NameError"], "p02": []}'))
    assert as_signature([["p01", ["3"]]]) == (("p01", ("3",)),)


@needs_sandbox
def test_candidates_that_behave_alike_share_a_signature() -> None:
    right = probe(TESTS, {"solution.py": RIGHT}, LIMITS)
    same = probe(TESTS, {"solution.py": SAME}, LIMITS)
    wrong = probe(TESTS, {"solution.py": WRONG}, LIMITS)
    assert right == same, "the same behaviour, written differently"
    assert right != wrong
    assert answers(TESTS, RIGHT)["p01"] == ["3"]  # what it computed, not what was expected
    assert answers(TESTS, RIGHT)["p02"] == ["raised ValueError"]
    assert answers(TESTS, WRONG)["p02"] == ["'no exception'"]
    # Code that does not import gives no signature at all.
    assert probe(TESTS, {"solution.py": "def add(:\n"}, LIMITS) is None


@needs_sandbox
def test_a_hanging_input_is_cut_off_and_the_other_answers_stay() -> None:
    hangs = "def add(a, b):\n    while a < 0:\n        pass\n    return a + b\n"
    found = answers(TESTS, hangs)
    assert found["p01"] == ["3"] and found["p02"] == ["raised TimeoutError"]


@needs_sandbox
def test_a_planted_link_is_not_read_back(tmp_path) -> None:
    # A well-formed answers file outside the work folder, which a followed link would read.
    bait = tmp_path / "bait.json"
    bait.write_text(json.dumps({"p01": ["42"]}))
    bait.chmod(0o644)
    tmp_path.chmod(0o755)
    planted = (
        "import os\n"
        f"os.symlink({str(bait)!r}, {ANSWERS_FILE!r})\n"
        "os.chmod = os.symlink = None\n"
        "def add(a, b):\n    return a + b\n"
    )
    assert probe(TESTS, {"solution.py": planted}, LIMITS) is None


@needs_sandbox
def test_the_sandbox_keeps_a_named_file_bounded_and_never_through_a_link() -> None:
    writes = "def test_write():\n    open('out.txt', 'w').write('x' * 500_000)\n"
    result = run_pytest({"test_w.py": writes}, ["test_w.py"], LIMITS, keep="out.txt")
    assert result.kept == "x" * 200_000
    links = "import os\n\ndef test_link():\n    os.symlink('/etc/passwd', 'out.txt')\n"
    result = run_pytest({"test_l.py": links}, ["test_l.py"], LIMITS, keep="out.txt")
    assert result.passed == 1 and result.kept == ""
    assert run_pytest({"test_w.py": writes}, ["test_w.py"], LIMITS).kept == ""
    # A folder or a pipe in its place is not read (and does not raise).
    for make in ("os.mkdir('out.txt')", "os.mkfifo('out.txt')"):
        body = f"import os\n\ndef test_make():\n    {make}\n"
        assert run_pytest({"test_m.py": body}, ["test_m.py"], LIMITS, keep="out.txt").kept == ""
    # What the caller's files bring under that name is not what the run wrote.
    files = {"test_n.py": "def test_n():\n    pass\n", "out.txt": "planted"}
    assert run_pytest(files, ["test_n.py"], LIMITS, keep="out.txt").kept == ""


@needs_sandbox
def test_the_same_code_answers_the_same_every_run() -> None:
    # Set order depends on the hash seed: the sandbox fixes it, so one version is one vote.
    tests = [{"name": "order", "code": "assert names() == []"}]
    code = "def names():\n    return list({'apple', 'banana', 'cherry', 'date', 'elder'})\n"
    runs = {json.dumps(probe(tests, {"solution.py": code}, LIMITS)) for _ in range(3)}
    assert len(runs) == 1


@needs_sandbox
def test_a_timeout_the_code_swallows_still_ends_the_probe() -> None:
    tests = [
        {"name": "a", "code": "with pytest.raises(ValueError): add(-1, 2)\nassert add(-2, 0) == 0"},
        {"name": "b", "code": "assert add(1, 2) == 3"},
    ]
    hangs = (
        "def add(a, b):\n    while a < 0:\n        try:\n            pass\n"
        "        except Exception:\n            pass\n    return a + b\n"
    )
    assert answers(tests, hangs) == {"p01": ["raised TimeoutError"], "p02": ["3"]}


@needs_sandbox
def test_one_bad_snippet_or_a_shadowed_name_does_not_silence_the_others() -> None:
    tests = [
        {"name": "star", "code": "from solution import *\nassert add(1, 2) == 3"},
        {"name": "bound", "code": "with pytest.raises(ValueError) as e: add(-1, 2)\nassert e.type"},
        {"name": "plain", "code": "assert add(2, 2) == 4"},
    ]
    # The code defines names the probe's own runtime uses.
    code = (
        "import sys\njson = re = signal = None\n"
        "def add(a, b):\n    if a < 0:\n        raise ValueError(a)\n    return a + b\n"
    )
    found = answers(tests, code)
    assert "p01" not in found  # a star import cannot sit in a function: dropped
    assert found["p02"] == ["raised ValueError", "<class 'ValueError'>"]
    assert found["p03"] == ["4"]


def test_deeply_nested_answers_are_refused_not_raised() -> None:
    assert parse_answers("[" * 100_000 + "]" * 100_000) is None
