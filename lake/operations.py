"""Lake operations as plain functions, so the CLI, cron or a worker queue can call them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lake.bronze import BatchResult, Source, upsert_source, write_batch
from lake.config import LakeSettings
from lake.database import connect
from lake.fetcher import FetchFailed, FetchRefused, GuardedFetcher
from lake.local_files import IngestError, read_path
from lake.search import SearchFailed, search_items
from lake.silver import SilverReport, promote
from lake.web_sources import fetch_source

Progress = Callable[[str, int, int], None]


@dataclass
class IngestReport:
    """What one ingest did, in bronze and in silver, and the files it had to skip."""

    source: str
    bronze: BatchResult
    silver: SilverReport
    skipped: list[str] = field(default_factory=list)
    """One reason per file that could not be read (also recorded in the lake's audit)."""


def ingest(
    settings: LakeSettings, target: str, topic: str | None = None, progress: Progress | None = None
) -> IngestReport:
    """Ingest a local file or folder, or a feed or page URL (through the guarded fetcher)."""
    if target.startswith("search:"):
        return _ingest_search(settings, target, topic)
    if "://" in target:
        return _ingest_url(settings, target, topic)
    path = Path(target).expanduser()
    uri = str(path.resolve())
    items = []
    skipped: list[str] = []
    try:
        for item in read_path(path, on_error=lambda file, reason: skipped.append(reason)):
            items.append(item)
            if progress:
                progress("reading", len(items), 0)
    except IngestError as exc:
        if path.exists():  # a typo is not a source
            _record(settings, uri, topic, [str(exc)])
        raise
    con = connect(settings)
    try:
        batch = write_batch(con, Source("file", uri, topic), items)
        if skipped:
            record_error(con, uri, "file", topic, f"{len(skipped)} file(s) skipped", skipped)
        silver = promote(con, settings, progress)
    finally:
        con.close()
    return IngestReport(str(path), batch, silver, skipped)


def _record(settings: LakeSettings, uri: str, topic: str | None, errors: list[str]) -> None:
    """Record an ingest that failed before anything was written."""
    con = connect(settings)
    try:
        record_error(con, uri, "file", topic, errors[0], errors)
    finally:
        con.close()


def _ingest_url(settings: LakeSettings, url: str, topic: str | None) -> IngestReport:
    fetcher = GuardedFetcher(settings)
    con = connect(settings)
    try:
        row = con.execute("SELECT etag, last_modified FROM sources WHERE uri = ?", [url]).fetchone()
        etag, modified = row if row else (None, None)
        try:
            fetched = fetch_source(fetcher, url, etag, modified)
        except (FetchFailed, ValueError) as exc:
            record_error(con, url, "web", topic, str(exc))
            raise
        batch = write_batch(con, Source(fetched.kind, url, topic), fetched.items)
        con.execute(
            "UPDATE sources SET kind = ?, etag = ?, last_modified = ? WHERE id = ?",
            [fetched.kind, fetched.etag, fetched.last_modified, batch.source_id],
        )
        silver = promote(con, settings)
    finally:
        con.close()
        fetcher.close()
    return IngestReport(url, batch, silver)


def _ingest_search(settings: LakeSettings, target: str, topic: str | None) -> IngestReport:
    query = target.removeprefix("search:").strip().strip('"').strip("'")
    if not query:
        raise ValueError('search needs a query: search:"your words"')
    fetcher = GuardedFetcher(settings)
    con = connect(settings)
    try:
        try:
            items, problems = search_items(settings, fetcher, query)
        except (SearchFailed, FetchRefused) as exc:
            record_error(con, target, "search", topic, str(exc))
            raise
        batch = write_batch(con, Source("search", target, topic), items)
        if problems:
            con.execute(
                "INSERT INTO audit (actor, action, detail) VALUES ('ingest', 'skipped', ?)",
                ["; ".join(problems)[:2000]],
            )
        silver = promote(con, settings)
    finally:
        con.close()
        fetcher.close()
    return IngestReport(target, batch, silver)


def record_error(
    con: Any, uri: str, kind: str, topic: str | None, error: str, details: list[str] | None = None
) -> None:
    """Remember a source's last error (the source is registered if new).

    Each of `details` (one per bad file) becomes an audit row of its own; without them the
    error itself does.
    """
    source_id = upsert_source(con, Source(kind, uri, topic))
    summary = error if not details or details == [error] else f"{error}: {details[0]}"
    con.execute(
        "UPDATE sources SET last_run = current_timestamp, last_error = ? WHERE id = ?",
        [summary[:500], source_id],
    )
    for detail in (details or [error])[:1000]:
        con.execute(
            "INSERT INTO audit (actor, action, detail) VALUES ('ingest', 'error', ?)",
            [f"{uri}: {detail[:500]}"],
        )


def status(settings: LakeSettings) -> dict[str, Any]:
    """Counts per layer and source, the newest item and its age (per source too), last errors."""
    con = connect(settings, read_only=settings.db_path.exists())
    try:

        def one(sql: str) -> Any:
            row = con.execute(sql).fetchone()
            return row[0] if row else None

        states = dict(
            con.execute(
                "SELECT state, count(*) FROM bronze_items GROUP BY state ORDER BY state"
            ).fetchall()
        )
        sources = [
            {
                "id": r[0],
                "kind": r[1],
                "uri": r[2],
                "topic": r[3],
                "items": r[4],
                "chunks": r[5],
                "last_run": str(r[6]) if r[6] else None,
                "last_error": r[7],
                "newest_item": str(r[8]) if r[8] else None,
                "stale_seconds": r[9],
            }
            for r in con.execute(
                "SELECT s.id, s.kind, s.uri, s.topic, count(DISTINCT b.id), count(c.id),"
                " s.last_run, s.last_error, max(b.fetched_at),"
                " epoch(current_timestamp - max(b.fetched_at)) FROM sources s"
                " LEFT JOIN bronze_items b ON b.source_id = s.id"
                " LEFT JOIN silver_chunks c ON c.item_id = b.id"
                " GROUP BY ALL ORDER BY s.id"
            ).fetchall()
        ]
        latest = one("SELECT max(fetched_at) FROM bronze_items")
        return {
            "path": str(settings.db_path),
            "bronze_items": one("SELECT count(*) FROM bronze_items"),
            "bronze_states": states,
            "silver_chunks": one("SELECT count(*) FROM silver_chunks"),
            "gold_digests": one("SELECT count(*) FROM gold_digests"),
            "latest_item": str(latest) if latest else None,
            "stale_seconds": one(
                "SELECT epoch(current_timestamp - max(fetched_at)) FROM bronze_items"
            ),
            "sources": sources,
            "errors": [s for s in sources if s["last_error"]],
        }
    finally:
        con.close()
