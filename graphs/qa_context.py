"""Per-run configuration of the Q&A graph (LangGraph `context_schema`).

Environment variables fill what the caller left at its default: `TERRAQORE_K`,
`TERRAQORE_ONLINE`, `TERRAQORE_ANSWER_MODEL`, `TERRAQORE_SUPPORT_THRESHOLD`, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphs.context import AgentConfig, RetrievalContext, agent


@dataclass(kw_only=True)
class QAContext(RetrievalContext):
    """How one Q&A run retrieves, answers and checks."""

    k: int = 3
    """Passages retrieved and shown as sources. Three, not five: on the dev half of the
    hand-written styles (20 each, one run per k) the answer's first token came at a median
    5.7 s for clues, 5.6 s for paraphrases and 8.2 s for follow-ups, against 9.3, 9.4 and
    12.0 s with five, for 41 right answers of 60 against 44; held-out, 41 against 38, and
    7.4 s against 10.5 s pooled (bench/README.md, "Three sources or five"). `terraqore ask
    -k 5` asks for more."""

    answer: AgentConfig = agent("terraqore/answer")
    """The model that writes the cited answer."""

    condense: AgentConfig = agent("terraqore/answer")
    """The model that rewrites a follow-up into a standalone question."""

    decide: bool = False
    """After the draft, ask the answer model whether the source it cited states the answer
    (`agents.decide`); a "no" makes the answer `identified` instead of `stated`. Only a draft
    that the citation check alone would call `stated` is asked, after it has streamed. Off by
    default: it costs one more model call and caught little beyond what `question_coverage`
    catches (bench/README.md, "Q&A on free wording")."""

    strict: bool = False
    """Keep only `stated` answers: an `identified` answer, or a model's own answer after
    "not found", becomes the plain "not found" answer (`terraqore ask --strict`)."""

    support_threshold: float = 0.6
    """A citation is supported when the cited source holds at least this share of the
    sentence's content words, and of its new ones (`nodes.verify.support`); chosen on the dev
    questions of `bench/qa.py` (bench/README.md, "Q&A")."""

    question_coverage: float = 0.65
    """A `stated` answer whose cited sources together hold less than this share of the
    question's content words becomes `identified` (`nodes.verify.coverage`): its claim loses
    its citation and is marked "Not in the sources", rather than refused: refusing them refused
    most freely worded questions. Chosen on the dev half of the question styles as the lowest
    value that keeps `stated` answers naming a wrong subject (gold article removed) under 10%
    (bench/README.md, "Q&A on free wording"); 0 turns it off."""

    history_turns: int = 3
    """Past turns shown when condensing a follow-up."""

    snippet_chars: int = 400
    """Longest snippet per source. Shorter prompts give a faster first token; 400 characters
    still show the gold answer for most questions (README, "Benchmarks")."""
