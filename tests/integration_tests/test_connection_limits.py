"""Slowloris: connections that never finish their headers cannot starve the server (issue 14, 6).

Many half-open connections on loopback, each with a partial request line and no end of
headers. The server closes the slowest when it is full, closes every one of them after the
header timeout (trickling bytes does not extend it), and keeps answering whole requests.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server_harness import RunningServer, start_server

CAP = 200
HEADER_TIMEOUT = 3.0
PARTIAL = b"POST /api/delete HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {
        "TERRAQORE_MAX_CONNECTIONS": str(CAP),
        "TERRAQORE_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "TERRAQORE_REGISTER_INSTALLED": "0",
    }
    srv = start_server(tmp_path_factory.mktemp("slowloris"), env)
    yield srv
    srv.stop()


def half_open(srv: RunningServer, count: int) -> list[socket.socket]:
    port = int(srv.url.rsplit(":", 1)[1])
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(PARTIAL)
        socks.append(s)
    return socks


def closed_by_server(socks: list[socket.socket], wait: float) -> int:
    """How many of the sockets the server has closed (EOF or reset) within `wait` seconds."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed: set[socket.socket] = set()
    deadline = time.monotonic() + wait
    while len(closed) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.2):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                closed.add(sock)
                sel.unregister(sock)
    sel.close()
    return len(closed)


def answers(srv: RunningServer) -> float:
    start = time.monotonic()
    assert httpx.get(f"{srv.url}/api/version", timeout=5).status_code == 200
    return time.monotonic() - start


def count_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def test_many_half_open_connections_cannot_starve_the_server(guarded: RunningServer) -> None:
    baseline = count_fds(guarded.process.pid)
    socks = half_open(guarded, 3 * CAP)
    try:
        # Full: the longest-waiting header readers were closed to make room, and whole
        # requests are still answered at once.
        assert answers(guarded) < 1.0
        assert count_fds(guarded.process.pid) <= baseline + CAP + 10
        # Every half-open connection is gone after the header timeout.
        assert closed_by_server(socks, HEADER_TIMEOUT + 5) == len(socks)
        assert count_fds(guarded.process.pid) <= baseline + 5
        assert answers(guarded) < 1.0 and guarded.alive()
    finally:
        for s in socks:
            s.close()


def test_trickled_headers_do_not_extend_the_deadline(guarded: RunningServer) -> None:
    (sock,) = half_open(guarded, 1)
    try:
        start = time.monotonic()
        sock.settimeout(1.0)
        while time.monotonic() - start < HEADER_TIMEOUT + 4:
            try:
                sock.sendall(b"x")
                if sock.recv(1) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        elapsed = time.monotonic() - start
        assert elapsed < HEADER_TIMEOUT + 3
    finally:
        sock.close()


def test_a_kept_alive_connection_gets_the_same_deadline_for_its_next_request(
    guarded: RunningServer,
) -> None:
    port = int(guarded.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = b""
        while b'"version"' not in reply:
            reply += s.recv(4096)
        assert b"200 OK" in reply
        s.sendall(PARTIAL)  # the next request starts and stalls
        start = time.monotonic()
        assert s.recv(4096) == b""
        assert HEADER_TIMEOUT - 0.5 < time.monotonic() - start < HEADER_TIMEOUT + 3
