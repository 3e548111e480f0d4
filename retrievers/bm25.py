"""BM25 over silver chunks through DuckDB's full-text extension (`duckdb-extension-fts`).

The extension builds the index (tokenizer, Porter stemmer, stop words, dictionary,
document lengths). Its `match_bm25` macro scores every chunk and scans the whole
per-token `terms` table for each query, about 80 ms at 100k chunks. So after each
rebuild we add one table to the index, `postings`: term frequency and document length
per (term, chunk), sorted by term, which DuckDB's zone maps let a query read only for
its own terms. Scores are
`match_bm25`'s exactly (k1 = 1.2, b = 0.75, idf = log10((N - df + 0.5) / (df + 0.5) + 1));
a test holds the two together.

DuckDB's full-text index is a snapshot: it does not follow inserts or deletes, so the
indexer rebuilds it after an ingest or a prune changes the chunks.
"""

from __future__ import annotations

from typing import Any

import duckdb

from retrievers.embedding_store import has_table
from retrievers.filters import RetrievalFilters

FTS_SCHEMA = "fts_main_silver_chunks"
K1, B = 1.2, 0.75
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
    if not has_table(con, "postings"):
        return False
    return _signature(con, f"{FTS_SCHEMA}.docs", "name") == _signature(con, "silver_chunks", "id")


def refresh(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the full-text index (Porter stemming, English stop words, accents folded)."""
    con.execute(
        "PRAGMA create_fts_index('silver_chunks', 'id', 'text', stemmer = 'porter',"
        " stopwords = 'english', strip_accents = 1, lower = 1, overwrite = 1)"
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {FTS_SCHEMA}.postings AS"
        " SELECT t.termid, d.name AS chunk_id, count(*)::INTEGER AS tf,"
        f" any_value(d.len)::INTEGER AS len FROM {FTS_SCHEMA}.terms t"
        f" JOIN {FTS_SCHEMA}.docs d ON d.docid = t.docid"
        " GROUP BY t.termid, d.name ORDER BY t.termid, d.name"
    )


def query_terms(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[int, int]]:
    """(term id, document frequency) of the query's words that the index knows."""
    rows = con.execute(
        f"SELECT termid, df FROM {FTS_SCHEMA}.dict WHERE term IN"
        f" (SELECT DISTINCT stem(unnest({FTS_SCHEMA}.tokenize(?)), 'porter'))",
        [query],
    ).fetchall()
    return [(int(t), int(df)) for t, df in rows]


def search(
    con: duckdb.DuckDBPyConnection,
    query: str,
    k: int,
    filters: RetrievalFilters,
    checked: bool = False,
) -> list[tuple[int, float]]:
    """The k best chunk ids by BM25 with their scores; empty if there is no index.

    `checked` says the caller has seen that the index exists (it skips two lookups).
    """
    if k <= 0 or not query.strip():
        return []
    if not checked and not (exists(con) and has_table(con, "postings")):
        return []
    terms = query_terms(con, query)
    if not terms:
        return []
    ids = ", ".join(str(t) for t, _ in terms)  # integers from the index, safe to inline
    scored = (
        f"SELECT p.chunk_id AS id, sum(log((st.num_docs - q.df + 0.5) / (q.df + 0.5) + 1)"
        f" * (p.tf * ({K1} + 1) / (p.tf + {K1} * (1 - {B} + {B} * p.len / st.avgdl)))) AS score"
        f" FROM {FTS_SCHEMA}.postings p"
        f" JOIN (SELECT termid, df FROM {FTS_SCHEMA}.dict WHERE termid IN ({ids})) q"
        f" ON q.termid = p.termid, {FTS_SCHEMA}.stats st"
        f" WHERE p.termid IN ({ids}) GROUP BY p.chunk_id"
    )
    params: list[Any] = []
    if filters.empty:
        sql = scored
    else:
        condition, params = filters.where()
        sql = (
            f"SELECT c.id, f.score FROM ({scored}) f JOIN silver_chunks c ON c.id = f.id"
            " JOIN bronze_items b ON b.id = c.item_id JOIN sources s ON s.id = b.source_id"
            f" WHERE {condition}"
        )
    rows = con.execute(f"{sql} ORDER BY 2 DESC, 1 LIMIT ?", [*params, k]).fetchall()
    return [(int(i), float(s)) for i, s in rows]


def reference_search(con: duckdb.DuckDBPyConnection, query: str, k: int) -> list[tuple[int, float]]:
    """The k best chunks by DuckDB's own `match_bm25` macro, unfiltered.

    Slow (it scans every token of the index); it is the reference `search` is held to in
    the tests and the baseline it is timed against in the benchmark.
    """
    rows = con.execute(
        f"SELECT id, score FROM (SELECT id, {FTS_SCHEMA}.match_bm25(id, ?) AS score"
        " FROM silver_chunks) WHERE score IS NOT NULL ORDER BY score DESC, id LIMIT ?",
        [query, k],
    ).fetchall()
    return [(int(i), float(s)) for i, s in rows]
