"""Batch jobs run in the background at low priority, through the same inference service.

A batch input file is checked whole when the batch is created (`parse_batch_input`): every
line must be a request to the batch's endpoint that the route itself would accept, so a bad
file is a 400 with its line number, never a half-run batch. The runner then answers the
lines one at a time, in order. Before each line it waits until no interactive request is
waiting for or holding a model (`Scheduler.requests_pending`), so a batch never delays
someone at a prompt by more than the one line in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

from pydantic import BaseModel, ValidationError

from server.api.openai_wire import (
    chat_completion,
    chat_job,
    completion_head,
    embedding_list,
    openai_error,
)
from server.api.streaming import collect, open_stream
from server.api.wire_types import OAIChatRequest, OAIEmbeddingRequest
from server.errors import BadRequest, ServerError
from server.runtime.batch_store import ENDPOINTS, Batch, BatchStore
from server.runtime.inference import InferenceService

log = logging.getLogger("terraqore.batches")
BODIES: dict[str, type[BaseModel]] = {
    "/v1/chat/completions": OAIChatRequest,
    "/v1/embeddings": OAIEmbeddingRequest,
}
_IDLE_POLL = 0.05  # seconds between looks at the interactive queue


def parse_batch_input(lines: list[str], endpoint: str, max_lines: int) -> int:
    """Check a batch input file; return its request count, or raise 400 naming the line."""
    if endpoint not in ENDPOINTS:
        raise BadRequest(f"endpoint must be one of {', '.join(ENDPOINTS)}, not {endpoint!r}")
    if not lines:
        raise BadRequest("the batch input file has no requests")
    if len(lines) > max_lines:
        raise BadRequest(
            f"the batch input file has {len(lines)} requests; at most {max_lines} "
            "(TERRAQORE_BATCH_MAX_LINES)"
        )
    seen: set[str] = set()
    for n, line in enumerate(lines, start=1):
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise BadRequest(f"line {n} of the batch input is not JSON: {exc}") from exc
        if not isinstance(item, dict) or not isinstance(item.get("custom_id"), str):
            raise BadRequest(f"line {n}: each line needs a string custom_id")
        if item["custom_id"] in seen:
            raise BadRequest(f"line {n}: custom_id {item['custom_id']!r} is used twice")
        seen.add(item["custom_id"])
        if item.get("method", "POST") != "POST" or item.get("url") != endpoint:
            raise BadRequest(f"line {n}: every request must be a POST to {endpoint}")
        try:
            request = BODIES[endpoint].model_validate(item.get("body"))
        except ValidationError as exc:
            raise BadRequest(f"line {n}: invalid body: {exc.errors()[0]['msg']}") from exc
        if getattr(request, "stream", False):
            raise BadRequest(f"line {n}: a batch request cannot stream")
    return len(lines)


class BatchRunner:
    """Works through the stored batches, one line at a time, yielding to interactive work."""

    def __init__(self, store: BatchStore, service: InferenceService) -> None:
        self.store = store
        self.service = service
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start working (batches a restart interrupted resume first)."""
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop after the line in progress is cancelled; its batch resumes at the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        """A batch was created or cancelled: look now."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            batch = await asyncio.to_thread(self.store.next_runnable)
            if batch is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=5)
                continue
            try:
                await self._run(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the batch fails; the runner goes on with the next
                log.exception("batch %s failed", batch.id)
                batch.status, batch.failed_at = "failed", int(time.time())
                batch.errors = {"object": "list", "data": [{"message": str(exc)[:500]}]}
                await asyncio.to_thread(self.store.save, batch)

    async def _run(self, batch: Batch) -> None:
        if batch.status == "validating":
            batch.status, batch.in_progress_at = "in_progress", int(time.time())
            await asyncio.to_thread(self.store.save, batch)
        done = await asyncio.to_thread(self.store.answered, batch)
        lines = await asyncio.to_thread(lambda: list(self.store.read_input(batch.input_file_id)))
        for line in lines:
            current = await asyncio.to_thread(self.store.get_batch, batch.id)
            if current.status == "cancelling":
                batch.status, batch.cancelled_at = "cancelled", int(time.time())
                await asyncio.to_thread(self.store.save, batch)
                return
            item = json.loads(line)
            if item["custom_id"] in done:
                continue
            while self.service.scheduler.requests_pending():
                await asyncio.sleep(_IDLE_POLL)
            status, body = await self._answer(batch.endpoint, item["body"])
            result = {
                "id": f"batch_req_{uuid.uuid4().hex[:24]}",
                "custom_id": item["custom_id"],
                "response": {"status_code": status, "request_id": uuid.uuid4().hex, "body": body},
                "error": None,
            }
            failed = status != 200
            await asyncio.to_thread(self.store.append_result, batch, result, failed)
            batch.request_counts["failed" if failed else "completed"] += 1
            await asyncio.to_thread(self.store.save, batch)
        batch.status, batch.completed_at = "completed", int(time.time())
        await asyncio.to_thread(self.store.save, batch)

    async def _answer(self, endpoint: str, raw: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, body) of one request, answered as its route would answer it."""
        try:
            if endpoint == "/v1/embeddings":
                emb = OAIEmbeddingRequest.model_validate(raw)
                return 200, await embedding_list(self.service, emb)
            chat = OAIChatRequest.model_validate(raw)
            final = await collect(await open_stream(self.service.run(chat_job(chat))))
            return 200, chat_completion(completion_head(chat.model), final)
        except ServerError as exc:
            return exc.status_code, openai_error(exc.message, exc.status_code)
