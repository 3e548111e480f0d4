"""Tidying the Coder's files: demo code out of modules, cut replies cut back, tests collectable.

The examples are shapes the 1.5B Coder really wrote on the studio suite (bench/README.md).
The last test runs the files in the real sandbox.
"""

from __future__ import annotations

from terraqore.codecheck.code_tidy import tidy_files, tidy_module, tidy_test_file
from terraqore.codecheck.sandbox import run_pytest

WRAP = '''def wrap(text, width):
    """Wrap."""
    return text.split()


# Test cases
def test_wrap():
    assert wrap("a b", 1) == ["a", "b"]
    assert wrap("No words here", 10) == []
    print("All tests passed!")

test_wrap()
assert wrap("", 3) == []
print(wrap("x y", 1))
'''


def test_top_level_demo_code_leaves_the_module_and_the_definitions_stay() -> None:
    text, changes = tidy_module(WRAP)
    assert changes == ["removed 4 top-level demo or test statement(s)"]
    assert "def wrap(text, width):" in text and "return text.split()" in text
    assert "test_wrap" not in text and "print(" not in text and "\nassert" not in text
    compile(text, "solution.py", "exec")


def test_a_module_that_is_all_demo_or_has_a_main_guard_keeps_what_runs_only_as_a_script() -> None:
    only_demo = "print(1 + 1)\nassert True\n"
    assert tidy_module(only_demo) == (only_demo, [])
    guarded = 'def f():\n    return 1\n\n\nif __name__ == "__main__":\n    print(f())\n'
    assert tidy_module(guarded) == (guarded, [])
    setup = "import logging\nlogging.basicConfig()\n\n\ndef f():\n    return 1\n"
    assert tidy_module(setup) == (setup, [])  # a call that is not a demo stays


def test_a_reply_cut_inside_its_demo_is_cut_back_but_a_broken_definition_is_not() -> None:
    cut = 'def ok(s):\n    return True\n\n\nassert ok("1.2.3.4")\nassert ok("192.168.1.1.1.'
    text, changes = tidy_module(cut)
    assert changes[0] == "cut back to its last complete statement"
    assert "def ok(s):" in text and "192.168" not in text
    compile(text, "solution.py", "exec")
    broken = "def a():\n    return (x for x in\n\n\ndef b():\n    return 2\n"
    assert tidy_module(broken) == (broken, [])  # the error would take b() with it


def test_a_test_file_gets_its_import_and_loses_its_module_level_calls() -> None:
    own = "def test_f():\n    assert f(1) == 2\n\ntest_f()\nunittest.main()\n"
    text, changes = tidy_test_file(own, ["solution"])
    assert text.startswith("from solution import *")
    assert "test_f()\n" not in text.split("def test_f():")[1].split("\n", 2)[2]
    assert "unittest.main()" not in text
    assert changes == ["removed 2 module-level test call(s)", "imported the project's code"]
    imports = "from solution import f\n\ndef test_f():\n    assert f(1) == 2\n"
    assert tidy_test_file(imports, ["solution"]) == (imports, [])


def test_tidied_files_pass_in_the_sandbox_where_the_raw_ones_did_not() -> None:
    files = {
        "solution.py": 'def f(x):\n    """Double."""\n    return 2 * x\n\n\nassert f(2) == 5\n',
        "test_solution.py": "def test_f():\n    assert f(2) == 4\n\n\ntest_f()\n",
        "notes.txt": "kept as is",
    }
    raw = run_pytest(files, ["test_solution.py"])
    assert raw.passed == 0
    tidied, notes = tidy_files(files)
    assert tidied["notes.txt"] == "kept as is"
    assert any(n.startswith("solution.py: removed") for n in notes)
    result = run_pytest(tidied, ["test_solution.py"])
    assert result.passed == 1 and not result.failed


def test_a_test_file_that_cannot_import_does_not_hide_the_other_files_tests() -> None:
    files = {
        "solution.py": "def f(x):\n    return 2 * x\n",
        "test_broken.py": "import no_such_module\n\n\ndef test_never():\n    pass\n",
        "test_good.py": "from solution import f\n\n\ndef test_f():\n    assert f(2) == 4\n",
    }
    result = run_pytest(files, ["test_broken.py", "test_good.py"])
    assert result.passed == 1
    assert [t.outcome for t in result.tests if "broken" in t.id] == ["error"]


def test_text_the_parser_cannot_take_is_left_as_written_and_never_raises() -> None:
    deep = "def f():\n    return 1\n\n\nx = " + "+".join(["1"] * 3000) + "\nprint(x)\n"
    surrogate = "def f():\n    return '\ud800'\n\n\nprint(f())\n"
    for text in (deep, surrogate, "", "# only a comment\n"):
        assert tidy_files({"solution.py": text}) == ({"solution.py": text}, [])
    nul = "def f():\n    return 1\n\x00\n"  # a null byte ends it: cut back, not a crash
    assert tidy_files({"solution.py": nul})[0] == {"solution.py": "def f():\n    return 1\n"}
    assert tidy_module("x = 1\ny = [1, 2,\n") == ("x = 1\ny = [1, 2,\n", [])  # defines nothing


def test_nothing_that_shares_a_line_or_a_name_with_the_code_is_removed() -> None:
    shared = "import math; print(math.pi)\n\n\ndef area(r):\n    return math.pi * r * r\n"
    assert tidy_module(shared) == (shared, [])
    helper = "def test_password(pw):\n    return len(pw) > 8\n\n\ndef check(pw):\n"
    helper += "    return test_password(pw)\n"
    assert tidy_module(helper) == (helper, [])
    used = "def test_case():\n    return 3\n\n\nX = test_case()\n\n\ndef f():\n    return X\n"
    assert tidy_module(used)[0] == used
    breaks = 'SEP = "a\u2028b"\n\n\ndef f():\n    return SEP\n\x0c\n\nprint(f())\n'
    text, changes = tidy_module(breaks)
    assert changes and 'SEP = "a\u2028b"' in text and "print" not in text
    compile(text, "solution.py", "exec")


def test_the_added_import_goes_after_the_docstring_and_future_imports() -> None:
    own = '"""Tests."""\nfrom __future__ import annotations\n\n\ndef test_f():\n    assert f(1) == 2\n'
    text, _ = tidy_test_file(own, ["solution"])
    assert text.startswith('"""Tests."""\nfrom __future__ import annotations\nfrom solution import')
    compile(text, "test_solution.py", "exec")


def test_a_test_case_class_in_a_module_leaves_it_and_never_counts_as_a_designed_test() -> None:
    from terraqore.codecheck.test_file import TEST_FILE, render_tests

    module = (
        "import unittest\n\n\ndef f(x):\n    return 2 * x\n\n\n"
        "class TestF(unittest.TestCase):\n    def test_double(self):\n"
        "        self.assertEqual(f(2), 4)\n"
    )
    text, changes = tidy_module(module)
    assert "class TestF" not in text and "def f(x):" in text and changes
    # Untidied (a user's own pipeline, or a class the tidy step keeps), the designed file
    # still runs only its own tests: nothing the module defines is collected there.
    files = {"solution.py": module + "\n\ndef test_helper():\n    assert False\n"}
    designed = render_tests([{"name": "doubles", "code": "assert f(3) == 6"}], files)
    result = run_pytest({**files, TEST_FILE: designed}, [TEST_FILE])
    assert [t.id for t in result.tests] == [f"{TEST_FILE}::test_01_doubles"]
    assert result.passed == 1
