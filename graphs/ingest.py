"""The ingest graph: a path, a feed or page URL, or a search query into the lake, then the index.

ingest_source (bronze → silver) → [index on, source taken] index (embeddings, FAISS, BM25),
as in LangGraph's retrieval template, where ingestion is a graph of its own beside the one
that answers. Per-run settings: `context=IngestContext(...)`; `run(inputs)` runs once on the
default context.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from graphs.context import run_on_defaults
from graphs.ingest_state import IngestContext, IngestInput, IngestState
from nodes.ingest import index, ingest_source


def after_ingest(
    state: IngestState, runtime: Runtime[IngestContext]
) -> Literal["index", "__end__"]:
    """Index only when asked to and the source was ingested."""
    return "index" if runtime.context.index and not state.error else "__end__"


builder = StateGraph(IngestState, IngestContext, input_schema=IngestInput)
builder.add_node("ingest_source", ingest_source)
builder.add_node("index", index)
builder.add_edge(START, "ingest_source")
builder.add_conditional_edges("ingest_source", after_ingest, ["index", END])
builder.add_edge("index", END)

graph = builder.compile(name="ingest")


def run(
    inputs: IngestInput | dict[str, Any],
    context: IngestContext | None = None,
    config: RunnableConfig | None = None,
) -> dict[str, Any]:
    """One run of `graph` on `context`, else on the defaults (`graphs.context.run_on_defaults`)."""
    return run_on_defaults(graph, IngestContext, inputs, context, config)
