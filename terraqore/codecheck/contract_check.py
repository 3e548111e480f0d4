"""Holding code, plans and designed tests to the task's contract (`codecheck.task_contract`).

- `check`: does a version define every name the contract fixes, with parameters that take
  the calls the task shows? Read on the syntax tree; nothing runs. A name the task shows
  only in prose may be a method (`get(key)` of the `LRUCache` the task asks for).
- `keep_names`: the cheap repair of a version that renamed a function or class: when exactly
  one definition of the code can be the missing name (compatible parameters, and a word in
  common or the only candidate), it is renamed back in every file, tokens only.
- `place_files`: a module the task fixes at a path (`logstats/reader.py`) but the Coder
  wrote bare (`reader.py`) is moved there, and the imports of it follow.
- `fix_imports`: an import of the project's own name from the wrong module (the package,
  or the importing file itself) names the module that defines it.
- `correct_names`, `correct_plan`: an idea brief or a plan that renamed the task's names (or
  a plan its files) gets them back before the next agent reads it (the demo's Idea agent and
  Planner turned `is_palindrome` into `text_palindrome`).
- `foreign_names`, `screen_tests`: the names a designed test uses that neither the task, the
  code, the test itself nor Python defines: such a test can only fail, and is dropped when
  it first meets the code (`nodes.run_tests`).
"""

from __future__ import annotations

import ast
import builtins
import io
import re
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from terraqore.codecheck.task_contract import Contract, names, signature
from terraqore.codecheck.task_examples import bound_names

_BUILTINS = frozenset(dir(builtins))
_GENERIC = frozenset(
    {"is", "get", "set", "the", "and", "for", "from", "with", "make", "check", "has", "to", "of"}
    | {"in", "on", "new", "do", "run", "main", "func", "function", "all", "str", "int", "list"}
)


@dataclass
class Defined:
    """What the code defines at the top level of its modules (tests excluded)."""

    functions: dict[str, ast.arguments] = field(default_factory=dict)
    classes: dict[str, dict[str, ast.arguments]] = field(default_factory=dict)
    """Each class's methods; `__init__` among them when it has one."""
    other: set[str] = field(default_factory=set)
    """Other top-level names: assignments (an alias, a lambda) and imports."""

    def names(self) -> set[str]:
        """Every top-level name."""
        return {*self.functions, *self.classes, *self.other}


def _is_code(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return path.endswith(".py") and not name.startswith(("test_", "conftest"))


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def defined(files: Mapping[str, str]) -> Defined:
    """The top-level definitions of the project's code modules."""
    out = Defined()
    for path, text in files.items():
        tree = _parse(text) if _is_code(path) else None
        for node in tree.body if tree else []:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out.functions.setdefault(node.name, node.args)
            elif isinstance(node, ast.ClassDef):
                methods = {
                    m.name: m.args
                    for m in node.body
                    if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)
                }
                out.classes.setdefault(node.name, methods)
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.Import | ast.ImportFrom):
                out.other |= bound_names(node)
    return out


def _accepts(args: ast.arguments, n: int, keywords: set[str], method: bool) -> bool:
    """Whether a definition takes `n` positional arguments and these keywords."""
    positional = [a.arg for a in [*args.posonlyargs, *args.args]]
    if method and positional:
        positional = positional[1:]  # self or cls (a static method's first is a real one)
    required = len(positional) - len(args.defaults)
    if n < max(required, 0) or (n > len(positional) and args.vararg is None):
        return False
    named = set(positional[n:]) | {a.arg for a in args.kwonlyargs}
    required_kw = {
        a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None
    }
    return (keywords <= named or args.kwarg is not None) and required_kw <= keywords


def _calls(entry: Mapping[str, Any]) -> list[tuple[int, set[str]]]:
    """The calls the contract says a callable takes: (positional count, keywords).

    The example calls' argument counts; the required parameters, by position; and those
    with a default, by name (`dedupe(items, key=None)` is kept by `dedupe(items, *, key=None)`
    too: a caller passes an optional argument by name more often than not).
    """
    shapes: list[tuple[int, set[str]]] = [(n, set()) for n in entry.get("arities", [])]
    params = entry.get("params")
    if params is not None:
        stars = [i for i, p in enumerate(params) if p.startswith("*") and not p.startswith("**")]
        cut = stars[0] if stars else len(params)
        positional = [p for p in params[:cut] if "=" not in p]
        keywords = {p for p in params[cut:] if not p.startswith("*") and "=" not in p}
        optional = {p.split("=")[0] for p in params if "=" in p}
        shapes.append((len(positional), keywords))
        if optional:
            shapes.append((len(positional), keywords | optional))
    return shapes or [(-1, set())]


