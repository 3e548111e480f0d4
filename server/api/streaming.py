"""Helpers that turn the inference service's event stream into HTTP responses."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from server.errors import ServerError
from server.runtime.inference import Event, Final, Ready, Text

log = logging.getLogger("terraqore.server")


def now_iso() -> str:
    """An RFC 3339 timestamp in UTC, as Ollama writes `created_at`."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def open_stream(events: AsyncIterator[Event]) -> AsyncIterator[Event]:
    """Advance to `Ready`, so that errors before it raise here (and become HTTP statuses)."""
    async for event in events:
        if isinstance(event, Ready):
            return events
    raise ServerError("generation ended before it started")


async def collect(events: AsyncIterator[Event]) -> Final:
    """Consume a stream and return its `Final`, for `stream: false`."""
    final: Final | None = None
    async for event in events:
        if isinstance(event, Final):
            final = event
    if final is None:
        raise ServerError("generation ended without a result")
    return final


async def lines(
    events: AsyncIterator[Event],
    on_text: Callable[[str], dict[str, Any] | None],
    on_final: Callable[[Final], list[dict[str, Any]]],
    encode: Callable[[dict[str, Any]], str],
    on_error: Callable[[str], dict[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> AsyncIterator[str]:
    """Encode events as NDJSON or SSE lines; an error mid-stream becomes a last error line.

    `progress`, if given, is told how many text pieces were produced so far (before each is
    sent, so a stream the client drops is accounted for).
    """
    pieces = 0
    try:
        async for event in events:
            if isinstance(event, Text):
                pieces += 1
                if progress is not None:
                    progress(pieces)
                chunk = on_text(event.text)
                if chunk is not None:
                    yield encode(chunk)
            elif isinstance(event, Final):
                for chunk in on_final(event):
                    yield encode(chunk)
    except ServerError as exc:
        yield encode(on_error(exc.message))
    except Exception as exc:  # the stream is already open: report, never crash
        log.exception("error while streaming")
        yield encode(on_error(f"internal error: {exc}"))
    finally:
        await events.aclose()  # type: ignore[attr-defined]


def ndjson(obj: dict[str, Any]) -> str:
    """One NDJSON line."""
    return json.dumps(obj, ensure_ascii=False) + "\n"


def sse(obj: dict[str, Any]) -> str:
    """One server-sent event."""
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"
