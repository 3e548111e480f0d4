"""The audit log: refused requests cannot flood out the entries that matter, and keys with
JSON-escaped characters are still redacted (issue 14, item 16)."""

from __future__ import annotations

import json
from pathlib import Path

from server.api.observability import AuditLog


def read_all(logs: Path) -> list[dict]:
    lines = []
    for path in sorted(logs.glob("audit.jsonl*")):
        lines += path.read_text().splitlines()
    return [json.loads(line) for line in lines]


def entry(route: str, status: int, **extra: object) -> dict:
    return {"time": "t", "key_id": "", "method": "POST", "route": route, "status": status, **extra}


def test_a_flood_of_refused_requests_keeps_the_delete_entry(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=20_000, backups=1, secrets=[])
    log.write(entry("/api/delete", 200, key_id="admin", model="victim:latest"))
    for _ in range(400):
        log.write(entry("/api/tags", 401))
    log.write(entry("/api/version", 200))
    entries = read_all(tmp_path)
    assert any(
        e.get("route") == "/api/delete" and e.get("model") == "victim:latest" for e in entries
    )
    logged = sum(1 for e in entries if e.get("status") == 401)
    summary = [e for e in entries if "by_status" in e]
    assert logged == 60 and summary and summary[0]["count"] == 340
    assert summary[0]["by_status"] == {"401": 340}


def test_other_statuses_are_never_sampled(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=10**7, backups=1, secrets=[])
    for status in [200, 400, 404, 500] * 50:
        log.write(entry("/api/chat", status))
    assert len(read_all(tmp_path)) == 200


def test_keys_with_quotes_and_backslashes_are_redacted(tmp_path: Path) -> None:
    key = 'k"ey\\with\\"odd" chars-0123456789'
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=10**6, backups=1, secrets=[key])
    log.write(entry("/api/chat", 200, prompt=f"my key is {key} ok", nested={"a": [key]}))
    text = (tmp_path / "audit.jsonl").read_text()
    assert key not in text and json.dumps(key)[1:-1] not in text
    assert "ey\\\\with" not in text and "odd" not in text
    (logged,) = read_all(tmp_path)
    assert logged["prompt"] == "my key is [REDACTED] ok" and logged["nested"] == {
        "a": ["[REDACTED]"]
    }
