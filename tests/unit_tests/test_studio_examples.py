"""The task's examples become tests without a model, in every form people state them.

The last tests run them in the real sandbox: a wrong version fails with the call, the
expected and the actual value, which is what goes back to the Coder.
"""

from __future__ import annotations

import time

import pytest

from agents.validator import stated
from nodes.run_tests import explain
from terraqore.codecheck.sandbox import run_pytest
from terraqore.codecheck.task_contract import functions, names, read_contract
from terraqore.codecheck.task_examples import calls, doctest_sessions, example_tests, examples
from terraqore.codecheck.test_file import TEST_FILE, render_tests

DOCSTRING_TASK = '''Complete this function:

```python
def add(a, b):
    """The sum of a and b.

    >>> add(1, 2)
    3
    >>> add("a",
    ...     "b")
    'ab'
    >>> add(1, None)
    Traceback (most recent call last):
      ...
    TypeError: unsupported operand
    """
```
'''


def made_from(task: str) -> list[dict]:
    contract = read_contract(task)
    return example_tests(task, functions(contract), names(contract))


def test_doctest_lines_with_their_expected_output_and_errors() -> None:
    assert doctest_sessions(DOCSTRING_TASK) == [
        [
            ("add(1, 2)", "3"),
            ('add("a",\n    "b")', "'ab'"),
            (
                "add(1, None)",
                "Traceback (most recent call last):\n...\nTypeError: unsupported operand",
            ),
        ]
    ]
    codes = [t["code"] for t in made_from(DOCSTRING_TASK)]
    assert codes[0].splitlines()[0] == "_actual = add(1, 2)"
    assert "assert _actual == 3, 'add(1, 2) returned ' + repr(_actual)" in codes[0]
    assert codes[1].startswith("_actual = add('a', 'b')\nassert _actual == 'ab'")
    assert codes[2] == "with pytest.raises(TypeError):\n    add(1, None)"
    assert all(t["stated"] and t["origin"] == "task" for t in made_from(DOCSTRING_TASK))
    assert ("add", (1, 2), 3) in examples(DOCSTRING_TASK)


def test_a_doctest_session_keeps_its_state_and_drops_what_nothing_defines() -> None:
    task = (
        "Write `LRUCache(capacity)`.\n\n>>> c = LRUCache(2)\n\n>>> c.put(1, 'one')\n"
        ">>> c.get(1)\n'one'\n>>> c.get(2) is None\nTrue\n>>> total + 1\n5\n"
        ">>> from collections import Counter\n>>> Counter('aab')\nCounter({'a': 2, 'b': 1})\n"
        ">>> len(c)\n1\n"
    )
    assert [e["name"] for e in read_contract(task)["callables"]] == ["LRUCache"]
    made = made_from(task)
    assert len(made) == 2  # `total` is neither the task's, a built-in, nor bound: left out
    lines = made[0]["code"].splitlines()
    assert lines[:3] == ["c = LRUCache(2)", "c.put(1, 'one')", "_actual = c.get(1)"]
    assert "_actual = len(c)" in lines and "assert _actual is True, " in made[0]["code"]
    # Output that is not a literal is compared as doctest does: by its repr.
    assert made[1]["code"].splitlines()[:2] == [
        "from collections import Counter",
        "_actual = Counter('aab')",
    ]
    assert "repr(_actual) == \"Counter({'a': 2, 'b': 1})\"" in made[1]["code"]


@pytest.mark.parametrize(
    ("text", "example"),
    [
        ("`slugify('A B')` is `'a-b'`", ("slugify", ("A B",), "a-b")),
        ("slugify('A B') returns 'a-b'", ("slugify", ("A B",), "a-b")),
        ("slugify('A B') gives 'a-b'", ("slugify", ("A B",), "a-b")),
        ("slugify('A B') == 'a-b'", ("slugify", ("A B",), "a-b")),
        ("slugify('A B') -> 'a-b'", ("slugify", ("A B",), "a-b")),
        ("slugify('A B') should return 'a-b'", ("slugify", ("A B",), "a-b")),
        ("`slugify('A B')` evaluates to 'a-b'", ("slugify", ("A B",), "a-b")),
        ("`chunks([1, 2, 3], 2)` is [[1, 2], [3]]", ("chunks", ([1, 2, 3], 2), [[1, 2], [3]])),
        ("- 'A B' -> 'a-b'", ("", ("A B",), "a-b")),
        ("1. `'A B'` gives `'a-b'`", ("", ("A B",), "a-b")),
    ],
)
def test_inline_and_list_forms(text: str, example: tuple) -> None:
    assert example in calls(text)


