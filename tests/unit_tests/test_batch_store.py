"""The batch store and the batch input check, without a server."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from server.api.batch_runner import MAX_PREEMPTIONS, BatchRunner, parse_batch_input
from server.errors import BadRequest, NotFound
from server.runtime.batch_store import Batch, BatchStore, QuotaExceeded, new_id

CHAT = "/v1/chat/completions"


def _line(cid: str) -> str:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    return json.dumps({"custom_id": cid, "method": "POST", "url": CHAT, "body": body})


def test_input_check_counts_and_refuses_with_the_line(tmp_path: Path) -> None:
    assert parse_batch_input([_line("a"), _line("b")], CHAT, 10) == 2
    with pytest.raises(BadRequest, match="at most 1"):
        parse_batch_input([_line("a"), _line("b")], CHAT, 1)
    with pytest.raises(BadRequest, match=r"line 2.*used twice"):
        parse_batch_input([_line("a"), _line("a")], CHAT, 10)
    with pytest.raises(BadRequest, match="endpoint must be"):
        parse_batch_input([_line("a")], "/v1/completions", 10)


def test_files_and_batches_persist_and_stay_private(tmp_path: Path) -> None:
    store = BatchStore(tmp_path / "b")
    f = store.add_file("in.jsonl", "batch", (_line("a") + "\n").encode(), "")
    assert stat.S_IMODE(store.file_path(f.id).stat().st_mode) == 0o600
    batch = store.add_batch(Batch(new_id("batch_"), CHAT, f.id, "24h", created_at=1), "")
    store.close()
    again = BatchStore(tmp_path / "b")
    assert again.get_file(f.id, "") == f and again.get_batch(batch.id, "") == batch
    assert again.next_runnable() == batch
    with pytest.raises(NotFound):
        again.file_path("file-../../etc/passwd")
    with pytest.raises(BadRequest, match="in use"):
        again.delete_file(f.id, "")


def test_results_resume_after_a_line_cut_short(tmp_path: Path) -> None:
    store = BatchStore(tmp_path / "b")
    f = store.add_file("in.jsonl", "batch", b"", "")
    batch = store.add_batch(Batch(new_id("batch_"), CHAT, f.id, "24h", created_at=1), "")
    store.append_result(batch, {"custom_id": "a", "response": None}, failed=False)
    store.append_result(batch, {"custom_id": "b", "response": None}, failed=True)
    assert batch.output_file_id and batch.error_file_id
    with store.file_path(batch.output_file_id).open("a") as out:
        out.write('{"custom_id": "c", "resp')  # a crash in the middle of a line
    assert store.answered(batch) == ({"a"}, {"b"})
    # The half line is gone, so the next result is a line of its own, and the size follows.
    store.append_result(batch, {"custom_id": "c", "response": None}, failed=False)
    out = store.file_path(batch.output_file_id).read_bytes()
    assert [json.loads(x)["custom_id"] for x in out.splitlines()] == ["a", "c"]
    assert store.get_file(batch.output_file_id, "").bytes == len(out)


def test_the_oldest_running_batch_is_next_and_finished_ones_are_skipped(tmp_path: Path) -> None:
    store = BatchStore(tmp_path / "b")
    f = store.add_file("in.jsonl", "batch", b"", "")
    old = store.add_batch(Batch(new_id("batch_"), CHAT, f.id, "24h", created_at=1), "")
    new = store.add_batch(Batch(new_id("batch_"), CHAT, f.id, "24h", created_at=2), "")
    assert store.next_runnable() == old
    old.status = "completed"
    assert store.save(old)
    assert store.next_runnable() == new
    new.status = "failed"
    store.save(new)
    assert store.next_runnable() is None
    store.delete_file(f.id, "")  # no running batch uses it any more


def test_a_cancel_is_never_overwritten_by_the_runner(tmp_path: Path) -> None:
    store = BatchStore(tmp_path / "b")
    f = store.add_file("in.jsonl", "batch", b"", "")
    batch = store.add_batch(Batch(new_id("batch_"), CHAT, f.id, "24h", created_at=1), "")
    runner_copy = store.get_batch(batch.id, "")
    runner_copy.status = "in_progress"
    assert store.save(runner_copy)
    cancelled = store.request_cancel(batch.id, "")
    assert cancelled.status == "cancelling" and cancelled.cancelling_at
    runner_copy.request_counts["completed"] += 1  # the runner's stale copy: refused
    assert not store.save(runner_copy)
    assert store.get_batch(batch.id, "").status == "cancelling"
    runner_copy.status = "cancelled"
    assert store.save(runner_copy, over_cancel=True)
    assert store.get_batch(batch.id, "").request_counts["completed"] == 1
    with pytest.raises(BadRequest, match="only a running batch"):
        store.request_cancel(batch.id, "")
    with pytest.raises(NotFound):
        store.request_cancel("batch_nope", "")


def test_a_store_from_before_the_status_column_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    root = tmp_path / "b"
    root.mkdir()
    batch = Batch(new_id("batch_"), CHAT, "file-x", "24h", created_at=1)
    record = {k: v for k, v in batch.__dict__.items() if k != "expired_at"}
    with sqlite3.connect(root / "batches.sqlite") as db:
        db.execute("CREATE TABLE batches (id TEXT PRIMARY KEY, created_at INTEGER, record TEXT)")
        db.execute("INSERT INTO batches VALUES (?, 1, ?)", (batch.id, json.dumps(record)))
    db.close()
    store = BatchStore(root)
    assert store.next_runnable() == batch
    assert store.get_batch(batch.id, "").to_api()["expires_at"] == 1 + 24 * 3600


def test_a_file_or_batch_belongs_to_the_key_that_created_it(tmp_path: Path) -> None:
    store = BatchStore(tmp_path / "b")
    mine = store.add_file("in.jsonl", "batch", (_line("a") + "\n").encode(), owner="alice")
    batch = store.add_batch(Batch(new_id("batch_"), CHAT, mine.id, "24h", created_at=1), "alice")
    assert [f.id for f in store.list_files("alice")] == [mine.id]
    assert store.list_files("bob") == [] and store.list_batches("bob") == []
    for other in ("bob", ""):  # another key, or a keyless request
        with pytest.raises(NotFound):
            store.get_file(mine.id, other)
        with pytest.raises(NotFound):
            store.get_batch(batch.id, other)
        with pytest.raises(NotFound):
            store.request_cancel(batch.id, other)
        with pytest.raises(NotFound):
            store.delete_file(mine.id, other)
    # The results a batch writes belong to the batch's key.
    store.append_result(batch, {"custom_id": "a", "response": None}, failed=False)
    assert batch.output_file_id is not None
    assert store.get_file(batch.output_file_id, "alice").purpose == "batch_output"
    with pytest.raises(NotFound):
        store.get_file(batch.output_file_id, "bob")
    assert store.get_batch(batch.id, "alice") == batch
    assert store.request_cancel(batch.id, "alice").status == "cancelling"


def test_each_key_has_a_storage_quota_that_counts_results_too(tmp_path: Path) -> None:
    store = BatchStore(tmp_path / "b", quota_bytes=100)
    first = store.add_file("in.jsonl", "batch", b"x" * 60, owner="alice")
    with pytest.raises(QuotaExceeded, match=r"alice.*60 bytes.*TERRAQORE_BATCH_QUOTA_BYTES"):
        store.add_file("more.jsonl", "batch", b"x" * 41, owner="alice")
    assert [f.id for f in store.list_files("alice")] == [first.id]  # the refused one left nothing
    assert len(list((tmp_path / "b" / "files").iterdir())) == 1
    store.add_file("other.jsonl", "batch", b"x" * 100, owner="bob")  # each key has its own
    batch = store.add_batch(Batch(new_id("batch_"), CHAT, first.id, "24h", created_at=1), "alice")
    store.append_result(batch, {"custom_id": "a", "pad": "y" * 10}, failed=False)
    with pytest.raises(QuotaExceeded):
        store.append_result(batch, {"custom_id": "b", "pad": "y" * 30}, failed=False)
    assert store.usage("alice") == 60 + store.get_file(batch.output_file_id or "", "alice").bytes
    batch.status = "failed"
    store.save(batch)
    store.delete_file(first.id, "alice")  # deleting makes room
    store.add_file("again.jsonl", "batch", b"x" * 41, owner="alice")


def test_files_and_batches_from_before_owners_belong_to_no_key(tmp_path: Path) -> None:
    import sqlite3

    root = tmp_path / "b"
    root.mkdir()
    with sqlite3.connect(root / "batches.sqlite") as db:
        db.execute(
            "CREATE TABLE files (id TEXT PRIMARY KEY, filename TEXT NOT NULL, "
            "purpose TEXT NOT NULL, bytes INTEGER NOT NULL, created_at INTEGER NOT NULL)"
        )
        db.execute("INSERT INTO files VALUES ('file-old', 'in.jsonl', 'batch', 3, 1)")
    db.close()
    store = BatchStore(root)
    assert store.get_file("file-old", "").bytes == 3  # a keyless server still has it
    with pytest.raises(NotFound):
        store.get_file("file-old", "alice")


@pytest.mark.parametrize(("answers", "asked"), [([503, 503, 200], 3), ([503] * 9, 4)])
def test_a_batched_line_answered_503_is_asked_again_a_bounded_number_of_times(
    answers: list[int], asked: int
) -> None:
    """Batched, a 503 means interactive work held every sequence past the line's timeout: the
    line is asked again, at most MAX_PREEMPTIONS more times, and then its 503 is the result."""
    scheduler = SimpleNamespace(loads_waiting=lambda: False, requests_pending=lambda: 0)
    settings = SimpleNamespace(batched=True, num_parallel=4)
    runner = BatchRunner(
        cast(Any, None), cast(Any, SimpleNamespace(scheduler=scheduler, settings=settings))
    )
    calls: list[bool] = []

    async def answer(endpoint: str, raw: dict[str, Any], low_priority: bool = False):
        calls.append(low_priority)
        return answers[len(calls) - 1], {}

    runner._answer = answer  # type: ignore[method-assign]
    batch = SimpleNamespace(id="b", endpoint=CHAT, expires_at=time.time() + 60)
    result = asyncio.run(runner._answer_yielding(cast(Any, batch), {}))
    assert result is not None and result[0] == answers[asked - 1]
    assert calls == [True] * asked  # every try a low-priority sequence
    assert asked <= MAX_PREEMPTIONS + 1
