"""`lake_retriever(...)`: the lake behind a LangChain `BaseRetriever`."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from lake.config import LakeSettings
from retrievers.config import RetrievalSettings
from retrievers.embedder import Embedder, ServerEmbedder
from retrievers.filters import RetrievalFilters, as_filters
from retrievers.hybrid import MODES, LakeSearch, Mode
from terraqore.client.models import ollama_client


class LakeRetriever(BaseRetriever):
    """Hybrid, dense or BM25 retrieval over the lake's silver chunks.

    Each Document's metadata has `chunk_id`, `item_id`, `source` (the item's URL or file
    path), `title`, `published`, `score`, and also `kind`, `topic`, `dense_rank`, `bm25_rank`,
    `dense_score` (cosine) and `bm25_score` (None where the chunk was not that method's
    candidate), and `fusion` (the hybrid weights that ranked it, else None).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    search: LakeSearch
    k: int = 4
    mode: Mode = "hybrid"
    filters: RetrievalFilters = RetrievalFilters()
    mmr: bool = False

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        found = self.search.search(query, self.k, self.mode, self.filters, self.mmr)
        return [Document(page_content=p.text, metadata=p.metadata()) for p in found]


def server_embedder(model: str) -> Embedder:
    """An embedder on the configured server, started if none answers."""
    return ServerEmbedder(ollama_client(), model)


def lake_retriever(
    k: int = 4,
    mode: Mode = "hybrid",
    filters: RetrievalFilters | dict[str, Any] | None = None,
    mmr: bool = False,
    lake: LakeSettings | None = None,
    settings: RetrievalSettings | None = None,
    embedder: Embedder | None = None,
) -> LakeRetriever:
    """A retriever over the lake (`TERRAQORE_HOME` unless `lake` says otherwise).

    `filters` takes `kind`, `topic` (a value or a list), `since` and `until` (dates).
    The embedder defaults to the configured embedding model on the configured server,
    which is only contacted when a query needs it (never for `mode="bm25"`).
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    settings = settings or RetrievalSettings()
    model = settings.embedding_model
    search = LakeSearch(
        lake or LakeSettings(),
        settings,
        embedder=embedder,
        embedder_factory=lambda: server_embedder(model),
    )
    return LakeRetriever(search=search, k=k, mode=mode, filters=as_filters(filters), mmr=mmr)
