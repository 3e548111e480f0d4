"""Decide: does the cited source state the drafted answer, or only speak of its subject.

The citation check is lexical: a passage that holds a sentence's words supports it. That is
not enough when the model pins the question on a neighbouring subject and copies its
passage ("music for a small group of instruments is Baroque music [3]"), or names the right
subject from memory while its source says nothing of what was asked ("Isaac Asimov [1]"
for the author of *I, Robot*). After the draft, the answer model is asked, with a JSON
schema, whether the source it cited states the answer to the question. A "no" makes the
answer `identified` (`nodes.verify`): the claim loses its citation and moves to the "Not in
the sources" part.

The call repeats the answer's system prompt and its sources-and-question message, then the
draft and the instruction, so the server's prefix cache has already evaluated the sources;
it comes after the answer has streamed, so it never delays the first token.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, ValidationError

from agents.answer import prompt
from agents.structured import ask_text
from graphs.qa_context import QAContext
from graphs.qa_state import QAState
from nodes.verify import check

INSTRUCTION = """Check your answer above. Does the source you cited state the answer to the
question itself (not only something about the same subject)? Reply in JSON with "stated":
true if it does, false if it does not."""
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"stated": {"type": "boolean"}},
    "required": ["stated"],
}


class Verdict(BaseModel):
    """Whether the cited source states the answer."""

    stated: bool


def needs_verdict(state: QAState, ctx: QAContext) -> bool:
    """Whether to ask: the decision is on, and the citation check alone would say `stated`."""
    if not ctx.decide or not state.sources:
        return False
    question = state.retrieval_query()
    checked = check(
        state.draft, state.sources, question, ctx.support_threshold, ctx.question_coverage
    )
    return checked.kind == "stated"


def decide(state: QAState, runtime: Runtime[QAContext]) -> dict[str, Any]:
    """Ask whether the cited source states the draft's answer (when it could be `stated`)."""
    if not needs_verdict(state, runtime.context):
        return {"stated": None}
    messages = [
        *prompt(state.retrieval_query(), state),
        AIMessage(content=state.draft),
        HumanMessage(content=INSTRUCTION),
    ]
    text, record = ask_text("decide", runtime.context.answer, messages, format=SCHEMA)
    usage = [record]
    try:
        verdict = Verdict.model_validate_json(text)
    except ValidationError:
        # The grammar makes this unlikely; an unreadable verdict leaves the lexical check alone.
        return {"stated": None, "usage": usage}
    return {"stated": verdict.stated, "usage": usage}
