"""Retrieval over the lake: FAISS (dense) fused with DuckDB full-text search (BM25)."""

from retrievers.config import RetrievalSettings
from retrievers.filters import RetrievalFilters
from retrievers.hybrid import IndexNotReady, LakeSearch, Passage
from retrievers.indexer import SyncReport, sync_index
from retrievers.lake_retriever import LakeRetriever, lake_retriever

__all__ = [
    "IndexNotReady",
    "LakeRetriever",
    "LakeSearch",
    "Passage",
    "RetrievalFilters",
    "RetrievalSettings",
    "SyncReport",
    "lake_retriever",
    "sync_index",
]
