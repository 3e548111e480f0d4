"""Retrieval over the lake: FAISS (dense) fused with DuckDB full-text search (BM25).

`from retrievers import lake_retriever` is the entry point. Names load on first use, so
importing a light module of this package (its errors, say) does not pull in FAISS.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EmbeddingError": "retrievers.errors",
    "IndexNotReady": "retrievers.errors",
    "LakeRetriever": "retrievers.retriever",
    "LakeSearch": "retrievers.hybrid",
    "Passage": "retrievers.hybrid",
    "RetrievalFilters": "retrievers.filters",
    "RetrievalSettings": "retrievers.config",
    "SyncReport": "retrievers.indexer",
    "lake_retriever": "retrievers.retriever",
    "sync_index": "retrievers.indexer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'retrievers' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
