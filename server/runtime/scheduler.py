"""The one scheduler that loads, shares, evicts and serialises models.

- Runners are keyed by what they load (weights, adapter, tokenizer) and the load options,
  not by model name, as Ollama keys its runners by model path: the five agent models
  built FROM one base model share one runner. `/api/ps` still lists every name in use,
  each with its own `keep_alive`; a runner unloads when its last name expires.
- At most `max_loaded_models` runners (loading ones included) are resident, and together
  they fit in `memory_budget()` (weights, KV caches and prefix caches, estimated before a
  load by `Engine.memory`); the idle one that expires first is evicted to make room. A model
  that would not fit even alone is refused (`InsufficientMemory`).
- A load runs as a task of its own, outside the scheduler's lock: requests for models
  already loaded go on while another model loads, and a request that gives up waiting
  leaves the load to finish for the next one.
- Each runner has `num_parallel` slots, one worker thread each. Batched (the default), the
  slots share one runner whose llama.cpp context decodes their requests together, one
  sequence each; unbatched (`TERRAQORE_BATCHED=0`), each slot has a context of its own, never
  used by two requests at once. An embedding runner has one slot. Later requests wait in
  line.
- Interactive requests get a free slot before low-priority ones (batch-job lines), and a
  batched runner keeps its last free slot for interactive work (`SlotPool`).
- A request's time budget runs from its arrival (`deadline`): waiting for a load, waiting
  for a slot and generating all spend the one `request_timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from server.config import ServerSettings
from server.errors import BadRequest, InsufficientMemory, ServiceUnavailable
from server.models.manifest import ModelRecord
from server.runtime.engine_types import LoadOptions
from server.runtime.prefix_cache import PrefixCache
from server.runtime.runners import Engine, engine_for
from server.runtime.slots import Alias, LoadedModel, RunnerKey, Slot, new_slot, shared_slot

_MB = 1 << 20


@dataclass
class SchedulerState:
    """What `/metrics` reports about the scheduler."""

    queue_depths: list[tuple[str, int]]
    runners: int
    names: int
    loads: int
    rejected: dict[str, int]
    prefix_cache_bytes: int


class Scheduler:
    """Owns every loaded model."""

    def __init__(
        self, settings: ServerSettings, engines: Callable[[ModelRecord], Engine] = engine_for
    ) -> None:
        self.settings = settings
        self.engine = engines
        """The engine for a record: the factory seam (tests give a fake one)."""
        self._models: dict[RunnerKey, LoadedModel] = {}
        self._pending: dict[str, int] = {}
        """Requests holding or waiting for each model name (loading included)."""
        self._acquiring = 0
        """Interactive requests inside `_acquire` (see `loads_waiting`)."""
        self._rejected: dict[str, int] = {}
        self._loads = 0
        self._cond = asyncio.Condition()
        self._reaper: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        """Start the background task that unloads expired models."""
        self._reaper = asyncio.get_running_loop().create_task(self._reap())

    async def stop(self) -> None:
        """Stop the reaper, let loads finish, and unload everything."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        loading = [m.loading for m in self._models.values() if m.loading is not None]
        await asyncio.gather(*loading, return_exceptions=True)
        async with self._cond:
            for model in list(self._models.values()):
                await self._unload(model)

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            async with self._cond:
                await self._drop_expired(time.monotonic())
                self._cond.notify_all()

    async def _drop_expired(self, now: float) -> None:
        """Forget idle names past their expiry; unload runners no name uses any more."""
        for model in list(self._models.values()):
            for name, alias in list(model.aliases.items()):
                if alias.active == 0 and alias.expires_at is not None and now >= alias.expires_at:
                    del model.aliases[name]
            if not model.aliases and model.ready:
                await self._unload(model)

    async def _unload(self, model: LoadedModel) -> None:
        """Remove a runner (caller holds the condition lock).

        The runner is idle, except at shutdown, when requests the server stopped waiting for
        may still be on its slots' threads. Generations in progress are ended first, then
        every slot's thread finishes what it was doing and takes no more work, and only then
        is the runner freed: a batched runner's slots share it, so one slot's thread closing
        it while another's still reads it would be a use after free.
        """
        self._models.pop(model.key, None)
        runners = list({id(slot.runner): slot.runner for slot in model.slots}.values())
        for runner in runners:
            await asyncio.to_thread(runner.interrupt)
        done = [slot.executor.submit(_nothing) for slot in model.slots]
        for slot in model.slots:
            slot.executor.shutdown(wait=False)  # what is queued still runs; nothing new starts
        await asyncio.gather(*(asyncio.wrap_future(f) for f in done))
        for runner in runners:
            await asyncio.to_thread(runner.close)

    async def _load(self, model: LoadedModel, record: ModelRecord, load: LoadOptions) -> None:
        """Build a runner's slots (the lock is not held: other models keep serving)."""
        engine = self.engine(record)
        count = self._slots(engine, load)
        slots: list[Slot] = []
        start = time.perf_counter_ns()
        try:
            if load.sequences > 1:  # one batched runner, a slot per sequence
                name = f"model-{record.name.model}"
                slots.append(await new_slot(name, engine.build, record, load, model.prefix_cache))
                slots += [shared_slot(f"{name}-{i}", slots[0].runner) for i in range(1, count)]
                count = len(slots)
            for i in range(count - len(slots)):
                name = f"model-{record.name.model}-{i}"
                slots.append(await new_slot(name, engine.build, record, load, model.prefix_cache))
        except BaseException as exc:
            for slot in slots:
                slot.runner.close()
                slot.executor.shutdown(wait=False)
            async with self._cond:
                if self._models.get(model.key) is model:
                    del self._models[model.key]
                self._cond.notify_all()
            if isinstance(exc, BadRequest | asyncio.CancelledError):
                raise
            raise BadRequest(f"failed to load model '{record.name.display}': {exc}") from exc
        async with self._cond:
            model.load_duration_ns = time.perf_counter_ns() - start
            model.add_slots(slots)
            model.loading = None
            self._loads += 1
            self._cond.notify_all()

    # -- use ----------------------------------------------------------------

    async def _acquire(self, record: ModelRecord, load: LoadOptions) -> tuple[LoadedModel, bool]:
        """Claim a runner for a request, starting its load if needed; (model, started it)."""
        name = record.name.display
        key = RunnerKey(record.weights_digests, load)
        need = 0
        async with self._cond:
            while True:
                model = self._models.get(key)
                started = False
                if model is None:
                    # A stat and the config's model_info (a cached header read for models
                    # made elsewhere): done here, in the lock, so requests keep their order.
                    need = need or self._memory(record, load)
                    budget = self.settings.memory_budget()
                    if need > budget:
                        raise InsufficientMemory(
                            f"model '{name}' needs about {need / _MB:.0f} MiB with num_ctx "
                            f"{load.n_ctx} (weights and KV cache), more than the "
                            f"{budget / _MB:.0f} MiB all models may take "
                            "(TERRAQORE_MAX_MODEL_MEMORY_MB); lower num_ctx or "
                            "TERRAQORE_NUM_PARALLEL, or raise the limit"
                        )
                    full = len(self._models) >= max(1, self.settings.max_loaded_models)
                    if full or self._resident() + need > budget:
                        victim = self._idle_victim()
                        if victim is None:
                            await self._cond.wait()
                        else:
                            await self._unload(victim)
                        continue
                    cache = PrefixCache(self.settings.prefix_cache_mb * _MB)
                    model = LoadedModel(key, prefix_cache=cache, memory=need)
                    self._models[key] = model
                    model.loading = asyncio.create_task(self._load(model, record, load))
                    # Read by whoever awaits it; never "exception was never retrieved".
                    model.loading.add_done_callback(lambda t: t.cancelled() or t.exception())
                    started = True
                alias = model.aliases.setdefault(name, Alias(record))
                alias.record = record  # a name re-created since keeps its runner
                alias.active += 1
                alias.expires_at = None
                alias.drop_when_idle = False
                await self._leave_other_runners(name, model)
                return model, started

    def _memory(self, record: ModelRecord, load: LoadOptions) -> int:
        """Bytes a new runner for this record and load would take, its prefix cache included."""
        engine = self.engine(record)
        cache = 0 if load.embedding else self.settings.prefix_cache_mb * _MB
        try:
            return engine.memory(record, load, self._slots(engine, load)) + cache
        except OSError:  # unreadable weights: the load says what is wrong with them
            return cache

    def _slots(self, engine: Engine, load: LoadOptions) -> int:
        """Slots a runner gets: `num_parallel`, or 1 where more cannot help.

        An embedding runner has one: its slots could not share a batch, so each would be a
        whole llama.cpp model and context of its own (four copies of the 1.5B took 8 GB to
        embed one word, found by the API fuzz test), competing for the same cores.
        """
        if not engine.parallel or load.embedding:
            return 1
        return max(1, self.settings.num_parallel)

    def _resident(self) -> int:
        """Bytes the runners loaded or loading are estimated to take."""
        return sum(m.memory for m in self._models.values())

    def _idle_victim(self) -> LoadedModel | None:
        idle = [m for m in self._models.values() if m.ready and m.active == 0]
        return min(idle, key=lambda m: m.expires_at, default=None)

    async def _leave_other_runners(self, name: str, keep: LoadedModel) -> None:
        """A name now served by another runner (new options or weights) lets go of the old."""
        for model in list(self._models.values()):
            alias = model.aliases.get(name)
            if model is keep or alias is None or alias.active:
                continue
            del model.aliases[name]
            if not model.aliases and model.ready and model.active == 0:
                await self._unload(model)

    async def _release(self, model: LoadedModel, name: str, keep_alive: float | None) -> None:
        """A request is done with a runner: set its name's expiry (0 lets go at once)."""
        async with self._cond:
            alias = model.aliases.get(name)
            if alias is not None:
                alias.active -= 1
                alias.expires_at = None if keep_alive is None else time.monotonic() + keep_alive
                if alias.active == 0 and (keep_alive == 0 or alias.drop_when_idle):
                    del model.aliases[name]
            if not model.aliases and model.ready and self._models.get(model.key) is model:
                await self._unload(model)
            self._cond.notify_all()

    @contextlib.asynccontextmanager
    async def use(
        self,
        record: ModelRecord,
        load: LoadOptions,
        keep_alive: float | None,
        deadline: float,
        low_priority: bool = False,
    ) -> AsyncIterator[tuple[Slot, int]]:
        """Hold a model for one request: load it if needed, then wait for a free slot.

        A `low_priority` request (a batch-job line) is served after every interactive one
        waiting, and never with a batched model's last free slot.

        At most `max_queue` requests wait for one model name, loaded or not; one more is
        refused at once with 503. Not being served by `deadline` (event-loop time) is a 503
        too. Yields (slot, load duration in ns if this request loaded the model). On exit
        the name's expiry is set from `keep_alive`; 0 lets go of it once it is idle.
        """
        name = record.name.display
        waiting = self._pending.get(name, 0)
        parallel = self._slots(self.engine(record), load)
        if waiting >= self.settings.max_queue + parallel:
            self._rejected[name] = self._rejected.get(name, 0) + 1
            raise ServiceUnavailable(
                f"model '{name}' has {waiting - parallel} requests queued (the limit is "
                f"{self.settings.max_queue}, TERRAQORE_MAX_QUEUE); retry shortly"
            )
        self._pending[name] = waiting + 1
        loop = asyncio.get_running_loop()
        self._acquiring += not low_priority
        try:
            try:
                model, started = await asyncio.wait_for(
                    self._acquire(record, load), max(0.0, deadline - loop.time())
                )
            except TimeoutError:
                raise ServiceUnavailable(f"timed out waiting to load model '{name}'") from None
            finally:
                self._acquiring -= not low_priority
            try:
                if model.loading is not None:
                    try:
                        remaining = max(0.0, deadline - loop.time())
                        await asyncio.wait_for(asyncio.shield(model.loading), remaining)
                    except TimeoutError:
                        raise ServiceUnavailable(f"timed out waiting to load '{name}'") from None
                try:
                    slot = await asyncio.wait_for(
                        model.free.get(low_priority), max(0.0, deadline - loop.time())
                    )
                except TimeoutError:
                    raise ServiceUnavailable(f"timed out waiting for model '{name}'") from None
                alias = model.aliases[name]
                alias.running += 1
                try:
                    yield slot, model.load_duration_ns if started else 0
                finally:
                    alias.running -= 1
                    model.free.put(slot)
            finally:
                await self._release(model, name, keep_alive)
        finally:
            self._pending[name] -= 1

    # -- reporting ----------------------------------------------------------

    def loads_waiting(self) -> int:
        """Interactive requests waiting for their model to be loaded (or room made for it).

        Batched, batch-job lines do not start while one waits: a runner busy with lines
        cannot be unloaded to make room.
        """
        return self._acquiring

    def requests_pending(self) -> int:
        """Requests waiting for or holding a model, over every model (batch jobs yield to them)."""
        return sum(self._pending.values())

    def queue_depths(self) -> list[tuple[str, int]]:
        """(model name, requests waiting) for every name in use or awaited."""
        running: dict[str, int] = {}
        for model in self._models.values():
            for name, alias in model.aliases.items():
                running[name] = running.get(name, 0) + alias.running
        names = set(running) | {n for n, c in self._pending.items() if c}
        return [(n, max(0, self._pending.get(n, 0) - running.get(n, 0))) for n in sorted(names)]

    def state(self) -> SchedulerState:
        """Counts for `/metrics`."""
        ready = [m for m in self._models.values() if m.ready]
        return SchedulerState(
            queue_depths=self.queue_depths(),
            runners=len(ready),
            names=sum(len(m.aliases) for m in ready),
            loads=self._loads,
            rejected=dict(self._rejected),
            prefix_cache_bytes=sum(m.prefix_cache.size_bytes for m in ready if m.prefix_cache),
        )

    async def unload(self, name: str) -> bool:
        """Let go of a model name now if it is idle (or as soon as it becomes idle)."""
        found = False
        async with self._cond:
            for model in list(self._models.values()):
                alias = model.aliases.get(name)
                if alias is None:
                    continue
                found = True
                alias.expires_at = time.monotonic()
                alias.drop_when_idle = True
            await self._drop_expired(time.monotonic())
            self._cond.notify_all()
        return found

    def loaded(self) -> list[tuple[Alias, LoadedModel]]:
        """Every name on a loaded runner, most recently loaded runner first."""
        return [
            (alias, model)
            for model in reversed(self._models.values())
            if model.ready
            for alias in model.aliases.values()
        ]


def _nothing() -> None:
    """A slot thread's last work item: when it runs, the work before it is done."""
