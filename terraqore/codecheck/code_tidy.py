"""Tidy the Coder's files before they run: demo code out of modules, test files made runnable.

A small model writing a module often appends a demo of it: `assert` lines, a `test_x()`
call, `print(f(3))`. Importing the module then runs them, and one wrong expectation (its own,
not the task's) makes the module fail to import, so every test of otherwise correct code
fails (bench/README.md, "The studio graph", counts how often). A reply cut by the token cap
ends inside such demo code, and the module no longer parses. Its own test files call their
tests at module level, or forget to import what they test, and break pytest's collection.

Everything here works on the syntax tree (`ast`): nothing is executed. The definitions are
never touched; only top-level statements that are demo code go, and a cut reply loses only
its last, unfinished top-level statements.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping

from terraqore.codecheck.test_file import modules_of

MAX_TIDY_BYTES = 200_000
"""Larger files are left as they are (parsing is bounded like everything else we read)."""


def is_test_path(path: str) -> bool:
    """Whether a file is a pytest test file (`test_*.py` or `*_test.py`)."""
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


_UNREADABLE = (SyntaxError, ValueError, RecursionError, MemoryError, UnicodeError)
"""What `ast.parse` raises on text it cannot take: bad syntax, null bytes, deep nesting, a
lone surrogate. Such a file is left as it is (the tests will say what is wrong with it)."""

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""Python's line breaks only (`str.splitlines` also splits on form feeds and U+2028, which
would shift line numbers against the parser's)."""


def _lines(text: str) -> list[str]:
    return _LINE_BREAK.split(text)


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except _UNREADABLE:
        return None


def _is_test_name(name: str) -> bool:
    return name == "test" or name.startswith("test_")


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


def _is_test_call(node: ast.stmt) -> bool:
    name = _called_name(node)
    return name is not None and (_is_test_name(name) or name == "unittest.main")


def _is_test_case(node: ast.ClassDef) -> bool:
    """Whether a class derives from `unittest.TestCase` (or a bare `TestCase`)."""
    return any(
        (isinstance(b, ast.Name) and b.id == "TestCase")
        or (isinstance(b, ast.Attribute) and b.attr == "TestCase")
        for b in node.bases
    )


def _demo(tree: ast.Module) -> list[ast.stmt]:
    """Top-level statements that only demonstrate or test the module's code.

    `assert` lines, `print(...)` and `test_x()` calls, argument-free `test_*` functions and
    `unittest.TestCase` classes named `Test*` that nothing else in the module uses (a real
    `test_password(pw)` helper stays).
    """
    calls = [
        n
        for n in tree.body
        if isinstance(n, ast.Assert) or _is_test_call(n) or _called_name(n) == "print"
    ]
    used = {
        n.id
        for stmt in tree.body
        if stmt not in calls
        for n in ast.walk(stmt)
        if isinstance(n, ast.Name)
    }
    tests = [
        n
        for n in tree.body
        if (isinstance(n, ast.FunctionDef) and _is_test_name(n.name) and not n.args.args)
        or (isinstance(n, ast.ClassDef) and n.name.startswith("Test") and _is_test_case(n))
    ]
    tests = [n for n in tests if n.name not in used]
    return [n for n in tree.body if n in calls or n in tests]


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
    lines = _lines(text)
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
        except _UNREADABLE:
            return None
        cut = lines[end:]
        if not end or any(_defines(line) for line in cut):
            return None  # the error is not in a cut tail: it would lose definitions
        return "\n".join(lines[:end]).rstrip() + "\n"
    return None


def _span(node: ast.stmt) -> range:
    start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
    return range(start, (node.end_lineno or node.lineno) + 1)


def _without(text: str, tree: ast.Module, drop: list[ast.stmt]) -> str | None:
    """The text with the given top-level statements cut out, or None if that is not safe.

    Statements go by whole lines, so one that shares a line with a kept statement
    (`import math; print(math.pi)`) stays; and the result must parse to exactly the kept
    statements, or nothing is cut.
    """
    keep = [n for n in tree.body if n not in drop]
    kept_lines = {i for n in keep for i in _span(n)}
    drop = [n for n in drop if not set(_span(n)) & kept_lines]
    if not drop:
        return None
    gone = {i for n in drop for i in _span(n)}
    out = "\n".join(line for i, line in enumerate(_lines(text), 1) if i not in gone)
    out = out.rstrip() + "\n"
    after = _parse(out)
    expected = [ast.dump(n) for n in tree.body if n not in drop]
    if after is None or [ast.dump(n) for n in after.body] != expected:
        return None
    return out


