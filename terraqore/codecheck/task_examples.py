"""The task's own examples, read without a model, and the tests they become.

People state a function's behaviour in a few forms, and each is read here:

- inline, with or without backticks: `` `f("a")` is `"b"` ``, `f("a") returns "b"`,
  `f(2) == 4`, `f(2) -> 4` (also gives, yields, equals, should return, evaluates to, →, =>);
- input only, in a list or with backticks, when the task fixes one function:
  `` `"abc"` gives `"cba"` ``, `- "abc" -> "cba"`;
- doctest sessions: `>>> f(2)` and the expected line under it, a traceback's last line for
  an error, statements (`>>> c = LRUCache(2)`) that later checks depend on;
- a table whose last column is the result and whose other columns are the arguments.

`examples` gives the single calls (what `agents.validator.stated` matches a designed test
against); `example_tests` gives every example as a test the Validator need not restate. A
small model's expected values are often wrong, the task's are not: these tests are believed
first (see `terraqore.codecheck.selection`).

Every reader is bounded: the task is cut at `MAX_TASK` characters, every pattern is linear
or capped, and a value is parsed only when it is short.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MAX_TASK = 20_000
"""Characters of the task read for examples (a task is a request, not a corpus)."""
MAX_SOURCE = 400
"""Longest doctest line, table cell or expected value parsed."""
MAX_TESTS = 40
"""Tests made from the task's examples, at most."""
MAX_STEPS = 200
"""Doctest lines read, at most (grouping them by the names they share is quadratic)."""

Example = tuple[str, tuple[Any, ...], Any]
"""(function name, or "" when only the input is given; the arguments; the result)."""

_VERB = (
    r"\s*(?:is|gives|becomes|stays|returns|yields|equals|evaluates\s+to"
    r"|(?:should|must|will)\s+(?:return|give|be)|->|→|=>|==)\s+"
)
_QUOTED = r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\""
_RESULT = "|".join(
    [
        _QUOTED,
        r"-?\d+(?:\.\d+)?(?![\w.]*\d)",
        r"(?:True|False|None)\b",
        r"\[(?:[^\[\]\n]|\[[^\[\]\n]{0,200}\]){0,200}\]",
        r"\([^()\n]{0,200}\)",
        r"\{[^{}\n]{0,200}\}",
    ]
)
_EXAMPLE = re.compile(
    r"`(?P<given>[^`\n]{1,200})`\)?" + _VERB + r"(?:`(?P<out>[^`\n]{0,200})`"
    r"|(?P<bare>" + _RESULT + "))"
)
_ARG = "(?:" + _QUOTED + r"|[^()'\"`\n])"
_CALL = r"[A-Za-z_][\w.]{0,80}\((?:" + _ARG + r"|\(" + _ARG + r"{0,200}\)){0,200}\)"
_BARE_EXAMPLE = re.compile(
    # The same without backticks, as people type it: roman_to_int('XIV') is 14. Only a call
    # (a name, then parentheses that may hold quoted text and one level of parentheses) and
    # a literal that ends there: a number, a quoted string, True/False/None, or brackets.
    r"(?<![\w.`'\"])(?P<given>" + _CALL + ")" + _VERB + "(?P<out>" + _RESULT + ")"
)
_LIST_PAIR = re.compile(
    # One list item that pairs an input with its result: `- "abc" -> "cba"`, `2. 4 gives 16`.
    r"^[ \t]*(?:[-*+]|\d{1,3}[.)])[ \t]+(?P<given>" + _RESULT + r")[ \t]*"
    r"(?:->|→|=>|:|gives|returns|is)[ \t]*(?P<out>" + _RESULT + r")[ \t]*[.,;]?[ \t]*$",
    re.MULTILINE,
)
_ENDS_BLOCK = re.compile(r"^[ \t]*(?:```|\"\"\"|\'\'\')")
"""A fence or the end of a docstring: where a doctest's expected output stops."""
_PROMPT = re.compile(r"^(?P<indent>[ \t]*)(?:>>>|\.\.\.)(?: (?P<code>.*)|$)")
_TABLE_ROW = re.compile(r"^[ \t]*\|(?P<cells>.*)\|[ \t]*$")
_RULE_CELL = re.compile(r"^\s*:?-{2,}:?\s*$")
_NAME_IN_CELL = re.compile(r"^`?(?P<name>[A-Za-z_]\w{0,80})(?:\([^()]{0,200}\))?`?$")


