"""OpenAI's Files and Batch APIs on the real server and the tiny model, with the `openai` client.

A batch answers every line as the route would (failures go to the error file), a bad input
file is a 400 that names its line, an interactive request goes before the batch line in
progress (which runs again later), a cancel keeps what was answered, lines left after the 24h
window expire, and a batch interrupted by `kill -9` resumes after a restart without answering
any line twice. With two API keys, neither sees, reads, runs nor cancels the other's files and
batches, each has its own storage quota, and the audit names the file or batch (issue 23).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import BadRequestError, NotFoundError, OpenAI
from openai.types import Batch

from tests.server_harness import TINY, RunningServer, start_server

CHAT = "/v1/chat/completions"
LONG = "Write a 1000-word essay on the history of Rome."
"""A prompt the tiny model answers at length (greedy, it runs to any `max_tokens` up to 160;
"Count from one to two hundred." stops after 18 tokens)."""


def _line(custom_id: str, text: str, model: str = TINY, tokens: int = 8) -> dict:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": tokens,
        "temperature": 0,
    }
    return {"custom_id": custom_id, "method": "POST", "url": CHAT, "body": body}


def _jsonl(lines: list[dict]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def _client(server: RunningServer) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def _submit(client: OpenAI, lines: list[dict], endpoint: str = CHAT) -> Batch:
    upload = client.files.create(file=("input.jsonl", _jsonl(lines)), purpose="batch")
    return client.batches.create(
        input_file_id=upload.id,
        endpoint=endpoint,  # type: ignore[arg-type]
        completion_window="24h",
    )


def _wait(client: OpenAI, batch_id: str, timeout: float = 300) -> Batch:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "cancelled", "expired"):
            return batch
        time.sleep(0.5)
    raise AssertionError(f"batch {batch_id} did not finish")


def _results(client: OpenAI, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    return [json.loads(x) for x in client.files.content(file_id).text.splitlines() if x]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("batch-home"))
    yield srv
    srv.stop()


def test_a_chat_batch_answers_every_line_and_failures_go_to_the_error_file(
    server: RunningServer,
) -> None:
    client = _client(server)
    lines = [_line(f"q{i}", f"Say the word {w}.") for i, w in enumerate(["one", "two", "three"])]
    lines.append(_line("missing", "Hello", model="no-such-model:1b"))
    batch = _wait(client, _submit(client, lines).id)
    assert batch.status == "completed", batch
    counts = batch.request_counts
    assert counts is not None and (counts.total, counts.completed, counts.failed) == (4, 3, 1)
    answers = _results(client, batch.output_file_id)
    assert sorted(a["custom_id"] for a in answers) == ["q0", "q1", "q2"]
    for a in answers:
        body = a["response"]["body"]
        assert a["response"]["status_code"] == 200 and body["object"] == "chat.completion"
        assert isinstance(body["choices"][0]["message"]["content"], str)
        assert 0 < body["usage"]["completion_tokens"] <= 8
    errors = _results(client, batch.error_file_id)
    assert [e["custom_id"] for e in errors] == ["missing"]
    assert errors[0]["response"]["status_code"] == 404
    listed = [b.id for b in client.batches.list()]
    assert batch.id in listed


def test_an_embeddings_batch(server: RunningServer) -> None:
    client = _client(server)
    lines = [
        {
            "custom_id": f"e{i}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "all-minilm", "input": text},
        }
        for i, text in enumerate(["a lighthouse", ["two", "texts"]])
    ]
    batch = _wait(client, _submit(client, lines, "/v1/embeddings").id)
    answers = {
        a["custom_id"]: a["response"]["body"] for a in _results(client, batch.output_file_id)
    }
    assert len(answers["e0"]["data"]) == 1 and len(answers["e1"]["data"]) == 2
    assert len(answers["e0"]["data"][0]["embedding"]) == 384


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"not json\n", "line 1"),
        (_jsonl([_line("a", "x"), _line("a", "y")]), "used twice"),
        (_jsonl([{**_line("a", "x"), "url": "/v1/embeddings"}]), "POST to"),
        (_jsonl([{**_line("a", "x"), "body": {"model": TINY}}]), "invalid body"),
        (
            _jsonl([{**_line("a", "x"), "body": {**_line("a", "x")["body"], "stream": True}}]),
            "stream",
        ),
        (b"\n", "no requests"),
    ],
)
def test_a_bad_input_file_is_a_400_naming_the_problem(
    server: RunningServer, content: bytes, says: str
) -> None:
    client = _client(server)
    upload = client.files.create(file=("bad.jsonl", content), purpose="batch")
    with pytest.raises(BadRequestError, match=says):
        client.batches.create(input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    assert client.files.retrieve(upload.id).bytes == len(content)  # nothing stored is lost


def test_uploads_are_bounded_and_checked(server: RunningServer) -> None:
    r = httpx.post(
        f"{server.url}/v1/files",
        files={"file": ("x.jsonl", b"\xff\xfe")},
        data={"purpose": "batch"},
    )
    assert r.status_code == 400 and "UTF-8" in r.text
    r = httpx.post(
        f"{server.url}/v1/files", files={"file": ("x.jsonl", b"{}")}, data={"purpose": "fine-tune"}
    )
    assert r.status_code == 400
    r = httpx.post(
        f"{server.url}/v1/files",
        files={"file": ("x.jsonl", b"{}")},
        data={"purpose": "batch"},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    r = httpx.post(
        f"{server.url}/v1/files",
        files={"file": ("big.jsonl", b"x" * (17 * 1024 * 1024))},  # past the 16 MB body limit
        data={"purpose": "batch"},
    )
    assert r.status_code == 413 and server.alive()
    assert httpx.get(f"{server.url}/v1/files/file-nope").status_code == 404
    assert httpx.get(f"{server.url}/v1/files/..%2F..%2Fetc%2Fpasswd/content").status_code == 404


def _preempted(server: RunningServer) -> float:
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if line.startswith("terraqore_batch_lines_preempted_total "):
            return float(line.split()[1])
    raise AssertionError("no preemption counter in /metrics")


def _chat_during_a_batch(server: RunningServer) -> float:
    """Chats while a batch of long lines runs; returns the lines preempted meanwhile."""
    client = _client(server)
    before = _preempted(server)
    lines = [_line(f"long{i}", LONG, tokens=160) for i in range(4)]
    batch = _submit(client, lines)
    deadline = time.monotonic() + 120
    while client.batches.retrieve(batch.id).status != "in_progress":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # A chat that lands between two lines has nothing to stop; so up to five chats, 0.3 s
    # apart, until one has stopped a line. The first must not wait for the batch.
    for chat in range(5):
        time.sleep(0.3)  # into a line's generation
        reply = client.chat.completions.create(
            model=TINY, messages=[{"role": "user", "content": "Hi"}], max_tokens=4
        )
        assert reply.choices[0].message.content is not None
        during = client.batches.retrieve(batch.id).request_counts
        assert during is not None
        if chat == 0:
            assert during.completed < during.total  # it did not wait for the batch
        if _preempted(server) > before or during.completed == during.total:
            break
    preempted = _preempted(server) - before
    done = _wait(client, batch.id)
    assert done.status == "completed"
    ids = [a["custom_id"] for a in _results(client, done.output_file_id)]
    assert sorted(ids) == sorted(line["custom_id"] for line in lines)  # each line ran once
    return preempted


def test_a_chat_during_a_batch_joins_the_batch_beside_its_lines(server: RunningServer) -> None:
    """Batched (the default): the lines are low-priority sequences; nothing is stopped."""
    assert _chat_during_a_batch(server) == 0


def test_unbatched_an_interactive_request_goes_before_the_line_in_progress(
    tmp_path: Path,
) -> None:
    srv = start_server(tmp_path / "home", {"TERRAQORE_BATCHED": "0", "TERRAQORE_NUM_PARALLEL": "1"})
    try:
        assert _chat_during_a_batch(srv) > 0  # the line in progress gave way to the chat
    finally:
        srv.stop()


def test_a_cancelled_batch_keeps_what_it_answered(server: RunningServer) -> None:
    client = _client(server)
    lines = [_line(f"c{i}", "Count from one to fifty.", tokens=48) for i in range(8)]
    batch = _submit(client, lines)
    cancelled = client.batches.cancel(batch.id)
    assert cancelled.status == "cancelling" and cancelled.cancelling_at
    done = _wait(client, batch.id)
    assert done.status == "cancelled" and done.cancelled_at
    assert done.request_counts is not None and done.request_counts.completed < 8
    answered = _results(client, done.output_file_id)
    assert len(answered) == done.request_counts.completed
    with pytest.raises(BadRequestError, match="only a running batch"):
        client.batches.cancel(batch.id)


def test_a_batch_cancelled_in_the_queue_ends_before_the_one_running(
    server: RunningServer,
) -> None:
    client = _client(server)
    lines = [_line(f"a{i}", LONG, tokens=160) for i in range(10)]
    running = _submit(client, lines)
    queued = _submit(client, [_line("q0", "Say hi.")])
    deadline = time.monotonic() + 120
    while client.batches.retrieve(running.id).status != "in_progress":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    client.batches.cancel(queued.id)
    done = _wait(client, queued.id, timeout=60)
    assert done.status == "cancelled"
    assert client.batches.retrieve(running.id).status == "in_progress"  # it did not wait
    client.batches.cancel(running.id)
    assert _wait(client, running.id).status == "cancelled"


def test_a_batch_resumes_after_kill_9_and_answers_each_line_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    srv = start_server(home)
    try:
        client = _client(srv)
        lines = [_line(f"r{i}", f"Name a colour ({i}).", tokens=24) for i in range(6)]
        batch = _submit(client, lines)
        deadline = time.monotonic() + 180
        while True:
            counts = client.batches.retrieve(batch.id).request_counts
            if counts is not None and counts.completed >= 1:
                break
            assert time.monotonic() < deadline
            time.sleep(0.1)
        srv.process.kill()
        srv.process.wait()
    finally:
        srv.stop()
    srv = start_server(home)
    try:
        client = _client(srv)
        done = _wait(client, batch.id)
        assert done.status == "completed"
        ids = [a["custom_id"] for a in _results(client, done.output_file_id)]
        assert sorted(ids) == sorted(line["custom_id"] for line in lines)  # each once
    finally:
        srv.stop()


def test_the_cli_submits_follows_and_saves_the_results(
    server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from terraqore.app.cli.app import app

    monkeypatch.setenv("TERRAQORE_OLLAMA_HOST", server.url)
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path / "home"))
    source = tmp_path / "in.jsonl"
    source.write_bytes(_jsonl([_line("c1", "Say hi."), _line("c2", "x", model="nope:1b")]))
    runner = CliRunner()
    r = runner.invoke(app, ["batch", "submit", str(source), "--out", str(tmp_path / "out.jsonl")])
    assert r.exit_code == 0, r.output
    assert "completed: 1 answered, 1 failed" in r.output
    rows = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    errors = (tmp_path / "out.jsonl.errors").read_text().splitlines()
    assert [row["custom_id"] for row in rows] == ["c1"] and len(errors) == 1
    r = runner.invoke(app, ["batch", "list"])
    assert r.exit_code == 0 and "completed" in r.output
    r = runner.invoke(app, ["batch", "cancel", "batch_nope"])
    assert r.exit_code == 1 and "no batch" in r.output


def test_lines_left_after_the_24h_window_expire_with_an_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    srv = start_server(home)
    try:
        client = _client(srv)
        lines = [_line(f"e{i}", "Count from one to fifty.", tokens=48) for i in range(5)]
        batch = _submit(client, lines)
        srv.process.kill()  # before the batch could finish
        srv.process.wait()
    finally:
        srv.stop()
    (db,) = home.rglob("batches.sqlite")
    with sqlite3.connect(db) as conn:  # created 25 hours ago
        conn.execute(
            "UPDATE batches SET record = json_set(record, '$.created_at', ?) WHERE id = ?",
            (int(time.time()) - 25 * 3600, batch.id),
        )
    conn.close()
    srv = start_server(home)
    try:
        client = _client(srv)
        done = _wait(client, batch.id)
        assert done.status == "expired" and done.expired_at
        assert done.expires_at is not None and done.expires_at < time.time()
        answered = {a["custom_id"] for a in _results(client, done.output_file_id)}
        expired = _results(client, done.error_file_id)
        assert all(e["error"]["code"] == "batch_expired" for e in expired)
        assert answered | {e["custom_id"] for e in expired} == {x["custom_id"] for x in lines}
        assert not answered & {e["custom_id"] for e in expired}
        counts = done.request_counts
        assert counts is not None and counts.failed == len(expired)
    finally:
        srv.stop()


ALICE, BOB = "alice-key-0123456789", "bob-key-0123456789ab"
QUOTA = 24_000


@pytest.fixture(scope="module")
def two_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with two API keys and a small storage quota per key."""
    env = {
        "TERRAQORE_API_KEYS": f"alice:{ALICE},bob:{BOB}",
        "TERRAQORE_BATCH_QUOTA_BYTES": str(QUOTA),
    }
    srv = start_server(tmp_path_factory.mktemp("batch-keys-home"), env)
    yield srv
    srv.stop()


