"""Model names are bounded (a 400, never a 500 with a path), and weak API keys stop the start.

Issue 14, items 7 and 15.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.server_harness import TINY, RunningServer, free_port


def test_overlong_model_name_is_400_and_keeps_the_connection(server: RunningServer) -> None:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    try:
        conn.request("POST", "/api/show", json.dumps({"model": "a" * 300}), headers)
        first = conn.getresponse()
        body = json.loads(first.read())
        assert first.status == 400 and "invalid model name" in body["error"]
        assert str(server.home) not in body["error"] and "/" not in body["error"]
        assert not first.will_close
        sock = conn.sock
        conn.request("POST", "/api/show", json.dumps({"model": TINY}), headers)
        second = conn.getresponse()
        assert second.status == 200 and conn.sock is sock  # the same kept-alive connection
        second.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "model", ["a" * 81, "ns/" + "m" * 81, "x:" + "t" * 81, "h" * 351 + "/ns/m", "ns.dot/m", "-x"]
)
def test_invalid_names_are_400_on_every_model_route(server: RunningServer, model: str) -> None:
    import httpx

    for path, body in [
        ("/api/show", {"model": model}),
        ("/api/chat", {"model": model, "messages": []}),
        ("/api/create", {"model": model, "from": TINY}),
        ("/api/copy", {"source": TINY, "destination": model}),
    ]:
        r = httpx.post(f"{server.url}{path}", json=body, timeout=30)
        assert r.status_code == 400, (path, r.text)


@pytest.mark.parametrize(
    "keys", ["alice:,bob:x" + "y" * 20, "bob:short", "ok:" + "k" * 20 + ",ok:" + "j" * 20]
)
def test_empty_short_or_repeated_keys_refuse_to_start(tmp_path: Path, keys: str) -> None:
    env = {"TERRAQORE_HOME": str(tmp_path), "TERRAQORE_API_KEYS": keys, "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "server", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode != 0 and "refusing to start" in proc.stderr
    assert "y" * 20 not in proc.stderr and "k" * 20 not in proc.stderr  # never the key itself
