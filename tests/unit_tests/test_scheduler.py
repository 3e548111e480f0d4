"""The scheduler's loading, sharing, eviction and queue, with a fake engine (no model)."""

from __future__ import annotations

import asyncio
import os
import threading
from functools import partial

import pytest

from server.config import ServerSettings
from server.errors import InsufficientMemory, ServiceUnavailable
from server.models.store import ModelStore
from server.runtime.engine_types import GenerationStats, LoadOptions, SamplingOptions
from server.runtime.runners import kv_cell_bytes
from server.runtime.scheduler import Scheduler
from tests.fake_engine import FakeEngine, FakeRunner, register, settings

LOAD = LoadOptions(n_ctx=2048, sequences=4)  # batched: one runner, four slots


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "models")


def _scheduler(tmp_path, engine: FakeEngine, **values) -> Scheduler:
    values.setdefault("num_parallel", 4)  # as LOAD's four sequences
    return Scheduler(settings(tmp_path, **values), engines=lambda record: engine)


async def _use(sched: Scheduler, record, keep_alive: float | None = 300, hold: float = 0.0):
    loop = asyncio.get_running_loop()
    async with sched.use(record, LOAD, keep_alive, loop.time() + 30) as (slot, load_ns):
        await asyncio.sleep(hold)
        return slot, load_ns


def test_names_from_the_same_weights_share_one_runner(tmp_path, store) -> None:
    engine = FakeEngine()
    idea = register(store, "terraqore/idea", b"base", system="You are Idea.")
    planner = register(store, "terraqore/planner", b"base", system="You are Planner.")

    async def main() -> None:
        sched = _scheduler(tmp_path, engine)
        slot_a, load_a = await _use(sched, idea)
        slot_b, load_b = await _use(sched, planner)
        assert slot_a.runner is slot_b.runner
        assert load_a > 0 and load_b == 0  # only the first name paid for the load
        assert sorted(alias.record.name.display for alias, _ in sched.loaded()) == [
            "terraqore/idea:latest",
            "terraqore/planner:latest",
        ]
        state = sched.state()
        assert (state.runners, state.names, state.loads) == (1, 2, 1)
        await sched.stop()

    asyncio.run(main())
    assert len(engine.builds) == 1


def test_other_load_options_get_their_own_runner(tmp_path, store) -> None:
    engine = FakeEngine()
    model = register(store, "m", b"w")

    async def main() -> None:
        sched = _scheduler(tmp_path, engine)
        loop = asyncio.get_running_loop()
        await _use(sched, model)
        async with sched.use(model, LoadOptions(n_ctx=4096, sequences=4), 300, loop.time() + 30):
            pass
        # The name moved to the new runner and the old one, used by nobody, was unloaded.
        assert [m.key.load.n_ctx for _, m in sched.loaded()] == [4096]
        await sched.stop()

    asyncio.run(main())
    assert len(engine.builds) == 2


def test_the_idle_model_that_expires_first_is_evicted(tmp_path, store) -> None:
    engine = FakeEngine()
    a, b, c = (register(store, n, n.encode()) for n in ("a", "b", "c"))

    async def main() -> None:
        sched = _scheduler(tmp_path, engine, max_loaded_models=2)
        await _use(sched, a, keep_alive=100)
        await _use(sched, b, keep_alive=50)  # expires before a
        await _use(sched, c)
        assert sorted(alias.record.name.model for alias, _ in sched.loaded()) == ["a", "c"]
        await sched.stop()

    asyncio.run(main())


def test_a_busy_model_is_never_evicted_the_newcomer_waits(tmp_path, store) -> None:
    engine = FakeEngine()
    a, b = register(store, "a", b"a"), register(store, "b", b"b")

    async def main() -> None:
        sched = _scheduler(tmp_path, engine, max_loaded_models=1)
        holder = asyncio.create_task(_use(sched, a, hold=0.3))
        await asyncio.sleep(0.1)
        started = asyncio.get_running_loop().time()
        await _use(sched, b)
        waited = asyncio.get_running_loop().time() - started
        assert holder.done() and waited >= 0.15
        assert [alias.record.name.model for alias, _ in sched.loaded()] == ["b"]
        await sched.stop()

    asyncio.run(main())


