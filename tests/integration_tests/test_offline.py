"""Offline means offline: the server and the app talk to nothing beyond loopback."""

from __future__ import annotations

from pathlib import Path

import httpx
import ollama

from tests.server_harness import EMBED, TINY, start_server

GUARD = Path(__file__).resolve().parents[1] / "net_guard"


def test_server_makes_no_connection_beyond_loopback(tmp_path: Path) -> None:
    log = tmp_path / "connections.log"
    srv = start_server(tmp_path / "home", {"PYTHONPATH": str(GUARD), "NET_GUARD_LOG": str(log)})
    try:
        client = ollama.Client(host=srv.url)
        client.list()
        client.show(TINY)
        client.chat(
            model=TINY, messages=[{"role": "user", "content": "hi"}], options={"num_predict": 4}
        )
        client.embed(model=EMBED, input="hello")
        httpx.post(
            f"{srv.url}/v1/chat/completions",
            json={"model": TINY, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3},
        )
        # The guard is live in that very process (it writes its pid once it has patched
        # socket.connect), so it would have logged and refused any outside address.
        armed = Path(f"{log}.armed").read_text().split()
        assert str(srv.process.pid) in armed
    finally:
        srv.stop()
    assert not log.exists() or log.read_text() == "", f"outside connections: {log.read_text()}"


def test_guard_catches_an_outside_connection(tmp_path: Path) -> None:
    """The guard itself works: a process that dials out is caught."""
    import os
    import subprocess
    import sys

    log = tmp_path / "c.log"
    env = {**os.environ, "PYTHONPATH": str(GUARD), "NET_GUARD_LOG": str(log)}
    code = (
        "import socket\ntry:\n    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
        "except OSError:\n    pass\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=30)
    assert "192.0.2.1" in log.read_text()
    assert Path(f"{log}.armed").read_text().split() != [] and proc.returncode == 0
