"""Condense: in a thread, rewrite a follow-up into a question that stands on its own.

"And when did he die?" after a turn about Bach becomes "When did Johann Sebastian Bach
die?", which retrieval can use; so do a statement ("his birthplace was ...") and bare
keywords ("birthplace?"). The first question of a thread is used as it is, without a
model call. This step also starts the turn: it resets what belongs to one turn only.

The 1.5B sometimes rewrites nothing ("Where does its key come from?" became "Where does the
key come from?", and retrieval found *Nut (hardware)*). A rewrite of a follow-up that refers
back ("it", "its", "this", ...) but adds no word of its own is not trusted: the previous
question goes with it, in parentheses (`unresolved`).
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agents.structured import ask_structured
from graphs.context import given
from graphs.qa_context import QAContext
from graphs.qa_state import NewTurn, QAState, Turn
from nodes.sources import terms

SYSTEM = (
    "You rewrite a follow-up so that it can be understood without the conversation. The "
    "follow-up may be a question, a statement or a few keywords; write it as one standalone "
    "question. Replace words like he, she, it, they, this and there with what they refer to. "
    "Keep the user's meaning; do not answer the question."
)


MAX_QUESTION = 300
"""Longest rewrite, and longest previous question carried along (`unresolved`)."""


class Standalone(BaseModel):
    """The follow-up as a standalone question."""

    question: str = Field(min_length=3, max_length=MAX_QUESTION)


_REFERS = re.compile(
    r"\b(?:it|its|he|his|him|she|her|they|their|them|this|that|these|those|there)\b", re.I
)
"""Words by which a follow-up points back at the conversation."""


def unresolved(follow_up: str, rewrite: str) -> bool:
    """Whether a rewrite left a follow-up's reference unresolved.

    The follow-up or its rewrite points back ("founded" can become "When was it founded?"),
    and the rewrite adds no content word to it: nothing was put where "it" was. On the
    stored follow-up runs (`bench/README.md`) such rewrites found the gold article 13 times
    in 21 and were answered right 6 times; the others 72 in 72, and 55.
    """
    points_back = _REFERS.search(follow_up) or _REFERS.search(rewrite)
    return bool(points_back) and not terms(rewrite) - terms(follow_up)


def conversation(history: list[Turn], follow_up: str) -> str:
    """The last turns and the follow-up, as the model reads them."""
    lines = [f"User: {t['question']}\nAssistant: {t['answer']}" for t in history]
    return "\n".join([*lines, f"Follow-up question: {follow_up}"])


def condense(state: QAState, runtime: Runtime[QAContext]) -> dict[str, Any]:
    """Start the turn; rewrite the question as a standalone one when the thread has history."""
    ctx: QAContext = given(runtime)
    fresh: dict[str, Any] = {
        "usage": NewTurn(),
        "notes": NewTurn(),
        "searched_web": False,
        "draft": "",
        "stated": None,
        "kind": "not_found",
    }
    question = " ".join(state.question.split())
    if not question:
        raise ValueError("the question is empty")
    if not state.history:
        return {**fresh, "standalone": question}
    turns = state.history[-ctx.history_turns :]
    result, usage = ask_structured(
        "condense",
        ctx.condense,
        [
            SystemMessage(content=SYSTEM),
            HumanMessage(content=conversation(turns, question)),
        ],
        Standalone,
        lambda r: None if r.question.strip() else "the question is empty",
    )
    standalone = result.question.strip()
    if unresolved(question, standalone):
        # Bounded like a rewrite: a chain of unresolved follow-ups must not grow each turn.
        previous = turns[-1]["question"][:MAX_QUESTION]
        standalone = f"{standalone} ({previous})"
    return {**fresh, "standalone": standalone, "usage": NewTurn(usage)}
