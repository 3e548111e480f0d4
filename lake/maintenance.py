"""Registered sources, the schedule that runs them, retention, and export."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lake.bronze import Source, upsert_source
from lake.config import LakeSettings
from lake.database import connect
from lake.operations import ingest


@dataclass
class ScheduleReport:
    """What one run of the schedule did."""

    ran: list[str] = field(default_factory=list)
    added: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def kind_of(uri: str) -> str:
    """`search`, `web` (feed or page, decided when fetched) or `file`."""
    if uri.startswith("search:"):
        return "search"
    return "web" if "://" in uri else "file"


def add_source(
    settings: LakeSettings,
    uri: str,
    topic: str | None = None,
    interval_s: int | None = None,
    retention_days: int | None = None,
) -> int:
    """Register (or update) a source to be run by `schedule`; return its id."""
    if not uri.startswith("search:") and "://" not in uri:
        uri = str(Path(uri).expanduser().resolve())
    con = connect(settings)
    try:
        source_id = upsert_source(con, Source(kind_of(uri), uri, topic))
        con.execute(
            "UPDATE sources SET interval_s = ?, retention_days = ? WHERE id = ?",
            [interval_s, retention_days, source_id],
        )
        con.execute(
            "INSERT INTO audit (actor, action, detail) VALUES ('operator', 'add-source', ?)", [uri]
        )
    finally:
        con.close()
    return source_id


def due_sources(settings: LakeSettings) -> list[tuple[str, str | None]]:
    """(uri, topic) of sources whose interval has passed since their last run."""
    con = connect(settings)
    try:
        rows = con.execute(
            "SELECT uri, topic FROM sources WHERE interval_s IS NOT NULL AND (last_run IS NULL OR"
            " last_run + to_seconds(interval_s) <= current_timestamp) ORDER BY id"
        ).fetchall()
    finally:
        con.close()
    return [(str(uri), topic) for uri, topic in rows]


def schedule(settings: LakeSettings) -> ScheduleReport:
    """Run every due source once; a failing source is recorded and the others still run."""
    report = ScheduleReport()
    for uri, topic in due_sources(settings):
        try:
            result = ingest(settings, uri, topic)
        except Exception as exc:  # recorded on the source by ingest; the schedule goes on
            report.failed[uri] = str(exc)
            continue
        report.ran.append(uri)
        report.added += result.bronze.added
    return report


def prune(settings: LakeSettings) -> dict[str, int]:
    """Drop items (bronze and silver) older than their source's retention window."""
    con = connect(settings)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            expired = [
                r[0]
                for r in con.execute(
                    "SELECT b.id FROM bronze_items b JOIN sources s ON s.id = b.source_id"
                    " WHERE s.retention_days IS NOT NULL"
                    " AND coalesce(b.published, b.fetched_at)"
                    " < current_timestamp - to_days(s.retention_days)"
                ).fetchall()
            ]
            chunks = 0
            if expired:
                ids = ",".join(str(int(i)) for i in expired)
                row = con.execute(
                    f"SELECT count(*) FROM silver_chunks WHERE item_id IN ({ids})"
                ).fetchone()
                chunks = int(row[0]) if row else 0
                con.execute(
                    "DELETE FROM chunk_embeddings WHERE chunk_id IN"
                    f" (SELECT id FROM silver_chunks WHERE item_id IN ({ids}))"
                )
                con.execute(f"DELETE FROM silver_chunks WHERE item_id IN ({ids})")
                con.execute(f"DELETE FROM bronze_items WHERE id IN ({ids})")
            con.execute(
                "INSERT INTO audit (actor, action, detail) VALUES ('operator', 'prune', ?)",
                [f"{len(expired)} items, {chunks} chunks"],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    return {"items": len(expired), "chunks": chunks}


def export(settings: LakeSettings, out_dir: Path) -> dict[str, Any]:
    """Write every table to Parquet in `out_dir`. The files are NOT encrypted."""
    out_dir.mkdir(parents=True, exist_ok=True)
    con = connect(settings, read_only=True)
    written = {}
    try:
        for table in ("sources", "bronze_items", "silver_chunks", "gold_digests", "audit"):
            path = out_dir / f"{table}.parquet"
            con.execute(
                f"COPY {table} TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)"
            )
            row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
            written[table] = int(row[0]) if row else 0
    finally:
        con.close()
    return written
