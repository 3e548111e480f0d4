"""The Q&A graph: a question in, a direct answer of a known kind with checked `[n]` citations out.

condense → retrieve → (search_ingest, only online and when retrieval is weak) → answer →
(decide, only for a draft that could be `stated`) → verify. `graph` is compiled without a
checkpointer for `langgraph dev`, which brings its own; `build_graph(checkpointer)` gives
threads (multi-turn follow-ups) to Python callers. Per-run settings: `context=QAContext(...)`;
`run(inputs)` runs once on the default context.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer

from agents.answer import answer
from agents.condense import condense
from agents.decide import decide, needs_verdict
from graphs.context import run_on_defaults
from graphs.qa_context import QAContext
from graphs.qa_state import QAInput, QAOutput, QAState
from nodes.retrieve import retrieve
from nodes.search_ingest import needs_web, search_ingest
from nodes.verify import verify


def after_retrieve(
    state: QAState, runtime: Runtime[QAContext]
) -> Literal["search_ingest", "answer"]:
    """Search the web only in online mode and when the lake's answer looked weak."""
    return "search_ingest" if needs_web(state, runtime) else "answer"


def after_answer(state: QAState, runtime: Runtime[QAContext]) -> Literal["decide", "verify"]:
    """Ask whether the source states the answer only for a draft that would be `stated`."""
    return "decide" if needs_verdict(state, runtime.context) else "verify"


builder = StateGraph(QAState, QAContext, input_schema=QAInput, output_schema=QAOutput)
builder.add_node("condense", condense)
builder.add_node("retrieve", retrieve)
builder.add_node("search_ingest", search_ingest)
builder.add_node("decide", decide)
builder.add_node("answer", answer)
builder.add_node("verify", verify)
builder.add_edge(START, "condense")
builder.add_edge("condense", "retrieve")
builder.add_conditional_edges("retrieve", after_retrieve, ["search_ingest", "answer"])
builder.add_edge("search_ingest", "answer")
builder.add_conditional_edges("answer", after_answer, ["decide", "verify"])
builder.add_edge("decide", "verify")
builder.add_edge("verify", END)

graph = builder.compile(name="qa")


def build_graph(
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph[QAState, QAContext, QAInput, QAOutput]:
    """The Q&A graph compiled with a checkpointer (e.g. `SqliteSaver`), for threads."""
    return builder.compile(checkpointer=checkpointer, name="qa")


def run(
    inputs: QAInput | dict[str, Any],
    context: QAContext | None = None,
    config: RunnableConfig | None = None,
) -> dict[str, Any]:
    """One run of `graph` on `context`, else on the defaults (`graphs.context.run_on_defaults`)."""
    return run_on_defaults(graph, QAContext, inputs, context, config)
