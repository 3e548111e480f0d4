"""State of the Q&A graph: the question in, a cited answer out, and the thread's past turns.

With a checkpointer the state lives on between calls in a thread, so what belongs to one
turn (usage, notes, whether the web was searched) is reset by the first step of each turn:
it returns those fields wrapped in `NewTurn`, which the reducers below take as a fresh start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict

from graphs.state import RetrievalState, Source, UsageRecord, add_notes, add_usage

AnswerKind = Literal["stated", "identified", "not_found"]
"""The three kinds of answer (`nodes.verify` decides which)."""

MAX_TURNS = 20
"""Past turns a thread keeps (older ones are dropped; condensing reads only the last few)."""


class Turn(TypedDict):
    """One question of a thread (as it was understood, standalone) and the answer given."""

    question: str
    answer: str


class NewTurn(list[Any]):
    """A list that replaces a per-turn field's value instead of adding to it."""


def turn_usage(left: list[UsageRecord], right: list[UsageRecord]) -> list[UsageRecord]:
    """Reducer: usage records add up within a turn; a `NewTurn` starts the count again."""
    return list(right) if isinstance(right, NewTurn) else add_usage(left, right)


def turn_notes(left: list[str], right: list[str]) -> list[str]:
    """Reducer: notes add up within a turn (each once); a `NewTurn` starts them again."""
    return list(right) if isinstance(right, NewTurn) else add_notes(left, right)


def add_turns(left: list[Turn], right: list[Turn]) -> list[Turn]:
    """Reducer: a thread's turns, oldest first, the last `MAX_TURNS` kept."""
    return [*(left or []), *(right or [])][-MAX_TURNS:]


@dataclass(kw_only=True)
class QAInput:
    """What a caller passes: `graph.invoke({"question": "..."})`."""

    question: str
    """The question as the user asked it (in a thread, possibly a follow-up)."""


@dataclass(kw_only=True)
class QAOutput:
    """What a run returns."""

    answer: str = ""
    """Markdown with `[n]` citations, or the plain "not found" answer. An `identified` answer
    (and, unless strict, a `not_found` one) may end with the model's own answer on its own
    line, after "Not in the sources:", never cited."""

    kind: AnswerKind = "not_found"
    """What the answer is: `stated` (a source states it, cited), `identified` (the sources
    are about the subject but do not state what was asked; the model's own answer is marked
    "Not in the sources:") or `not_found` (nothing retrieved supports an answer)."""

    sources: list[Source] = field(default_factory=list)
    """The numbered sources the answer may cite (n, title, url, published, snippet, ...)."""

    citations_valid: bool = True
    """Whether every citation the model wrote named a given source that supports its
    sentence; false when the check had to remove one (the returned answer cites only
    given, supporting sources either way)."""

    grounding: float = 0.0
    """Share of the answer's sentences that carry a supported citation (0 for "not found")."""

    usage: list[UsageRecord] = field(default_factory=list)
    """One record per model call of this turn."""

    notes: list[str] = field(default_factory=list)
    """What the user should know about this turn (a web search, an index not built, ...)."""

    searched_web: bool = False
    """Whether this turn searched the web (online mode, weak retrieval) and kept what it found;
    part of the output so that a client streaming the run (the page) can say so."""


@dataclass(kw_only=True)
class QAState(RetrievalState):
    """Everything the Q&A graph's steps read and write."""

    question: str = ""
    """The question as asked."""

    standalone: str = ""
    """The question rewritten to stand alone (the question itself when there is no history)."""

    history: Annotated[list[Turn], add_turns] = field(default_factory=list)
    """Earlier turns of the thread, for condensing follow-ups."""

    stated: bool | None = None
    """Whether the cited source states the draft's answer, as the decision step judged it
    (`agents.decide`); None when it was not asked."""

    draft: str = ""
    """The answer as the model wrote it, before verification."""

    answer: str = ""
    """The verified answer."""

    kind: AnswerKind = "not_found"
    """See `QAOutput.kind`."""

    citations_valid: bool = True
    """See `QAOutput.citations_valid`."""

    grounding: float = 0.0
    """See `QAOutput.grounding`."""

    notes: Annotated[list[str], turn_notes] = field(default_factory=list)
    """What a user should know about this turn."""

    usage: Annotated[list[UsageRecord], turn_usage] = field(default_factory=list)
    """One record per model call of this turn."""

    def retrieval_query(self) -> str:
        """Retrieval looks for the standalone question."""
        return self.standalone or self.question
