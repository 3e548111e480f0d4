"""What the scheduler keeps per loaded runner: its slots, the names using it, its key.

A slot is one runner (a llama.cpp context or an ONNX session) with a worker thread of its
own, and the right to run one request on it. Unbatched, every slot has its own runner; a
batched runner is shared by its slots, one per sequence it decodes at once. A loaded model
is a runner key's slots plus the model names (aliases) currently served by them.

Free slots go to waiting requests by priority (`SlotPool`): interactive requests first, in
arrival order; low-priority ones (batch-job lines) after them, and never the last free slot
of a model that has several, so an interactive request that comes during a batch job finds
a sequence free and joins the batch at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from server.models.manifest import ModelRecord
from server.runtime.engine_types import LoadOptions
from server.runtime.prefix_cache import PrefixCache
from server.runtime.runners import Runner
from server.thread_stream import iterate_in_thread

T = TypeVar("T")

# Ollama reports "forever" as a far-future expiry.
_FOREVER = datetime(2318, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RunnerKey:
    """What decides a loaded runner: the layers it loads and the load options."""

    weights: tuple[str, ...]
    load: LoadOptions


@dataclass
class Slot:
    """One runner with the one thread that may use it."""

    runner: Runner
    executor: ThreadPoolExecutor

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work on this slot's worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def stream(self, produce: Callable[[threading.Event], Iterator[T]]) -> AsyncGenerator[T, None]:
        """Run a blocking generator on this slot's worker thread (see `iterate_in_thread`)."""
        return iterate_in_thread(produce, self.executor)


def shared_slot(thread_name: str, runner: Runner) -> Slot:
    """One more slot on a batched runner: its own worker thread, the same runner."""
    return Slot(runner, ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name))


class SlotPool:
    """A model's free slots, given to waiters by priority.

    With more than one slot, low-priority waiters leave `reserve` slots free for interactive
    requests; with one slot (unbatched, one context) they may take it, and the batch runner
    gives way by stopping its line instead.
    """

    def __init__(self) -> None:
        self._free: list[Slot] = []
        self._waiters: deque[tuple[bool, asyncio.Future[Slot]]] = deque()
        self.size = 0

    @property
    def reserve(self) -> int:
        """Slots low-priority work may not take."""
        return 1 if self.size > 1 else 0

    def put(self, slot: Slot) -> None:
        """A slot is free (again)."""
        self._free.append(slot)
        self._dispatch()

    def add(self, slots: list[Slot]) -> None:
        """The slots of a model that finished loading."""
        self.size += len(slots)
        for slot in slots:
            self.put(slot)

    def free_count(self) -> int:
        """Slots free now."""
        return len(self._free)

    def get_nowait(self) -> Slot:
        """A free slot now, whatever the priority (tests); IndexError if none."""
        return self._free.pop()

    async def get(self, low_priority: bool = False) -> Slot:
        """Wait for a slot; cancelling the wait (a timeout) gives back one already granted."""
        future: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
        self._waiters.append((low_priority, future))
        self._dispatch()
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.put(future.result())
            else:
                self._forget(future)
            raise

    def _forget(self, future: asyncio.Future[Slot]) -> None:
        self._waiters = deque(w for w in self._waiters if w[1] is not future)
        self._dispatch()

    def _dispatch(self) -> None:
        while self._free:
            live = [w for w in self._waiters if not w[1].done()]
            self._waiters = deque(live)
            pick = next((w for w in live if not w[0]), None)
            if pick is None and live and len(self._free) > self.reserve:
                pick = live[0]
            if pick is None:
                return
            self._waiters.remove(pick)
            pick[1].set_result(self._free.pop())


async def new_slot(
    thread_name: str,
    build: Callable[[ModelRecord, LoadOptions, PrefixCache | None], Runner],
    record: ModelRecord,
    load: LoadOptions,
    prefix_cache: PrefixCache | None,
) -> Slot:
    """Build a runner on a new worker thread: that thread is the only one that will use it."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
    try:
        runner = await asyncio.get_running_loop().run_in_executor(
            executor, build, record, load, prefix_cache
        )
    except BaseException:
        executor.shutdown(wait=False)
        raise
    return Slot(runner, executor)


@dataclass
class Alias:
    """A model name served by a loaded runner: what `/api/ps` lists."""

    record: ModelRecord
    active: int = 0
    """Requests of this name holding or waiting for the runner."""
    running: int = 0
    """Requests of this name holding a slot now."""
    expires_at: float | None = None
    """Monotonic time after which an idle name is let go; None keeps it forever."""
    drop_when_idle: bool = False
    """Let go of the name when its last request ends (it was unloaded while busy)."""

    @property
    def expires_wall(self) -> datetime:
        """Wall-clock expiry for `/api/ps`."""
        if self.expires_at is None:
            return _FOREVER
        return datetime.now(UTC) + timedelta(seconds=max(0.0, self.expires_at - time.monotonic()))


@dataclass
class LoadedModel:
    """A runner resident in memory (or loading): its slots and the names using it.

    The GGUF is memory-mapped, so slots share the weights; unbatched, each has its own KV
    cache, batched they share the runner's. They share one prefix cache of saved KV states.
    """

    key: RunnerKey
    prefix_cache: PrefixCache | None = None
    slots: list[Slot] = field(default_factory=list)
    free: SlotPool = field(default_factory=SlotPool)
    aliases: dict[str, Alias] = field(default_factory=dict)
    loading: asyncio.Task[None] | None = None
    load_duration_ns: int = 0
    memory: int = 0
    """Bytes it was estimated to take when its load started (`Engine.memory`)."""

    def add_slots(self, slots: list[Slot]) -> None:
        """The load finished: the slots become available."""
        self.slots = slots
        self.free.add(slots)

    @property
    def ready(self) -> bool:
        """Loaded (not loading any more)."""
        return self.loading is None and bool(self.slots)

    @property
    def active(self) -> int:
        """Requests holding or waiting for this runner, over every name."""
        return sum(alias.active for alias in self.aliases.values())

    @property
    def expires_at(self) -> float:
        """When the last of its names expires (infinity if one is kept forever)."""
        times = [a.expires_at for a in self.aliases.values()]
        if not times or any(t is None for t in times):
            return float("inf") if times else 0.0
        return max(t for t in times if t is not None)
