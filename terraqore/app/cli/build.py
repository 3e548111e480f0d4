"""`terraqore build "TASK"`: run the studio graph, show the agents' progress, write the project.

The graph streams node updates and tokens (`stream_mode=["updates", "messages"]`): a line
per finished step, and a live count of the tokens the current agent is writing. The
project, the Validator's tests, `REPORT.md` and `studio.json` (idea, plan, test results,
review, sources, rounds, usage) are written to `--out`, the folder either way. The exit
status (`nodes.report.outcome`):

- 0: every credible test passed, the code keeps the task's names, the gate let it through;
- 3 (`EXIT_DOUBTED`): the same, except that some tests failed that are all doubted (no
  version passed them and they restate no example of the task; REPORT.md names them);
- 5 (`EXIT_UNTESTED`): 0 or 3, but no test called a function the task names, so nothing
  shows that it works (REPORT.md says which);
- 4 (`EXIT_NO_SANDBOX`): nothing ran, because no sandbox that isolates files and network
  works here (`--sandbox audit-hook` runs the code unsandboxed, and REPORT.md says so first);
- 1: anything else (a credible test failed, the task's names were not kept, the gate
  blocked, no test ran, the plan was rejected).

With `--approve-plan` the run stops after the Planner and asks.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from agents.structured import AgentOutputError
from graphs.studio_context import Context
from nodes.report import outcome
from server.home import private_file
from terraqore.app.cli.console import err, out, shown
from terraqore.app.cli.support import cli_errors, fail
from terraqore.client.settings import Settings
from terraqore.codecheck.project_files import ProjectFileError, write_files
from terraqore.codecheck.sandbox import SandboxUnavailable, which
from terraqore.codecheck.task_contract import describe

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig


EXIT_DOUBTED = 3
"""Exit status of a build whose only failing tests are doubted ones."""
EXIT_UNTESTED = 5
"""Exit status of a build whose tests pass but never call a function the task names."""
EXIT_STATUS = {"pass": 0, "doubted": EXIT_DOUBTED, "untested": EXIT_UNTESTED, "fail": 1}
EXIT_NO_SANDBOX = 4
"""Exit status when no sandbox can run generated code here: the build does not start."""


def _default_out(task: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", task.lower()).strip("-")[:40] or "project"
    return Path("studio-builds") / slug


def _summary(node: str, update: dict[str, Any]) -> str:
    """One line for a finished step."""
    if node == "retrieve":
        return f"retrieved {len(update.get('sources', []))} source(s) from the lake"
    if node == "search_ingest":
        return "searched the web" if update.get("searched_web") else "web search failed"
    if node == "idea" and update.get("idea"):
        return f"idea: {update['idea']['title']}"
    if node == "planner" and update.get("plan"):
        plan = update["plan"]
        files = ", ".join(f["path"] for f in plan["files"])
        return f"plan: {len(plan['steps'])} steps, files {files}"
    if node == "coder":
        written = ", ".join(sorted(update.get("files", {}))) or "nothing"
        new = [c for c in update.get("candidates", []) if not c.get("validation")]
        fixes = sum(c["origin"] in ("fix", "security") for c in new)
        if len(new) < 2:
            return f"coder wrote {written}"
        if fixes:
            return f"coder wrote a fix and {len(new) - fixes} more version(s) of {written}"
        return f"coder wrote {len(new)} versions of {written}"
    if node == "validator":
        designed = update.get("designed_tests")
        if not designed:
            return "validator: tests kept"
        own = sum(t.get("origin") == "task" for t in designed)
        line = f"validator designed {len(designed) - own} test(s)"
        return line + (f", and the task's {own} example(s) are tests" if own else "")
    if node == "run_tests" and update.get("validation"):
        v = update["validation"]
        status = "passed" if v["passed"] else "failing"
        line = f"tests {status}: {v['tests_passed']}/{v['tests_run']} in {v['seconds']} s"
        if v.get("stated_run"):
            line += f" (the task's examples: {v['stated_passed']}/{v['stated_run']})"
        pool = update.get("candidates", [])
        if len(pool) > 1:
            line += f", kept candidate #{update['selected']} of {len(pool)}"
        if update.get("widen"):
            line += "; the coder writes its other versions"
        return line
    if node == "security_scan":
        return f"bandit: {len(update.get('security', {}).get('findings', []))} finding(s)"
    if node == "security" and update.get("security"):
        s = update["security"]
        return f"security: {s['verdict']} ({len(s['findings'])} finding(s))"
    return node


def _stream(app: Any, payload: Any, config: RunnableConfig, ctx: Any) -> None:
    """Run until the graph ends or pauses, showing steps and a live token count."""
    tokens = 0
    with err.status("starting") as status:
        for mode, chunk in app.stream(
            payload, config, context=ctx, stream_mode=["updates", "messages"]
        ):
            if mode == "messages":
                message, meta = chunk
                tokens += 1 if getattr(message, "content", "") else 0
                status.update(f"{meta.get('langgraph_node', '')}: {tokens} tokens")
                continue
            for node, update in chunk.items():
                if node != "__interrupt__" and isinstance(update, dict):
                    err.print(f"[green]✓[/] {shown(_summary(node, update))}", highlight=False)
            tokens = 0


def _ask_approval(plan: dict[str, Any]) -> Any:
    err.print("\n[bold]Plan[/]")
    for f in plan.get("files", []):
        err.print(f"  {shown(f['path'])}: {shown(f['purpose'])}", highlight=False)
    for i, step in enumerate(plan.get("steps", []), 1):
        err.print(f"  {i}. {shown(step)}", highlight=False)
    err.print("Approve? yes / no / or type feedback for the planner: ", end="", markup=False)
    return sys.stdin.readline().strip() or "yes"


def _write(folder: Path, state: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_files(folder, {**state.get("files", {}), **state.get("test_files", {})})
    (folder / "REPORT.md").write_text(state.get("report", ""), encoding="utf-8")
    keys = (
        "task",
        "contract",
        "idea",
        "plan",
        "validation",
        "security",
        "sources",
        "rounds",
        "usage",
        "notes",
    )
    record = {k: state.get(k) for k in keys}
    (folder / "studio.json").write_text(json.dumps(record, indent=2, default=str), "utf-8")


@cli_errors
def build(
    task: str = typer.Argument(..., help="What to build, in your words."),
    out_dir: Path | None = typer.Option(None, "--out", help="Folder to write the project to."),
    online: bool = typer.Option(
        False, "--online", help="Allow a web search when the lake is weak."
    ),
    approve_plan: bool = typer.Option(False, "--approve-plan", help="Stop after the plan and ask."),
    max_fix_rounds: int | None = typer.Option(None, help="Rounds failing tests may send back."),
    sandbox: str | None = typer.Option(
        None,
        "--sandbox",
        help="Sandbox kind: bwrap, unshare or landlock (default: the strongest that works);"
        " audit-hook runs the code UNSANDBOXED.",
    ),
) -> None:
    """Build a project: idea, plan, code, tests run in a sandbox, and a security review."""
    if not task.strip():
        fail("the task is empty; say what to build")
    folder = out_dir or _default_out(task)
    overrides: dict[str, Any] = {"approve_plan": approve_plan}
    if online:
        overrides["online"] = True
    if max_fix_rounds is not None:
        overrides["max_fix_rounds"] = max_fix_rounds
    if sandbox is not None:
        overrides["sandbox"] = sandbox
    ctx = Context(**overrides)
    _check_sandbox(ctx.sandbox or None)
    state = run_build(task, folder, ctx, ask=_ask_approval)
    status = EXIT_STATUS[outcome(state.get("validation", {}), state.get("security", {}))]
    if status:
        raise typer.Exit(status)


def _check_sandbox(kind: str | None) -> None:
    """Refuse before any model runs when no sandbox can run the generated code; say which will."""
    chosen, account = which(kind)
    if chosen is None:
        fail(account, EXIT_NO_SANDBOX)
    if chosen == "audit-hook":
        out.print(f"[bold red]warning[/]: {account}", highlight=False)
    else:
        out.print(f"sandbox: {account}", highlight=False)


def run_build(task: str, folder: Path, ctx: Any, ask: Any = _ask_approval) -> dict[str, Any]:
    """Run the studio graph on a fresh thread, showing its progress; write the project.

    `ask(plan)` answers the plan-approval interrupt. Returns the final state.
    """
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.types import Command

    from graphs.studio import build_graph

    # The runs' plans and code: owner only, the home and `studio/` included.
    threads = private_file(Settings().private("studio") / "threads.sqlite", create=True)
    # A fresh thread per build: reusing one would carry the last run's tests and rounds over.
    config: RunnableConfig = {"configurable": {"thread_id": f"build-{uuid.uuid4().hex}"}}
    try:
        with sqlite3.connect(threads, check_same_thread=False) as conn:
            app = build_graph(SqliteSaver(conn))
            payload: Any = {"task": task}
            while True:
                _stream(app, payload, config, ctx)
                snapshot = app.get_state(config)
                if not snapshot.interrupts:
                    break
                payload = Command(resume=ask(snapshot.interrupts[0].value["plan"]))
            state = dict(snapshot.values)
    except (AgentOutputError, SandboxUnavailable, ProjectFileError) as exc:
        fail(str(exc))
    _write(folder, state)
    validation, security = state.get("validation", {}), state.get("security", {})
    out.print(f"wrote {folder}/ ({len(state.get('files', {}))} file(s), REPORT.md, studio.json)")
    out.print(
        f"tests: {validation.get('tests_passed', 0)}/{validation.get('tests_run', 0)} passed; "
        f"security: {security.get('verdict', 'not reviewed')}; sandbox: "
        f"{validation.get('sandbox', 'none')}"
    )
    names = describe(state.get("contract"))
    if names:
        kept = (validation.get("contract") or {}).get("kept", True)
        said = "kept" if kept else "NOT kept"
        out.print(f"the task's names: {shown(', '.join(names))} ({said})", highlight=False)
    if validation.get("untested"):
        out.print(
            f"untested: no test called {shown(', '.join(validation['untested']))}; see REPORT.md",
            highlight=False,
        )
    if outcome(validation, security) == "doubted":
        doubted = ", ".join(shown(t.split("::")[-1]) for t in validation.get("doubted", []))
        out.print(
            f"works, with doubts: only doubted tests fail ({doubted}); see REPORT.md",
            highlight=False,
        )
    return state
