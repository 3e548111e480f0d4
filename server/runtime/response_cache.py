"""An opt-in cache of answers to deterministic requests, in SQLite with a TTL.

Only requests whose answer cannot change are cached: temperature 0 or a fixed seed,
against the same model digest, messages, tools, format and options. A hit replays the
stored answer without touching the model.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class CachedAnswer:
    """A stored answer: the streamed pieces, the final content, tool calls and counters."""

    pieces: list[str]
    content: str
    tool_calls: list[dict[str, Any]]
    done_reason: str
    stats: dict[str, Any]


def is_deterministic(options: dict[str, Any]) -> bool:
    """Greedy decoding (temperature 0) or a fixed, non-negative seed."""
    seed = options.get("seed")
    return options.get("temperature") == 0 or (isinstance(seed, int) and seed >= 0)


class ResponseCache:
    """Answers by request fingerprint, expiring after `ttl` seconds."""

    def __init__(self, path: Path, ttl: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, created REAL, body TEXT)"
        )
        self._db.commit()

    @staticmethod
    def fingerprint(model_digest: str, request: dict[str, Any]) -> str:
        """A stable key for everything that decides the answer."""
        text = json.dumps({"model": model_digest, **request}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> CachedAnswer | None:
        """The cached answer, if present and fresh."""
        with self._lock:
            row = self._db.execute(
                "SELECT created, body FROM answers WHERE key = ?", (key,)
            ).fetchone()
        if row is None or time.time() - row[0] > self.ttl:
            return None
        return CachedAnswer(**json.loads(row[1]))

    def put(self, key: str, answer: CachedAnswer) -> None:
        """Store an answer (and drop expired ones)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?)",
                (key, time.time(), json.dumps(asdict(answer))),
            )
            self._db.execute("DELETE FROM answers WHERE created < ?", (time.time() - self.ttl,))
            self._db.commit()