def test_an_interactive_request_waiting_for_room_is_counted_a_batch_line_is_not(
    tmp_path, store
) -> None:
    """Batch lines do not start while `loads_waiting` (a busy runner cannot make room)."""
    engine = FakeEngine()
    a, b = register(store, "a", b"a"), register(store, "b", b"b")

    async def main() -> None:
        sched = _scheduler(tmp_path, engine, max_loaded_models=1)
        loop = asyncio.get_running_loop()
        holder = asyncio.create_task(_use(sched, a, hold=0.3))
        await asyncio.sleep(0.1)
        assert sched.loads_waiting() == 0  # a is loaded and held: nobody waits

        async def line() -> None:
            async with sched.use(b, LOAD, 300, loop.time() + 30, low_priority=True):
                pass

        low = asyncio.create_task(line())
        await asyncio.sleep(0.05)
        assert sched.loads_waiting() == 0  # a batch line waiting for room is not counted
        chat = asyncio.create_task(_use(sched, b))
        await asyncio.sleep(0.05)
        assert sched.loads_waiting() == 1
        await asyncio.gather(holder, low, chat)
        assert sched.loads_waiting() == 0
        await sched.stop()

    asyncio.run(main())


def test_a_full_queue_refuses_at_once_and_counts_the_refusal(tmp_path, store) -> None:
    engine = FakeEngine()
    a = register(store, "a", b"a")

    async def main() -> None:
        sched = _scheduler(tmp_path, engine, max_queue=1, num_parallel=1)
        first = asyncio.create_task(_use(sched, a, hold=0.3))
        second = asyncio.create_task(_use(sched, a))
        await asyncio.sleep(0.1)
        assert sched.queue_depths() == [("a:latest", 1)]
        with pytest.raises(ServiceUnavailable):
            await _use(sched, a)
        await asyncio.gather(first, second)
        assert sched.state().rejected == {"a:latest": 1}
        await sched.stop()

    asyncio.run(main())


def test_waiting_past_the_deadline_is_a_503(tmp_path, store) -> None:
    engine = FakeEngine()
    a = register(store, "a", b"a")

    async def main() -> None:
        sched = _scheduler(tmp_path, engine, num_parallel=1)
        holder = asyncio.create_task(_use(sched, a, hold=0.5))
        await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        with pytest.raises(ServiceUnavailable, match="timed out"):
            async with sched.use(a, LOAD, 300, loop.time() + 0.1):
                pass
        await holder
        await sched.stop()

    asyncio.run(main())


def test_loading_one_model_does_not_block_a_loaded_one(tmp_path, store) -> None:
    engine = FakeEngine()
    small, big = register(store, "small", b"small"), register(store, "big", b"big")
    gate = engine.gates[big.weights_digests[0]] = threading.Event()

    async def main() -> None:
        sched = _scheduler(tmp_path, engine)
        await _use(sched, small)
        loading = asyncio.create_task(_use(sched, big))
        await asyncio.sleep(0.05)
        await asyncio.wait_for(_use(sched, small), 1.0)  # served while `big` still loads
        assert not loading.done()
        gate.set()
        await loading
        await sched.stop()

    asyncio.run(main())


def test_a_request_that_gives_up_on_a_load_leaves_it_to_finish(tmp_path, store) -> None:
    engine = FakeEngine()
    big = register(store, "big", b"big")
    gate = engine.gates[big.weights_digests[0]] = threading.Event()

    async def main() -> None:
        sched = _scheduler(tmp_path, engine)
        loop = asyncio.get_running_loop()
        with pytest.raises(ServiceUnavailable, match="timed out"):
            async with sched.use(big, LOAD, 300, loop.time() + 0.1):
                pass
        gate.set()
        _, load_ns = await _use(sched, big)
        assert load_ns == 0 and len(engine.builds) == 1  # loaded once, by the first request
        await sched.stop()

    asyncio.run(main())


def test_two_requests_for_a_loading_model_load_it_once(tmp_path, store) -> None:
    engine = FakeEngine()
    big = register(store, "big", b"big")
    gate = engine.gates[big.weights_digests[0]] = threading.Event()

    async def main() -> None:
        sched = _scheduler(tmp_path, engine)
        both = asyncio.gather(_use(sched, big), _use(sched, big))
        await asyncio.sleep(0.05)
        gate.set()
        await both
        await sched.stop()

    asyncio.run(main())
    assert len(engine.builds) == 1


