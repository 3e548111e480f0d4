"""The audit log: refused requests cannot flood out the entries that matter, keys with
JSON-escaped characters are still redacted (issue 14, item 16), and a line names the file or
batch it is about (issue 23)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from server.api.observability import AuditLog, AuditMetricsMiddleware, Metrics, record_ids
from server.runtime.scheduler import SchedulerState


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


def test_the_line_names_the_file_or_batch_not_only_the_route(tmp_path: Path) -> None:
    app = FastAPI()

    @app.get("/v1/files/{file_id}")
    async def read(file_id: str) -> dict:
        return {"id": file_id}

    @app.post("/v1/batches")
    async def create(request: Request) -> dict:
        record_ids(request, file_id="file-in", batch_id="batch_new")
        return {}

    metrics = Metrics(lambda: SchedulerState([], 0, 0, 0, {}, 0))
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=10**6, backups=1, secrets=[])
    app.add_middleware(AuditMetricsMiddleware, metrics=metrics, audit=log)
    client = TestClient(app)
    client.get("/v1/files/file-abc")
    client.get(f"/v1/files/file-{'x' * 500}")
    assert client.post("/v1/batches").status_code == 200
    read_one, long_one, created = read_all(tmp_path)
    assert read_one["route"] == "/v1/files/{file_id}" and read_one["file_id"] == "file-abc"
    assert len(long_one["file_id"]) == 100  # a path cannot bloat the log
    assert (created["file_id"], created["batch_id"]) == ("file-in", "batch_new")
