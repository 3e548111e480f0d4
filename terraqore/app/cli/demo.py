"""`terraqore demo` (what `make demo` runs): the product in one go, on the embedded default models.

1. start the built-in server, or reuse one that answers;
2. load the default knowledge base into the lake if it is empty, with a progress bar;
3. answer one question with numbered, checked citations (the Q&A graph);
4. build one small project with the studio graph, showing each agent's progress;
5. say where the project and its test report are. Only a server this run started is stopped.
"""

from __future__ import annotations

from pathlib import Path

import typer

from graphs.studio_context import Context
from lake.config import LakeSettings
from nodes.report import outcome
from terraqore.app.cli.ask import run_question
from terraqore.app.cli.build import run_build
from terraqore.app.cli.console import err, out
from terraqore.app.cli.lake import lake_seed
from terraqore.app.cli.support import cli_errors
from terraqore.client.server_process import ensure_server
from terraqore.client.settings import Settings

QUESTION = "How is the data lake encrypted, and where does its key come from?"
"""Answered by this project's own docs (docs/lake.md), which are always in the knowledge base,
so a person can open the cited file and check."""

TASK = (
    "a Python function is_palindrome(text) that ignores case, spaces and punctuation;"
    " is_palindrome('Never odd or even') returns True"
)
"""The issue-25 demo task, with one example: the studio runs a task's examples as tests,
without a model, and believes them before its own."""


def _section(title: str) -> None:
    out.print(f"\n[bold cyan]== {title}[/]")


def _lake_has_chunks() -> int:
    from lake.operations import status

    settings = LakeSettings()
    return int(status(settings)["silver_chunks"] or 0) if settings.db_path.exists() else 0


@cli_errors
def demo(
    question: str = typer.Option(QUESTION, help="The question to answer from the lake."),
    task: str = typer.Option(TASK, help="The small project to build."),
    out_dir: Path | None = typer.Option(None, "--out", help="Where to write the project."),
) -> None:
    """Show the product: the server, the lake, a cited answer and a studio build."""
    settings = Settings()
    _section("1. the built-in server")
    handle = ensure_server(settings)
    where = "started" if handle.started_here else "reusing the one"
    out.print(f"{where} at {handle.base_url} (stopped at the end only if started here)")

    _section("2. the knowledge base")
    chunks = _lake_has_chunks()
    if chunks:
        out.print(f"the lake already holds {chunks} chunks; nothing to load")
    else:
        lake_seed(articles=None, index=True)

    _section(f"3. a question, answered from the lake with checked citations\n   {question}")
    answer = run_question(question, None, False, None, False)
    if not answer.get("sources"):
        err.print("[yellow]note:[/] no sources were found; run `terraqore lake seed`")

    _section(f"4. the studio builds: {task}")
    folder = out_dir or settings.private("projects") / "demo-palindrome"
    state = run_build(task, folder, Context(max_fix_rounds=1), ask=lambda plan: True)

    _section("5. where things are")
    validation = state.get("validation", {})
    verdict = outcome(validation, state.get("security", {}))
    # What `terraqore build` would exit with (0 only for a pass; see docs/studio.md).
    out.print(f"build:       {verdict}", highlight=False)
    tests = f"{validation.get('tests_passed', 0)}/{validation.get('tests_run', 0)}"
    # soft_wrap: a path must stay on one line, whatever the terminal's width
    out.print(f"project:     {folder}/", soft_wrap=True)
    out.print(
        f"test report: {folder / 'REPORT.md'} (tests {tests} passed in the "
        f"{validation.get('sandbox', '?')} sandbox)",
        soft_wrap=True,
    )
    out.print('next: `terraqore ask "..."`, `terraqore build "..."`, `make dev`, notebooks/')
