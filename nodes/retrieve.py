"""The retrieve step both graphs start with: hybrid search over the lake, numbered sources.

A relevance floor (`RetrievalContext.relevance_floor`, on in the studio) keeps only the
passages similar enough to the query, and none that quotes it (`quoting`): sources that help,
or none. It also judges whether
retrieval is weak, which is what lets the search-and-ingest step run
(online mode only): the share of the query's content words that the best passage covers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeVar

from langchain_core.documents import Document
from langgraph.runtime import Runtime

from graphs.context import RetrievalContext, given
from graphs.state import RetrievalState, Source
from nodes.sources import number_sources, terms
from retrievers import IndexNotReady, lake_retriever
from retrievers.config import RetrievalSettings, relevance_floor
from terraqore.codecheck.task_contract import read_contract

# Generic over the graph's own state and context (each extends the shared ones), so a
# graph's node reads its own state and LangGraph keeps that graph's reducers.
State = TypeVar("State", bound=RetrievalState)
Context = TypeVar("Context", bound=RetrievalContext)


def strength(query: str, sources: Sequence[Source]) -> float:
    """How well the sources cover the query, 0 to 1: the best share of its content words found.

    No sources (or a query with no content words) is 0.
    """
    wanted = terms(query)
    if not wanted or not sources:
        return 0.0
    return max(len(wanted & terms(f"{s['title']} {s['text']}")) / len(wanted) for s in sources)


def floor_of(ctx: RetrievalContext) -> float:
    """The relevance floor in force: the context's, else the embedding model's measured one."""
    if ctx.retrieval_mode == "bm25":
        return 0.0  # no cosines to compare
    if ctx.relevance_floor is not None:
        return ctx.relevance_floor
    return relevance_floor(RetrievalSettings().embedding_model)


def above(docs: Sequence[Document], floor: float) -> list[Document]:
    """The passages whose cosine similarity to the query reaches the floor (all if none).

    A passage that was not among the dense candidates (found by BM25 alone) has no cosine,
    and is left out under a floor: a shared word is not a shared subject.
    """
    if floor <= 0:
        return list(docs)
    return [d for d in docs if (d.metadata.get("dense_score") or -1.0) >= floor]


QUOTE_MIN_WORDS = 6
"""A query shorter than this is never quoted: a few words in a row say nothing."""
MAX_QUOTED_WORDS = 4_000
"""Words of the query looked at, at most (the studio bounds a task's size before this)."""


def quoting(docs: Sequence[Document], query: str) -> list[Document]:
    """The passages that quote the query: at least half its words in a row, in order.

    Under a relevance floor (the studio) such a passage is left out: it shows the task, it
    does not help with it. The README's example tasks got the README and docs/studio.md as
    sources above the floor, because both print those very commands. When the query names
    code (`word_count(text)`, as `read_contract` reads it), the run must hold a name, so a
    task that pastes a definition ("the largest positive integer that divides each of the
    integers") does not lose the article it came from.
    """
    words = re.findall(r"\w+", query.lower())[:MAX_QUOTED_WORDS]
    n = max(QUOTE_MIN_WORDS, -(-len(words) // 2))
    if len(words) < n:
        return []
    names = {c["name"].lower() for c in read_contract(query)["callables"]}
    wanted = {
        run
        for run in (tuple(words[i : i + n]) for i in range(len(words) - n + 1))
        if not names or names & set(run)
    }
    found = []
    for doc in docs:
        held = re.findall(r"\w+", doc.page_content.lower())
        if any(tuple(held[i : i + n]) in wanted for i in range(len(held) - n + 1)):
            found.append(doc)
    return found


def search_lake(query: str, ctx: RetrievalContext) -> tuple[list[Source], list[str]]:
    """Retrieve and number sources for `query`; notes say why there are none, if so."""
    try:
        docs = lake_retriever(k=ctx.k, mode=ctx.retrieval_mode).invoke(query)
    except IndexNotReady as exc:
        return [], [f"the lake has no search index yet ({exc}); run `terraqore lake index`"]
    floor = floor_of(ctx)
    kept = above(docs, floor)
    notes = []
    if len(kept) < len(docs):
        notes.append(
            f"{len(docs) - len(kept)} of {len(docs)} retrieved passage(s) left out: less"
            f" similar to the task than the relevance floor ({floor})"
        )
    quotes = quoting(kept, query) if floor > 0 else []
    if quotes:
        kept = [d for d in kept if d not in quotes]
        notes.append(
            f"{len(quotes)} retrieved passage(s) left out: they repeat the task's own words"
            f" ({', '.join(dict.fromkeys(str(d.metadata.get('title', '?')) for d in quotes))})"
        )
    return number_sources(kept, query, ctx.snippet_chars), notes


def retrieve(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Retrieve sources for the run's query from the lake."""
    query = state.retrieval_query()
    sources, notes = search_lake(query, given(runtime))
    return {"sources": sources, "retrieval_strength": strength(query, sources), "notes": notes}
