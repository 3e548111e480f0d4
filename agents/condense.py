"""Condense: in a thread, rewrite a follow-up into a question that stands on its own.

"And when did he die?" after a turn about Bach becomes "When did Johann Sebastian Bach
die?", which retrieval can use; so do a statement ("his birthplace was ...") and bare
keywords ("birthplace?"). The first question of a thread is used as it is, without a
model call. This step also starts the turn: it resets what belongs to one turn only.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from agents.structured import ask_structured
from graphs.context import given
from graphs.qa_context import QAContext
from graphs.qa_state import NewTurn, QAState, Turn

SYSTEM = (
    "You rewrite a follow-up so that it can be understood without the conversation. The "
    "follow-up may be a question, a statement or a few keywords; write it as one standalone "
    "question. Replace words like he, she, it, they, this and there with what they refer to. "
    "Keep the user's meaning; do not answer the question."
)


class Standalone(BaseModel):
    """The follow-up as a standalone question."""

    question: str = Field(min_length=3, max_length=300)


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
    return {**fresh, "standalone": result.question.strip(), "usage": NewTurn(usage)}
