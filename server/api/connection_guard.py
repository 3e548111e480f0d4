"""Connection-level guards uvicorn lacks: a header-read timeout and a cap on open connections.

uvicorn 0.54 (h11) waits forever for a request's headers, before any key check, so a client
that opens connections and never finishes its headers ("slowloris") holds a file descriptor
each until the process runs out. `guarded_protocol` subclasses uvicorn's h11 protocol:

- a connection must finish its request headers within `header_timeout` seconds of its
  first byte (or of connecting), for every request it sends, or it is closed;
- past `max_connections` open connections, the connection that has waited longest for its
  headers is closed to make room, so clients that send whole requests are still served.

uvicorn's own `limit_concurrency` (503 past a number of requests in flight) and
`timeout_keep_alive` (idle kept-alive connections) are set beside it in `serve()`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with a header-read deadline and connection shedding."""

    header_timeout: ClassVar[float] = 10.0
    max_connections: ClassVar[int] = 1000
    waiting: ClassVar[dict[HeaderTimeoutProtocol, float]] = {}
    """Connections still reading request headers, with the time they started (per server)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the header clock, and make room if the server is full."""
        super().connection_made(transport)
        self._start_header_clock()
        self._shed_if_full()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection's clock."""
        self._stop_header_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed h11; the clock runs while a request's headers are incomplete."""
        super().data_received(data)
        if self.transport.is_closing():
            self._stop_header_clock()
        elif self.conn.their_state is h11.IDLE:
            # Bytes of a (next) request arrived but not all of its headers yet.
            self._start_header_clock()
        else:
            self._stop_header_clock()

    def _start_header_clock(self) -> None:
        if self._header_timer is None:
            self.waiting[self] = time.monotonic()
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _stop_header_clock(self) -> None:
        self.waiting.pop(self, None)
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        self.waiting.pop(self, None)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def _shed_if_full(self) -> None:
        """Close the slowest header readers until there is room for this connection.

        Room means fewer than `max_connections`, uvicorn's `limit_concurrency`, at which it
        would answer this connection's request with 503.
        """
        while len(self.connections) >= self.max_connections:
            others = [(started, c) for c, started in self.waiting.items() if c is not self]
            if not others:
                return  # every other connection is serving a request: uvicorn answers 503
            _, victim = min(others, key=lambda pair: pair[0])
            victim._stop_header_clock()
            victim.connections.discard(victim)
            victim.transport.close()


def guarded_protocol(header_timeout: float, max_connections: int) -> type[HeaderTimeoutProtocol]:
    """A protocol class for `uvicorn.run(http=...)` with these bounds (and its own registry)."""
    return type(
        "GuardedH11Protocol",
        (HeaderTimeoutProtocol,),
        {"header_timeout": header_timeout, "max_connections": max_connections, "waiting": {}},
    )
