"""The studio suite's tasks: their metadata, the dev/held-out split, and the task's names.

Each task folder `bench/studio_tasks/NN_name/` holds `task.md` (what the agents see),
`test_reference.py` (the hidden tests), `meta.json` and a reference solution: `reference.py`
for a one-file task (it stands for the contract's one file), or a `reference/` folder
mirroring the project tree for a multi-file task. `meta.json` says

- `kinds`: some of `docstring` (a signature and a docstring with `>>>` examples), `multi-file`,
  `raises` (the right answer raises a named exception on some input) and `prose`;
- `files`: the contract, each file the task names mapped to the names it must define (a
  function or class at the top level, or `Class.method`);
- `entry`: how the task says the code is run (`python -m pkg`, `main(argv)`), or null.

This module needs no model and imports nothing of the product, so `check` and `report`
work while the product's modules move.
"""

from __future__ import annotations

import ast
import doctest
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

TASKS = Path(__file__).with_name("studio_tasks")
KINDS = ("docstring", "multi-file", "raises", "prose")
SPLITS = ("dev", "held-out")
TARGETS = {"tasks": 60, "docstring": 20, "multi-file": 10, "raises": 5}
"""What issue 25 asks of the suite."""
HIDDEN = "test_reference.py"


@dataclass(frozen=True)
class Task:
    """One task of the suite, as its folder and `meta.json` describe it."""

    path: Path
    kinds: tuple[str, ...]
    files: dict[str, list[str]]
    """The contract: each file the task names, and the names it must define."""
    entry: str | None

    @property
    def name(self) -> str:
        """The task's id: its folder's name."""
        return self.path.name

    @property
    def split(self) -> str:
        """`dev` or `held-out` (see `split_of`)."""
        return split_of(self.name)

    @property
    def multi_file(self) -> bool:
        """Whether the task asks for more than one file."""
        return "multi-file" in self.kinds

    def text(self) -> str:
        """What the agents see."""
        return (self.path / "task.md").read_text()

    def hidden_tests(self) -> str:
        """The hidden tests' source."""
        return (self.path / HIDDEN).read_text()

    def reference(self) -> dict[str, str]:
        """The reference solution as a project tree (path -> text)."""
        folder = self.path / "reference"
        if folder.is_dir():
            return {
                p.relative_to(folder).as_posix(): p.read_text()
                for p in sorted(folder.rglob("*"))
                if p.is_file() and "__pycache__" not in p.parts
            }
        [only] = self.files
        return {only: (self.path / "reference.py").read_text()}


def split_of(name: str) -> str:
    """The task's split, by a stable hash of its id: held-out when sha256's first byte is odd.

    The number in the name plays no part, so adding or renumbering tasks moves none of the
    others, and no one picks which tasks are held out.
    """
    return SPLITS[hashlib.sha256(name.encode()).digest()[0] % 2]


def load(path: Path) -> Task:
    """The task in `path`; raises ValueError when its `meta.json` is malformed."""
    meta = json.loads((path / "meta.json").read_text())
    kinds = tuple(meta.get("kinds", ()))
    files = meta.get("files")
    if not kinds or any(k not in KINDS for k in kinds):
        raise ValueError(f"{path.name}: kinds must be some of {KINDS}, not {kinds}")
    if not isinstance(files, dict) or not files:
        raise ValueError(f"{path.name}: files must map each file the task names to its names")
    if ("multi-file" in kinds) != (len(files) > 1 or (path / "reference").is_dir()):
        raise ValueError(f"{path.name}: a multi-file task names several files, and only it")
    return Task(path, kinds, {str(f): list(n) for f, n in files.items()}, meta.get("entry"))


def tasks(names: list[str] | None = None) -> list[Task]:
    """Every task, in folder order; `names` (ids or the part after the number) selects some."""
    found = sorted(p for p in TASKS.iterdir() if (p / "task.md").is_file())
    if names:
        found = [p for p in found if p.name in names or p.name.split("_", 1)[1] in names]
    return [load(p) for p in found]


