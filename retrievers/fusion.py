"""Reciprocal rank fusion of ranked lists, MMR re-ranking for diversity, and query forms."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
from langchain_core.vectorstores.utils import maximal_marginal_relevance

QueryForm = Literal["question", "statement", "keywords"]
_ASKING = re.compile(
    r"^(who|whom|whose|what|which|when|where|why|how|is|are|was|were|do|does|did|can|could|"
    r"name|tell me|list|give me|explain|describe|in (which|what)|on (which|what))\b",
    re.I,
)
_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "was",
        "are",
        "were",
        "be",
        "been",
        "this",
        "that",
        "these",
        "those",
        "of",
        "in",
        "on",
        "at",
        "by",
        "to",
        "for",
        "from",
        "with",
        "as",
        "his",
        "her",
        "its",
        "their",
        "he",
        "she",
        "it",
        "they",
        "has",
        "had",
        "have",
        "who",
        "which",
        "whose",
    ]
)


def query_form(text: str) -> QueryForm:
    """What a query looks like: a question, a statement ("This ... was born ...") or keywords.

    A question ends with "?" or opens with a question word; a statement ends with a full
    stop, or has five words or more and a function word ("the", "was", "this"); anything
    else is keywords ("capital of Sicily", "Italian island Palermo").
    """
    words = text.strip().split()
    if not words:
        return "keywords"
    if text.strip().endswith("?") or _ASKING.match(text.strip()):
        return "question"
    lowered = {w.strip(".,;:!\"'()").lower() for w in words}
    if text.strip().endswith(".") or (len(words) >= 5 and lowered & _FUNCTION_WORDS):
        return "statement"
    return "keywords"


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
