"""Writing raw items to bronze: one transaction per batch, idempotent on the content hash."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from lake.database import bulk_load
from lake.text import content_hash


@dataclass
class RawItem:
    """One item as fetched or read, with its provenance."""

    url: str
    title: str
    raw: str
    published: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Source:
    """Where items come from."""

    kind: str
    uri: str
    topic: str | None = None


@dataclass
class BatchResult:
    """What a batch did."""

    source_id: int
    added: int
    already_present: int


INCOMING = {
    "source_id": "BIGINT",
    "url": "VARCHAR",
    "title": "VARCHAR",
    "published": "TIMESTAMP",
    "raw": "VARCHAR",
    "content_hash": "VARCHAR",
    "metadata": "JSON",
}


def _count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT count(*) FROM bronze_items").fetchone()
    return int(row[0]) if row else 0


def upsert_source(con: duckdb.DuckDBPyConnection, source: Source) -> int:
    """The id of a source, registering it on first sight."""
    row = con.execute(
        "INSERT INTO sources (kind, uri, topic) VALUES (?, ?, ?) "
        "ON CONFLICT (uri) DO UPDATE SET topic = coalesce(excluded.topic, sources.topic) "
        "RETURNING id",
        [source.kind, source.uri, source.topic],
    ).fetchone()
    assert row is not None
    return int(row[0])


def write_batch(
    con: duckdb.DuckDBPyConnection, source: Source, items: Iterable[RawItem], actor: str = "ingest"
) -> BatchResult:
    """Write a batch in one transaction; items whose content hash is stored already are skipped.

    If the process dies part-way, the transaction is rolled back and the next run redoes it.
    """
    batch = list(items)
    con.execute("BEGIN TRANSACTION")
    try:
        source_id = upsert_source(con, source)
        rows, seen = [], set()
        for item in batch:
            digest = content_hash(item.raw)
            if digest not in seen:
                seen.add(digest)
                rows.append(
                    (
                        source_id,
                        item.url,
                        item.title,
                        item.published,
                        item.raw,
                        digest,
                        json.dumps(item.metadata, default=str),
                    )
                )
        bulk_load(con, "incoming_items", INCOMING, rows)
        before = _count(con)
        con.execute(
            "INSERT INTO bronze_items"
            " (source_id, url, title, published, raw, content_hash, metadata)"
            " SELECT * FROM incoming_items ON CONFLICT (content_hash) DO NOTHING"
        )
        added = _count(con) - before
        con.execute(
            "INSERT INTO audit (actor, action, detail) VALUES (?, 'ingest', ?)",
            [
                actor,
                json.dumps(
                    {"source": source.uri, "kind": source.kind, "items": len(batch), "added": added}
                ),
            ],
        )
        con.execute(
            "UPDATE sources SET last_run = current_timestamp, last_error = NULL WHERE id = ?",
            [source_id],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return BatchResult(source_id, added, len(batch) - added)
