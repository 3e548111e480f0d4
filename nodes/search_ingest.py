"""Search-and-ingest: when retrieval is weak and online mode is on, search the web, keep it.

The results go through the lake's guarded fetcher into bronze and silver, are indexed, and
retrieval runs again, so the next person who asks finds them offline. Both graphs use this
one step. Offline (the default) it never runs: `needs_web` is false, and the lake's fetcher
would refuse anyway.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from lake.config import LakeSettings
from lake.fetcher import FetchFailed, FetchRefused
from lake.operations import ingest
from lake.search import SearchFailed
from nodes.retrieve import Context, State, search_lake, strength
from retrievers.config import RetrievalSettings
from retrievers.indexer import sync_index
from retrievers.retriever import server_embedder


def needs_web(state: State, runtime: Runtime[Context]) -> bool:
    """Route: search the web only in online mode, and only when retrieval was weak."""
    return runtime.context.online and state.retrieval_strength < runtime.context.weak_below


def search_ingest(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Search the web for the query, ingest and index the results, then retrieve again.

    A refused or failed search is a note on the run, and the lake's sources stand.
    """
    query = state.retrieval_query()
    lake = LakeSettings(online=True)
    try:
        report = ingest(lake, f'search:"{query}"', topic="web")
    except (SearchFailed, FetchRefused, FetchFailed, ValueError) as exc:
        return {"searched_web": False, "notes": [f"web search failed: {exc}"]}
    settings = RetrievalSettings()
    sync_index(lake, settings, server_embedder(settings.embedding_model))
    sources, notes = search_lake(query, runtime.context)
    added = f"web search added {report.bronze.added} page(s) to the lake"
    return {
        "sources": sources,
        "retrieval_strength": strength(query, sources),
        "searched_web": True,
        "notes": [added, *notes],
    }
