"""Calling an agent's model: structured output constrained by a JSON schema, and usage records.

The server turns `format` (a JSON schema) into a grammar, so even a 0.5B model returns
JSON that parses and validates. What a grammar cannot catch is an answer that is valid but
empty of meaning (no steps, a blank summary); `check` names such a problem, and the call
is retried once with the problem stated.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import httpx
import ollama
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_ollama import ChatOllama
from pydantic import BaseModel, ValidationError

from graphs.context import AgentConfig
from graphs.state import UsageRecord
from terraqore.client.models import ROLE_TASKS
from terraqore.client.router import Route, Router

M = TypeVar("M", bound=BaseModel)


class AgentOutputError(RuntimeError):
    """An agent's answer could not be used, even after its retry."""


CallFailed = (httpx.HTTPError, ollama.ResponseError)
"""A call that failed: the client's timeout or a refused connection (httpx), or an error the
server sent, before the answer or in its stream (its own request timeout, a full queue)."""
Unusable = (AgentOutputError, *CallFailed)
"""What an agent with a fallback falls back on: an unusable answer, or no answer at all."""


def model_for(config: AgentConfig, agent: str = "", **options: object) -> ChatOllama:
    """The ChatOllama of an agent config, on its endpoint (a local model registers on first use).

    Every call is recorded in the usage log under the agent and its task type.
    """
    route = Route(config.endpoint, config.model)
    task = ROLE_TASKS.get(agent, "chat")
    return Router().chat_model(route, task, agent, **{**config.options(), **options})


def usage_of(agent: str, config: AgentConfig, message: BaseMessage, seconds: float) -> UsageRecord:
    """A usage record from a model's reply (token counts as the server reported them)."""
    meta = getattr(message, "usage_metadata", None) or {}
    return UsageRecord(
        agent=agent,
        model=config.model,
        prompt_tokens=int(meta.get("input_tokens", 0)),
        output_tokens=int(meta.get("output_tokens", 0)),
        seconds=round(seconds, 3),
    )


def ask_structured(
    agent: str,
    config: AgentConfig,
    messages: Sequence[BaseMessage],
    schema: type[M],
    check: Callable[[M], str | None] = lambda _: None,
    started: threading.Event | None = None,
    **options: object,
) -> tuple[M, list[UsageRecord]]:
    """Ask for an answer in `schema`; retry once, naming the problem, if `check` finds one.

    Returns the answer and one usage record per call. Raises `AgentOutputError` when the
    second answer is still unusable. `started` is set once the model is made (see `ask_text`).
    """
    llm = model_for(config, agent, format=schema.model_json_schema(), **options)
    if started is not None:
        started.set()
    history = list(messages)
    usage: list[UsageRecord] = []
    problem = ""
    for _ in range(2):
        start = time.perf_counter()
        reply = llm.invoke(history)
        usage.append(usage_of(agent, config, reply, time.perf_counter() - start))
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        try:
            answer = schema.model_validate_json(text)
        except ValidationError as exc:
            problem = f"the answer did not match the schema: {exc.errors()[0]['msg']}"
        else:
            found = check(answer)
            if found is None:
                return answer, usage
            problem = found
        history += [
            AIMessage(content=text),
            HumanMessage(content=f"That answer cannot be used: {problem}. Answer again."),
        ]
    raise AgentOutputError(f"the {agent} agent gave no usable answer: {problem}")


def ask_text(
    agent: str,
    config: AgentConfig,
    messages: Sequence[BaseMessage],
    started: threading.Event | None = None,
    **options: object,
) -> tuple[str, UsageRecord]:
    """Ask for free text (the Coder's fenced blocks); return it and the call's usage record.

    `started` is set once the model is made, before the request: calls made at once from
    threads can start in a fixed order (`agents.coder` does).
    """
    llm = model_for(config, agent, **options)
    if started is not None:
        started.set()
    start = time.perf_counter()
    reply = llm.invoke(list(messages))
    usage = usage_of(agent, config, reply, time.perf_counter() - start)
    text = reply.content if isinstance(reply.content, str) else str(reply.content)
    return text, usage
