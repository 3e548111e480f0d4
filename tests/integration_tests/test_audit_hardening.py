"""The audit log under attack and at the edges (issue 14, item 16), on the real server.

A flood of unauthenticated requests no longer rotates `/api/delete` out of a small log; a
key with `"` and `\\` never reaches it even with prompt logging on; a stream the client
drops is logged with its model and the tokens it got.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.server_harness import TINY, RunningServer, start_server

KEY = 'q"uo\\te-key-0123456789'
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {
        "TERRAQORE_API_KEYS": f"admin:{KEY}",
        "TERRAQORE_AUDIT_PROMPTS": "1",
        "TERRAQORE_AUDIT_MAX_BYTES": "30000",
        "TERRAQORE_AUDIT_BACKUPS": "1",
    }
    srv = start_server(tmp_path_factory.mktemp("audit"), env)
    yield srv
    srv.stop()


def entries(srv: RunningServer) -> list[dict]:
    out = []
    for path in sorted((srv.home / "logs").glob("audit.jsonl*")):
        out += [json.loads(line) for line in path.read_text().splitlines()]
    return out


def test_unauthenticated_flood_keeps_the_delete_entry(audited: RunningServer) -> None:
    httpx.post(
        f"{audited.url}/api/copy", json={"source": TINY, "destination": "doomed/x"}, headers=AUTH
    )
    assert (
        httpx.request(
            "DELETE", f"{audited.url}/api/delete", json={"model": "doomed/x"}, headers=AUTH
        ).status_code
        == 200
    )
    with httpx.Client() as client:
        for _ in range(400):
            assert client.get(f"{audited.url}/api/tags").status_code == 401
        assert client.get(f"{audited.url}/api/version", headers=AUTH).status_code == 200
    logged = entries(audited)
    assert any(e.get("route") == "/api/delete" and e.get("key_id") == "admin" for e in logged)
    suppressed = sum(e.get("by_status", {}).get("401", 0) for e in logged)
    assert suppressed >= 250 and suppressed + sum(e.get("status") == 401 for e in logged) == 400


def test_a_key_with_quote_and_backslash_is_redacted(audited: RunningServer) -> None:
    r = httpx.post(
        f"{audited.url}/api/generate",
        json={
            "model": TINY,
            "prompt": f"remember {KEY}",
            "stream": False,
            "options": {"num_predict": 1},
        },
        headers=AUTH,
        timeout=120,
    )
    assert r.status_code == 200
    text = "".join(p.read_text() for p in (audited.home / "logs").glob("audit.jsonl*"))
    assert KEY not in text and json.dumps(KEY)[1:-1] not in text
    prompts = [e["prompt"] for e in entries(audited) if e.get("prompt", "").startswith("remember")]
    assert prompts == ["remember [REDACTED]"]


def test_an_aborted_stream_is_logged_with_model_and_tokens(audited: RunningServer) -> None:
    body = {"model": TINY, "prompt": "Write a very long story.", "options": {"num_predict": 2000}}
    with httpx.stream(
        "POST", f"{audited.url}/api/generate", json=body, headers=AUTH, timeout=60
    ) as r:
        for i, _ in enumerate(r.iter_lines()):
            if i == 5:
                break
    deadline = time.monotonic() + 30
    aborted: list[dict] = []
    while not aborted and time.monotonic() < deadline:
        aborted = [e for e in entries(audited) if e.get("aborted")]
        time.sleep(0.2)
    assert aborted, "no audit entry for the aborted stream"
    (entry,) = aborted
    assert entry["model"] == TINY and entry["route"] == "/api/generate"
    assert 6 <= entry["eval_tokens"] < 2000 and entry["key_id"] == "admin"


def test_finished_streams_are_not_marked_aborted(audited: RunningServer) -> None:
    body = {"model": TINY, "prompt": "Say hi.", "options": {"num_predict": 4}}
    before = len(entries(audited))
    r = httpx.post(f"{audited.url}/api/generate", json=body, headers=AUTH, timeout=60)
    assert json.loads(r.text.splitlines()[-1])["done"]
    deadline = time.monotonic() + 10
    while len(entries(audited)) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    last = [e for e in entries(audited) if e.get("route") == "/api/generate"][-1]
    assert "aborted" not in last and last["prompt_tokens"] > 0 and last["eval_tokens"] <= 4