def literal(source: str | ast.expr) -> tuple[bool, Any]:
    """(True, value) when `source` is a Python literal; (False, None) otherwise."""
    if isinstance(source, str) and len(source) > MAX_SOURCE:
        return False, None
    try:
        return True, ast.literal_eval(source)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def same(a: Any, b: Any) -> bool:
    """Equal, and not merely because True == 1."""
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def _parse_expr(source: str) -> ast.expr | None:
    if len(source) > MAX_SOURCE:
        return None
    try:
        return ast.parse(source.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _as_example(given: str, out: Any) -> Example | None:
    """A call with literal arguments (or a lone literal input) and its result, else None."""
    node = _parse_expr(given)
    if isinstance(node, ast.Call) and not node.keywords:
        args = [literal(a) for a in node.args]
        if all(ok for ok, _ in args):
            return ast.unparse(node.func), tuple(v for _, v in args), out
        return None
    if node is not None and (value := literal(node))[0]:
        return "", (value[1],), out
    return None


def examples(task: str) -> list[Example]:
    """The task's single-call examples (see `calls`), each named by its function's last name.

    `` `cache.get(1)` is `None` `` is ("get", (1,), None): a designed test that restates it
    calls it on an object the test made.
    """
    found: list[Example] = []
    for name, args, out in calls(task):
        example = (name.rsplit(".", 1)[-1], args, out)
        if example not in found:
            found.append(example)
    return found


def calls(task: str) -> list[Example]:
    """The task's single-call examples, in the inline, list, doctest and table forms.

    `` `f("a")` is `"b"` ``, `f("a") returns "b"`, `f(2) -> 4`, `- "a" -> "b"`, `>>> f(2)`
    then `4`, a table row. Each is (function name, or "" when the example gives only the
    input; the arguments; the result). A span that is not a call with literal arguments, or
    a literal, is skipped; an example stated twice is kept once.
    """
    text = task[:MAX_TASK]
    found: list[Example] = []
    for match in [*_EXAMPLE.finditer(text), *_BARE_EXAMPLE.finditer(text)]:
        source = match["out"] if match["out"] is not None else match.groupdict().get("bare")
        ok, out = literal(str(source))
        example = _as_example(match["given"], out) if ok else None
        if example and example not in found:
            found.append(example)
    for match in _LIST_PAIR.finditer(text):
        (ok_in, given), (ok_out, out) = literal(match["given"]), literal(match["out"])
        if ok_in and ok_out and ("", (given,), out) not in found:
            found.append(("", (given,), out))
    for session in doctest_sessions(text):
        for source, expected in session:
            ok, out = literal(expected) if expected is not None else (False, None)
            example = _as_example(source, out) if ok else None
            if example and example[0] and example not in found:
                found.append(example)
    for example in table_examples(text):
        if example not in found:
            found.append(example)
    return found


# --- doctest ---------------------------------------------------------------------------

Step = tuple[str, str | None]
"""One doctest example: its source, and its expected output (None when it shows none)."""


def doctest_sessions(text: str) -> list[list[Step]]:
    """The `>>>` examples of the text, grouped in runs (a blank line or prose ends a run).

    A `...` line continues the source; the lines under it, up to a blank line or the next
    prompt, are its expected output.
    """
    sessions: list[list[Step]] = []
    steps: list[Step] = []
    source: list[str] = []
    expected: list[str] = []

    def close_step() -> None:
        if source and sum(map(len, sessions)) + len(steps) < MAX_STEPS:
            want = "\n".join(expected).strip() or None
            steps.append(("\n".join(source), want))
        source.clear()
        expected.clear()

    def close_session() -> None:
        close_step()
        if steps:
            sessions.append(list(steps))
        steps.clear()

    for line in text[:MAX_TASK].splitlines():
        prompt = _PROMPT.match(line)
        if prompt and line.lstrip().startswith(">>>"):
            close_step()
            source.append(prompt["code"] or "")
        elif prompt and source and not expected:
            source.append(prompt["code"] or "")
        elif source and line.strip() and not _ENDS_BLOCK.match(line):
            expected.append(line.strip())
        else:
            close_step() if source else close_session()
            if not line.strip() or _ENDS_BLOCK.match(line):
                close_session()
    close_session()
    return sessions


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def bound_names(node: ast.AST) -> set[str]:
    """The names a piece of code binds: assignment targets, loop variables, imports."""
    bound = {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    for imp in ast.walk(node):
        if isinstance(imp, ast.Import | ast.ImportFrom):
            bound |= {(a.asname or a.name).split(".")[0] for a in imp.names}
    return bound


def _parse(source: str) -> ast.Module | None:
    if len(source) > MAX_SOURCE * 4:
        return None
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


_TRACEBACK_LAST = re.compile(r"^(?P<error>[A-Za-z_][\w.]{0,80})(?::.*)?$")


def _step_lines(tree: ast.Module, expected: str | None, errors: set[str]) -> list[str] | None:
    """Test lines that check one doctest step; None when it cannot be checked as stated."""
    if expected is None:
        return None
    if expected.startswith("Traceback (most recent call last)"):
        match = _TRACEBACK_LAST.match(expected.splitlines()[-1].strip())
        error = match["error"].rsplit(".", 1)[-1] if match else ""
        if error not in errors:
            return None
        body = ast.unparse(tree).splitlines()
        return [f"with pytest.raises({error}):", *(f"    {line}" for line in body)]
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    return check_lines(ast.unparse(tree.body[0].value), expected)


def check_lines(call: str, expected: str) -> list[str] | None:
    """`assert` lines that say the call, the expected and the actual value when they differ.

    A literal is compared by value (True, False and None by identity, a float approximately);
    any other expected text is compared with the value's repr, as doctest does.
    """
    ok, value = literal(expected)
    if ok and (isinstance(value, bool) or value is None):
        compare, shown = f"_actual is {value!r}", repr(value)
    elif ok and isinstance(value, float):
        compare, shown = f"_actual == pytest.approx({value!r})", repr(value)
    elif ok:
        compare, shown = f"_actual == {value!r}", repr(value)
    elif _parse_expr(expected) is not None and "..." not in expected:
        compare, shown = f"repr(_actual) == {expected!r}", expected
    else:
        return None
    said = f"; the task's example expects {shown}"
    return [
        f"_actual = {call}",
        f"assert {compare}, {call + ' returned '!r} + repr(_actual) + {said!r}",
    ]


def _session_tests(steps: Sequence[Step], errors: set[str], names: set[str]) -> list[list[str]]:
    """Doctest steps as tests: a step that uses what an earlier one bound joins its test.

    A step whose output cannot be checked still runs (it may change what later steps see).
    A test that uses a name nothing defines (neither the task's names, nor a built-in, nor
    an earlier step) is left out: it could only fail.
    """
    groups: list[tuple[set[str], set[str], list[str], bool]] = []
    for source, expected in steps:
        tree = _parse(source)
        if tree is None:
            continue
        lines = _step_lines(tree, expected, errors)
        checked = lines is not None
        lines = lines or ast.unparse(tree).splitlines()
        used, bound = _names_used(tree), bound_names(tree)
        # The earlier tests that bound a name this step uses become one, with it at the end.
        joined = [g for g in groups if used & g[0]]
        had = set().union(*(g[0] for g in joined))
        uses = set().union(*(g[1] for g in joined)) | (used - had - bound)
        body = [line for g in joined for line in g[2]] + lines
        merged = (had | bound, uses, body, checked or any(g[3] for g in joined))
        at = (
            next((i for i, g in enumerate(groups) if g is joined[0]), len(groups))
            if joined
            else len(groups)
        )
        rest = [g for g in groups if all(g is not j for j in joined)]
        groups = [*rest[:at], merged, *rest[at:]]
    known = names | set(dir(builtins)) | {"pytest"}
    return [body for _, uses, body, checked in groups if checked and uses <= known]


# --- tables ----------------------------------------------------------------------------


def table_examples(text: str, functions: Mapping[str, int] | None = None) -> list[Example]:
    """Rows of Markdown tables as examples: the last column the result, the others the input.

    The function is the one a header cell names (`f` or `f(x)`), else "" (the caller
    resolves it: `resolve`). A row whose cells are not all literals is skipped.
    """
    found: list[Example] = []
    rows: list[list[str]] = []
    for line in [*text[:MAX_TASK].splitlines(), ""]:
        match = _TABLE_ROW.match(line)
        if match:
            rows.append([c.strip() for c in match["cells"].split("|")][:12])
            continue
        if len(rows) >= 3 and all(_RULE_CELL.match(c) for c in rows[1]):
            found += _table(rows, functions or {})
        rows = []
    return found


def _table(rows: list[list[str]], functions: Mapping[str, int]) -> list[Example]:
    header, body = rows[0], rows[2:]
    if len(header) < 2:
        return []
    # The function is the header cell that is a call (`f(x)`), else one the task fixes.
    called = [m["name"] for c in header if "(" in c and (m := _NAME_IN_CELL.match(c))]
    named = [m["name"] for c in header if (m := _NAME_IN_CELL.match(c))]
    name = next(iter(called), "") or next((n for n in named if n in functions), "")
    out = []
    for row in body:
        if len(row) != len(header):
            continue
        values = [literal(cell.strip("`")) for cell in row]
        if all(ok for ok, _ in values):
            *given, result = (v for _, v in values)
            out.append((name, tuple(given), result))
    return out


# --- tests -----------------------------------------------------------------------------


def resolve(example: Example, functions: Mapping[str, int]) -> Example | None:
    """An input-only example given its function, when the task fixes just one (else None).

    `functions` maps each top-level function the task fixes to its positional arity (-1:
    unknown). A tuple input spreads over the arguments when the arity asks for it.
    """
    name, args, out = example
    if name:
        return example
    if len(functions) != 1:
        return None
    ((only, arity),) = functions.items()
    if arity in (-1, len(args)):
        return only, args, out
    if len(args) == 1 and isinstance(args[0], tuple) and len(args[0]) == arity:
        return only, tuple(args[0]), out
    return None


def call_source(example: Example) -> str:
    """An example's call as test code: `is_palindrome('ab')`."""
    name, args, _ = example
    return f"{name}({', '.join(repr(a) for a in args)})"


def _canonical(source: str) -> str:
    tree = _parse(source)
    return ast.unparse(tree) if tree is not None else source.strip()


def _slug(text: str) -> str:
    return re.sub(r"\W+", "_", text.lower()).strip("_")[:30] or "case"


def example_tests(
    task: str, functions: Mapping[str, int], names: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Every example the task states, as designed tests marked `stated` (origin `task`).

    `functions`: the top-level functions the task fixes and their positional arities
    (`terraqore.codecheck.task_contract.functions`), which gives an input-only example its function.
    `names`: every name the task fixes (its classes may be a doctest's expected error).
    """
    text = task[:MAX_TASK]
    names = {*names, *functions}
    errors = {n for n in dir(builtins) if n[:1].isupper() and n.endswith(("Error", "Exception"))}
    errors |= {"StopIteration", *names}
    tests: list[dict[str, Any]] = []

    def add(lines: list[str]) -> None:
        body = "\n".join(lines)
        if len(tests) < MAX_TESTS and all(t["code"] != body for t in tests):
            name = f"task_example_{_slug(lines[0].removeprefix('_actual = '))}"
            tests.append({"name": name, "code": body, "stated": True, "origin": "task"})

    steps = [step for session in doctest_sessions(text) for step in session]
    for lines in _session_tests(steps, errors, names):
        add(lines)
    shown = {_canonical(source) for source, _ in steps}
    for example in calls(text):
        resolved = resolve(example, functions)
        if resolved is None or not resolved[0].isidentifier():
            continue
        call = call_source(resolved)
        checked = check_lines(call, repr(resolved[2]))
        if checked and _canonical(call) not in shown:
            add(checked)
    return tests
