"""`langgraph dev` serves the three graphs offline, and each runs through its HTTP API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server_harness import TINY, RunningServer, free_port

ROOT = Path(__file__).resolve().parents[2]
OFFLINE = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
}
ROLES = ("idea", "planner", "coder", "validator", "security", "answer", "condense")


@pytest.fixture(scope="module")
def dev(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`langgraph dev` on a free port, its graphs on the test server and the small model."""
    home = tmp_path_factory.mktemp("langgraph-home")
    port = free_port()
    env = {
        **os.environ,
        **OFFLINE,
        "TERRAQORE_HOME": str(home),
        "TERRAQORE_OLLAMA_HOST": server.host,
        **{f"TERRAQORE_{role.upper()}_MODEL": TINY for role in ROLES},
    }
    env.pop("TERRAQORE_ONLINE", None)
    # The network guard records (and refuses) any connection beyond loopback made through
    # Python's sockets: analytics, a version check, tracing.
    guard_log = home / "net_guard.log"
    env["PYTHONPATH"] = f"{ROOT / 'tests' / 'net_guard'}:{ROOT}"
    env["NET_GUARD_LOG"] = str(guard_log)
    log = home / "langgraph.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "langgraph_cli", "dev", "--port", str(port),
             "--no-browser", "--no-reload"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("langgraph dev did not start:\n" + log.read_text()[-3000:])
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    tried = guard_log.read_text() if guard_log.exists() else ""
    assert not tried, f"langgraph dev tried to leave loopback: {tried}"


def test_the_three_graphs_are_served(dev: str) -> None:
    found = httpx.post(f"{dev}/assistants/search", json={}, timeout=30).json()
    assert {a["graph_id"] for a in found} >= {"studio", "qa", "ingest"}


def test_ingest_then_ask_through_runs_wait(dev: str, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    text = "The Vellum bridge over the river Asker opened in 1911 and carries trams. "
    (docs / "vellum.md").write_text("# The Vellum bridge\n\n" + text * 6)
    ingest = httpx.post(
        f"{dev}/runs/wait",
        json={"assistant_id": "ingest", "input": {"source": str(docs)}},
        timeout=300,
    ).json()
    assert ingest["added"] == 1 and ingest["indexed"] >= 1 and not ingest["error"]
    answer = httpx.post(
        f"{dev}/runs/wait",
        json={"assistant_id": "qa", "input": {"question": "When did the Vellum bridge open?"}},
        timeout=300,
    ).json()
    assert set(answer) >= {"answer", "sources", "citations_valid", "grounding", "usage"}
    assert answer["sources"] and answer["sources"][0]["title"].startswith("The Vellum")


def test_a_studio_run_streams_its_steps(dev: str) -> None:
    body = {
        "assistant_id": "studio",
        "input": {"task": "a Python function add(a, b) that returns a + b"},
        "context": {"max_fix_rounds": 0, "max_security_rounds": 0, "llm_review": False},
        "stream_mode": ["updates"],
    }
    steps = []
    with httpx.stream("POST", f"{dev}/runs/stream", json=body, timeout=600) as response:
        assert response.status_code == 200
        event = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "updates":
                steps += list(json.loads(line.split(":", 1)[1]))
            elif event == "error":
                pytest.fail(f"the run failed: {line}")
    # One function: the short path (retrieve, then the plan read from the task, no model).
    for step in ("retrieve", "plan_from_task", "coder", "validator", "report"):
        assert step in steps, steps
    assert "idea" not in steps and steps.index("plan_from_task") < steps.index("coder")