def test_a_table_of_inputs_and_results() -> None:
    task = (
        "Write `is_palindrome(text)` in `solution.py`.\n\n| text | is_palindrome(text) |\n"
        "|---|---|\n| `'racecar'` | True |\n| 'ab' | False |\n| hello | False |\n\n"
        "and `clamp(x, lo, hi)`:\n\n| x | lo | hi | result |\n|--:|--|--|--|\n| 5 | 0 | 3 | 3 |\n"
    )
    found = calls(task)
    assert ("is_palindrome", ("racecar",), True) in found
    assert ("is_palindrome", ("ab",), False) in found
    assert not any(args == ("hello",) for _, args, _ in found)  # not a literal: skipped
    assert ("", (5, 0, 3), 3) in found
    # With two functions, a table that names none cannot be given one.
    codes = [t["code"] for t in made_from(task)]
    assert any(c.startswith("_actual = is_palindrome('racecar')") for c in codes)
    assert not any("(5, 0, 3)" in c for c in codes)


def test_an_input_only_example_takes_the_task_s_one_function() -> None:
    task = 'Write `to_snake_case(name)`: `"getHTTP"` gives `"get_http"`.'
    assert [t["code"].splitlines()[0] for t in made_from(task)] == [
        "_actual = to_snake_case('getHTTP')"
    ]
    two = 'Write rle_encode(s) and rle_decode(s): `"aab"` gives `"a2b1"`.'
    assert made_from(two) == []  # which of the two? not guessed


def test_the_validator_s_restatement_of_a_doctest_counts_as_stated() -> None:
    assert stated("assert add(1, 2) == 3", DOCSTRING_TASK)
    assert not stated("assert add(1, 2) == 4", DOCSTRING_TASK)


HOSTILE = {
    "nested parentheses": "f" + "(" * 50_000 + ")" * 50_000 + " is 1",
    "prompts": ">>> f(1)\n" * 12_000,
    "continuations": ">>> f(\n" + "... 1,\n" * 15_000,
    "tables": "| a | b |\n|---|---|\n" + "| (((( | 1 |\n" * 8_000,
    "list pairs": "- 'a' -> 'b'\n" * 8_000,
    "backticks": "`f(1)` is `" * 10_000,
    "brackets": "f([" + "[" * 40_000 + "]" * 40_000 + "]) is [" + "[" * 10_000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_reader_is_bounded_on_hostile_input(name: str) -> None:
    text = HOSTILE[name]
    assert len(text) >= 80_000
    start = time.perf_counter()
    made = example_tests(text, {"f": 1}, {"f"})
    found = examples(text)
    seconds = time.perf_counter() - start
    assert len(made) <= 40 and isinstance(found, list)
    assert seconds < 1.0, f"{name}: {seconds:.3f} s"


RIGHT = 'def add(a, b):\n    """Sum."""\n    return a + b\n'
WRONG = 'def add(a, b):\n    """Sum."""\n    return a * b if isinstance(a, int) else a + b\n'


def test_a_wrong_version_fails_with_the_call_the_expected_and_the_actual_value() -> None:
    tests = made_from(DOCSTRING_TASK)
    for code, failing in ((RIGHT, 0), (WRONG, 1)):
        files = {"solution.py": code}
        result = run_pytest({**files, TEST_FILE: render_tests(tests, files)}, [TEST_FILE])
        assert len(result.tests) == 3 and len(result.failed) == failing, result.output
    feedback = explain([{"test": f.id, "detail": f.detail} for f in result.failed])
    assert "add(1, 2) returned 2; the task's example expects 3" in feedback
