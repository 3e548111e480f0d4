"""The generated tests' file: snippets made runnable, and one pytest file that imports the code.

The Validator's tests are snippets of `assert` lines; `normalise` repairs them, and
`render_tests` writes them into one pytest file (`TEST_FILE`) that star-imports every module
of the project, which the sandbox runs with the Coder's own tests.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from typing import Any

TEST_FILE = "test_validator_designed.py"
"""The designed tests' file name in the project the sandbox runs."""


def normalise(code: str) -> str | None:
    """A snippet as runnable test code, or None if it is not Python or checks nothing.

    Small models often write `f(1) == 2` without the `assert`, or wrap the snippet in a
    code fence; both are repaired rather than thrown away.
    """
    text = re.sub(r"^```\w*\n?|```$", "", code.strip()).strip()
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    if any(isinstance(n, ast.FunctionDef | ast.ClassDef | ast.Return) for n in ast.walk(tree)):
        return None  # it wrote (part of) the code, not a test of it
    body: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Compare | ast.BoolOp):
            node = ast.Assert(test=node.value)
        body.append(node)
    tree.body = body
    fixed = ast.unparse(ast.fix_missing_locations(tree))
    return fixed if ("assert" in fixed or "pytest.raises" in fixed) else None


def modules_of(files: Mapping[str, str]) -> list[str]:
    """Importable module names of the project's code files (tests excluded)."""
    out = []
    for path in files:
        name = path.rsplit("/", 1)[-1]
        # A `__main__` is the program: importing it runs it (with pytest's arguments).
        if path.endswith(".py") and not name.startswith(("test_", "conftest", "__main__")):
            module = path[:-3].replace("/", ".").removesuffix(".__init__")
            if all(part.isidentifier() for part in module.split(".")):
                out.append(module)
    return out


def generated_test_header(files: Mapping[str, str]) -> str:
    """The top of a generated test file: pytest and a star import of each project module.

    Tests the code defines itself would be collected in that file too (and rank its own
    version by them), so every imported `test*`/`Test*` name is deleted again.
    """
    lines = ["import pytest", ""]
    lines += [f"from {module} import *  # noqa: F403" for module in modules_of(files)]
    lines += [
        "",
        'for _name in [n for n in dir() if n.startswith(("test", "Test"))]:',
        "    del globals()[_name]",
    ]
    return "\n".join(lines) + "\n"


MAX_TEST_NAME = 48
"""The longest designed test name: the Validator's schema bound, and where a slug is cut."""


def render_tests(tests: Sequence[Mapping[str, str]], files: Mapping[str, str]) -> str:
    """The designed tests as one pytest file that imports the project's modules."""
    lines = [
        '"""Tests designed by the Validator agent from the task and plan, not from the code."""',
        "",
        generated_test_header(files),
    ]
    for name, test in designed_names(tests):
        body = "\n".join(f"    {line}" for line in test["code"].strip().splitlines())
        lines += ["", "", f"def {name}():", body]
    return "\n".join(lines) + "\n"


def designed_names(tests: Sequence[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """Each designed test with its function name in the rendered file (duplicates dropped)."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    for i, test in enumerate(tests, 1):
        slug = re.sub(r"\W+", "_", test["name"].lower()).strip("_")[:MAX_TEST_NAME] or "case"
        name = f"test_{i:02d}_{slug}"
        if name not in {n for n, _ in out}:
            out.append((name, test))
    return out


def stated_ids(tests: Sequence[Mapping[str, Any]]) -> set[str]:
    """Test ids (as pytest reports them) of the designed tests marked `stated`."""
    return {f"{TEST_FILE}::{name}" for name, test in designed_names(tests) if test.get("stated")}
