"""The ingest graph: a path, a feed or page URL, or a search query into the lake, then the index.

ingest_source (bronze → silver) → index (embeddings, FAISS, BM25), as in LangGraph's retrieval
template, where ingestion is a graph of its own beside the one that answers.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from graphs.context import with_default_context
from graphs.ingest_state import IngestContext, IngestInput, IngestState
from nodes.ingest import index, ingest_source, wants_index

builder = StateGraph(IngestState, IngestContext, input_schema=IngestInput)
builder.add_node("ingest_source", ingest_source)
builder.add_node("index", index)
builder.add_edge(START, "ingest_source")
builder.add_conditional_edges("ingest_source", wants_index, {True: "index", False: END})
builder.add_edge("index", END)

graph = with_default_context(builder.compile(name="ingest"), IngestContext)
