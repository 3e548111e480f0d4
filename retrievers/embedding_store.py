"""Chunk embeddings in the lake (`chunk_embeddings`), one row per chunk and model."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np

from lake.database import bulk_load


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the attached lake has a table (a lake made by an older version may not)."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'lake' AND table_name = ?",
        [name],
    ).fetchone()
    return bool(row and row[0])


def tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the attached lake's tables, in every schema."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def lake_id(con: duckdb.DuckDBPyConnection) -> str:
    """The lake's identity, which the index manifest records."""
    if not has_table(con, "lake_meta"):
        return ""
    row = con.execute("SELECT value FROM lake_meta WHERE key = 'lake_id'").fetchone()
    return str(row[0]) if row else ""


def pending(
    con: duckdb.DuckDBPyConnection, model: str, limit: int
) -> list[tuple[int, str, str | None]]:
    """Chunks with no embedding from `model` yet: (chunk id, text, item title), oldest first."""
    return [
        (int(r[0]), str(r[1]), r[2])
        for r in con.execute(
            "SELECT c.id, c.text, b.title FROM silver_chunks c"
            " JOIN bronze_items b ON b.id = c.item_id"
            " LEFT JOIN chunk_embeddings e ON e.chunk_id = c.id AND e.model = ?"
            " WHERE e.chunk_id IS NULL ORDER BY c.id LIMIT ?",
            [model, limit],
        ).fetchall()
    ]


def count_pending(con: duckdb.DuckDBPyConnection, model: str) -> int:
    """How many chunks still need an embedding from `model`."""
    row = con.execute(
        "SELECT count(*) FROM silver_chunks c"
        " LEFT JOIN chunk_embeddings e ON e.chunk_id = c.id AND e.model = ?"
        " WHERE e.chunk_id IS NULL",
        [model],
    ).fetchone()
    return int(row[0]) if row else 0


def write(con: duckdb.DuckDBPyConnection, model: str, ids: list[int], vectors: np.ndarray) -> None:
    """Store one batch of vectors in one transaction (a batch is all or nothing)."""
    dim = int(vectors.shape[1])
    rows: list[tuple[Any, ...]] = [
        (i, model, dim, v.tolist()) for i, v in zip(ids, vectors, strict=True)
    ]
    con.execute("BEGIN TRANSACTION")
    try:
        bulk_load(
            con,
            "new_embeddings",
            {"chunk_id": "BIGINT", "model": "VARCHAR", "dim": "INTEGER", "vector": "FLOAT[]"},
            rows,
        )
        con.execute(
            "INSERT INTO chunk_embeddings (chunk_id, model, dim, vector)"
            " SELECT chunk_id, model, dim, vector FROM new_embeddings ON CONFLICT DO NOTHING"
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def drop_orphans(con: duckdb.DuckDBPyConnection) -> int:
    """Delete embeddings whose chunk is gone (a prune from an older version left them)."""
    row = con.execute(
        "SELECT count(*) FROM chunk_embeddings WHERE chunk_id NOT IN (SELECT id FROM silver_chunks)"
    ).fetchone()
    orphans = int(row[0]) if row else 0
    if orphans:
        con.execute(
            "DELETE FROM chunk_embeddings WHERE chunk_id NOT IN (SELECT id FROM silver_chunks)"
        )
    return orphans


def embedded_ids(con: duckdb.DuckDBPyConnection, model: str) -> np.ndarray:
    """Ids of the chunks that have an embedding from `model`, ascending."""
    if not has_table(con, "chunk_embeddings"):
        return np.empty(0, dtype=np.int64)
    result = con.execute(
        "SELECT e.chunk_id FROM chunk_embeddings e JOIN silver_chunks c ON c.id = e.chunk_id"
        " WHERE e.model = ? ORDER BY e.chunk_id",
        [model],
    ).fetchnumpy()
    return np.asarray(result["chunk_id"], dtype=np.int64)


def vectors(
    con: duckdb.DuckDBPyConnection, model: str, ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) stored for `model`, for the given chunk ids or for all of them."""
    sql = (
        "SELECT e.chunk_id, e.vector FROM chunk_embeddings e"
        " JOIN silver_chunks c ON c.id = e.chunk_id WHERE e.model = ?"
    )
    params: list[Any] = [model]
    if ids is not None:
        if len(ids) == 0:
            return np.empty(0, dtype=np.int64), np.empty((0, 0), dtype=np.float32)
        sql += " AND e.chunk_id IN (SELECT unnest(?::BIGINT[]))"
        params.append([int(i) for i in ids])
    result = con.execute(sql + " ORDER BY e.chunk_id", params).fetchnumpy()
    found = np.asarray(result["chunk_id"], dtype=np.int64)
    if len(found) == 0:
        return found, np.empty((0, 0), dtype=np.float32)
    return found, np.stack([np.asarray(v, dtype=np.float32) for v in result["vector"]])
