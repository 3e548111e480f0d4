"""Retrieval settings (env prefix `TERRAQORE_`); what the caller passes wins over the env."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from retrievers.fusion import query_form
from terraqore.client.settings import Settings


class Fusion(NamedTuple):
    """Weights of the two rankings and the RRF constant: w / (rrf_k + rank)."""

    dense_weight: float
    bm25_weight: float
    rrf_k: int


FUSION_BY_MODEL = {
    "all-minilm": Fusion(1.0, 1.0, 10),
    "nomic-embed-text": Fusion(3.0, 1.0, 10),
}
"""Fusion chosen per embedding model on dev halves: all-minilm's on the question styles of
`bench/retrieval_styles.py`, nomic-embed-text's on the vital-articles descriptions
(bench/README.md, "Retrieval" and "Retrieval on free wording")."""

FLAT_FUSION_BY_MODEL = {"all-minilm": Fusion(2.0, 1.0, 10)}
"""The fusion used instead when BM25's top scores are flat (`RetrievalSettings.flat_bm25`):
no rare word of the query stands out, so the dense ranking is trusted more. Chosen on the dev
half of the question styles (bench/README.md, "Retrieval on free wording")."""

FORM_FUSION_BY_MODEL = {
    "all-minilm": {
        "question": Fusion(3.0, 1.0, 5),
        "statement": Fusion(2.0, 1.0, 5),
        "keywords": Fusion(1.5, 1.0, 5),
    }
}
"""The fusion per query form (`fusion.query_form`), where it was measured: it replaces both
rules above. Chosen on the dev halves of the question styles once the hand-written
paraphrases, clues and follow-ups gave each style 76 to 179 dev questions; on every held-out
style it ties or beats the best single ranking, which the rules above did not on paraphrases
and clues (bench/README.md, "Retrieval on free wording")."""

STANDARD_FUSION = Fusion(1.0, 1.0, 60)
"""Plain RRF, for embedding models we have not measured."""

FLOOR_BY_MODEL = {"all-minilm": 0.4}
"""The studio's relevance floor per embedding model: the least cosine similarity between a task
and a passage for the passage to reach the agents. Chosen on the studio suite against the
default knowledge base (bench/studio_sources.py, bench/README.md); a model not measured has
none (a cosine on another model's scale means something else)."""


def is_flat(scores: Sequence[float], share: float) -> bool:
    """Whether a ranking's fifth score is at least `share` of its first.

    Fewer than five scores, or a first score of 0, count as flat: nothing stands out.
    """
    if share <= 0:
        return False
    top = list(scores[:5])
    return len(top) < 5 or top[0] <= 0 or top[4] >= share * top[0]


def relevance_floor(embedding_model: str) -> float:
    """The measured relevance floor of an embedding model, 0 (none) if it was not measured."""
    return FLOOR_BY_MODEL.get(embedding_model.split(":")[0], 0.0)


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

    flat_bm25: float = 0.5
    """BM25's ranking counts as flat when its fifth score is at least this share of its
    first; the embedding model's flat-ranking fusion then applies (0 never, 1 always)."""

    fusion_by_form: bool = True
    """Fuse by the query's form (question, statement, keywords) where the embedding model's
    weights per form were measured (`FORM_FUSION_BY_MODEL`); off, the flat-BM25 rule."""

    def fusion(self, bm25_scores: Sequence[float] | None = None, query: str = "") -> Fusion:
        """The fusion in force: what is set, else the embedding model's measured default.

        With `query` and `fusion_by_form`, the model's fusion for the query's form; else
        `bm25_scores` (best first) choose the model's flat-ranking fusion when BM25's top
        five are flat. Weights set explicitly win over all of them.
        """
        model = self.embedding_model.split(":")[0]
        base = FUSION_BY_MODEL.get(model, STANDARD_FUSION)
        flat = bm25_scores is not None and is_flat(bm25_scores, self.flat_bm25)
        if query and self.fusion_by_form and model in FORM_FUSION_BY_MODEL:
            base = FORM_FUSION_BY_MODEL[model][query_form(query)]
        elif flat and model in FLAT_FUSION_BY_MODEL:
            base = FLAT_FUSION_BY_MODEL[model]
        return Fusion(
            base.dense_weight if self.dense_weight is None else self.dense_weight,
            base.bm25_weight if self.bm25_weight is None else self.bm25_weight,
            base.rrf_k if self.rrf_k is None else self.rrf_k,
        )