def tidy_module(text: str) -> tuple[str, list[str]]:
    """A code module without its top-level demo code; cut back to whole statements if cut.

    Returns the text and what was changed (empty when nothing was). A module that defines
    nothing once its demo is gone, or that does not parse even cut back, is left as it is.
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_TIDY_BYTES:
        return text, []
    original, changes = text, []
    tree = _parse(text)
    if tree is None:
        prefix = _complete_prefix(text)
        tree = _parse(prefix) if prefix else None
        if prefix is None or tree is None:
            return original, []
        text = prefix
        changes.append("cut back to its last complete statement")
    demo = _demo(tree)
    defines = [
        n
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n not in demo
    ]
    if not defines:
        return original, []
    if demo and (tidied := _without(text, tree, demo)) is not None:
        removed = len(tree.body) - len(ast.parse(tidied).body)
        text = tidied
        changes.append(f"removed {removed} top-level demo or test statement(s)")
    return text, changes


def _import_line(tree: ast.Module) -> int:
    """The line after the docstring and the `__future__` imports (0: the top)."""
    after = 0
    for i, node in enumerate(tree.body):
        docstring = (
            i == 0
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        )
        if docstring or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            after = node.end_lineno or node.lineno
        else:
            break
    return after


def tidy_test_file(text: str, modules: list[str]) -> tuple[str, list[str]]:
    """A test file that pytest can collect: no module-level test calls, the code imported.

    A test file that imports none of the project's modules gets `from <module> import *`
    for each (after its docstring and `__future__` imports), so its tests see what they test.
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_TIDY_BYTES:
        return text, []
    tree = _parse(text)
    if tree is None:
        return text, []
    changes = []
    calls = [n for n in tree.body if _is_test_call(n)]
    if calls and (tidied := _without(text, tree, calls)) is not None:
        removed = len(tree.body)
        text, tree = tidied, ast.parse(tidied)
        changes.append(f"removed {removed - len(tree.body)} module-level test call(s)")
    imported = {
        n.module.split(".")[0] if isinstance(n, ast.ImportFrom) and n.module else ""
        for n in tree.body
        if isinstance(n, ast.ImportFrom)
    } | {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    missing = [m for m in modules if m.split(".")[0] not in imported]
    if modules and len(missing) == len(modules):
        lines = _lines(text)
        at = _import_line(tree)
        added = [f"from {m} import *  # noqa: F403" for m in modules]
        text = "\n".join([*lines[:at], *added, *lines[at:]])
        changes.append("imported the project's code")
    return text, changes


def _source(lines: list[str], node: ast.stmt) -> str:
    """A top-level statement's lines as written, decorators included."""
    return "\n".join(lines[i - 1] for i in _span(node))


def _demo_tests(text: str) -> tuple[list[str], list[str], list[str]]:
    """A module's demo checks: (`assert` lines, `test_*` functions and cases, its imports).

    Prints and `test_x()` calls are not checks; they are only dropped (`tidy_module`). The
    absolute imports come along, for what the checks use (`math`, `unittest`).
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_TIDY_BYTES:
        return [], [], []
    tree = _parse(text)
    if tree is None:
        return [], [], []
    lines = _lines(text)
    asserts, defs = [], []
    imports = [
        _source(lines, node)
        for node in tree.body
        if isinstance(node, ast.Import)
        or (isinstance(node, ast.ImportFrom) and not node.level and node.module != "__future__")
    ]
    for node in _demo(tree):
        if isinstance(node, ast.Assert):
            asserts.append(_source(lines, node).strip())
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            defs.append(_source(lines, node))
    return asserts, defs, imports if asserts or defs else []


def demo_to_test_file(
    files: Mapping[str, str], wanted: list[str]
) -> tuple[dict[str, str], list[str]]:
    """A test file the task names and the answer lacks, made from its modules' demo checks.

    Asked for `test_dateparse.py`, a small model often puts its checks at the end of
    `dateparse.py` instead, where `tidy_module` removes them. When exactly one named test
    file is missing and the code modules hold demo checks, they become that file: the
    `assert` lines one test, each `test_*` function or test case as written. Run before
    `tidy_files`, which then imports the project's code into it and clears the modules.
    """
    missing = [p for p in wanted if is_test_path(p) and p not in files]
    if len(missing) != 1:
        return dict(files), []
    asserts: list[str] = []
    defs: list[str] = []
    imports: list[str] = []
    for path, text in files.items():
        if path.endswith(".py") and not is_test_path(path):
            found = _demo_tests(text)
            asserts += found[0]
            defs += found[1]
            imports += [i for i in found[2] if i not in imports]
    if not asserts and not defs:
        return dict(files), []
    parts = ['"""Checks the code ran at import, moved here (the task names this file)."""', ""]
    parts += imports
    if asserts:
        body = "\n".join(f"    {line}" for a in asserts for line in a.splitlines())
        parts += ["", "", "def test_checks_from_the_module():", body, ""]
    parts += [f"\n{d}\n" for d in defs]
    text = "\n".join(parts).rstrip() + "\n"
    if _parse(text) is None:
        return dict(files), []
    count = len(asserts) + len(defs)
    return {**files, missing[0]: text}, [f"{missing[0]}: made from {count} demo check(s)"]


def tidy_files(files: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Every file tidied (see the module doc); notes name each file changed and how."""
    modules = modules_of(files)
    out: dict[str, str] = {}
    notes: list[str] = []
    for path, text in files.items():
        out[path] = text
        if not path.endswith(".py"):
            continue
        try:
            tidy = tidy_test_file(text, modules) if is_test_path(path) else tidy_module(text)
        except _UNREADABLE:  # a tree too deep to compare: the file is kept as written
            continue
        out[path] = tidy[0]
        notes += [f"{path}: {change}" for change in tidy[1]]
    return out, notes
