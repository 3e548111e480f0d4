"""Batch jobs run in the background at low priority, through the same inference service.

A batch input file is checked whole when the batch is created (`parse_batch_input`): every
line must be a request to the batch's endpoint that the route itself would accept, so a bad
file is a 400 with its line number, never a half-run batch. The runner then answers the
lines so that someone at a prompt does not wait for a batch's answer:
- batched (the default), chat lines are low-priority sequences in their model's batch, as
  many at once as the model has sequences but one: an interactive request gets a sequence
  before them and finds one kept free for it (`SlotPool`), then decodes beside the lines,
  which go on;
- otherwise (and for embedding lines) the lines run one at a time, in order; a line starts
  only when no interactive request is waiting for or holding a model
  (`Scheduler.requests_pending`), and a line in progress is stopped when one arrives and
  started over afterwards (at most `MAX_PREEMPTIONS` times).
Lines not answered within the batch's 24-hour window expire with a `batch_expired` error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
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
from server.errors import BadRequest, ServerError
from server.runtime.batch_store import ANY_OWNER, ENDPOINTS, Batch, BatchStore
from server.runtime.inference import InferenceService
from server.runtime.options import MAX_SEQUENCES
from server.wire import OAIChatRequest, OAIEmbeddingRequest

log = logging.getLogger("terraqore.batches")
BODIES: dict[str, type[BaseModel]] = {
    "/v1/chat/completions": OAIChatRequest,
    "/v1/embeddings": OAIEmbeddingRequest,
}
_IDLE_POLL = 0.05  # seconds between looks at the interactive queue
MAX_PREEMPTIONS = 3
"""Times one line may be stopped for interactive requests before it runs to its end."""


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

    def __init__(
        self,
        store: BatchStore,
        service: InferenceService,
        on_preempt: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.service = service
        self.on_preempt = on_preempt
        """Told each time a line is stopped for an interactive request (a metric)."""
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._cancels: set[str] = set()

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
            try:
                await self._next()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let the runner die: every batch would stall
                log.exception("the batch runner failed; it goes on in a moment")
                await asyncio.sleep(1)

    async def _next(self) -> None:
        """Work on the next batch, or wait for one."""
        batch = await asyncio.to_thread(self.store.next_runnable)
        if batch is None:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=5)
            return
        try:
            await self._run(batch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the batch fails; the runner goes on with the next
            log.exception("batch %s failed", batch.id)
            batch.errors = {"object": "list", "data": [{"message": str(exc)[:500]}]}
            await self._finish(batch, "failed")

    def cancel(self, batch_id: str) -> None:
        """A batch was marked `cancelling`: stop it before its next line."""
        self._cancels.add(batch_id)
        self._wake.set()

    async def _save(self, batch: Batch) -> bool:
        """Save the runner's state of a batch; False once it has been cancelled meanwhile."""
        if await asyncio.to_thread(self.store.save, batch):
            return True
        self._cancels.add(batch.id)
        return False

    async def _finish(self, batch: Batch, status: str) -> None:
        """End a batch: completed, failed, cancelled or expired.

        Only `cancelled` may overwrite a cancel; any other end that finds the batch cancelled
        meanwhile (the route wrote it after the last line) ends it cancelled instead.
        """
        now = int(time.time())
        if status == "cancelled":
            current = await asyncio.to_thread(self.store.get_batch, batch.id, ANY_OWNER)
            batch.cancelling_at = current.cancelling_at or now
        batch.status = status
        setattr(batch, f"{status}_at", now)
        if not await asyncio.to_thread(self.store.save, batch, status == "cancelled"):
            setattr(batch, f"{status}_at", None)
            await self._finish(batch, "cancelled")
            return
        self._cancels.discard(batch.id)

    async def _cancel_others(self, running: Batch) -> None:
        """Batches cancelled while queued behind this one end now, not when it ends."""
        for batch_id in sorted(self._cancels - {running.id}):
            other = await asyncio.to_thread(self.store.get_batch, batch_id, ANY_OWNER)
            if other.status == "cancelling":
                await self._finish(other, "cancelled")
            else:
                self._cancels.discard(batch_id)

    def _stop_reason(self, batch: Batch) -> str | None:
        """Why the batch must stop before its next line: cancelled, expired, or not at all."""
        if batch.id in self._cancels:
            return "cancelled"
        return "expired" if time.time() >= batch.expires_at else None

    async def _run(self, batch: Batch) -> None:
        if batch.status == "cancelling":  # cancelled before a restart, or before it began
            await self._finish(batch, "cancelled")
            return
        if batch.status == "validating":
            batch.status, batch.in_progress_at = "in_progress", int(time.time())
            await self._save(batch)
        ok, failed = await asyncio.to_thread(self.store.answered, batch)
        # Counted again from the result files: a crash may have come between a result and
        # the save of its count.
        batch.request_counts["completed"], batch.request_counts["failed"] = len(ok), len(failed)
        done = ok | failed
        lines = await asyncio.to_thread(lambda: list(self.store.read_input(batch.input_file_id)))
        width = self._width(batch)
        running: set[asyncio.Future[tuple[str, tuple[int, Any] | None]]] = set()
        stopped = False
        try:
            for line in lines:
                item = json.loads(line)
                if item["custom_id"] in done:
                    continue
                await self._cancel_others(batch)
                while len(running) >= width and not stopped:
                    stopped = not await self._record_next(batch, running, done)
                if stopped or (width > 1 and self._stop_reason(batch)):
                    break
                running.add(asyncio.ensure_future(self._line(batch, item)))
            while running and not stopped:
                stopped = not await self._record_next(batch, running, done)
        finally:  # the runner itself stopped, or a line said stop: the others stop too
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running)
        reason = self._stop_reason(batch)
        if reason == "expired" and len(done) < len(lines):
            await self._expire(batch, lines, done)
        else:
            await self._finish(batch, "cancelled" if reason == "cancelled" else "completed")

    def _width(self, batch: Batch) -> int:
        """Lines answered at once: batched, all but the sequence kept for interactive work."""
        settings = self.service.settings
        if batch.endpoint == "/v1/embeddings" or not settings.batched:
            return 1
        return max(1, min(settings.num_parallel, MAX_SEQUENCES) - 1)

    async def _line(self, batch: Batch, item: dict[str, Any]) -> tuple[str, tuple[int, Any] | None]:
        return item["custom_id"], await self._answer_yielding(batch, item["body"])

    async def _record_next(
        self,
        batch: Batch,
        running: set[asyncio.Future[tuple[str, tuple[int, Any] | None]]],
        done: set[str],
    ) -> bool:
        """Wait for one line to end and write its result; False if the batch must stop."""
        finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        go_on = True
        for task in finished:
            running.discard(task)
            custom_id, answer = task.result()
            if answer is None:  # cancelled or expired while it waited
                go_on = False
                continue
            status, body = answer
            result = {
                "id": f"batch_req_{uuid.uuid4().hex[:24]}",
                "custom_id": custom_id,
                "response": {"status_code": status, "request_id": uuid.uuid4().hex, "body": body},
                "error": None,
            }
            bad = status != 200
            await asyncio.to_thread(self.store.append_result, batch, result, bad)
            done.add(custom_id)
            batch.request_counts["failed" if bad else "completed"] += 1
            await self._save(batch)
        return go_on

    async def _expire(self, batch: Batch, lines: list[str], done: set[str]) -> None:
        """Past its completion window: every line not answered gets a `batch_expired` error."""
        for line in lines:
            custom_id = json.loads(line)["custom_id"]
            if custom_id in done:
                continue
            error = {"code": "batch_expired", "message": "the batch's 24h window ended first"}
            result = {"id": f"batch_req_{uuid.uuid4().hex[:24]}", "custom_id": custom_id}
            result |= {"response": None, "error": error}
            await asyncio.to_thread(self.store.append_result, batch, result, True)
            batch.request_counts["failed"] += 1
        await self._finish(batch, "expired")

    async def _idle_until(self, batch: Batch, busy: Callable[[], int]) -> bool:
        """Wait while `busy()` is nonzero; False if the batch must stop first (or now)."""
        while busy():
            if self._stop_reason(batch):
                return False
            await asyncio.sleep(_IDLE_POLL)
        return not self._stop_reason(batch)

    async def _answer_yielding(self, batch: Batch, raw: dict[str, Any]) -> tuple[int, Any] | None:
        """Answer one line, giving way to interactive requests; None if the batch must stop.

        The line starts only when no interactive request waits for or holds a model. If one
        arrives while the line runs, the line is stopped (llama.cpp stops after the token in
        progress; a prompt being evaluated is not interrupted) and starts over once the
        interactive work is done. A line is stopped at most `MAX_PREEMPTIONS` times; then it
        runs to its end, so a steady stream of chats cannot keep a batch from progressing.
        A cancel or the end of the batch's window is noticed while waiting, too.

        Batched, a chat line instead runs beside interactive requests as a low-priority
        sequence; it starts when no interactive request waits for a model to load, and a line
        that ends in a 503 is asked again, at most `MAX_PREEMPTIONS` times.
        """
        scheduler = self.service.scheduler
        settings = self.service.settings
        if batch.endpoint != "/v1/embeddings" and settings.batched and settings.num_parallel > 1:
            # A 503 (interactive work held every sequence past the line's timeout) is not the
            # line's fault: it is asked again, up to MAX_PREEMPTIONS times.
            for _ in range(MAX_PREEMPTIONS + 1):
                # A line holds its runner, which then cannot be unloaded to make room for
                # another model: no new line starts while an interactive request waits for a load.
                if not await self._idle_until(batch, scheduler.loads_waiting):
                    return None
                answer = await self._answer(batch.endpoint, raw, low_priority=True)
                if answer[0] != 503:
                    break
            return answer
        for attempt in range(MAX_PREEMPTIONS + 1):
            if not await self._idle_until(batch, scheduler.requests_pending):
                return None
            line = asyncio.ensure_future(self._answer(batch.endpoint, raw))
            try:
                while not line.done():
                    await asyncio.wait({line}, timeout=_IDLE_POLL)
                    # More than the line's own request: someone else wants a model.
                    if attempt < MAX_PREEMPTIONS and scheduler.requests_pending() > 1:
                        break
            finally:  # preempted, or the runner itself stopped: the line stops too
                if not line.done():
                    line.cancel()
                    # `wait`, not `await line`: the runner's own cancel must get through.
                    await asyncio.wait({line})
            if not line.cancelled():  # it ended on its own (even just as it was preempted)
                return line.result()
            self.on_preempt()
        raise AssertionError("unreachable: the last attempt is never preempted")

    async def _answer(
        self, endpoint: str, raw: dict[str, Any], low_priority: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """(status, body) of one request, answered as its route would answer it."""
        try:
            if endpoint == "/v1/embeddings":
                emb = OAIEmbeddingRequest.model_validate(raw)
                return 200, await embedding_list(self.service, emb)
            chat = OAIChatRequest.model_validate(raw)
            job = chat_job(chat)
            job.low_priority = low_priority
            final = await collect(await open_stream(self.service.run(job)))
            return 200, chat_completion(completion_head(chat.model), final)
        except ServerError as exc:
            return exc.status_code, openai_error(exc.message, exc.status_code)
