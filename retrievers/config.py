"""Retrieval settings (env prefix `TERRAQORE_`); what the caller passes wins over the env."""

from __future__ import annotations

from typing import Literal, NamedTuple

from terraqore.settings import Settings


class Fusion(NamedTuple):
    """Weights of the two rankings and the RRF constant: w / (rrf_k + rank)."""

    dense_weight: float
    bm25_weight: float
    rrf_k: int


FUSION_BY_MODEL = {
    "all-minilm": Fusion(1.0, 1.5, 10),
    "nomic-embed-text": Fusion(3.0, 1.0, 10),
}
"""Fusion chosen per embedding model on half the vital-articles queries (README, "Benchmarks")."""

STANDARD_FUSION = Fusion(1.0, 1.0, 60)
"""Plain RRF, for embedding models we have not measured."""

QUESTION_FUSION_BY_MODEL: dict[str, Fusion] = {}
"""Fusion for natural-language questions, per model, where it differs from the one above
(chosen on the question set, `bench/retrieval_questions.py`): questions paraphrase their
answer's passage, where keywords and descriptions share its rare words."""

_QUESTION_WORDS = frozenset(
    [
        "who",
        "whom",
        "whose",
        "what",
        "which",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "name",
        "list",
    ]
)


def is_question(query: str) -> bool:
    """Whether a query is a question in plain language (not keywords or a description)."""
    words = query.strip().lower().split()
    return bool(words) and (words[-1].endswith("?") or words[0] in _QUESTION_WORDS)


class RetrievalSettings(Settings):
    """How the index is built and how results are fused.

    It extends the app settings, which name the embedding model. The index lives in
    `<home>/index`, beside the lake.
    """

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

    rrf_k: int | None = None
    """The constant of reciprocal rank fusion; unset means the model's measured default."""

    dense_weight: float | None = None
    """Weight of the dense ranking in fusion; unset means the model's measured default."""

    bm25_weight: float | None = None
    """Weight of the BM25 ranking in fusion; unset means the model's measured default."""

    mmr_lambda: float = 0.5
    """MMR trade-off: 1 is pure relevance, 0 pure diversity."""

    def fusion(self, query: str = "") -> Fusion:
        """The fusion in force for a query: what is set, else the model's measured default.

        Questions get the model's question fusion when it has one.
        """
        model = self.embedding_model.split(":")[0]
        asked = is_question(query) and model in QUESTION_FUSION_BY_MODEL
        base = (QUESTION_FUSION_BY_MODEL if asked else FUSION_BY_MODEL).get(model, STANDARD_FUSION)
        return Fusion(
            base.dense_weight if self.dense_weight is None else self.dense_weight,
            base.bm25_weight if self.bm25_weight is None else self.bm25_weight,
            base.rrf_k if self.rrf_k is None else self.rrf_k,
        )