def test_keep_alive_zero_and_unload_let_go_of_a_name(tmp_path, store) -> None:
    engine = FakeEngine()
    idea = register(store, "idea", b"base", system="Idea.")
    planner = register(store, "planner", b"base", system="Planner.")

    async def main() -> None:
        sched = _scheduler(tmp_path, engine)
        await _use(sched, idea)
        await _use(sched, planner, keep_alive=0)
        assert [alias.record.name.model for alias, _ in sched.loaded()] == ["idea"]
        assert await sched.unload("idea:latest")
        assert sched.loaded() == [] and sched.state().runners == 0
        await sched.stop()

    asyncio.run(main())


def _pool(size: int):
    from concurrent.futures import ThreadPoolExecutor

    from server.runtime.slots import Slot, SlotPool

    pool = SlotPool()
    slots = [Slot(object(), ThreadPoolExecutor(1)) for _ in range(size)]  # type: ignore[arg-type]
    pool.add(slots)
    return pool, slots


def test_a_batch_line_never_takes_the_last_free_sequence() -> None:
    async def main() -> None:
        pool, _ = _pool(2)
        line = await pool.get(low_priority=True)
        second = asyncio.ensure_future(pool.get(low_priority=True))
        await asyncio.sleep(0.01)
        assert not second.done()  # the last free slot is kept for interactive work
        chat = await asyncio.wait_for(pool.get(), 1)  # an interactive request gets it at once
        pool.put(chat)
        pool.put(line)
        assert await asyncio.wait_for(second, 1) in (chat, line)

    asyncio.run(main())


def test_interactive_requests_go_before_waiting_batch_lines() -> None:
    async def main() -> None:
        pool, _ = _pool(2)
        held = [await pool.get(), await pool.get()]
        line = asyncio.ensure_future(pool.get(low_priority=True))
        await asyncio.sleep(0.01)
        chat = asyncio.ensure_future(pool.get())
        await asyncio.sleep(0.01)
        pool.put(held[0])
        await asyncio.sleep(0.01)
        assert chat.done() and not line.done()
        pool.put(held[1])  # one free again, but it is the last: the line still waits
        await asyncio.sleep(0.01)
        assert not line.done()
        pool.put(chat.result())
        assert await asyncio.wait_for(line, 1) is not None

    asyncio.run(main())


def test_a_single_slot_model_lets_batch_lines_take_its_slot() -> None:
    """Unbatched, one context: the batch runner yields by stopping its line instead."""

    async def main() -> None:
        pool, slots = _pool(1)
        assert await asyncio.wait_for(pool.get(low_priority=True), 1) is slots[0]

    asyncio.run(main())


def test_a_wait_given_up_returns_a_slot_granted_meanwhile() -> None:
    async def main() -> None:
        pool, _ = _pool(1)
        held = await pool.get()
        waiter = asyncio.ensure_future(pool.get())
        await asyncio.sleep(0.01)
        pool.put(held)
        waiter.cancel()  # granted and cancelled in the same tick
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert pool.free_count() == 1

    asyncio.run(main())


def test_batched_slots_share_one_runner(tmp_path, store) -> None:
    engine = FakeEngine()
    model = register(store, "m", b"weights-shared")

    async def main() -> None:
        sched = _scheduler(tmp_path, engine)
        slot, _ = await _use(sched, model)
        (loaded,) = [m for _, m in sched.loaded()]
        assert len(loaded.slots) == 4 and {s.runner for s in loaded.slots} == {slot.runner}
        assert len({s.executor for s in loaded.slots}) == 4
        await sched.stop()

    asyncio.run(main())
    assert len(engine.builds) == 1


def test_an_embedding_runner_is_built_once_with_one_slot(tmp_path, store) -> None:
    # Its slots cannot share a batch: four would be four copies of the model and its context
    # (the API fuzz test saw 8 GB for one embedding on the 1.5B).
    engine = FakeEngine()
    model = register(store, "m", b"weights-embed")
    embed = LoadOptions(n_ctx=2048, embedding=True)

    async def main() -> None:
        sched = _scheduler(tmp_path, engine)
        loop = asyncio.get_running_loop()
        async with sched.use(model, embed, 300, loop.time() + 30):
            (loaded,) = [m for _, m in sched.loaded()]
            assert len(loaded.slots) == 1
        await sched.stop()

    asyncio.run(main())
    assert len(engine.builds) == 1


