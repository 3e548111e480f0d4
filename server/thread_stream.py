"""Bridge blocking work on a worker thread to an async iterator on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")
Emit = Callable[[Any], None]


async def run_emitting(
    work: Callable[[Emit, threading.Event], None], executor: Executor | None = None
) -> AsyncGenerator[Any, None]:
    """Run `work(emit, cancel)` on a worker thread; yield what it emits, as it emits it.

    Closing the async iterator (for example when the client disconnects) sets `cancel`,
    and the iterator waits for the worker to finish, so whatever the worker holds is
    released before the caller goes on. An exception in the worker is raised here.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    cancel = threading.Event()

    def emit(item: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, ("item", item))

    def run() -> None:
        try:
            work(emit, cancel)
            loop.call_soon_threadsafe(queue.put_nowait, ("done", None))
        except BaseException as exc:  # handed to the request, never lost
            loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))

    future = loop.run_in_executor(executor, run)
    try:
        while True:
            kind, value = await queue.get()
            if kind == "item":
                yield value
            elif kind == "done":
                break
            else:
                raise value
    finally:
        cancel.set()
        with contextlib.suppress(BaseException):
            await asyncio.shield(future)


def iterate_in_thread(
    produce: Callable[[threading.Event], Iterator[T]], executor: Executor | None = None
) -> AsyncGenerator[T, None]:
    """Run a blocking generator on a worker thread and yield its items on the event loop."""

    def work(emit: Emit, cancel: threading.Event) -> None:
        for item in produce(cancel):
            emit(item)

    return run_emitting(work, executor)
