"""The Coder agent: writes candidate versions of the project, and fixes the chosen one.

On a route's first turn it writes `Context.coder_candidates` versions, requested at once (a
batching server decodes them together): one from the plan at its own temperature, one from
the task alone, then hotter samples (`VARIANTS`), so the designed tests have something to
choose among (CodeT; see `terraqore.codecheck.selection`). With `Context.staged` on, the
first version goes alone, and the others come only when it fails, beside its fix. Every version is
tidied before it runs (`terraqore.codecheck.code_tidy`: demo code out of modules, or into the
test file the task names when the version wrote none; test files made collectable), a
module written bare (`reader.py`) moves to the path the task fixes (`logstats/reader.py`),
and a function or class it named otherwise than the task gets the task's name back where
that is unambiguous, and an import of the project's own name from the wrong module names the
right one (`codecheck.contract_check`). A first-turn answer that left out files the task
names is asked for them once more (`missing_files`). On a fix turn it
rewrites the chosen version from the credible failures, or from the security gate's
findings. It writes on the current route of its chain along the task router
(`nodes.escalation`). When its answer is unusable after the retry, or its call times out, it
says why (`coder_unusable`) and the graph moves it up the chain (`graphs.studio`).

It answers in one of two formats (`Context.coder_format`): fenced blocks, one ```python
block per file whose first line names the file, or JSON (`{"files": [{"path", "content"}]}`)
constrained by the server's grammar. Code escaped inside JSON strings is harder for a
small model, which is why both exist; the benchmark measures them (see the README).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables.config import ContextThreadPoolExecutor
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agents.structured import (
    AgentOutputError,
    CallFailed,
    Unusable,
    ask_structured,
    ask_text,
)
from agents.studio_prompts import (
    code_section,
    contract_section,
    plan_section,
    sources_section,
    task_section,
)
from graphs.context import AgentConfig
from graphs.state import UsageRecord
from graphs.studio_context import Context
from graphs.studio_state import State
from nodes.escalation import after, plan_routes, route_config
from terraqore.codecheck.code_tidy import demo_to_test_file, is_test_path, tidy_files
from terraqore.codecheck.contract_check import fix_imports, keep_names, place_files
from terraqore.codecheck.project_files import ProjectFileError, checked_files

FORMATS = {
    "fenced": (
        "Answer with one ```python block per file. The first line of each block is a comment "
        "naming the file, e.g. `# solution.py`. No other text."
    ),
    "json": "Answer with the JSON object: each file's path and its full content.",
}

FIRST = """{sources}

{task}
{names}
{plan}

<INSTRUCTIONS>
Write the complete code the task asks for. Keep every file, function and class name the task
gives exactly. Standard library only. One-line docstrings. {tests} No explanations.
{format}
</INSTRUCTIONS>"""

FIX = """{sources}

{task}
{names}
{plan}

{code}

<PROBLEMS>
{feedback}
</PROBLEMS>

