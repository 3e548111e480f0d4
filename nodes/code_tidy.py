"""Tidy the Coder's files before they run: demo code out of modules, test files made runnable.

A small model writing a module often appends a demo of it: `assert` lines, a `test_x()`
call, `print(f(3))`. Importing the module then runs them, and one wrong expectation (its own,
not the task's) makes the module fail to import, so every test of otherwise correct code
fails (bench/README.md, "The studio graph": 4 of the 12 single calls the suite failed, and a
graph run, failed this way). A reply cut by the token cap ends inside such demo code, and the
module no longer parses. Its own test files call their tests at module level, or forget to
import what they test, and break pytest's collection.

Everything here works on the syntax tree (`ast`): nothing is executed. The definitions are
never touched; only top-level statements that are demo code go, and a cut reply loses only
its last, unfinished top-level statements.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

MAX_TIDY_BYTES = 200_000
"""Larger files are left as they are (parsing is bounded like everything else we read)."""


def is_test_path(path: str) -> bool:
    """Whether a file is a pytest test file (`test_*.py` or `*_test.py`)."""
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def _called_name(node: ast.stmt) -> str | None:
    """The name a top-level call statement calls (`f` in `f(1)`, `main` in `unittest.main()`)."""
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return None
    func = node.value.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return None


def _is_demo(node: ast.stmt) -> bool:
    """A top-level statement that only demonstrates or tests the module's code."""
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
        return True
    name = _called_name(node)
    return name is not None and (
        name == "print" or name.startswith("test") or name == "unittest.main"
    )


def _defines(line: str) -> bool:
    """Whether a line starts a top-level definition that is not a test."""
    return line.startswith(("def ", "class ", "async def ", "@")) and not line.startswith(
        ("def test", "class Test")
    )


def _complete_prefix(text: str) -> str | None:
    """The longest run of whole top-level statements that parses, for a reply cut short.

    Only a cut *end* is repaired (the model stopped at its token cap): the text is cut back
    to the start of a top-level line before the syntax error, at most 50 times, and only if
    no definition is lost (an error among the definitions is the Coder's to fix).
    """
    lines = text.splitlines()
    end = len(lines)
    for _ in range(50):
        try:
            ast.parse("\n".join(lines[:end]))
        except SyntaxError as exc:
            stop = min(end, exc.lineno or end) - 1
            while stop > 0 and (not lines[stop] or lines[stop][0] in " \t#)]}"):
                stop -= 1
            if stop <= 0 or stop >= end:
                return None
            end = stop
            continue
        cut = lines[end:]
        if not end or any(_defines(line) for line in cut):
            return None  # the error is not in a cut tail: it would lose definitions
        return "\n".join(lines[:end]).rstrip() + "\n"
    return None


def _without(text: str, tree: ast.Module, drop: list[ast.stmt]) -> str:
    """The text with the given top-level statements cut out (by their line spans)."""
    gone: set[int] = set()
    for node in drop:
        start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
        gone.update(range(start, (node.end_lineno or node.lineno) + 1))
    kept = [line for i, line in enumerate(text.splitlines(), 1) if i not in gone]
    return "\n".join(kept).rstrip() + "\n"


def tidy_module(text: str) -> tuple[str, list[str]]:
    """A code module without its top-level demo code; cut back to whole statements if cut.

    Returns the text and what was changed (empty when nothing was). A module that defines
    nothing once its demo is gone, or that does not parse even cut back, is left as it is.
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_TIDY_BYTES:
        return text, []
    changes = []
    try:
        tree = ast.parse(text)
    except SyntaxError:
        prefix = _complete_prefix(text)
        if prefix is None:
            return text, []
        text, tree = prefix, ast.parse(prefix)
        changes.append("cut back to its last complete statement")
    demo = [node for node in tree.body if _is_demo(node)]
    defines = [
        n
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n not in demo
    ]
    if demo and defines:
        text = _without(text, tree, demo)
        changes.append(f"removed {len(demo)} top-level demo or test statement(s)")
    elif changes and not defines:
        return text, []
    return text, changes


def tidy_test_file(text: str, modules: list[str]) -> tuple[str, list[str]]:
    """A test file that pytest can collect: no module-level test calls, the code imported.

    A test file that imports none of the project's modules gets `from <module> import *`
    for each, so its tests can see what they test.
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_TIDY_BYTES:
        return text, []
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text, []
    changes = []
    calls = [
        n
        for n in tree.body
        if (name := _called_name(n)) and (name.startswith("test") or name == "unittest.main")
    ]
    if calls:
        text = _without(text, tree, calls)
        changes.append(f"removed {len(calls)} module-level test call(s)")
    imported = {
        n.module.split(".")[0] if isinstance(n, ast.ImportFrom) and n.module else ""
        for n in tree.body
        if isinstance(n, ast.ImportFrom)
    } | {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    missing = [m for m in modules if m.split(".")[0] not in imported]
    if modules and len(missing) == len(modules):
        lines = [f"from {m} import *  # noqa: F403" for m in modules]
        text = "\n".join(lines) + "\n" + text
        changes.append("imported the project's code")
    return text, changes


def tidy_files(files: Mapping[str, str], modules: list[str]) -> tuple[dict[str, str], list[str]]:
    """Every file tidied (see the module doc); notes name each file changed and how."""
    out: dict[str, str] = {}
    notes: list[str] = []
    for path, text in files.items():
        if not path.endswith(".py"):
            out[path] = text
            continue
        if is_test_path(path):
            out[path], changes = tidy_test_file(text, modules)
        else:
            out[path], changes = tidy_module(text)
        notes += [f"{path}: {change}" for change in changes]
    return out, notes
