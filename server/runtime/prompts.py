"""A chat or generate request, and its prompt: history, system prompt, fitting the context.

`fit_prompt` runs on the slot's worker thread (it tokenises with the loaded model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.errors import BadRequest
from server.models.manifest import ModelRecord
from server.runtime.runners import Runner


@dataclass
class ChatJob:
    """A normalised chat or generate request."""

    model: str
    messages: list[dict[str, Any]] | None = None
    prompt: str | None = None
    raw: bool = False
    tools: list[dict[str, Any]] | None = None
    format: str | dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    keep_alive: Any = None
    images: bool = False
    think: Any = None
    suffix: str | None = None
    system: str | None = None
    low_priority: bool = False
    """A batch-job line: served after interactive requests (never set from the wire)."""


def with_model_history(record: ModelRecord, request: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model's history (MESSAGEs, SYSTEM unless the request has one), then the request."""
    msgs = [dict(m) for m in request]
    history = [dict(m) for m in record.messages]
    if record.system and not any(m["role"] == "system" for m in msgs):
        history.insert(0, {"role": "system", "content": record.system})
    return history + msgs


def _fit_chat(
    runner: Runner,
    msgs: list[dict[str, Any]],
    tools: Any,
    template: str,
    truncate: str,
    reserve: int,
) -> list[int]:
    """Render and tokenise, dropping the oldest history until the prompt fits."""
    msgs = list(msgs)
    while True:
        tokens = runner.tokenize(runner.render_chat(msgs, tools, template))
        if len(tokens) + reserve <= runner.n_ctx:
            return tokens
        if truncate == "error":
            raise BadRequest(
                f"the prompt is {len(tokens)} tokens and does not fit the context window "
                f"of {runner.n_ctx} tokens (with {reserve} reserved for the answer); "
                "raise num_ctx or shorten the input"
            )
        droppable = [i for i, m in enumerate(msgs[:-1]) if m["role"] != "system"]
        if not droppable:
            raise BadRequest(
                f"the prompt is {len(tokens)} tokens; even with the history dropped it does "
                f"not fit the context window of {runner.n_ctx} tokens"
            )
        del msgs[droppable[0]]


def _fit_raw(runner: Runner, text: str, truncate: str, reserve: int) -> list[int]:
    tokens = runner.tokenize(text)
    room = runner.n_ctx - reserve
    if len(tokens) <= room:
        return tokens
    if truncate == "error":
        raise BadRequest(
            f"the prompt is {len(tokens)} tokens and does not fit the context window of "
            f"{runner.n_ctx} tokens; raise num_ctx or shorten the input"
        )
    return tokens[len(tokens) - room :]


def fit_prompt(
    runner: Runner, record: ModelRecord, job: ChatJob, truncate: str, reserve: int
) -> list[int]:
    """The prompt's tokens, leaving `reserve` tokens of the context for the answer.

    `truncate` is the overflow policy: `drop` the oldest history (raw prompts lose their
    start), or `error` with a 400.
    """
    if job.raw:
        return _fit_raw(runner, job.prompt or "", truncate, reserve)
    msgs = job.messages
    if msgs is None:
        msgs = [{"role": "user", "content": job.prompt or ""}]
        if job.system:
            msgs.insert(0, {"role": "system", "content": job.system})
    chat = with_model_history(record, msgs)
    return _fit_chat(runner, chat, job.tools, record.template, truncate, reserve)
