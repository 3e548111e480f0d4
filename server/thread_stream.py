"""Bridge a blocking generator on a worker thread to an async iterator on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")


async def iterate_in_thread(
    produce: Callable[[threading.Event], Iterator[T]], executor: Executor | None = None
) -> AsyncIterator[T]:
    """Run a blocking generator on a worker thread and yield its items on the event loop.

    Closing the async iterator (for example when the client disconnects) sets the
    cancel event passed to `produce`; the iterator waits for the worker to finish, so
    whatever the worker holds is released before the caller goes on.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    cancel = threading.Event()

    def work() -> None:
        try:
            for item in produce(cancel):
                loop.call_soon_threadsafe(queue.put_nowait, ("item", item))
            loop.call_soon_threadsafe(queue.put_nowait, ("done", None))
        except BaseException as exc:  # handed to the request, never lost
            loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))

    future = loop.run_in_executor(executor, work)
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