def _fits(args: ast.arguments, entry: Mapping[str, Any], method: bool) -> bool:
    return all(n < 0 or _accepts(args, n, kw, method) for n, kw in _calls(entry))


def _keeps(entry: Mapping[str, Any], code: Defined) -> str | None:
    """None when the code keeps this callable; else what is wrong, in a few words."""
    name, owner, kind = entry["name"], entry["owner"], entry["kind"]
    if owner:
        methods = code.classes.get(owner)
        if methods is None:
            return None  # the class itself is reported missing
        if name not in methods:
            return f"class {owner} has no method {name}"
        return (
            None if _fits(methods[name], entry, True) else f"{owner}.{name} takes other arguments"
        )
    if name in code.classes:
        init = code.classes[name].get("__init__")
        if init is None or _fits(init, entry, True):
            return None
        return f"class {name} takes other arguments"
    if kind == "class":
        return f"class {name} is not defined"
    if name in code.functions:
        return (
            None if _fits(code.functions[name], entry, False) else f"{name} takes other arguments"
        )
    if name in code.other:
        return None  # an alias or a lambda: its arguments are not checked
    if any(name in methods for methods in code.classes.values()):
        return None  # a method the prose named alone (`get(key)` of a class)
    return f"{name} is not defined"


def check(files: Mapping[str, str], contract: Contract | None) -> dict[str, Any]:
    """Whether the code keeps the contract: `kept`, and `broken` (what is missing or differs)."""
    if not contract:
        return {"kept": True, "broken": []}
    code = defined(files)
    broken = []
    for entry in contract.get("callables", []):
        problem = _keeps(entry, code)
        if problem:
            broken.append(f"{signature(entry)}: {problem}")
    paths = {p.removeprefix("./") for p in files}
    # Code that does not parse defines nothing, whatever it seems to hold.
    broken += [
        f"file {p}: does not parse" for p, t in files.items() if _is_code(p) and _parse(t) is None
    ]
    # A test file the task names is part of what the user asked for, so it is required too
    # (the Coder is asked to write it; see `agents.coder`).
    wanted = [f for f in contract.get("files", []) if f.endswith(".py")]
    broken += [f"file {f}: not written" for f in wanted if f not in paths]
    for module in contract.get("modules", []):
        stem = module.replace(".", "/")
        if not {f"{stem}.py", f"{stem}/__init__.py", f"{stem}/__main__.py"} & paths:
            broken.append(f"module {module}: not written")
    for command in contract.get("commands", []):
        stem = command.replace("-", "_")
        written = {p.rsplit("/", 1)[-1].removesuffix(".py") for p in paths} | {
            p.split("/")[0] for p in paths
        }
        if stem not in written and not any(
            f'"{command}"' in t or f"'{command}'" in t for t in files.values()
        ):
            broken.append(f"command {command}: no file or entry point names it")
    return {"kept": not broken, "broken": broken}


# --- the cheap repair ------------------------------------------------------------------


def words(name: str) -> set[str]:
    """The words of an identifier (snake_case or CamelCase), lower-cased, generic ones out."""
    parts = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return {p.lower() for p in parts if len(p) > 1} - _GENERIC