def _as(server: RunningServer, key: str) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


def _audit(server: RunningServer) -> list[dict]:
    path = server.home / "logs" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_key_cannot_see_read_run_or_cancel_another_keys_files_and_batches(
    two_keys: RunningServer,
) -> None:
    alice, bob = _as(two_keys, ALICE), _as(two_keys, BOB)
    # A model that does not exist: every line fails at once, into the error file, no model runs.
    lines = [_line(f"a{i}", "private question", model="no-such-model:1b") for i in range(2)]
    upload = alice.files.create(file=("alice.jsonl", _jsonl(lines)), purpose="batch")
    batch = _wait(alice, _submit(alice, lines).id, timeout=60)
    assert batch.status == "completed" and batch.error_file_id
    theirs = {upload.id, batch.input_file_id, batch.error_file_id}
    assert not theirs & {f.id for f in bob.files.list()}
    assert batch.id not in {b.id for b in bob.batches.list()}
    for file_id in theirs:
        with pytest.raises(NotFoundError):
            bob.files.retrieve(file_id)
        with pytest.raises(NotFoundError):
            bob.files.content(file_id)
        with pytest.raises(NotFoundError):
            bob.files.delete(file_id)
    with pytest.raises(NotFoundError):  # running another key's upload
        bob.batches.create(input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    with pytest.raises(NotFoundError):
        bob.batches.retrieve(batch.id)
    with pytest.raises(NotFoundError):
        bob.batches.cancel(batch.id)
    # Alice's are all still there, whole.
    assert theirs <= {f.id for f in alice.files.list()}
    assert "private question" in alice.files.content(upload.id).text
    assert alice.batches.retrieve(batch.id).status == "completed"
    # The audit line names the file or batch, and the key that asked.
    entries = _audit(two_keys)
    refused = [e for e in entries if e["key_id"] == "bob" and e["status"] == 404]
    assert {e.get("file_id") for e in refused} >= theirs
    assert batch.id in {e.get("batch_id") for e in refused}
    created = [
        e
        for e in entries
        if e["method"] == "POST" and e["route"] == "/v1/batches" and e["status"] == 200
    ]
    assert [(e["key_id"], e["batch_id"], e["file_id"]) for e in created] == [
        ("alice", batch.id, batch.input_file_id)
    ]
    uploads = [e for e in entries if e["route"] == "/v1/files" and e["method"] == "POST"]
    assert upload.id in {e.get("file_id") for e in uploads}


def test_each_key_has_a_storage_quota_and_results_count(two_keys: RunningServer) -> None:
    bob = _as(two_keys, BOB)
    for f in bob.files.list():
        bob.files.delete(f.id)
    big = b"x" * (QUOTA + 1)
    r = httpx.post(
        f"{two_keys.url}/v1/files",
        files={"file": ("big.jsonl", big)},
        data={"purpose": "batch"},
        headers={"Authorization": f"Bearer {BOB}"},
    )
    assert r.status_code == 400
    error = r.json()["error"]  # OpenAI's error shape
    assert error["type"] == "invalid_request_error" and set(error) >= {"message", "param", "code"}
    assert "quota" in error["message"] and "TERRAQORE_BATCH_QUOTA_BYTES" in error["message"]
    # An input that fits, whose results do not: the batch fails and says why.
    lines = [_line(f"q{i:03d}", "x", model="no-such-model:1b") for i in range(80)]
    content = _jsonl(lines)
    assert QUOTA / 2 < len(content) < QUOTA
    upload = bob.files.create(file=("in.jsonl", content), purpose="batch")
    with pytest.raises(BadRequestError, match="quota"):  # a second one does not fit
        bob.files.create(file=("again.jsonl", content), purpose="batch")
    assert [f.id for f in bob.files.list()] == [upload.id]  # the refused one left nothing
    created = bob.batches.create(input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    batch = _wait(bob, created.id, timeout=60)
    assert batch.status == "failed" and batch.errors is not None
    assert "quota" in (batch.errors.data or [])[0].message
    counts = batch.request_counts
    assert counts is not None and 0 < counts.failed < len(lines)  # what fitted is kept
    # Each key has its own: Alice still uploads.
    alice = _as(two_keys, ALICE)
    assert alice.files.create(file=("a.jsonl", content), purpose="batch").bytes == len(content)
