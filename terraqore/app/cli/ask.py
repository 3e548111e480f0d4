"""`terraqore ask "QUESTION"`: a cited answer from the lake (and the web, when online).

The answer's tokens stream as the model writes them; the checked answer follows if the
citation check changed it, then its kind (stated in the sources, sources identify the
subject only, or not found) and the numbered sources. `--strict` keeps only answers that a
source states. Threads (`--thread ID`) live in
`$TERRAQORE_HOME/threads.sqlite`, so a follow-up can say "he" or "it".
"""

from __future__ import annotations

import json
import sqlite3
import sys
import uuid
from contextlib import closing
from typing import Any

import typer
from langchain_core.runnables import RunnableConfig

from graphs.qa_context import QAContext
from graphs.qa_state import QAInput
from server.home import private_file
from terraqore.app.cli.console import err, out
from terraqore.app.cli.support import cli_errors
from terraqore.client.settings import Settings


def _print_sources(sources: list[dict[str, Any]]) -> None:
    if not sources:
        return
    out.print("\nSources:", markup=False)
    for s in sources:
        when = f" ({s['published'][:10]})" if s.get("published") else ""
        out.print(f"[{s['n']}] {s['title'] or '(untitled)'}{when}: {s['url']}", markup=False)


KIND_LINES = {
    "stated": "Kind: stated (a source states the answer).",
    "identified": "Kind: identified (the sources speak of the subject but do not state the "
    "answer; the sentence after 'Not in the sources:' is the model's own, not checked).",
    "not_found": "Kind: not found (no source supports an answer).",
}


def _squash(text: str) -> str:
    return "".join(text.split())


def run_question(
    question: str,
    thread: str | None,
    online: bool,
    k: int | None,
    as_json: bool,
    strict: bool = False,
) -> dict[str, Any]:
    """Run the Q&A graph, streaming the answer's tokens unless `as_json`; return the output."""
    from graphs.qa import build_graph

    context = QAContext()
    context.k = k or context.k
    context.online = online or context.online
    context.strict = strict or context.strict
    path = ":memory:"
    if thread:  # the conversation's questions and answers: owner only, the home included
        path = str(private_file(Settings().private() / "threads.sqlite", create=True))
    with closing(sqlite3.connect(path, check_same_thread=False)) as db:
        from langgraph.checkpoint.sqlite import SqliteSaver

        # A one-off question gets a throwaway in-memory thread: the checkpointer is how
        # the final state is read back after streaming.
        graph = build_graph(SqliteSaver(db))
        config = RunnableConfig(configurable={"thread_id": thread or uuid.uuid4().hex})
        streamed = []
        for part in graph.stream(
            QAInput(question=question),
            config,
            context=context,
            stream_mode=["updates", "messages"],
            version="v2",
        ):
            if part["type"] == "updates" and "search_ingest" in part["data"] and not as_json:
                err.print("(searched the web: the lake had too little)", highlight=False)
            elif part["type"] == "messages" and not as_json:
                chunk, meta = part["data"]
                if meta.get("langgraph_node") == "answer" and isinstance(chunk.content, str):
                    streamed.append(chunk.content)
                    sys.stdout.write(chunk.content)
                    sys.stdout.flush()
        final = dict(graph.get_state(config).values)
    if not as_json:
        answer = final.get("answer", "")
        if _squash("".join(streamed)) != _squash(answer):
            if streamed:
                out.print("\n\nChecked answer:", markup=False)
            out.print(answer, markup=False)
        else:
            out.print()
        err.print(KIND_LINES.get(final.get("kind", ""), ""), markup=False, highlight=False)
        _print_sources(final.get("sources", []))
        for note in final.get("notes", []):
            err.print(f"note: {note}", markup=False, highlight=False)
    return final


@cli_errors
def ask(
    question: str = typer.Argument(..., help="The question, in plain language."),
    as_json: bool = typer.Option(False, "--json", help="Print the output object as JSON."),
    thread: str | None = typer.Option(None, "--thread", help="Continue this conversation."),
    online: bool = typer.Option(
        False, "--online", help="Allow a web search (for this call) when the lake has too little."
    ),
    k: int | None = typer.Option(None, "-k", min=1, max=50, help="Sources to retrieve."),
    strict: bool = typer.Option(
        False, "--strict", help="Answer only what a source states; otherwise say not found."
    ),
) -> None:
    """Answer a question (or a statement, or keywords) from the lake, citing numbered sources."""
    final = run_question(question, thread, online, k, as_json, strict)
    if as_json:
        keys = ("answer", "kind", "sources", "citations_valid", "grounding", "usage", "notes")
        # Plain stdout: a console would wrap long strings at its width and break the JSON.
        sys.stdout.write(json.dumps({key: final.get(key) for key in keys}, default=str) + "\n")
