"""The ingest graph's steps: a source into bronze and silver, then the new chunks into the index.

Progress goes to LangGraph's custom stream (`stream_mode="custom"`) as
`{"step", "done", "total"}`, so a page or a notebook can show a bar.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graphs.context import given
from graphs.ingest_state import IngestContext, IngestState
from lake.config import LakeSettings
from lake.database import LakeError
from lake.fetcher import FetchFailed, FetchRefused
from lake.operations import ingest
from lake.search import SearchFailed
from retrievers.config import RetrievalSettings
from retrievers.errors import EmbeddingError
from retrievers.indexer import sync_index
from retrievers.retriever import server_embedder

# What a user can cause: a missing path, a refused URL, a bad feed, a rate-limited search.
USER_ERRORS = (ValueError, FetchRefused, FetchFailed, SearchFailed, LakeError, OSError)


def _progress(runtime: Runtime[IngestContext]) -> Any:
    def emit(step: str, done: int, total: int) -> None:
        runtime.stream_writer({"step": step, "done": done, "total": total})

    return emit


def ingest_source(state: IngestState, runtime: Runtime[IngestContext]) -> dict[str, Any]:
    """Ingest the source into bronze and promote what is new to silver."""
    settings = LakeSettings(online=given(runtime).online)
    # Every output field is written, so a run's output always has all of them.
    nothing = {"added": 0, "already_present": 0, "promoted": 0, "chunks": 0, "dropped": {}}
    try:
        report = ingest(settings, state.source, state.topic, progress=_progress(runtime))
    except USER_ERRORS as exc:
        return {**nothing, "indexed": 0, "error": f"{state.source}: {exc}"}
    return {
        "added": report.bronze.added,
        "already_present": report.bronze.already_present,
        "promoted": report.silver.promoted,
        "chunks": report.silver.chunks,
        "dropped": dict(report.silver.dropped),
        "indexed": 0,
        "error": "",
    }


def index(state: IngestState, runtime: Runtime[IngestContext]) -> dict[str, Any]:
    """Embed the new chunks and bring the FAISS and BM25 indexes up to date."""
    settings = RetrievalSettings()
    try:
        report = sync_index(
            LakeSettings(),
            settings,
            server_embedder(settings.embedding_model),
            progress=_progress(runtime),
        )
    except (EmbeddingError, LakeError) as exc:
        return {"error": f"indexing failed: {exc}"}
    return {"indexed": report.embedded}