def test_stopping_during_streams_frees_a_shared_runner_after_its_threads_are_done(
    tmp_path, store
) -> None:
    """At shutdown the server stops waiting for requests, but their slots' threads go on: the
    batched runner they share is freed only once every one of them is done with it."""
    engine = FakeEngine(piece_seconds=0.01)
    model = register(store, "m", b"w")
    errors: list[BaseException] = []

    async def stream(sched: Scheduler, pieces: int) -> None:
        loop = asyncio.get_running_loop()
        async with sched.use(model, LOAD, 300, loop.time() + 30) as (slot, _):
            opts = SamplingOptions(num_predict=pieces)
            produce = partial(slot.runner.stream, [1], opts, None, stats=GenerationStats())
            try:
                async for _ in slot.stream(lambda cancel: produce(cancel=cancel)):
                    pass
            except ServiceUnavailable as exc:
                errors.append(exc)

    async def main() -> FakeRunner:
        sched = _scheduler(tmp_path, engine)
        tasks = [asyncio.create_task(stream(sched, n)) for n in (500, 1000)]
        await asyncio.sleep(0.3)  # both stream, on two slots of one runner
        (loaded,) = sched._models.values()
        runner = loaded.slots[0].runner
        assert isinstance(runner, FakeRunner)
        await sched.stop()
        await asyncio.gather(*tasks)
        return runner

    runner = asyncio.run(main())
    assert runner.closed and not runner.used_after_close
    assert len(errors) == 2  # both were ended with a clear error, not run to their end


def test_idle_models_are_unloaded_to_keep_within_the_memory_budget(tmp_path, store) -> None:
    """Three models under `max_loaded_models` but over the memory budget: the idle one that
    expires first makes room (each takes 4 sequences of 100 MiB; the budget is 1,000 MiB)."""
    engine = FakeEngine()
    a, b, c = (register(store, n, n.encode()) for n in ("a", "b", "c"))
    engine.memory_mb.update(a=100, b=100, c=100)

    async def main() -> None:
        sched = _scheduler(
            tmp_path, engine, max_loaded_models=3, max_model_memory_mb=1000, prefix_cache_mb=0
        )
        await _use(sched, a, keep_alive=50)  # expires first
        await _use(sched, b, keep_alive=100)
        await _use(sched, c)
        assert sorted(alias.record.name.model for alias, _ in sched.loaded()) == ["b", "c"]
        await sched.stop()

    asyncio.run(main())


def test_a_model_that_fits_only_alone_waits_for_a_busy_one_and_too_big_is_refused(
    tmp_path, store
) -> None:
    engine = FakeEngine()
    a, b, huge = (register(store, n, n.encode()) for n in ("a", "b", "huge"))
    engine.memory_mb.update(a=150, b=150, huge=300)

    async def main() -> None:
        sched = _scheduler(tmp_path, engine, max_model_memory_mb=1000, prefix_cache_mb=0)
        holder = asyncio.create_task(_use(sched, a, hold=0.3))
        await asyncio.sleep(0.1)
        started = asyncio.get_running_loop().time()
        await _use(sched, b)  # 600 + 600 MiB: waits until a is idle, then unloads it
        assert holder.done() and asyncio.get_running_loop().time() - started >= 0.15
        assert [alias.record.name.model for alias, _ in sched.loaded()] == ["b"]
        with pytest.raises(InsufficientMemory, match=r"about 1200 MiB .* 1000 MiB"):
            await _use(sched, huge)
        # Refused before anything was unloaded or built.
        assert [alias.record.name.model for alias, _ in sched.loaded()] == ["b"]
        assert [w for w in engine.builds if w == huge.weights_digests] == []
        await sched.stop()

    asyncio.run(main())


def test_the_kv_cell_size_and_the_default_budget() -> None:
    qwen_1_5b = {
        "general.architecture": "qwen2",
        "qwen2.block_count": 28,
        "qwen2.attention.head_count": 12,
        "qwen2.attention.head_count_kv": 2,
        "qwen2.embedding_length": 1536,
    }
    assert kv_cell_bytes(qwen_1_5b) == 28 * 1024  # as docs/serving.md says
    assert kv_cell_bytes({}) == 0
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert ServerSettings(max_model_memory_mb=0).memory_budget() == int(physical * 0.8)
    assert ServerSettings(max_model_memory_mb=512).memory_budget() == 512 << 20
