"""The one scheduler that loads, keeps, evicts and serialises models.

- Models load lazily on first use and stay for `keep_alive` after their last request.
- At most `max_loaded_models` are loaded; the idle one that expires first is evicted.
- Each loaded model has one worker thread and a lock, so a llama.cpp context is
  never used by two requests at once; later requests for it wait in line.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from server.config import ServerSettings
from server.errors import BadRequest, ServiceUnavailable
from server.models.manifest import ModelRecord
from server.runtime.engine_llama import LlamaRunner, LoadOptions
from server.runtime.engine_onnx import OnnxEmbedder
from server.runtime.thread_stream import iterate_in_thread

T = TypeVar("T")
Runner = LlamaRunner | OnnxEmbedder

# Ollama reports "forever" as a far-future expiry.
_FOREVER = datetime(2318, 1, 1, tzinfo=UTC)


@dataclass
class Slot:
    """One llama.cpp context (or ONNX session) with the one thread that may use it."""

    runner: Runner
    executor: ThreadPoolExecutor

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work on this slot's worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def stream(self, produce: Callable[[threading.Event], Iterator[T]]) -> AsyncIterator[T]:
        """Run a blocking generator on this slot's worker thread (see `iterate_in_thread`)."""
        return iterate_in_thread(produce, self.executor)


@dataclass
class LoadedModel:
    """A model resident in memory: `num_parallel` slots, each serving one request at a time.

    The GGUF is memory-mapped, so slots share the weights; each has its own KV cache.
    """

    name: str
    record: ModelRecord
    slots: list[Slot]
    load: LoadOptions
    free: asyncio.Queue[Slot] = field(default_factory=asyncio.Queue)
    active: int = 0
    expires_at: float | None = None
    load_duration_ns: int = 0

    def __post_init__(self) -> None:
        for slot in self.slots:
            self.free.put_nowait(slot)

    @property
    def busy(self) -> int:
        """Slots serving a request now."""
        return len(self.slots) - self.free.qsize()

    @property
    def expires_wall(self) -> datetime:
        """Wall-clock expiry for `/api/ps`."""
        if self.expires_at is None:
            return _FOREVER
        return datetime.now(UTC) + timedelta(seconds=max(0.0, self.expires_at - time.monotonic()))


def _build_runner(record: ModelRecord, load: LoadOptions) -> Runner:
    if record.format == "onnx":
        tokenizer = record.tokenizer_path
        if tokenizer is None:
            raise BadRequest(f"model '{record.name.display}' has no tokenizer layer")
        return OnnxEmbedder(record.model_path, tokenizer, load.n_ctx, load.n_threads)
    adapters = record.adapter_paths
    if len(adapters) > 1:
        raise BadRequest("more than one ADAPTER is not supported by llama.cpp's loader")
    return LlamaRunner(
        record.model_path, load, adapters[0] if adapters else None, template=record.template
    )


