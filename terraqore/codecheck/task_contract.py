"""The task's contract: the names the task fixes, read without a model.

A user who asks for `is_palindrome(text)` calls `is_palindrome`; code that names it
`text_palindrome` fails them however correct it is. So the names are read from the task
itself, before any agent runs:

- functions and classes with their parameters, from `def`/`class` lines (a method is a `def`
  indented under a `class`) and from `name(args)` in prose (`slugify(text)`; a call with
  literal arguments, `slugify("Hi")`, fixes the name and how many arguments it takes), and
  classes named in prose (`ConfigError(Exception)`, "an exception class `UnitError`");
- `.py` file names, module names (`python -m name`, module `name`), command names
  (command `name`, a `$ name ...` line).

Left out: built-ins (`len(x)`), method calls (`cache.get(key)`), dunders, a plural marker
(`file(s)`), one-letter notation in prose (`f(x)`, unless called with literals), imported
names, doctest output, and a name that is a parameter of another callable (`key(item)` where
the task fixes `dedupe(items, key=None)`).

The contract is plain data for the state (`read_contract`); `codecheck.contract_check` holds
code and plans to it. The reader is bounded: the task is cut at `MAX_TASK` characters and
every pattern is linear with capped repeats.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
from collections.abc import Mapping
from typing import Any

from terraqore.codecheck.task_examples import calls

MAX_TASK = 20_000
"""Characters of the task read for its names."""
MAX_NAMES = 30
"""Callables a contract holds, at most (a task that names more is not a function spec)."""

Contract = dict[str, Any]
"""`callables` (each `name`, `kind` (`function`, `class` or `method`), `owner` (the class of
a method), `params` (as written, or None when only example calls were seen) and `arities`
(argument counts of the example calls)), `files`, `modules`, `commands`, and `homes`: the
file each top-level name belongs in, where the task says so on one line."""

_DEF = re.compile(
    r"^(?P<indent>[ \t]{0,40})(?:async[ \t]+)?(?P<kind>def|class)[ \t]+"
    r"(?P<name>[A-Za-z_]\w{0,79})[ \t]*(?P<open>\()?",
    re.MULTILINE,
)
MAX_SIGNATURE = 600
"""Characters of a `def` line's argument text read (defaults may hold calls: `frozenset()`)."""
_NAMED_CLASS = re.compile(
    r"\b(?:exception|error)?[ \t]*class(?:es)?[ \t]+(?:called[ \t]+|named[ \t]+)?"
    r"`(?P<name>[A-Z]\w{0,79})`"
)
_PROSE_CALL = re.compile(r"(?<![\w.])(?P<name>[A-Za-z_]\w{0,79})\((?P<args>[^()\n]{0,300})\)")
_FILE = re.compile(
    r"(?<![\w./-])(?P<path>(?:[A-Za-z_][\w-]{0,40}/){0,5}[A-Za-z_][\w-]{0,60}\.py)\b"
)
_MODULE = re.compile(
    r"python3?[ \t]+-m[ \t]+(?P<a>[A-Za-z_][\w.]{0,80})"
    r"|\b(?:module|package)[ \t]+(?:called[ \t]+|named[ \t]+)?`(?P<b>[A-Za-z_][\w.]{0,80})`"
)
_COMMAND = re.compile(
    r"\b(?:command|CLI|tool|program)[ \t]+(?:called[ \t]+|named[ \t]+)?"
    r"`(?P<a>[A-Za-z_][\w-]{0,40})`"
    r"|`(?P<b>[A-Za-z_][\w-]{0,40})`[ \t]+(?:command|CLI)\b"
    r"|^[ \t]{0,8}\$[ \t]+(?P<c>[A-Za-z_][\w-]{0,40})\b",
    re.MULTILINE,
)
_NOT_COMMANDS = frozenset({"python", "python3", "pip", "cd", "ls", "cat", "echo", "git", "make"})
_BUILTINS = frozenset(dir(builtins)) | frozenset(keyword.kwlist)


def _params(args: str) -> list[str] | None:
    """The parameters of a signature's argument text, as written; None if it is not one."""
    try:
        tree = ast.parse(f"def _f({args}): pass")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef)
    out = []
    a = node.args
    positional = [*a.posonlyargs, *a.args]
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for arg, default in zip(positional, defaults, strict=True):
        out.append(arg.arg + ("=…" if default is not None else ""))
    if a.vararg:
        out.append(f"*{a.vararg.arg}")
    elif a.kwonlyargs:
        out.append("*")
    for arg, kw_default in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        out.append(arg.arg + ("=…" if kw_default is not None else ""))
    if a.kwarg:
        out.append(f"**{a.kwarg.arg}")
    return out


def _balanced(text: str, start: int) -> str | None:
    """The text inside the parenthesis opened just before `start`, up to its match.

    None if it does not close within `MAX_SIGNATURE` characters.
    """
    depth = 1
    for i, char in enumerate(text[start : start + MAX_SIGNATURE]):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return text[start : start + i]
    return None


