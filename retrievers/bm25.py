"""BM25 over silver chunks through DuckDB's full-text extension (`duckdb-extension-fts`).

DuckDB's full-text index is a snapshot: it does not follow inserts or deletes, so the
indexer rebuilds it after an ingest or a prune changes the chunks.
"""

from __future__ import annotations

from typing import Any

import duckdb

from retrievers.embedding_store import has_table
from retrievers.filters import RetrievalFilters

FTS_SCHEMA = "fts_main_silver_chunks"
_SIGNATURE = "SELECT count(*), coalesce(sum({col}), 0), coalesce(max({col}), 0) FROM {table}"


def _signature(con: duckdb.DuckDBPyConnection, table: str, col: str) -> tuple[int, ...]:
    row = con.execute(_SIGNATURE.format(table=table, col=col)).fetchone()
    return tuple(int(v) for v in row) if row else (0, 0, 0)


def exists(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the lake has a full-text index."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_schemas() WHERE database_name = 'lake' AND schema_name = ?",
        [FTS_SCHEMA],
    ).fetchone()
    return bool(row and row[0])


def is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the full-text index covers exactly the chunks silver holds now."""
    if not exists(con):
        return False
    return _signature(con, f"{FTS_SCHEMA}.docs", "name") == _signature(con, "silver_chunks", "id")


def refresh(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the full-text index (Porter stemming, English stop words, accents folded)."""
    con.execute(
        "PRAGMA create_fts_index('silver_chunks', 'id', 'text', stemmer = 'porter',"
        " stopwords = 'english', strip_accents = 1, lower = 1, overwrite = 1)"
    )


def search(
    con: duckdb.DuckDBPyConnection, query: str, k: int, filters: RetrievalFilters
) -> list[tuple[int, float]]:
    """The k best chunk ids by BM25 with their scores; empty if there is no index."""
    if k <= 0 or not query.strip() or not has_table(con, "silver_chunks") or not exists(con):
        return []
    scored = f"SELECT id, {FTS_SCHEMA}.match_bm25(id, ?) AS score FROM silver_chunks"
    params: list[Any] = [query]
    if filters.empty:
        sql = f"SELECT id, score FROM ({scored}) WHERE score IS NOT NULL"
    else:
        condition, extra = filters.where()
        sql = (
            f"SELECT c.id, f.score FROM ({scored}) f JOIN silver_chunks c ON c.id = f.id"
            " JOIN bronze_items b ON b.id = c.item_id JOIN sources s ON s.id = b.source_id"
            f" WHERE f.score IS NOT NULL AND {condition}"
        )
        params += extra
    rows = con.execute(f"{sql} ORDER BY 2 DESC, 1 LIMIT ?", [*params, k]).fetchall()
    return [(int(i), float(s)) for i, s in rows]
