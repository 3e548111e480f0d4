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

    answer: AgentConfig = agent("terraqore/answer")
    """The model that writes the cited answer."""

    condense: AgentConfig = agent("terraqore/answer")
    """The model that rewrites a follow-up into a standalone question."""

    decide: bool = False
    """Ask the answer model first whether a source states the answer, and answer only if
    one does (`agents.decide`). Off by default: on 47 questions it found no more "not found"
    answers with the gold article removed than the citation check alone (16 of 24 either way)
    and lost one right answer, for one more model call (bench/README.md, "Q&A")."""

    support_threshold: float = 0.6
    """A citation is supported when the cited source holds at least this share of the
    sentence's content words, and of its new ones (`nodes.verify.support`); chosen on the dev
    questions of `bench/qa.py` (bench/README.md, "Q&A")."""

    question_coverage: float = 0.65
    """An answer stands only if its cited sources together hold at least this share of the
    question's content words (`nodes.verify.coverage`); otherwise it is "not found". Chosen on
    the dev half of `bench/qa.py`'s 202 questions (accuracy plus "not found" with the gold
    article removed); on the held-out half it keeps the 1.5B's accuracy 33 points above
    closed-book and says "not found" for 12 of 13 removed gold articles, for 10 points of
    accuracy against 0.5. 0.7 would refuse plain questions whose answer does not repeat the
    question's words ("In which city was Bach born?": "born in Eisenach" holds 2 of 3);
    bench/README.md, "Q&A"."""

    history_turns: int = 3
    """Past turns shown when condensing a follow-up."""

    snippet_chars: int = 400
    """Longest snippet per source. Shorter prompts give a faster first token; 400 characters
    still show the gold answer for most questions (README, "Benchmarks")."""