def _rename(text: str, old: str, new: str) -> str | None:
    """The module with every `old` name token (and `"old"` string) renamed; None if unsure."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    out = []
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string == old:
            tok = tok._replace(string=new)
        elif tok.type == tokenize.STRING and tok.string in (f'"{old}"', f"'{old}'"):
            tok = tok._replace(string=repr(new))
        out.append(tok)
    try:
        return tokenize.untokenize(out)
    except ValueError:
        return None


def _uses(files: Mapping[str, str], name: str) -> bool:
    """Whether the code modules (tests aside) hold the name anywhere."""
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    return any(pattern.search(text) for path, text in files.items() if _is_code(path))


def keep_names(
    files: dict[str, str], contract: Contract | None
) -> tuple[dict[str, str], list[str]]:
    """Rename, back to the task's name, a function or class the code named otherwise.

    Only when the task's name appears nowhere in the code, and exactly one top-level
    definition the task does not name can be it: its parameters fit, and it shares a word
    with the task's name (or it is the code's only public definition of that kind).
    Returns the files and what was renamed.
    """
    changes: list[str] = []
    if not contract:
        return files, changes
    fixed = {e["name"] for e in contract.get("callables", []) if not e["owner"]}
    for entry in contract.get("callables", []):
        name = entry["name"]
        if entry["owner"] or _uses(files, name):
            continue
        code = defined(files)
        if entry["kind"] == "class":
            pool = {n: code.classes[n].get("__init__") for n in code.classes}
        else:
            pool = dict(code.functions)
        spare = {n: a for n, a in pool.items() if n not in fixed and not n.startswith("_")}
        fits = [
            n
            for n, args in spare.items()
            if args is None or _fits(args, entry, entry["kind"] == "class")
        ]
        alike = [n for n in fits if words(n) & words(name)]
        chosen = alike if alike else (fits if len(spare) == 1 else [])
        if len(chosen) != 1:
            continue
        renamed = {
            p: _rename(t, chosen[0], name) if p.endswith(".py") else t for p, t in files.items()
        }
        if any(t is None or (p.endswith(".py") and _parse(t) is None) for p, t in renamed.items()):
            continue
        files = {p: str(t) for p, t in renamed.items()}
        changes.append(f"renamed {chosen[0]} to {name}, the task's name")
    return files, changes


def _moved_imports(text: str, moves: Mapping[str, str]) -> str:
    """`import reader` / `from reader import x` (and `from . import`) made to follow moves."""
    for old, new in moves.items():
        text = re.sub(
            rf"^(\s*from\s+){re.escape(old)}(\s+import\b)", rf"\g<1>{new}\2", text, flags=re.M
        )
        text = re.sub(
            rf"^(\s*import\s+){re.escape(old)}\s*$", rf"\g<1>{new} as {old}", text, flags=re.M
        )
    return text


def place_files(
    files: dict[str, str], contract: Contract | None
) -> tuple[dict[str, str], list[str]]:
    """Move code files written bare to the path the task fixes for them.

    A missing contract file (`logstats/reader.py`) takes the one written file with its base
    name that the contract does not name (`reader.py`). Then, if exactly one contract file
    is still missing and exactly one code file outside the contract remains (the default
    `solution.py`), that file takes its place. Imports of a moved module follow it.
    Returns the files and what was moved.
    """
    wanted = [f for f in (contract or {}).get("files", []) if _is_code(f)]
    if not wanted:
        return files, []
    moves: dict[str, str] = {}
    out = dict(files)
    for target in wanted:
        if target in out:
            continue
        base = target.rsplit("/", 1)[-1]
        strays = [p for p in out if p not in wanted and p.rsplit("/", 1)[-1] == base]
        if len(strays) == 1:
            out[target] = out.pop(strays[0])
            moves[strays[0]] = target
    missing = [f for f in wanted if f not in out]
    strays = [p for p in out if _is_code(p) and p not in wanted]
    notes: list[str] = []
    if len(missing) == 1 and len(strays) == 1:
        out[missing[0]] = out.pop(strays[0])
        moves[strays[0]] = missing[0]
    elif len(missing) > 1 and len(strays) == 1:
        split = _split(out[strays[0]], missing, (contract or {}).get("homes", {}))
        if split:
            del out[strays[0]]
            out.update(split)
            notes.append(f"split {strays[0]} into {', '.join(split)}, the task's paths")
    if not moves:
        return (out, notes) if notes else (files, [])
    dotted = {
        _module(old): _module(new) for old, new in moves.items() if not old.endswith("__main__.py")
    }
    out = {p: _moved_imports(t, dotted) if p.endswith(".py") else t for p, t in out.items()}
    return out, [f"moved {old} to {new}, the task's path" for old, new in moves.items()] + notes


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def fix_imports(files: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Point imports of the project's own names at the module that defines them.

    A small model writing a package often imports a name from the package
    (`from renamer import plan_renames`) when it lives in a module of it
    (`renamer/plan.py`), and a module split by `place_files` keeps the import it had of
    itself: both fail before any test runs (task 58). Only top-level `from X import n` of
    a project package or module are touched, where X neither defines nor re-exports n and
    exactly one project module defines it: the import then names that module, or goes when
    it is the importing file itself. Returns the files and what changed.
    """
    code = {p: t for p, t in files.items() if _is_code(p)}
    trees = {p: _parse(t) for p, t in files.items() if p.endswith(".py")}
    homes: dict[str, list[str]] = {}
    for path in code:
        tree = trees.get(path)
        for node in tree.body if tree else []:
            if isinstance(node, _DEFS):
                homes.setdefault(node.name, []).append(_module(path))
    modules = {_module(p).removesuffix(".__init__"): p for p in code}
    roots = {m.split(".")[0] for m in modules}
    out, notes = dict(files), []
    for path, tree in trees.items():
        if tree is None:
            continue
        here = _module(path).removesuffix(".__init__")
        lines = files[path].splitlines()
        edits: list[tuple[int, int, list[str]]] = []
        for node in tree.body:
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module):
                continue
            source = node.module
            if source.split(".")[0] not in roots:
                continue
            owner = trees.get(modules.get(source, ""))
            given = {a.name for a in owner.body if isinstance(a, _DEFS)} if owner else set()
            given |= _imported(owner) if owner else set()
            kept, moved = [], []
            for alias in node.names:
                found = homes.get(alias.name, [])
                if alias.name in given or len(found) != 1 or found[0] == source:
                    kept.append(alias)
                else:
                    moved.append((alias, found[0]))
            if not moved:
                continue
            new = [_import_line(source, kept)] if kept else []
            for alias, home in moved:
                if home == here:
                    notes.append(f"{path}: dropped its import of its own {alias.name}")
                else:
                    new.append(_import_line(home, [alias]))
                    notes.append(f"{path}: imports {alias.name} from {home}, not {source}")
            edits.append((node.lineno, node.end_lineno or node.lineno, new))
        for start, end, new in reversed(edits):
            lines[start - 1 : end] = new
        if edits:
            out[path] = "\n".join(lines) + "\n"
    return out, notes


