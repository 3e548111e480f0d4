"""Decide: before it answers, the answer model says which source states the answer, or none.

A small model asked to answer from sources tends to answer anyway: with the right article
missing it pins the question's description on another retrieved subject and cites it, and
the lexical citation check cannot tell (the cited passage does hold the words). Asked first
as a separate, schema-constrained question ("which source states the answer? 0 if none"),
it says "none" far more often when nothing fits (bench/README.md, "Q&A").

The call shares the answer's system prompt and its sources-and-question message, with the
instruction added after them, so the server's prefix cache evaluates the sources once for
both calls; the answer call that follows costs only a few new tokens before its first one.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, ValidationError

from agents.answer import prompt
from agents.structured import model_for, usage_of
from graphs.qa_context import QAContext
from graphs.qa_state import QAState
from nodes.sources import terms

INSTRUCTION = """Before answering: does one of the sources above state the answer to the question?
Reply in JSON with "answer": the short answer, in the words of the source that states it
(empty if no source states it), and "source": the number of that source, or 0 if no source
states the answer. Only what a source says counts, never what you remember."""


class Decision(BaseModel):
    """Which source states the answer (0 for none), and the short answer it gives."""

    answer: str = Field(default="", max_length=80)
    source: int = Field(default=0, ge=0, le=99)


def schema(count: int) -> dict[str, Any]:
    """The JSON schema of a decision over `count` sources (the grammar bounds the number)."""
    return {
        "type": "object",
        "properties": {
            "answer": {"type": "string", "maxLength": 80},
            "source": {"type": "integer", "minimum": 0, "maximum": count},
        },
        "required": ["answer", "source"],
    }


def states_answer(decision: Decision, state: QAState) -> bool:
    """Whether the decision names a given source whose text holds most of its short answer.

    The second half is a check in code: a short answer that the named source does not
    hold (half of its content words, at least) was remembered, not read.
    """
    by_n = {s["n"]: s for s in state.sources}
    source = by_n.get(decision.source)
    said = terms(decision.answer)
    if source is None or not decision.answer.strip():
        return False
    if not said:
        return True  # a bare number or a one-letter answer: nothing to compare on words
    held = terms(f"{source['title']} {source['text']}")
    return 2 * len(said & held) >= len(said)


def decide(state: QAState, runtime: Runtime[QAContext]) -> dict[str, Any]:
    """Ask which source states the answer; the graph answers only when one does."""
    if not runtime.context.decide:
        return {"stated_in": None}
    if not state.sources:
        return {"stated_in": 0}
    config = runtime.context.answer
    llm = model_for(config, format=schema(len(state.sources)))
    messages = prompt(state.retrieval_query(), state)
    messages[-1] = HumanMessage(content=f"{messages[-1].content}\n\n{INSTRUCTION}")
    start = time.perf_counter()
    reply = llm.invoke(messages)
    usage = [usage_of("decide", config, reply, time.perf_counter() - start)]
    text = reply.content if isinstance(reply.content, str) else str(reply.content)
    try:
        decision = Decision.model_validate_json(text)
    except ValidationError:
        # The grammar makes this unlikely; an unreadable decision must not hide an answer.
        return {"stated_in": None, "usage": usage}
    stated = decision.source if states_answer(decision, state) else 0
    return {"stated_in": stated, "short_answer": decision.answer.strip(), "usage": usage}