def _defined(tree: ast.Module) -> dict[str, ast.AST]:
    """Top-level names a module defines: functions, classes, assignments and imports."""
    names: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node
        elif isinstance(node, ast.ImportFrom | ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = node
    return names


def names_kept(files: dict[str, str], task: Task) -> list[str]:
    """What the written files break of the task's contract; empty when they keep it all.

    A build keeps the contract when it writes every file the task names at that path and
    each defines its names (a `Class.method` needs the method in the class's body).
    """
    written = {str(PurePosixPath(p.strip().lstrip("./"))): t for p, t in files.items()}
    broken = []
    for path, names in task.files.items():
        if path not in written:
            broken.append(f"{path}: not written")
            continue
        try:
            defined = _defined(ast.parse(written[path]))
        except (SyntaxError, ValueError):
            broken.append(f"{path}: does not parse")
            continue
        for name in names:
            owner, _, method = name.partition(".")
            node = defined.get(owner)
            if node is None:
                broken.append(f"{path}: {owner} is not defined")
            elif method and not (
                isinstance(node, ast.ClassDef)
                and any(
                    isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == method
                    for n in node.body
                )
            ):
                broken.append(f"{path}: {name} is not defined")
    return broken


def placed(files: dict[str, str], task: Task) -> tuple[dict[str, str], str]:
    """The written files placed where the hidden tests look, and how (`""`: as written).

    Fair to every mode, and nothing more: a one-file task's lone module under another name
    is taken as the named file; a project written under one extra folder (`src/`, the
    project's name) is moved up when that puts every named file in place.
    """
    project = {p.lstrip("./"): t for p, t in files.items() if not p.endswith(HIDDEN)}
    wanted = [f for f in task.files if not PurePosixPath(f).name.startswith("test")]
    if all(f in project for f in wanted):
        return project, ""
    if len(task.files) == 1:
        modules = [
            p for p in project if p.endswith(".py") and not p.split("/")[-1].startswith("test")
        ]
        if len(modules) == 1:
            return {**project, wanted[0]: project[modules[0]]}, "renamed"
        return project, ""
    tops = {p.split("/", 1)[0] for p in project if "/" in p}
    for top in sorted(tops):
        moved = {p.split("/", 1)[1]: t for p, t in project.items() if p.startswith(f"{top}/")}
        if all(f in moved for f in wanted):
            return {**project, **moved}, "moved up"
    return project, ""


class _Stub(ast.NodeTransformer):
    """Every function's body becomes `return None`: the names stay, the behaviour goes."""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.body = [ast.Return(value=ast.Constant(value=None))]
        return node

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AsyncFunctionDef:
        node.body = [ast.Return(value=ast.Constant(value=None))]
        return node


def wrong_variants(reference: dict[str, str]) -> dict[str, dict[str, str]]:
    """Obviously wrong solutions the hidden tests must fail: empty files, and stubbed bodies."""
    stubbed = {}
    for path, text in reference.items():
        if path.endswith(".py"):
            tree = _Stub().visit(ast.parse(text))
            stubbed[path] = ast.unparse(ast.fix_missing_locations(tree)) + "\n"
        else:
            stubbed[path] = text
    return {"empty": dict.fromkeys(reference, ""), "stubbed": stubbed}


_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def stated_examples(task: Task) -> tuple[int, list[str]]:
    """Run the `>>>` examples of the task's stubs against its one-file reference, in process.

    Returns how many examples ran and the failures, so a task never states an example its
    own reference contradicts. Only our reference runs here, never generated code.
    """
    if task.multi_file:
        return 0, []
    [code] = task.reference().values()
    namespace: dict[str, object] = {"__name__": "solution"}
    exec(compile(code, f"{task.name}/reference.py", "exec"), namespace)
    parser, ran, failed = doctest.DocTestParser(), 0, []
    for block in _BLOCK.findall(task.text()):
        for node in ast.walk(ast.parse(block)):
            if not isinstance(node, ast.FunctionDef | ast.ClassDef):
                continue
            docstring = ast.get_docstring(node, clean=False) or ""
            test = parser.get_doctest(docstring, dict(namespace), node.name, task.name, 0)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
            out: list[str] = []
            result = runner.run(test, out=out.append)
            ran += result.attempted
            failed += [f"{task.name}: {node.name}: {''.join(out)[:400]}"] if result.failed else []
    return ran, failed


def task_problems(task: Task) -> list[str]:
    """What is wrong with one task's files: unnamed contract files, examples, the contract."""
    text = task.text()
    problems = [f"{task.name}: task.md never names {f}" for f in task.files if f not in text]
    if "docstring" in task.kinds and ">>>" not in text:
        problems.append(f"{task.name}: a docstring task without `>>>` examples")
    if broken := names_kept(task.reference(), task):
        problems.append(f"{task.name}: the reference breaks the contract: {broken}")
    ran, failed = stated_examples(task)
    problems += failed
    if "docstring" in task.kinds and not ran:
        problems.append(f"{task.name}: no `>>>` example ran")
    return problems


def suite_problems(found: list[Task]) -> list[str]:
    """What the suite lacks against issue 25's targets."""
    problems = []
    counts = kind_counts(found)
    if len(found) < TARGETS["tasks"]:
        problems.append(f"{len(found)} tasks; at least {TARGETS['tasks']} wanted")
    for kind in ("docstring", "multi-file", "raises"):
        if counts[kind] < TARGETS[kind]:
            problems.append(f"{counts[kind]} {kind} tasks; at least {TARGETS[kind]} wanted")
    return problems


def kind_counts(found: list[Task]) -> dict[str, int]:
    """How many tasks are of each kind."""
    return {k: sum(k in t.kinds for t in found) for k in KINDS}
