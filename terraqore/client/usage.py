"""Every model call the app makes, with its tokens, seconds, cost, endpoint and task type.

One JSON line per call in `$TERRAQORE_HOME/logs/usage.jsonl`, written by a LangChain callback
that the model factory and the router attach to each chat model. `terraqore stats` sums it.
Local models cost $0; a remote endpoint's price per million tokens comes from its config.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

from server.home import private_file

_write_lock = threading.Lock()


@dataclass(frozen=True)
class Price:
    """Dollars per million input and output tokens."""

    input: float = 0.0
    output: float = 0.0

    def cost(self, prompt_tokens: int, output_tokens: int) -> float:
        """What a call with these token counts costs."""
        return (prompt_tokens * self.input + output_tokens * self.output) / 1e6


@dataclass(frozen=True)
class CallRecord:
    """One model call."""

    time: str
    task: str
    agent: str
    endpoint: str
    model: str
    prompt_tokens: int
    output_tokens: int
    seconds: float
    cost: float
    ok: bool = True


def usage_path(home: Path) -> Path:
    """Where the usage log is."""
    return home / "logs" / "usage.jsonl"


def append(home: Path, record: CallRecord) -> None:
    """Add one record to the usage log (threads and processes append whole lines)."""
    path = usage_path(home)
    line = json.dumps(asdict(record)) + "\n"
    # Owner only, `logs/` included (the first record may be what creates the home).
    with _write_lock, private_file(path, create=True).open("a", encoding="utf-8") as f:
        f.write(line)


def records(home: Path) -> Iterator[dict[str, Any]]:
    """Every record in the usage log (a damaged line is skipped)."""
    path = usage_path(home)
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                yield json.loads(line)
            except ValueError:
                continue


class UsageRecorder(BaseCallbackHandler):
    """A callback that writes a `CallRecord` when a chat model call ends or fails."""

    def __init__(
        self, home: Path, task: str, agent: str, endpoint: str, model: str, price: Price
    ) -> None:
        self.home, self.task, self.agent = home, task, agent
        self.endpoint, self.model, self.price = endpoint, model, price
        self._started: dict[UUID, float] = {}

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **_: Any
    ) -> None:
        """Note when a call starts."""
        self._started[run_id] = time.perf_counter()

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **_: Any) -> None:
        """Record a finished call with the token counts the server reported."""
        usage: dict[str, Any] = {}
        for generations in response.generations:
            for gen in generations:
                usage = getattr(getattr(gen, "message", None), "usage_metadata", None) or usage
        self._write(run_id, int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)))

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **_: Any) -> None:
        """Record a failed call (no tokens)."""
        self._write(run_id, 0, 0, ok=False)

    def _write(self, run_id: UUID, prompt: int, output: int, ok: bool = True) -> None:
        start = self._started.pop(run_id, time.perf_counter())
        append(
            self.home,
            CallRecord(
                time=datetime.now(UTC).isoformat(timespec="seconds"),
                task=self.task,
                agent=self.agent,
                endpoint=self.endpoint,
                model=self.model,
                prompt_tokens=prompt,
                output_tokens=output,
                seconds=round(time.perf_counter() - start, 3),
                cost=round(self.price.cost(prompt, output), 6),
                ok=ok,
            ),
        )
