"""Ways to combine a dense and a BM25 candidate list, scored offline for the question bench.

Each variant maps (dense [(id, score)], bm25 [(id, score)]) to a ranked list of chunk ids.
RRF variants use ranks only; convex variants mix min-max normalised scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from retrievers.fusion import reciprocal_rank_fusion

Hits = Sequence[tuple[int, float]]
Combiner = Callable[[Hits, Hits], list[int]]

RRF_WEIGHTS = [(1.0, 1.0), (1.5, 1.0), (2.0, 1.0), (3.0, 1.0), (4.0, 1.0), (1.0, 1.5), (1.0, 2.0)]
RRF_KS = (5, 10, 30, 60)
ALPHAS = tuple(round(a / 10, 1) for a in range(1, 10))


def rrf(dense_weight: float, bm25_weight: float, k: int) -> Combiner:
    """Weighted reciprocal rank fusion."""

    def combine(dense: Hits, lexical: Hits) -> list[int]:
        ranked = reciprocal_rank_fusion(
            [[i for i, _ in dense], [i for i, _ in lexical]], [dense_weight, bm25_weight], k
        )
        return [i for i, _ in ranked]

    return combine


def _minmax(hits: Hits) -> dict[int, float]:
    if not hits:
        return {}
    scores = [s for _, s in hits]
    low, high = min(scores), max(scores)
    span = high - low or 1.0
    return {i: (s - low) / span for i, s in hits}


def convex(alpha: float) -> Combiner:
    """alpha * dense + (1 - alpha) * BM25, each min-max normalised over its candidates.

    A chunk missing from one list scores 0 there (below every candidate it has).
    """

    def combine(dense: Hits, lexical: Hits) -> list[int]:
        d, b = _minmax(dense), _minmax(lexical)
        scores = {i: alpha * d.get(i, 0.0) + (1 - alpha) * b.get(i, 0.0) for i in {*d, *b}}
        return sorted(scores, key=lambda i: -scores[i])

    return combine


def all_variants() -> dict[str, Combiner]:
    """Every fusion variant the bench scores, by name."""
    out: dict[str, Combiner] = {
        "dense": lambda d, b: [i for i, _ in d],
        "bm25": lambda d, b: [i for i, _ in b],
    }
    for dw, bw in RRF_WEIGHTS:
        for k in RRF_KS:
            out[f"rrf dense*{dw:g} bm25*{bw:g} k={k}"] = rrf(dw, bw, k)
    for alpha in ALPHAS:
        out[f"convex dense {alpha:g}"] = convex(alpha)
    return out
