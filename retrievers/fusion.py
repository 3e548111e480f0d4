"""Reciprocal rank fusion of ranked lists, and MMR re-ranking for diversity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from langchain_core.vectorstores.utils import maximal_marginal_relevance


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], weights: Sequence[float], k: int = 60
) -> list[tuple[int, float]]:
    """Ids by fused score, sum of weight / (k + rank) over the lists (rank from 1).

    Ties keep the order in which ids were first seen, best list first.
    """
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def mmr_order(
    query: np.ndarray, ids: Sequence[int], vectors: np.ndarray, k: int, lambda_mult: float
) -> list[int]:
    """Up to k of `ids`, picked by maximal marginal relevance to `query`."""
    if not len(ids):
        return []
    picked = maximal_marginal_relevance(query, list(vectors), lambda_mult=lambda_mult, k=k)
    return [ids[i] for i in picked]