def _imported(tree: ast.Module) -> set[str]:
    """Names a module binds by importing them (a package's `__init__` re-exports)."""
    return {
        (a.asname or a.name).split(".")[0]
        for n in tree.body
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in n.names
    }


def _import_line(module: str, aliases: list[ast.alias]) -> str:
    names = ", ".join(f"{a.name} as {a.asname}" if a.asname else a.name for a in aliases)
    return f"from {module} import {names}"


def _module(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _split(text: str, missing: list[str], homes: Mapping[str, list[str]]) -> dict[str, str]:
    """One module written for several files the task fixes, cut into those files.

    Where each name goes is the task's word (`contract["homes"]`); {} when it cannot be done.

    Each file gets the module's imports, its names and the helpers they use (copied where
    several use one). At most one missing file without names of its own (`__main__.py`)
    takes the rest, and runs `main` when nothing else does.
    """
    tree = _parse(text)
    if tree is None:
        return {}
    lines = text.splitlines()
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    defined: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, _DEFS):
            defined[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    defined[target.id] = node
    home_of = {name: path for path, names in homes.items() if path in missing for name in names}
    if not home_of or any(name not in defined for name in home_of):
        return {}
    rest = [p for p in missing if p not in homes]
    if len(rest) > 1:
        return {}

    def source(node: ast.stmt) -> str:
        decorators = getattr(node, "decorator_list", [])
        start = min([node.lineno, *(d.lineno for d in decorators)])
        return "\n".join(lines[start - 1 : node.end_lineno])

    def closure(roots: list[ast.stmt]) -> list[ast.stmt]:
        """The roots and the module's helpers they use, in the module's order."""
        chosen: set[int] = set()
        todo = list(roots)
        while todo:
            node = todo.pop()
            if id(node) in chosen:
                continue
            chosen.add(id(node))
            for name in _used(node):
                helper = defined.get(name)
                if helper is not None and name not in home_of and id(helper) not in chosen:
                    todo.append(helper)
        return [n for n in tree.body if id(n) in chosen]

    def write(body: list[ast.stmt], extra: list[str]) -> str:
        used = set().union(*(_used(n) for n in body), *(_used(ast.parse(e)) for e in extra))
        here = {n.name for n in body if isinstance(n, _DEFS)}
        borrowed = sorted((name, home_of[name]) for name in used if name in home_of)
        head = [source(n) for n in imports]
        head += [
            f"from {_module(home)} import {name}" for name, home in borrowed if name not in here
        ]
        parts = ["\n".join(head)] if head else []
        return "\n\n\n".join([*parts, *(source(n) for n in body), *extra]) + "\n"

    out = {}
    placed: set[int] = set()
    for path in missing:
        if path in homes:
            body = closure([defined[name] for name in homes[path]])
            placed |= {id(n) for n in body}
            out[path] = write(body, [])
    if rest:
        body = closure([n for n in tree.body if id(n) not in placed and n not in imports])
        extra = []
        runs_main = any(isinstance(n, ast.If | ast.Expr) and "main" in _used(n) for n in body)
        main = defined.get("main")
        if rest[0].endswith("__main__.py") and main is not None and not runs_main:
            takes = isinstance(main, ast.FunctionDef) and bool(main.args.args)
            call = "main(sys.argv[1:])" if takes else "main()"
            extra = [f"import sys\n\nsys.exit({call})"]
        out[rest[0]] = write(body, extra)
    return out


# --- plans and tests -------------------------------------------------------------------

_PLAN_NAME = re.compile(r"(?<![\w.])(?:def\s+|class\s+)?([A-Za-z_]\w{0,79})(?=\(|`)")


def _texts(data: Any) -> list[str]:
    """Every string inside plain data (a plan, an idea brief)."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, Mapping):
        return [t for value in data.values() for t in _texts(value)]
    if isinstance(data, list | tuple):
        return [t for value in data for t in _texts(value)]
    return []


def _replace(data: Any, old: str, new: str) -> Any:
    """The same plain data with every whole-word `old` in its strings made `new`."""
    if isinstance(data, str):
        return re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", new, data)
    if isinstance(data, Mapping):
        return {key: _replace(value, old, new) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_replace(value, old, new) for value in data]
    return data


def correct_names(
    data: dict[str, Any], contract: Contract | None, what: str = "plan"
) -> tuple[dict[str, Any], list[str]]:
    """Plain data (a plan, an idea brief) with the task's names put back; notes say so.

    A callable of the task that the text never names was renamed when the text names, as a
    call or in backticks, another identifier that shares a word with it (or, when the task
    fixes one callable, the text's only other one).
    """
    if not contract or not data:
        return data, []
    notes: list[str] = []
    fixed = {e["name"] for e in contract.get("callables", [])}
    top = [e for e in contract.get("callables", []) if not e["owner"]]
    for entry in top:
        name = entry["name"]
        text = "\n".join(_texts(data))
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text):
            continue
        named = {n for n in _PLAN_NAME.findall(text) if n not in fixed and n not in _BUILTINS}
        alike = sorted(n for n in named if words(n) & words(name))
        renamed = alike or (sorted(named) if len(top) == 1 and len(named) == 1 else [])
        for old in renamed:
            data = _replace(data, old, name)
            notes.append(f"the {what} named {old} where the task says {name}; corrected")
    return data, notes


def correct_plan(
    plan: dict[str, Any], contract: Contract | None
) -> tuple[dict[str, Any], list[str]]:
    """The plan with the task's names (`correct_names`) and code files put back.

    A code file the task fixes that the plan does not list replaces the plan's first other
    code file.
    """
    plan, notes = correct_names(plan, contract)
    if not contract or not plan:
        return plan, notes
    paths = [f["path"] for f in plan.get("files", [])]
    for wanted in contract.get("files", []):
        others = [p for p in paths if _is_code(p) and p not in contract["files"]]
        if wanted in paths or not _is_code(wanted) or not others:
            continue
        plan = _replace(plan, others[0], wanted)
        paths = [f["path"] for f in plan.get("files", [])]
        notes.append(f"the plan wrote {others[0]} where the task says {wanted}; corrected")
    return plan, notes


def foreign_names(code: str, known: set[str]) -> set[str]:
    """The names a test reads that nothing defines: not `known`, a built-in, or its own."""
    tree = _parse(code)
    if tree is None:
        return set()
    own = bound_names(tree) | {"pytest"}
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            own.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            own.add(node.name)
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return read - own - known - _BUILTINS


def screen_tests(
    tests: list[dict[str, Any]], contract: Contract | None, versions: list[Mapping[str, str]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Drop the designed tests that use a name neither the task, the code nor the test defines.

    Such a test can only fail, and it often carries a name the plan made up. The code is the
    versions that keep the task's names, if any do, else all of them. The task's own examples
    (`origin` `task`) are never dropped. Returns the tests kept, and the names that were not.
    """
    kept_code = [files for files in versions if check(files, contract)["kept"]]
    known = names(contract or {}).union(*(defined(f).names() for f in kept_code or versions))
    kept, foreign = [], set()
    for test in tests:
        unknown = set() if test.get("origin") == "task" else foreign_names(test["code"], known)
        if unknown:
            foreign |= unknown
        else:
            kept.append(test)
    return kept, sorted(foreign)
