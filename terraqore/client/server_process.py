"""Start the built-in server on first use, or reuse one that is already running.

`ensure_server()` is what the CLI, notebooks and graphs call before talking to a
model. If something already answers at the configured address (our server, a real
Ollama, a server another notebook started) it is reused. Otherwise `terraqore serve`
starts as a child process; only a server this process started is stopped at exit.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import httpx

from server.config import parse_host
from server.home import private_file
from terraqore.client.settings import Settings


class ServerStartError(RuntimeError):
    """The built-in server could not be started; the message carries its log tail."""


@dataclass
class ServerHandle:
    """A server the app talks to."""

    base_url: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def started_here(self) -> bool:
        """Whether this process started the server (and so will stop it)."""
        return self.process is not None

    def stop(self) -> None:
        """Stop the server if we started it."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


_handles: dict[str, ServerHandle] = {}


def is_alive(base_url: str, timeout: float = 1.0) -> bool:
    """Whether an Ollama-compatible server answers at the URL.

    `GET /` is the liveness probe: Ollama and our server answer "Ollama is running", and it
    needs no API key.
    """
    try:
        response = httpx.get(f"{base_url}/", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and "running" in response.text


def log_tail(path: Path | None, lines: int = 20) -> str:
    """The last lines of a log file, for error messages."""
    if path is None or not path.is_file():
        return "(no log)"
    with path.open(errors="replace") as f:
        return "".join(deque(f, maxlen=lines)).rstrip() or "(empty log)"


def start_server(settings: Settings) -> ServerHandle:
    """Start `terraqore serve` as a child process and wait until it answers."""
    _, host, port = parse_host(settings.ollama_host)
    log_path = settings.private("logs") / "server.log"
    env = {**os.environ, "TERRAQORE_HOME": str(settings.home)}
    with log_path.open("ab") as log:
        private_file(log_path)
        process = subprocess.Popen(
            [sys.executable, "-m", "server", "--host", host, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    handle = ServerHandle(settings.base_url, process, log_path)
    deadline = time.monotonic() + settings.server_start_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(
                f"the built-in server exited with code {process.returncode} before it was ready.\n"
                f"Log tail ({log_path}):\n{log_tail(log_path)}"
            )
        if is_alive(handle.base_url, timeout=0.5):
            return handle
        time.sleep(0.2)
    handle.stop()
    raise ServerStartError(
        f"the built-in server did not answer at {handle.base_url} within "
        f"{settings.server_start_timeout:.0f}s.\nLog tail ({log_path}):\n{log_tail(log_path)}"
    )


def ensure_server(settings: Settings | None = None) -> ServerHandle:
    """Return a running server at the configured address, starting one if none answers."""
    settings = settings or Settings()
    url = settings.base_url
    known = _handles.get(url)
    running = known is not None and (known.process is None or known.process.poll() is None)
    if known is not None and running and is_alive(url):
        return known
    if is_alive(url):
        handle = ServerHandle(url)
    else:
        handle = start_server(settings)
        atexit.register(handle.stop)
    _handles[url] = handle
    return handle
