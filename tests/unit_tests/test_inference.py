"""The inference service's request budget and its disk reads, with a fake engine (no model)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from server.errors import RequestTimeout, ServiceUnavailable
from server.models.manifest import text_layer_cache_info
from server.models.store import ModelStore
from server.runtime.inference import Final, InferenceService, Ready, Text
from server.runtime.prompts import ChatJob
from server.runtime.scheduler import Scheduler
from tests.fake_engine import FakeEngine, register, settings


def _service(tmp_path, store: ModelStore, engine: FakeEngine, **values) -> InferenceService:
    cfg = settings(tmp_path, **values)
    return InferenceService(cfg, store, Scheduler(cfg, engines=lambda record: engine))


async def _chat(svc: InferenceService, model: str) -> list[object]:
    job = ChatJob(model=model, messages=[{"role": "user", "content": "go"}])
    return [event async for event in svc.run(job)]


def test_one_budget_from_arrival_covers_the_wait_and_the_generation(tmp_path) -> None:
    """A request queued behind another must not get the whole timeout again to generate."""
    store = ModelStore(tmp_path / "models")
    register(store, "slow", b"w")
    engine = FakeEngine(pieces=10_000, piece_seconds=0.02)  # never ends on its own
    timeout = 1.0

    async def main() -> None:
        svc = _service(tmp_path, store, engine, request_timeout=timeout, num_parallel=1)
        loop = asyncio.get_running_loop()

        async def timed() -> tuple[float, BaseException | None]:
            start = loop.time()
            try:
                await _chat(svc, "slow")
            except (RequestTimeout, ServiceUnavailable) as exc:
                return loop.time() - start, exc
            return loop.time() - start, None

        first = asyncio.create_task(timed())
        await asyncio.sleep(0.4)  # the second arrives while the first holds the only slot
        second_took, second_error = await timed()
        first_took, first_error = await first
        assert isinstance(first_error, RequestTimeout) and first_took < timeout + 0.3
        # Before the fix: ~0.6 s waiting, then a fresh full second of generation (~1.6 s).
        assert second_error is not None and second_took < timeout + 0.3
        await svc.scheduler.stop()

    asyncio.run(main())


def test_requests_read_the_store_off_the_event_loop(tmp_path) -> None:
    store = ModelStore(tmp_path / "models")
    register(store, "m", b"w", system="Be brief.")
    engine = FakeEngine()
    loop_threads: set[str] = set()
    get_threads: list[str] = []
    original_get = store.get

    def watched_get(name: str):
        get_threads.append(threading.current_thread().name)
        return original_get(name)

    store.get = watched_get  # type: ignore[method-assign]

    async def main() -> None:
        loop_threads.add(threading.current_thread().name)
        svc = _service(tmp_path, store, engine)
        events = await _chat(svc, "m")
        assert isinstance(events[-1], Final) and any(isinstance(e, Text) for e in events)
        await svc.embed("m", ["a"])
        await svc.scheduler.stop()

    asyncio.run(main())
    assert len(get_threads) == 2 and not loop_threads & set(get_threads)
    assert engine.capability_threads and not loop_threads & set(engine.capability_threads)


def test_text_layers_are_read_from_disk_once_per_digest(tmp_path) -> None:
    store = ModelStore(tmp_path / "models")
    system = "You are the Planner agent; unique text for this test."
    record = register(store, "planner", b"w", system=system)
    reads_before, _ = text_layer_cache_info()
    assert record.system == system
    # The blob may even vanish: later records of the same digest are served from memory.
    (layer,) = [lay for lay in record.manifest.layers if lay.mediaType.endswith("system")]
    store.blob_file(layer.digest).unlink()
    again = store.get("planner")
    assert again.system == system and again.system == system
    reads_after, _ = text_layer_cache_info()
    assert reads_after - reads_before == 1


@pytest.mark.parametrize("empty", [[], None])
def test_an_empty_prompt_only_loads(tmp_path, empty) -> None:
    store = ModelStore(tmp_path / "models")
    register(store, "m", b"w")
    engine = FakeEngine()

    async def main() -> None:
        svc = _service(tmp_path, store, engine)
        job = ChatJob(model="m", messages=empty, prompt=None)
        events = [e async for e in svc.run(job)]
        assert isinstance(events[-1], Final) and events[-1].done_reason == "load"
        assert events[-1].load_duration_ns > 0
        await svc.scheduler.stop()

    asyncio.run(main())


def test_a_client_that_goes_away_stops_the_worker_before_the_slot_is_free(tmp_path) -> None:
    store = ModelStore(tmp_path / "models")
    register(store, "m", b"w")
    engine = FakeEngine(pieces=10_000, piece_seconds=0.01)

    async def main() -> None:
        svc = _service(tmp_path, store, engine, num_parallel=1)
        events = svc.run(ChatJob(model="m", messages=[{"role": "user", "content": "go"}]))
        assert [type(await anext(events)) for _ in range(2)] == [Ready, Text]
        await events.aclose()  # type: ignore[attr-defined]
        ((_, model),) = svc.scheduler.loaded()
        # The slot is back, and its runner's stream saw the cancel (it stopped early).
        slot = model.free.get_nowait()
        assert slot.runner.stopped
        await svc.scheduler.stop()

    asyncio.run(main())
