"""What the tests reached, read against the task's names: the report's "untested"."""

from __future__ import annotations

import textwrap

from nodes.report import outcome
from terraqore.codecheck.reach import partly, reach, unreached, untested
from terraqore.codecheck.task_contract import read_contract

CODE = textwrap.dedent(
    '''
    import os


    def find_duplicates(folder):
        """Group files by content."""
        groups = {}
        for root, _, names in os.walk(folder):
            for name in names:
                groups.setdefault(name, []).append(root)
        return [g for g in groups.values() if len(g) > 1]


    class Cli:
        def run(self, argv):
            return 0


    def main():
        return Cli().run([])
    '''
)


def test_each_function_and_method_counts_its_own_lines_docstring_and_def_aside() -> None:
    found = reach({"dupes.py": CODE}, {"dupes.py": [7, 8, 11]})
    by_name = {r["name"]: r for r in found}
    assert list(by_name) == ["find_duplicates", "Cli.run", "main"]
    assert by_name["find_duplicates"] == {
        "file": "dupes.py", "name": "find_duplicates", "lines": 5, "ran": 3
    }  # fmt: skip
    assert unreached(found) == ["Cli.run", "main"]
    assert partly(found) == ["find_duplicates (3 of 5 lines)"]


def test_only_the_task_s_named_callables_make_a_build_untested() -> None:
    contract = read_contract("Write find_duplicates(folder) in dupes.py, and a main() for a CLI.")
    found = reach({"dupes.py": CODE}, {"dupes.py": [7, 8, 11]})
    assert untested(found, contract) == ["main"]
    assert untested(reach({"dupes.py": CODE}, {"dupes.py": []}), contract) == [
        "find_duplicates",
        "main",
    ]
    assert untested(found, None) == []


def test_code_that_does_not_compile_or_is_too_long_reaches_nothing() -> None:
    assert reach({"a.py": "def broken(:\n"}, {"a.py": [1]}) == []
    long = "def f():\n    return 1\n" + "#" * 300_000
    assert reach({"a.py": long}, {"a.py": [2]}) == []
    assert reach({}, {"missing.py": [1]}) == []


def test_passing_tests_that_never_called_the_task_s_function_are_not_a_pass() -> None:
    gate = {"verdict": "pass"}
    passing = {"passed": True, "sandbox": "bwrap", "failures": []}
    assert outcome(passing, gate) == "pass"
    assert outcome({**passing, "untested": ["find_duplicates"]}, gate) == "untested"
    doubted = {
        "passed": False,
        "sandbox": "bwrap",
        "failures": [{"test": "t::a", "detail": ""}],
        "doubted": ["t::a"],
    }
    assert outcome(doubted, gate) == "doubted"
    assert outcome({**doubted, "untested": ["main"]}, gate) == "untested"
    failing = {**doubted, "doubted": []}
    assert outcome({**failing, "untested": ["main"]}, gate) == "fail"
