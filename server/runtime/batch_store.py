"""Batch jobs and their files (OpenAI's `/v1/files` and `/v1/batches`), kept across restarts.

Files are stored under `$TERRAQORE_HOME/batches/files/` (mode 0600); their records and the
batches live in `batches.sqlite` beside them. A batch's results are appended to its output
and error files line by line, so a batch that a restart interrupted resumes where it stopped:
the lines whose `custom_id` already has a result are skipped.

A file or a batch belongs to the API key (its id) that created it, and a batch's results to
the batch's key: to any other key it does not exist (404). Without keys every request has the
empty owner `""`, as do files and batches stored before owners were kept. The bytes a key's
files hold, results included, are bounded by a quota (`quota_bytes`, 0 for none).
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from server.errors import BadRequest, NotFound

RUNNING = ("validating", "in_progress", "finalizing", "cancelling")
"""Statuses of a batch the runner still has to work on."""
ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY, filename TEXT NOT NULL, purpose TEXT NOT NULL,
    bytes INTEGER NOT NULL, created_at INTEGER NOT NULL, owner TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, created_at INTEGER, record TEXT NOT NULL, status TEXT,
    owner TEXT NOT NULL DEFAULT ''
);
"""
_FILE = "id, filename, purpose, bytes, created_at"
"""A file record's columns, in `FileRecord`'s order."""
ANY_OWNER = None
"""For the runner's own reads: a file or batch whoever owns it (never for a request)."""
EXPIRY_SECONDS = 24 * 3600
"""The only `completion_window` ("24h"): lines not answered by then expire."""


@dataclass
class FileRecord:
    """A stored file, as `/v1/files` describes it."""

    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int

    def to_api(self) -> dict[str, Any]:
        """OpenAI's file object."""
        return {**asdict(self), "object": "file", "status": "processed"}


@dataclass
class Batch:
    """A batch job, as `/v1/batches` describes it."""

    id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    created_at: int
    status: str = "validating"
    metadata: dict[str, str] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    in_progress_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    expired_at: int | None = None
    errors: dict[str, Any] | None = None
    request_counts: dict[str, int] = field(
        default_factory=lambda: {"total": 0, "completed": 0, "failed": 0}
    )

    def to_api(self) -> dict[str, Any]:
        """OpenAI's batch object."""
        return {**asdict(self), "object": "batch", "expires_at": self.expires_at}

    @property
    def expires_at(self) -> int:
        """When the lines not yet answered expire (`completion_window` after creation)."""
        return self.created_at + EXPIRY_SECONDS


class QuotaExceeded(BadRequest):
    """A key's files would hold more than its storage quota (a 400, as OpenAI answers it)."""


def _placeholders(values: tuple[str, ...]) -> str:
    return ", ".join("?" * len(values))


def new_id(prefix: str) -> str:
    """An id in OpenAI's style (`file-…`, `batch_…`)."""
    return f"{prefix}{secrets.token_hex(12)}"


