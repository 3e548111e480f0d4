"""Retrieval settings (env prefix `TERRAQORE_`); what the caller passes wins over the env."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class RetrievalSettings(BaseSettings):
    """Which embedding model, how the index is built, and how results are fused.

    The index lives beside the lake, in `<home>/index` (see `LakeSettings.home`).
    """

    model_config = SettingsConfigDict(env_prefix="TERRAQORE_", extra="ignore")

    embedding_model: str = "all-minilm"
    """Embedding model served by `/api/embed` (`nomic-embed-text` is the larger option)."""

    embed_batch: int = 64
    """Chunks per `/api/embed` request while indexing."""

    embed_title: bool = True
    """Embed each chunk with its item's title in front (the chunk text alone often lacks it)."""

    flat_max_chunks: int = 50_000
    """Exact (flat inner-product) search up to this many chunks; an ANN index above it."""

    ann_kind: Literal["ivf", "hnsw"] = "ivf"
    """The approximate index used above `flat_max_chunks`."""

    ivf_nprobe: int = 16
    """IVF lists searched per query (more is slower and closer to exact)."""

    hnsw_m: int = 32
    """HNSW graph degree."""

    hnsw_ef_search: int = 64
    """HNSW candidate list size per query."""

    candidates: int = 50
    """Candidates each method hands to fusion (and to MMR)."""

    rrf_k: int = 60
    """The constant of reciprocal rank fusion: 1 / (rrf_k + rank)."""

    dense_weight: float = 1.0
    """Weight of the dense ranking in fusion."""

    bm25_weight: float = 1.0
    """Weight of the BM25 ranking in fusion."""

    mmr_lambda: float = 0.5
    """MMR trade-off: 1 is pure relevance, 0 pure diversity."""
