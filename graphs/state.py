"""State pieces both graphs share: numbered sources, and usage records with their reducer.

Each graph's own state dataclasses extend these (see `graphs/`); a node returns only the
fields it changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, NotRequired, TypedDict


class Source(TypedDict):
    """A retrieved passage, numbered for citation (`[n]`) and shown to agents as untrusted data."""

    n: int
    """The citation number, 1-based, in retrieval order."""
    chunk_id: int
    item_id: int
    title: str
    url: str
    """The item's URL, or the file path for local documents."""
    published: str | None
    snippet: str
    """The passage's most relevant sentences: what the agents see and what a citation checks."""
    text: str
    """The whole passage."""
    score: float
    dense_score: NotRequired[float | None]
    """Cosine similarity of the passage to the query (None when BM25 alone found it)."""


class UsageRecord(TypedDict):
    """One model call: who made it, on which model, with how many tokens and seconds."""

    agent: str
    model: str
    prompt_tokens: int
    output_tokens: int
    seconds: float


def add_usage(left: list[UsageRecord], right: list[UsageRecord]) -> list[UsageRecord]:
    """Reducer: usage records accumulate over the run."""
    return [*(left or []), *(right or [])]


def add_notes(left: list[str], right: list[str]) -> list[str]:
    """Reducer: notes accumulate over the run, each once."""
    return list(dict.fromkeys([*(left or []), *(right or [])]))


@dataclass(kw_only=True)
class RetrievalState:
    """What the shared retrieval steps read and write; each graph's state extends it."""

    sources: list[Source] = field(default_factory=list)
    """Passages retrieved for this run, numbered `[1]…[n]`."""

    retrieval_strength: float = 0.0
    """How well the sources cover the query, 0 to 1 (see `nodes.retrieve.strength`)."""

    searched_web: bool = False
    """Whether a web search ran (online mode only) and its results went into the lake."""

    notes: Annotated[list[str], add_notes] = field(default_factory=list)
    """What a user should know about the run: a search refused, an index not built, …."""

    usage: Annotated[list[UsageRecord], add_usage] = field(default_factory=list)
    """One record per model call."""

    def retrieval_query(self) -> str:
        """What retrieval looks for; each graph says (the task, the standalone question)."""
        raise NotImplementedError