<INSTRUCTIONS>
Fix every problem listed. If a test expects something the task does not ask for, keep
to the task. Write every file you change in full; files you leave out stay as they are.
{format}
</INSTRUCTIONS>"""

_FENCE = re.compile(
    r"^[ ]{0,3}(`{3,})[ \t]*([\w+.-]*)[ \t]*([^\n`]*)\n(.*?)(?:^[ ]{0,3}\1[ \t]*$|\Z)",
    re.DOTALL | re.MULTILINE,
)
"""A fenced block: the fences stand on lines of their own (CommonMark), so code that holds
three backticks (`line.startswith("```")`) does not end its block."""
_LOOSE_FENCE = re.compile(r"()```[ \t]*([\w+.-]*)[ \t]*([^\n`]*)\n(.*?)(?:```|\Z)", re.DOTALL)
"""The fallback for an answer whose fences share a line with prose."""
_NAME_COMMENT = re.compile(r"^\s*#\s*(?:file(?:name)?\s*:\s*)?([\w./-]+\.py)\s*$", re.IGNORECASE)
_NAME_BEFORE = re.compile(r"([\w./-]+\.py)\W*$")


class CodeFile(BaseModel):
    """One file the Coder writes."""

    path: str = Field(max_length=80)
    content: str


class CoderFiles(BaseModel):
    """The Coder's answer in JSON form."""

    files: list[CodeFile] = Field(min_length=1, max_length=8)


def parse_fenced(text: str, default_module: str = "solution.py") -> dict[str, str]:
    """Files from fenced blocks; a block's name comes from its first line, info or caption.

    Unnamed blocks become the default module (or a test file, if they hold tests). A block
    cut off by the token cap is kept up to where it stopped.
    """
    files: dict[str, str] = {}
    blocks = list(_FENCE.finditer(text)) or list(_LOOSE_FENCE.finditer(text))
    for match in blocks:
        lang, info, body = match.group(2), match.group(3).strip(), match.group(4)
        if lang and lang.lower() not in ("python", "py", "python3") and not lang.endswith(".py"):
            continue
        lines = body.splitlines()
        name = lang if lang.endswith(".py") else (info if info.endswith(".py") else "")
        if not name and lines and (m := _NAME_COMMENT.match(lines[0])):
            name, lines = m.group(1), lines[1:]
        if not name and (m := _NAME_BEFORE.search(text[: match.start()].rstrip()[-80:])):
            name = m.group(1)
        for part_name, part in _split_at_names(name, lines):
            if not part_name:
                is_test = "def test_" in "\n".join(part)
                part_name = f"test_{default_module}" if is_test else default_module
            files[part_name.lstrip("./")] = "\n".join(part).strip("\n") + "\n"
    return files


def _split_at_names(name: str, lines: list[str]) -> list[tuple[str, list[str]]]:
    """A block's files, split where a line names a new one.

    A small model often writes several files in one block, each under a line
    `# expenses/report.py` of its own; such a line, at the margin after a blank line or at a
    block's start, begins a new file (the name comment's path, the rest unchanged).
    """
    parts: list[tuple[str, list[str]]] = [(name, [])]
    for n, line in enumerate(lines):
        after_blank = n == 0 or not lines[n - 1].strip()
        m = _NAME_COMMENT.match(line) if line.startswith("#") and after_blank else None
        if m and any(s.strip() for s in parts[-1][1]):
            parts.append((m.group(1), []))
        else:
            parts[-1][1].append(line)
    return parts


def _default_module(plan: Mapping[str, Any] | None) -> str:
    paths = [f["path"] for f in (plan or {}).get("files", [])]
    code = [p for p in paths if p.endswith(".py") and not p.split("/")[-1].startswith("test_")]
    return code[0] if code else "solution.py"


def _prompt(state: State, fmt: str, fix: bool, with_plan: bool = True) -> str:
    common = {
        "task": task_section(state.task),
        "names": contract_section(state.contract),
        "plan": plan_section(state.plan) if with_plan else "",
        "sources": sources_section(state.sources),
        "format": FORMATS[fmt],
    }
    if fix:
        return FIX.format(code=code_section(state.files), feedback=state.feedback, **common)
    return FIRST.format(tests=rule_on_tests(state.contract), **common)


def rule_on_tests(contract: Mapping[str, Any] | None) -> str:
    """What the Coder is told about tests.

    None (the Validator designs them), unless the task names test files itself: then those
    are part of what the user asked for.
    """
    named = [f for f in (contract or {}).get("files", []) if is_test_path(f)]
    if not named:
        return "Write no tests (the Validator writes them)."
    return f"Write the pytest tests the task asks for in {', '.join(named)}; no other tests."


MISSING = (
    "That answer left out {missing}, which the task names. Write {them} now, complete, one "
    "```python block per file, the first line naming the file. {they} must work with the files "
    "you wrote above. No other text."
)


def missing_files(files: Mapping[str, str], contract: Mapping[str, Any] | None) -> list[str]:
    """The files the task names that an answer left out, in the task's order.

    What the tidy steps mend is not missing: a file written under its own name elsewhere
    (`load.py` for `expenses/load.py`: `place_files` moves it), one whose names the task
    places there are all defined in a module the task does not name (`place_files` splits
    it), a test file under another name, and an `__init__.py`. A file the task gives no
    names for (`__main__.py`) is missing when it is not there by name and the answer wrote
    fewer modules than the task names.
    """
    wanted = [p for p in (contract or {}).get("files", []) if _base(p) != "__init__.py"]
    if len(wanted) < 2:
        return []  # one file: whatever module was written moves to it (`place_files`)
    homes = (contract or {}).get("homes", {})
    by_name = {_base(p) for p in files}
    named = {_base(p) for p in wanted}
    modules = [p for p in files if _base(p) != "__init__.py" and not is_test_path(p)]
    # Only a module the task does not name is split into the task's files.
    strays = "\n".join(files[p] for p in modules if _base(p) not in named)

    def left_out(path: str) -> bool:
        if path in files or _base(path) in by_name:
            return False
        if is_test_path(path):
            return not any(is_test_path(p) for p in files)
        if homes.get(path):
            return not all(defines(strays, name) for name in homes[path])
        return len(modules) < len([p for p in wanted if not is_test_path(p)])

    return [path for path in wanted if left_out(path)]


def defines(code: str, name: str) -> bool:
    """Whether a `def` or `class` of that name starts a line of the code (read in linear time)."""
    pattern = rf"^[ \t]*+(?:async[ \t]+)?(?:def|class)[ \t]+{re.escape(name)}\b"
    return re.search(pattern, code, re.M) is not None


def _base(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _complete(
    config: AgentConfig,
    messages: list[BaseMessage],
    answer: str,
    files: dict[str, str],
    missing: list[str],
    seconds: float,
) -> tuple[dict[str, str], list[UsageRecord]]:
    """The files an answer left out, asked for once in the same conversation.

    A small model often writes the first file of a package and stops (task 60: one file of
    three in every version, under any token cap). The conversation goes on from its answer,
    so the server's prefix cache keeps the prompt evaluated. Of what comes back, only the
    missing files are taken (a bare `report.py` goes to `expenses/report.py`); a file
    written again, a failed call or an answer with no code leaves the files as they were.
    `seconds` is the Coder's time for 1,024 tokens; a `num_predict` the user set wins.
    """
    many = len(missing) > 1
    ask = MISSING.format(
        missing=", ".join(missing), them="them" if many else "it", they="They" if many else "It"
    )
    budget = config.num_predict or min(TOKENS_PER_FILE * len(missing), MAX_TOKENS)
    timeout = seconds * max(1.0, budget / MODELFILE_TOKENS)
    options: dict[str, Any] = {"client_kwargs": {"timeout": timeout}}
    if config.num_predict is None:
        options["num_predict"] = budget
    follow = [*messages, AIMessage(content=answer), HumanMessage(content=ask)]
    try:
        text, record = ask_text("coder", config, follow, **options)
    except CallFailed:
        return files, []
    by_name = {_base(p): p for p in missing}
    added = {}
    for path, content in parse_fenced(text, missing[0]).items():
        if path in missing:
            added[path] = content
        elif "/" not in path and path in by_name:
            added.setdefault(by_name[path], content)
    return {**files, **added}, [record]


NO_BLOCK = (
    "That answer has no ```python block, so no file could be taken from it. Answer again "
    "with the complete code, one ```python block per file, the first line naming the file."
)


def _fenced(
    config: AgentConfig,
    messages: list[BaseMessage],
    default: str,
    options: dict[str, Any],
    started: threading.Event | None = None,
    contract: Mapping[str, Any] | None = None,
    seconds: float = 0.0,
) -> tuple[dict[str, str], list[UsageRecord]]:
    """Files from fenced blocks; an answer with none is retried once, the problem named.

    Files of the `contract` that the answer left out are asked for once more (`_complete`,
    given `seconds` per 1,024 tokens).
    """
    usage = []
    for _ in range(2):
        text, record = ask_text("coder", config, messages, started, **options)
        usage.append(record)
        files = parse_fenced(text, default)
        if files:
            if missing := missing_files(files, contract):
                files, more = _complete(config, messages, text, files, missing, seconds)
                usage += more
            return files, usage
        messages = [*messages, AIMessage(content=text), HumanMessage(content=NO_BLOCK)]
    raise AgentOutputError("the coder wrote no code block, twice")


MODELFILE_TOKENS = 1024
"""The Coder's Modelfile cap on an answer (`modelfiles/coder.Modelfile`, `num_predict`)."""
TOKENS_PER_FILE = 640
"""What one file of a task's project may take; the Modelfile's cap fits one or two."""
MAX_TOKENS = 3072


def token_budget(config: AgentConfig, contract: Mapping[str, Any] | None) -> dict[str, int]:
    """`num_predict` for a task whose contract names three or more files, unless one is set.

    The Coder's Modelfile caps an answer at 1,024 tokens. A package of three files and its
    tests needs more: the cap cut the third file of a fix mid-line (task 60 in the
    multi-file bench), and a cut file is kept as far as it got (`parse_fenced`).
    """
    files = len((contract or {}).get("files", []))
    if config.num_predict is not None or files < 3:
        return {}
    return {"num_predict": min(TOKENS_PER_FILE * files, MAX_TOKENS)}


def write_code(
    state: State,
    ctx: Context,
    config: AgentConfig | None = None,
    fix: bool = False,
    with_plan: bool = True,
    started: threading.Event | None = None,
) -> tuple[dict[str, str], list[UsageRecord]]:
    """Ask the Coder's model for the files; return them (checked) and the usage records.

    `with_plan=False` writes from the task alone (a candidate that the plan cannot mislead).
    `started` is set when the request is about to go (`agents.structured.ask_text`).

    Raises `AgentOutputError` for an answer unusable after its retry, and one of `CallFailed`
    when the call fails or takes longer than `Context.coder_seconds` (scaled up with a larger
    `token_budget`).
    """
    config = config or ctx.coder
    prompt = _prompt(state, ctx.coder_format, fix, with_plan)
    messages: list[BaseMessage] = [HumanMessage(content=prompt)]
    budget = token_budget(config, state.contract)
    # A longer answer is given the time in proportion.
    seconds = ctx.coder_seconds * max(1.0, budget.get("num_predict", 0) / MODELFILE_TOKENS)
    options: dict[str, Any] = {"client_kwargs": {"timeout": seconds}, **budget}
    if ctx.coder_format == "json":
        answer, usage = ask_structured(
            "coder", config, messages, CoderFiles, started=started, **options
        )
        files = {f.path: f.content for f in answer.files}
    else:
        # A fix sends only the files it changes, so only a first turn is asked for the rest.
        wanted = None if fix else state.contract
        default = _default_module(state.plan)
        files, usage = _fenced(
            config, messages, default, options, started, wanted, ctx.coder_seconds
        )
    try:
        return checked_files(files), usage
    except ProjectFileError as exc:
        raise AgentOutputError(f"the coder wrote an unusable file map: {exc}") from exc


VARIANTS = (("direct", False, False), ("sample", True, True), ("direct-sample", False, True))
"""The extra candidates of a first turn, in order: (origin, with the plan, sampled hot).

The first candidate follows the plan at the Coder's own temperature. The second is written
from the task alone at the same temperature: a small Planner's plan sometimes misleads (the
single call solved 14_brackets; no candidate written from the plan did), and a different
prompt gives more diverse mistakes than a hotter sample of the same one. Then samples at
`Context.sample_temperature`, with and without the plan.
"""
SHORT_VARIANTS = (("sample", True, True),)
"""The extra candidates on the short path, where the plan only restates the task: a
task-only version would be the first one again, so every other version is a sample."""


def _jobs(state: State, ctx: Context, fix: bool) -> list[tuple[str, bool, bool, bool]]:
    """What one turn writes: (origin, with the plan, sampled hot, a fix) per version.

    A fix turn writes the fix; a first turn the first version, and the others (`VARIANTS`)
    at once unless `Context.staged` holds them back; a widening turn (`State.widen`: the
    first version failed a test) writes those others, beside the fix when there is one.
    """
    fixing = [("fix" if state.feedback_kind == "tests" else "security", True, False, True)]
    if fix and not state.widen:
        return fixing
    variants = SHORT_VARIANTS if state.short else VARIANTS
    others = [(*variants[i % len(variants)], False) for i in range(ctx.coder_candidates - 1)]
    if state.widen:
        return [*(fixing if fix else []), *others]
    return [("first", True, False, False), *([] if ctx.staged else others)]


def _versions(
    state: State, ctx: Context, config: AgentConfig, fix: bool
) -> tuple[list[tuple[str, dict[str, str]]], list[UsageRecord], list[str]]:
    """One turn on one route: (origin, files) per version written, usage, notes.

    The versions of a turn (`_jobs`) are requested at once: a server that batches decodes
    them together (one pass over the weights per step for every version), one that does
    not answers them in turn. An unusable version (no code in the answer, twice) and one
    whose call failed (a timeout, an error the server sent mid-stream) are left out, named
    in the notes; the turn fails (raised: the first version's error if it had one) only
    when no version was written.
    """
    jobs = _jobs(state, ctx, fix)
    out, usage, notes, unusable = _write_all(state, ctx, config, jobs)
    if not out and jobs[0][0] == "first" and ctx.staged and ctx.coder_candidates > 1:
        # A first version held back its siblings and wrote nothing usable: they get their turn.
        notes.append("the first version was unusable, so the others were written")
        more = _jobs(replace(state, widen=True), ctx, fix=False)
        out, used, more_notes, _ = _write_all(state, ctx, config, more)
        usage += used
        notes += more_notes
    if not out:
        raise unusable or AgentOutputError("the coder wrote no usable version")
    return out, usage, notes


def _write_all(
    state: State, ctx: Context, config: AgentConfig, jobs: list[tuple[str, bool, bool, bool]]
) -> tuple[list[tuple[str, dict[str, str]]], list[UsageRecord], list[str], Exception | None]:
    """The jobs' versions, requested at once; (origin, files) written, usage, notes, first error."""
    hot = replace(config, temperature=ctx.sample_temperature)
    # Each call runs in a copy of this node's context, so `stream_mode="messages"` still
    # sees every version's tokens. The calls start in order (each waits until the one
    # before has made its model), then run at once.
    futures = []
    with ContextThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for _, with_plan, sampled, fixing in jobs:
            started = threading.Event()
            future = pool.submit(
                write_code, state, ctx, hot if sampled else config, fixing, with_plan, started
            )
            while not started.wait(0.05) and not future.done():
                pass
            futures.append(future)
        results = [_outcome(future) for future in futures]
    out: list[tuple[str, dict[str, str]]] = []
    usage: list[UsageRecord] = []
    notes: list[str] = []
    unusable: Exception | None = None
    for (origin, _, _, _), result in zip(jobs, results, strict=True):
        if not isinstance(result, Exception):
            files, used = result
            usage += used
            out.append((origin, files))
            continue
        unusable = unusable or result  # the turn's first version's error comes first
        if isinstance(result, AgentOutputError):
            notes.append(f"the {origin} candidate was unusable: {result}")
        else:
            # The versions written stand; more calls to a failing model would only repeat it.
            notes.append(f"the {origin} candidate's call failed ({type(result).__name__})")
    return out, usage, notes, unusable


def _outcome(
    future: Future[tuple[dict[str, str], list[UsageRecord]]],
) -> tuple[dict[str, str], list[UsageRecord]] | Exception:
    """A version's files and usage, or the error that made it unusable."""
    try:
        return future.result()
    except Unusable as exc:
        return exc


def coder(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Write candidates (a route's first turn) or one fix; count the round; say if unusable."""
    ctx = runtime.context
    update: dict[str, Any] = {} if state.coder_routes else plan_routes(ctx)
    routes = update.get("coder_routes", state.coder_routes)
    route = update.get("coder_route", state.coder_route)
    notes: list[str] = list(update.pop("notes", []))
    fix = state.feedback_kind in ("tests", "security") and bool(state.feedback and state.files)
    rounds = dict(state.rounds)
    route_rounds = state.route_rounds
    if fix and state.feedback_kind == "tests":
        rounds["fix"] = rounds.get("fix", 0) + 1
        route_rounds += 1
    elif fix:
        rounds["security"] = rounds.get("security", 0) + 1
    usage: list[UsageRecord] = []
    written: list[tuple[str, dict[str, str]]] = []
    unusable = ""
    try:
        written, used, more = _versions(state, ctx, route_config(route, ctx.coder), fix)
        usage += used
        notes += more
    except Unusable as exc:
        unusable = f"its answer was unusable ({type(exc).__name__}: {str(exc)[:120]})"
        if after(routes, route) is None:  # else the graph escalates (`nodes.escalation`)
            notes.append(f"the coder on {route} wrote nothing usable: {unusable}")
    first_id = len(state.candidates)
    new = [
        {"id": first_id + i, "route": route, "origin": origin, "files": files}
        for i, (origin, files) in enumerate(written)
    ]
    for candidate in new:
        if candidate["origin"] in ("fix", "security"):
            # A fix may send only the files it changed; the others stay as they were.
            with contextlib.suppress(ProjectFileError):
                candidate["files"] = checked_files({**state.files, **candidate["files"]})
    wanted = list((state.contract or {}).get("files", []))
    for candidate in new:
        candidate["files"], made = demo_to_test_file(candidate["files"], wanted)
        notes += [f"candidate #{candidate['id']}: {change}" for change in made]
        candidate["files"], changes = tidy_files(candidate["files"])
        notes += [f"tidied candidate #{candidate['id']}: {change}" for change in changes]
        candidate["files"], moved = place_files(candidate["files"], state.contract)
        candidate["files"], renamed = keep_names(candidate["files"], state.contract)
        candidate["files"], imports = fix_imports(candidate["files"])
        notes += [f"candidate #{candidate['id']}: {c}" for c in moved + renamed + imports]
    update.update(
        candidates=[*state.candidates, *new],
        files=new[0]["files"] if new else state.files,
        coder_route=route,
        route_rounds=route_rounds,
        coder_unusable=unusable,
        widen=False,
        rounds=rounds,
        usage=usage,
        notes=notes,
    )
    return update