class BatchStore:
    """Files and batches in one folder; safe to use from several threads."""

    def __init__(self, root: Path, quota_bytes: int = 0) -> None:
        self.files_dir = root / "files"
        self.files_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.quota_bytes = quota_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(root / "batches.sqlite", check_same_thread=False)
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)
            # Stores written before the status column: add it, filled from each record.
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(batches)")}
            if "status" not in columns:
                self._db.execute("ALTER TABLE batches ADD COLUMN status TEXT")
            self._db.execute(
                "UPDATE batches SET status = json_extract(record, '$.status') WHERE status IS NULL"
            )
            # Stores written before owners: what they hold belongs to no key.
            for table in ("files", "batches"):
                columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                if "owner" not in columns:
                    self._db.execute(
                        f"ALTER TABLE {table} ADD COLUMN owner TEXT NOT NULL DEFAULT ''"
                    )
        os.chmod(root / "batches.sqlite", 0o600)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    # -- files ---------------------------------------------------------------------

    def add_file(self, filename: str, purpose: str, data: bytes, owner: str) -> FileRecord:
        """Store a file (written whole, private) for `owner` and return its record.

        Raises `QuotaExceeded` if the owner's files would then hold more than the quota.
        """
        record = FileRecord(new_id("file-"), filename[:255], purpose, len(data), int(time.time()))
        path = self.file_path(record.id)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            with self._lock, self._db:  # the quota check and the record in one transaction
                self._check_quota(owner, len(data))
                self._db.execute(
                    f"INSERT INTO files ({_FILE}, owner) VALUES (?, ?, ?, ?, ?, ?)",
                    (*asdict(record).values(), owner),
                )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return record

    def usage(self, owner: str) -> int:
        """The bytes the owner's files hold (uploads and batch results)."""
        with self._lock:
            return self._usage(owner)

    def _usage(self, owner: str) -> int:
        row = self._db.execute(
            "SELECT COALESCE(SUM(bytes), 0) FROM files WHERE owner = ?", (owner,)
        ).fetchone()
        return int(row[0])

    def _check_quota(self, owner: str, adding: int) -> None:
        """Refuse `adding` bytes past the owner's quota (call with the lock held)."""
        if self.quota_bytes <= 0:
            return
        held = self._usage(owner)
        if held + adding > self.quota_bytes:
            who = f"key {owner!r}" if owner else "this server (no API keys)"
            raise QuotaExceeded(
                f"storage quota exceeded: the files of {who} hold {held} bytes, and {adding} "
                f"more would pass the quota of {self.quota_bytes} bytes per key "
                "(TERRAQORE_BATCH_QUOTA_BYTES); delete files no longer needed "
                "(DELETE /v1/files/{file_id})"
            )

    def file_path(self, file_id: str) -> Path:
        """Where a file's bytes are (ids are checked: never a path outside the folder)."""
        if not file_id.startswith("file-") or not file_id[5:].isalnum():
            raise NotFound(f"no file {file_id!r}")
        return self.files_dir / f"{file_id}.jsonl"

    def get_file(self, file_id: str, owner: str | None) -> FileRecord:
        """A file's record, or 404 (also when another key owns it)."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_FILE} FROM files WHERE id = ? AND (owner = ? OR ? IS NULL)",
                (file_id, owner, owner),
            ).fetchone()
        if row is None:
            raise NotFound(f"no file {file_id!r}")
        return FileRecord(*row)

    def list_files(self, owner: str) -> list[FileRecord]:
        """The owner's files, newest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_FILE} FROM files WHERE owner = ? ORDER BY created_at DESC, rowid DESC",
                (owner,),
            ).fetchall()
        return [FileRecord(*row) for row in rows]

    def delete_file(self, file_id: str, owner: str) -> None:
        """Delete the owner's file, unless a running batch reads or writes it (400)."""
        self.get_file(file_id, owner)
        for batch in self._running():
            if file_id in (batch.input_file_id, batch.output_file_id, batch.error_file_id):
                raise BadRequest(f"file {file_id} is in use by the running batch {batch.id}")
        with self._lock, self._db:
            self._db.execute("DELETE FROM files WHERE id = ?", (file_id,))
        self.file_path(file_id).unlink(missing_ok=True)

    # -- batches -------------------------------------------------------------------

    def add_batch(self, batch: Batch, owner: str) -> Batch:
        """Record a new batch of `owner`'s (its results will be the owner's files too)."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO batches (id, created_at, record, status, owner) "
                "VALUES (?, ?, ?, ?, ?)",
                (batch.id, batch.created_at, json.dumps(asdict(batch)), batch.status, owner),
            )
        return batch

    def save(self, batch: Batch, over_cancel: bool = False) -> bool:
        """Write a batch's current state; False if it was cancelled meanwhile (not written).

        The runner is the one writer of a batch it works on, except for a cancellation,
        which `request_cancel` writes at any time: the runner's next save then fails, and
        it finishes the cancellation itself (`over_cancel`).
        """
        with self._lock, self._db:
            written = self._db.execute(
                "UPDATE batches SET record = ?, status = ? WHERE id = ? "
                "AND (status IS NOT 'cancelling' OR ?)",
                (json.dumps(asdict(batch)), batch.status, batch.id, over_cancel),
            ).rowcount
        return written == 1

    def request_cancel(self, batch_id: str, owner: str) -> Batch:
        """Mark the owner's running batch `cancelling` (at once, atomically).

        400 if it is not running, 404 if it is not the owner's.
        """
        with self._lock, self._db:
            marked = self._db.execute(
                "UPDATE batches SET status = 'cancelling', record = json_set(record, "
                "'$.status', 'cancelling', '$.cancelling_at', ?) WHERE id = ? AND owner = ? "
                f"AND status IN ({_placeholders(RUNNING)})",
                (int(time.time()), batch_id, owner, *RUNNING),
            ).rowcount
            row = self._db.execute(
                "SELECT record FROM batches WHERE id = ? AND owner = ?", (batch_id, owner)
            ).fetchone()
        if row is None:
            raise NotFound(f"no batch {batch_id!r}")
        batch = Batch(**json.loads(row[0]))
        if not marked:
            raise BadRequest(
                f"batch {batch_id} is {batch.status}; only a running batch can be cancelled"
            )
        return batch

    def get_batch(self, batch_id: str, owner: str | None) -> Batch:
        """A batch, or 404 (also when another key owns it)."""
        with self._lock:
            row = self._db.execute(
                "SELECT record FROM batches WHERE id = ? AND (owner = ? OR ? IS NULL)",
                (batch_id, owner, owner),
            ).fetchone()
        if row is None:
            raise NotFound(f"no batch {batch_id!r}")
        return Batch(**json.loads(row[0]))

    def list_batches(self, owner: str, limit: int | None = None) -> list[Batch]:
        """The owner's batches, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT record FROM batches WHERE owner = ? "
                "ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (owner, -1 if limit is None else limit),
            ).fetchall()
        return [Batch(**json.loads(row[0])) for row in rows]

    def next_runnable(self) -> Batch | None:
        """The batch to work on: a cancellation to finish first, then the oldest with work."""
        running = self._running(limit=1)
        return running[0] if running else None

    def _running(self, limit: int = -1) -> list[Batch]:
        """Batches with work left, oldest first (only their rows are decoded)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT record FROM batches WHERE status IN ({_placeholders(RUNNING)}) "
                "ORDER BY status = 'cancelling' DESC, created_at, rowid LIMIT ?",
                (*RUNNING, limit),
            ).fetchall()
        return [Batch(**json.loads(row[0])) for row in rows]

    # -- results -------------------------------------------------------------------

    def append_result(self, batch: Batch, result: dict[str, Any], failed: bool) -> None:
        """Append one request's result to the batch's output or error file.

        The file is the batch owner's; `QuotaExceeded` if the owner's files would pass the quota.
        """
        with self._lock:
            row = self._db.execute("SELECT owner FROM batches WHERE id = ?", (batch.id,))
            owner = str(row.fetchone()[0])
        attr = "error_file_id" if failed else "output_file_id"
        file_id = getattr(batch, attr)
        if file_id is None:
            name = f"{batch.id}_{'error' if failed else 'output'}.jsonl"
            file_id = self.add_file(name, "batch_output", b"", owner).id
            setattr(batch, attr, file_id)
            self.save(batch)
        line = (json.dumps(result, ensure_ascii=False) + "\n").encode()
        with self._lock, self._db:  # counted (and checked) first: the runner is the one writer
            self._check_quota(owner, len(line))
            self._db.execute(
                "UPDATE files SET bytes = bytes + ? WHERE id = ?", (len(line), file_id)
            )
        try:
            with self.file_path(file_id).open("ab") as f:
                f.write(line)
        except OSError:
            with self._lock, self._db:
                self._db.execute(
                    "UPDATE files SET bytes = bytes - ? WHERE id = ?", (len(line), file_id)
                )
            raise

    def answered(self, batch: Batch) -> tuple[set[str], set[str]]:
        """The `custom_id`s that already have a result, and those that failed (after a restart).

        A line a crash cut short is removed from its file first (that request runs again),
        so the next result starts on a line of its own.
        """
        found: list[set[str]] = []
        for file_id in (batch.output_file_id, batch.error_file_id):
            ids: set[str] = set()
            found.append(ids)
            if file_id is None:
                continue
            self._drop_partial_line(file_id)
            for line in self._lines(file_id):
                try:
                    ids.add(json.loads(line)["custom_id"])
                except (ValueError, KeyError, TypeError):
                    continue
        return found[0], found[1]

    def _drop_partial_line(self, file_id: str) -> None:
        with self.file_path(file_id).open("r+b") as f:
            end = f.seek(0, os.SEEK_END)
            if end == 0:
                return
            f.seek(end - 1)
            if f.read(1) == b"\n":
                return
            keep = end
            while keep > 0:  # back to the last newline, a block at a time
                start = max(0, keep - 65536)
                f.seek(start)
                block = f.read(keep - start)
                cut = block.rfind(b"\n")
                if cut >= 0:
                    keep = start + cut + 1
                    break
                keep = start
            f.truncate(keep)
        with self._lock, self._db:
            self._db.execute("UPDATE files SET bytes = ? WHERE id = ?", (keep, file_id))

    def read_input(self, file_id: str) -> Iterator[str]:
        """The non-empty lines of a stored file."""
        return self._lines(file_id)

    def _lines(self, file_id: str) -> Iterator[str]:
        with self.file_path(file_id).open(encoding="utf-8") as f:
            yield from (line for line in f if line.strip())