def _bases(name: str, args: str) -> bool:
    """`ConfigError(Exception)`: a class named with its bases, not a signature."""
    parts = [a.strip() for a in args.split(",")]
    return name[:1].isupper() and all(
        p.isidentifier()
        and p[:1].isupper()
        and (p in _BUILTINS or p.endswith(("Error", "Exception", "Base")))
        for p in parts
    )


def _example_arity(args: str) -> int | None:
    """How many arguments a call with literal arguments passes; None if it is not one."""
    try:
        node = ast.parse(f"_f({args})", mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if not isinstance(node, ast.Call) or node.keywords:
        return None
    try:
        for arg in node.args:
            ast.literal_eval(arg)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return len(node.args)


def _plural(name: str, args: str) -> bool:
    """`file(s)`, `match(es)`: English, not a call."""
    return args.strip() in ("s", "es") and name.isalpha() and name.islower()


def _entry(
    name: str, kind: str, owner: str = "", params: list[str] | None = None
) -> dict[str, Any]:
    return {"name": name, "kind": kind, "owner": owner, "params": params, "arities": []}


def _defs(text: str) -> list[dict[str, Any]]:
    """Entries from `def` and `class` lines; an indented `def` under a `class` is a method."""
    found = []
    classes: list[tuple[int, str]] = []  # (indent, name) of the classes still open
    functions: list[int] = []  # indents of the functions still open
    for match in _DEF.finditer(text):
        indent = len(match["indent"].expandtabs(4))
        classes = [(i, n) for i, n in classes if i < indent]
        functions = [i for i in functions if i < indent]
        name = match["name"]
        if match["kind"] == "class":
            if not functions:
                found.append(_entry(name, "class", classes[-1][1] if classes else ""))
                classes.append((indent, name))
            continue
        inner = bool(functions) and (not classes or functions[-1] > classes[-1][0])
        functions.append(indent)
        args = _balanced(text, match.end()) if match["open"] else None
        params = _params(args) if args is not None else None
        if inner or params is None:
            continue  # a function inside a function is its own business
        if classes:
            owner = classes[-1][1]
            params = params[1:] if params[:1] in (["self"], ["cls"]) else params
            if name == "__init__":
                for entry in found:
                    if entry["name"] == owner and entry["kind"] == "class":
                        entry["params"] = params
                continue
            found.append(_entry(name, "method", owner, params))
        else:
            found.append(_entry(name, "function", "", params))
    return found


def _prose(text: str, fixed: set[str]) -> list[dict[str, Any]]:
    """Entries from `name(args)` in prose: a signature, or a call with literal arguments."""
    found: list[dict[str, Any]] = []
    for match in _PROSE_CALL.finditer(text):
        name, args = match["name"], match["args"]
        if name in _BUILTINS or name.startswith("__") or _plural(name, args):
            continue
        if _bases(name, args):
            if name not in fixed and all(e["name"] != name for e in found):
                found.append(_entry(name, "class"))
            continue
        if len(name) == 1 and _example_arity(args) is None:
            continue  # `f(x)`, `x(t)`: notation, not a name (`f(2) == 4` still counts)
        if text[max(0, match.start() - 6) : match.start()].rstrip().endswith(("def", "class")):
            continue  # a `def` line: read by _defs
        arity = _example_arity(args) if args.strip() else 0
        params = None if arity is not None else _params(args)
        if arity is None and params is None:
            continue
        entry = next((e for e in found if e["name"] == name), None)
        if entry is None and name not in fixed:
            entry = _entry(name, "function", "", params)
            found.append(entry)
        elif entry is not None and entry["params"] is None and params is not None:
            entry["params"] = params
        if entry is not None and arity is not None and arity not in entry["arities"]:
            entry["arities"].append(arity)
    return found


_IMPORTED = re.compile(
    r"^[ \t>.]*(?:from[ \t]+[\w.]{1,80}[ \t]+)?import[ \t]+(?P<names>[\w., \t]{1,300})$",
    re.MULTILINE,
)
_OUTPUT_AFTER = re.compile(r"^[ \t]*(?:>>>|\.\.\.)")


def _without_doctest_output(text: str) -> str:
    """The text with doctest output lines blanked: a repr (`Point(x=1)`) fixes no name."""
    lines = text.splitlines()
    shown = False
    for i, line in enumerate(lines):
        if _OUTPUT_AFTER.match(line):
            shown = True
        elif not line.strip():
            shown = False
        elif shown:
            lines[i] = ""
    return "\n".join(lines)


def read_contract(task: str) -> Contract:
    """The names the task fixes (see the module's doc), as plain data."""
    text = _without_doctest_output(task[:MAX_TASK])
    imported = {
        name.split(" as ")[-1].strip().split(".")[0]
        for match in _IMPORTED.finditer(text)
        for name in match["names"].split(",")
    }
    callables = _defs(text)
    fixed = {e["name"] for e in callables}
    for entry in _prose(text, fixed):
        callables.append(entry)
        fixed.add(entry["name"])
    for match in _NAMED_CLASS.finditer(text):
        if match["name"] not in fixed:
            callables.append(_entry(match["name"], "class"))
            fixed.add(match["name"])
    for name, args, _ in calls(text):
        top = name.split(".")[0]
        if not name or "." in name or top in _BUILTINS:
            continue
        same = [e for e in callables if e["name"] == name and not e["owner"]]
        entry = same[0] if same else _entry(name, "function")
        if not same:
            callables.append(entry)
        if len(args) not in entry["arities"]:
            entry["arities"].append(len(args))
    # A parameter of one callable called in prose (`key(item)`) is not a name of its own.
    params = {
        p.lstrip("*").split("=")[0] for e in callables for p in (e["params"] or []) if p != "*"
    }
    callables = [e for e in callables if e["owner"] or e["name"] not in params | imported][
        :MAX_NAMES
    ]
    for entry in callables:
        if entry["kind"] == "function" and not entry["owner"] and entry["name"][:1].isupper():
            entry["kind"] = "class"  # named only in prose (`LRUCache(capacity)`): its case says
    files = list(dict.fromkeys(m["path"] for m in _FILE.finditer(text)))
    # "module `textstats.py`" names the file (already in `files`) and the module `textstats`.
    modules = [(m["a"] or m["b"]).rstrip(".").removesuffix(".py") for m in _MODULE.finditer(text)]
    modules = list(dict.fromkeys(m for m in modules if m))
    commands = [m["a"] or m["b"] or m["c"] for m in _COMMAND.finditer(text)]
    commands = list(dict.fromkeys(c for c in commands if c not in _NOT_COMMANDS))
    homes = _homes(text, files, [e["name"] for e in callables if not e["owner"]])
    return {
        "callables": callables,
        "files": files,
        "modules": modules,
        "commands": commands,
        "homes": homes,
    }


def _homes(text: str, files: list[str], names: list[str]) -> dict[str, list[str]]:
    """The file each top-level name belongs in, by the task's own lines.

    A line that names one of the task's files and calls the name puts it there
    (`- logstats/reader.py: read_records(paths) takes ...`).
    """
    homes: dict[str, list[str]] = {}
    for line in text.splitlines():
        on_line = list(dict.fromkeys(m["path"] for m in _FILE.finditer(line)))
        if len(on_line) != 1 or on_line[0] not in files:
            continue
        for name in names:
            placed = any(name in v for v in homes.values())  # the first line that says wins
            if not placed and re.search(rf"(?<![\w.]){re.escape(name)}\(", line):
                homes.setdefault(on_line[0], []).append(name)
    return homes


def signature(entry: dict[str, Any]) -> str:
    """How the contract shows one callable: `is_palindrome(text)`, `class LRUCache(capacity)`."""
    name = f"{entry['owner']}.{entry['name']}" if entry["owner"] else entry["name"]
    if entry["params"] is not None:
        args = ", ".join(entry["params"])
    elif entry["arities"]:
        n = min(entry["arities"])
        args = ", ".join(["…"] * n) if n else ""
    else:
        args = "…"
    prefix = "class " if entry["kind"] == "class" else ""
    return f"{prefix}{name}({args})"


def describe(contract: Mapping[str, Any] | None) -> list[str]:
    """Each name of the contract as the report and the prompts show it."""
    if not contract:
        return []
    out = [signature(e) for e in contract.get("callables", [])]
    out += [f"file {f}" for f in contract.get("files", [])]
    out += [f"module {m}" for m in contract.get("modules", [])]
    out += [f"command {c}" for c in contract.get("commands", [])]
    return out


def functions(contract: Contract | None) -> dict[str, int]:
    """The top-level functions the contract fixes, each with its required positional arity.

    -1 when unknown (only named, or taking `*args`).
    """
    out = {}
    for entry in (contract or {}).get("callables", []):
        if entry["owner"] or entry["kind"] != "function":
            continue
        params = entry["params"]
        if params is not None:
            required = [p for p in params if p != "*" and "=" not in p]
            starred = any(p.startswith("*") for p in required)
            out[entry["name"]] = -1 if starred else len(required)
        else:
            out[entry["name"]] = min(entry["arities"]) if entry["arities"] else -1
    return out


def names(contract: Contract | None) -> set[str]:
    """Every top-level name the contract fixes (functions and classes)."""
    return {e["name"] for e in (contract or {}).get("callables", []) if not e["owner"]}


def is_short(contract: Contract | None) -> bool:
    """Whether the task is one a plan would only restate.

    It fixes one function or one class (with its methods), in at most one file, and names
    no module or command.
    """
    if not contract:
        return False
    top = [e for e in contract.get("callables", []) if not e["owner"]]
    code_files = [f for f in contract.get("files", []) if not f.split("/")[-1].startswith("test")]
    return (
        len(top) == 1
        and len(code_files) <= 1
        and len(contract.get("files", [])) <= 1
        and not contract.get("modules")
        and not contract.get("commands")
    )
