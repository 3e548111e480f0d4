"""The retrieve step both graphs start with: hybrid search over the lake, numbered sources.

It also judges whether retrieval is weak, which is what lets the search-and-ingest step run
(online mode only): the share of the query's content words that the best passage covers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from langgraph.runtime import Runtime

from agents.context import RetrievalContext
from agents.state import RetrievalState, Source
from nodes.sources import number_sources, terms
from retrievers import IndexNotReady, lake_retriever

# Generic over the graph's own state and context (each extends the shared ones), so a
# graph's node reads its own state and LangGraph keeps that graph's reducers.
State = TypeVar("State", bound=RetrievalState)
Context = TypeVar("Context", bound=RetrievalContext)


def strength(query: str, sources: Sequence[Source]) -> float:
    """How well the sources cover the query, 0 to 1: the best share of its content words found.

    No sources (or a query with no content words) is 0.
    """
    wanted = terms(query)
    if not wanted or not sources:
        return 0.0
    return max(len(wanted & terms(f"{s['title']} {s['text']}")) / len(wanted) for s in sources)


def search_lake(query: str, ctx: RetrievalContext) -> tuple[list[Source], list[str]]:
    """Retrieve and number sources for `query`; notes say why there are none, if so."""
    try:
        docs = lake_retriever(k=ctx.k, mode=ctx.retrieval_mode).invoke(query)
    except IndexNotReady as exc:
        return [], [f"the lake has no search index yet ({exc}); run `terraqore lake index`"]
    return number_sources(docs, query, ctx.snippet_chars), []


def retrieve(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Retrieve sources for the run's query from the lake."""
    query = state.retrieval_query()
    sources, notes = search_lake(query, runtime.context)
    return {"sources": sources, "retrieval_strength": strength(query, sources), "notes": notes}