class Scheduler:
    """Owns every loaded model."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self._models: dict[str, LoadedModel] = {}
        self._pending: dict[str, int] = {}
        """Requests holding or waiting for each model (loading included)."""
        self._cond = asyncio.Condition()
        self._reaper: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        """Start the background task that unloads expired models."""
        self._reaper = asyncio.get_running_loop().create_task(self._reap())

    async def stop(self) -> None:
        """Stop the reaper and unload everything."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        async with self._cond:
            for model in list(self._models.values()):
                await self._unload(model)

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            async with self._cond:
                for model in list(self._models.values()):
                    if (
                        model.active == 0
                        and model.expires_at is not None
                        and now >= model.expires_at
                    ):
                        await self._unload(model)
                self._cond.notify_all()

    async def _unload(self, model: LoadedModel) -> None:
        """Remove a model (caller holds the condition lock)."""
        self._models.pop(model.name, None)
        for slot in model.slots:
            await slot.run(slot.runner.close)
            slot.executor.shutdown(wait=False)

    async def _load(self, record: ModelRecord, load: LoadOptions) -> LoadedModel:
        count = 1 if record.format == "onnx" else max(1, self.settings.num_parallel)
        slots: list[Slot] = []
        start = time.perf_counter_ns()
        try:
            for i in range(count):
                executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=f"model-{record.name.model}-{i}"
                )
                try:
                    # Built on its own thread: that thread is the only one that will use it.
                    runner = await asyncio.get_running_loop().run_in_executor(
                        executor, _build_runner, record, load
                    )
                except BaseException:
                    executor.shutdown(wait=False)
                    raise
                slots.append(Slot(runner, executor))
        except BaseException as exc:
            for slot in slots:
                slot.runner.close()
                slot.executor.shutdown(wait=False)
            if isinstance(exc, BadRequest):
                raise
            raise BadRequest(f"failed to load model '{record.name.display}': {exc}") from exc
        model = LoadedModel(record.name.display, record, slots, load)
        model.load_duration_ns = time.perf_counter_ns() - start
        self._models[model.name] = model
        return model

    # -- use ----------------------------------------------------------------

    async def _acquire(self, record: ModelRecord, load: LoadOptions) -> tuple[LoadedModel, int]:
        name = record.name.display
        async with self._cond:
            while True:
                model = self._models.get(name)
                if (
                    model is not None
                    and model.load == load
                    and model.record.digest == record.digest
                ):
                    model.active += 1
                    return model, 0
                if model is not None:
                    if model.active == 0:
                        await self._unload(model)
                        continue
                    await self._cond.wait()
                    continue
                if len(self._models) >= max(1, self.settings.max_loaded_models):
                    idle = [m for m in self._models.values() if m.active == 0]
                    if not idle:
                        await self._cond.wait()
                        continue
                    victim = min(idle, key=lambda m: m.expires_at or float("inf"))
                    await self._unload(victim)
                    continue
                model = await self._load(record, load)
                model.active += 1
                return model, model.load_duration_ns

    @contextlib.asynccontextmanager
    async def use(
        self, record: ModelRecord, load: LoadOptions, keep_alive: float | None
    ) -> AsyncIterator[tuple[Slot, int]]:
        """Hold a model for one request: load it if needed, then wait for a free slot.

        At most `max_queue` requests wait for one model, loaded or not; one more is
        refused at once with 503. Waiting longer than `request_timeout` is a 503 too.
        Yields (slot, load duration in ns for this request). On exit the model's expiry
        is set from `keep_alive`; 0 unloads it once nobody else uses it.
        """
        name = record.name.display
        waiting = self._pending.get(name, 0)
        parallel = 1 if record.format == "onnx" else max(1, self.settings.num_parallel)
        if waiting >= self.settings.max_queue + parallel:
            raise ServiceUnavailable(
                f"model '{name}' has {waiting - parallel} requests queued (the limit is "
                f"{self.settings.max_queue}, TERRAQORE_MAX_QUEUE); retry shortly"
            )
        self._pending[name] = waiting + 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.request_timeout
        try:
            try:
                model, load_ns = await asyncio.wait_for(
                    self._acquire(record, load), self.settings.request_timeout
                )
            except TimeoutError:
                raise ServiceUnavailable(f"timed out waiting to load model '{name}'") from None
            try:
                try:
                    slot = await asyncio.wait_for(
                        model.free.get(), max(0.001, deadline - loop.time())
                    )
                except TimeoutError:
                    raise ServiceUnavailable(f"timed out waiting for model '{name}'") from None
                try:
                    yield slot, load_ns
                finally:
                    model.free.put_nowait(slot)
            finally:
                async with self._cond:
                    model.active -= 1
                    model.expires_at = None if keep_alive is None else time.monotonic() + keep_alive
                    if keep_alive == 0 and model.active == 0 and self._models.get(name) is model:
                        await self._unload(model)
                    self._cond.notify_all()
        finally:
            self._pending[name] -= 1

    def queue_depths(self) -> list[tuple[str, int]]:
        """(model, requests waiting) for every loaded or awaited model."""
        names = set(self._models) | {n for n, c in self._pending.items() if c}
        out = []
        for name in sorted(names):
            model = self._models.get(name)
            running = model.busy if model is not None else 0
            out.append((name, max(0, self._pending.get(name, 0) - running)))
        return out

    async def unload(self, name: str) -> bool:
        """Unload a model now if it is idle (or as soon as it becomes idle)."""
        async with self._cond:
            model = self._models.get(name)
            if model is None:
                return False
            if model.active == 0:
                await self._unload(model)
            else:
                model.expires_at = time.monotonic()
            self._cond.notify_all()
            return True

    def loaded(self) -> list[LoadedModel]:
        """Loaded models, most recently loaded first."""
        return list(reversed(self._models.values()))
