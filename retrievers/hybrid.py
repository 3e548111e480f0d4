"""Search the lake: dense (FAISS), BM25 (DuckDB fts) or both fused, with filters and MMR.

Searching is read-only and never fetches: it reads the lake (attached read-only while
searches keep coming, let go `reader_linger` seconds after the last so writers can work)
and the index files, and embeds the query through the server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import duckdb
import numpy as np
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from lake.config import LakeSettings
from lake.database import LakeBusy, LakeReader
from retrievers import bm25, embedding_store
from retrievers.config import RetrievalSettings
from retrievers.embedder import Embedder
from retrievers.errors import IndexNotReady
from retrievers.filters import RetrievalFilters
from retrievers.fusion import mmr_order, reciprocal_rank_fusion
from retrievers.vector_index import MANIFEST, VectorIndex, index_dir

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")
log = logging.getLogger(__name__)
STALE_SLACK = 10


@dataclass
class Passage:
    """One retrieved chunk with where it came from."""

    chunk_id: int
    item_id: int
    text: str
    source: str | None
    title: str | None
    published: datetime | None
    kind: str
    topic: str | None
    score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None
    dense_score: float | None = None
    """Cosine similarity to the query, when the chunk was among the dense candidates."""
    bm25_score: float | None = None
    """BM25 score, when the chunk was among the BM25 candidates."""
    fusion: tuple[float, float, int] | None = None
    """The hybrid fusion that ranked it: (dense weight, BM25 weight, RRF k); None otherwise.
    It changes with the query when BM25's ranking is flat (`retrievers.config.is_flat`)."""

    def metadata(self) -> dict[str, Any]:
        """The passage's fields but its text, as a LangChain Document's metadata."""
        return {
            "chunk_id": self.chunk_id,
            "item_id": self.item_id,
            "source": self.source,
            "title": self.title,
            "published": self.published.isoformat() if self.published else None,
            "kind": self.kind,
            "topic": self.topic,
            "score": self.score,
            "dense_rank": self.dense_rank,
            "bm25_rank": self.bm25_rank,
            "dense_score": self.dense_score,
            "bm25_score": self.bm25_score,
            "fusion": self.fusion,
        }


def allowed_ids(con: duckdb.DuckDBPyConnection, filters: RetrievalFilters) -> np.ndarray:
    """Ids of the chunks that pass the filters, ascending."""
    condition, params = filters.where()
    result = con.execute(
        "SELECT c.id FROM silver_chunks c JOIN bronze_items b ON b.id = c.item_id"
        f" JOIN sources s ON s.id = b.source_id WHERE {condition} ORDER BY c.id",
        params,
    ).fetchnumpy()
    return np.asarray(result["id"], dtype=np.int64)


def passages(con: duckdb.DuckDBPyConnection, ids: list[int]) -> dict[int, Passage]:
    """The chunks with these ids and their items' provenance, by id (scores left at 0)."""
    if not ids:
        return {}
    # Two lookups by literal id lists: DuckDB reads only the rows it needs, where a join
    # would scan the items table.
    chunks = con.execute(
        "SELECT id, item_id, text, published FROM silver_chunks"
        f" WHERE id IN ({', '.join(str(int(i)) for i in ids)})"
    ).fetchall()
    if not chunks:
        return {}
    rows = con.execute(
        "SELECT b.id, b.url, b.title, b.published, s.kind,"
        " coalesce(json_extract_string(b.metadata, '$.topic'), s.topic)"
        " FROM bronze_items b JOIN sources s ON s.id = b.source_id"
        f" WHERE b.id IN ({', '.join(str(int(c[1])) for c in chunks)})"
    ).fetchall()
    items = {int(r[0]): r[1:] for r in rows}
    found = {}
    for chunk_id, item_id, text, published in chunks:
        url, title, item_published, kind, topic = items[int(item_id)]
        when = published or item_published
        found[int(chunk_id)] = Passage(
            int(chunk_id), int(item_id), text, url, title, when, kind, topic, score=0.0
        )
    return found


class LakeSearch:
    """Searches over one lake and its index; safe to share between threads."""

    def __init__(
        self,
        lake: LakeSettings,
        settings: RetrievalSettings | None = None,
        embedder: Embedder | None = None,
        embedder_factory: Callable[[], Embedder] | None = None,
    ) -> None:
        self.lake = lake
        self.settings = settings or RetrievalSettings()
        self.reader = LakeReader(lake)
        self._embedder = embedder
        self._embedder_factory = embedder_factory
        self._index: VectorIndex | None = None
        self._index_stamp: float | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        """The query embedder, made on first use (BM25-only search never needs one)."""
        with self._lock:
            if self._embedder is None:
                if self._embedder_factory is None:
                    raise IndexNotReady("dense retrieval and MMR need an embedding model")
                self._embedder = self._embedder_factory()
            return self._embedder

    def vector_index(self) -> VectorIndex | None:
        """The saved FAISS index, reloaded when its manifest changes on disk."""
        manifest = index_dir(self.lake) / MANIFEST
        stamp = manifest.stat().st_mtime_ns if manifest.exists() else None
        with self._lock:
            if stamp != self._index_stamp:
                self._index = VectorIndex.load(index_dir(self.lake)) if stamp else None
                self._index_stamp = stamp
            return self._index

    def search(
        self,
        query: str,
        k: int = 4,
        mode: Mode = "hybrid",
        filters: RetrievalFilters | None = None,
        mmr: bool = False,
    ) -> list[Passage]:
        """The k best passages for `query`; an empty list for an empty lake or query."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if k <= 0 or not query.strip() or not self.lake.db_path.exists():
            return []
        retrying = Retrying(
            retry=retry_if_exception_type(LakeBusy),
            stop=stop_after_delay(self.lake.busy_timeout),
            wait=wait_exponential(multiplier=0.05, max=1.0),
            reraise=True,
        )
        for attempt in retrying:
            with attempt, self.reader.session() as con:
                return self._search(con, query, k, mode, filters or RetrievalFilters(), mmr)
        return []  # unreachable: Retrying either returns or raises

    def _search(
        self,
        con: duckdb.DuckDBPyConnection,
        query: str,
        k: int,
        mode: Mode,
        filters: RetrievalFilters,
        mmr: bool,
    ) -> list[Passage]:
        memo = self.reader.memo
        if "tables" not in memo:
            memo["tables"] = embedding_store.tables(con)
            memo["lake_id"] = embedding_store.lake_id(con)
            memo["bm25"] = bm25.exists(con) and "postings" in memo["tables"]
        if "silver_chunks" not in memo["tables"]:
            return []
        allowed = None if filters.empty else allowed_ids(con, filters)
        if allowed is not None and len(allowed) == 0:
            return []
        # Candidates beyond k cost little, and cover chunks pruned since the last sync
        # (both indexes are snapshots; passages() skips what the lake no longer has).
        wanted = max(self.settings.candidates, k + STALE_SLACK)
        query_vector = None
        dense: list[tuple[int, float]] = []
        if mode != "bm25":
            query_vector, dense = self._dense(con, query, wanted, allowed)
        lexical = (
            bm25.search(con, query, wanted, filters, checked=True)
            if mode != "dense" and memo["bm25"]
            else []
        )
        dense_rank = {i: r for r, (i, _) in enumerate(dense, start=1)}
        bm25_rank = {i: r for r, (i, _) in enumerate(lexical, start=1)}
        dense_score, bm25_score = dict(dense), dict(lexical)
        used: tuple[float, float, int] | None = None
        if mode == "hybrid":
            fusion = self.settings.fusion([score for _, score in lexical], query)
            ranked = reciprocal_rank_fusion(
                [[i for i, _ in dense], [i for i, _ in lexical]],
                [fusion.dense_weight, fusion.bm25_weight],
                fusion.rrf_k,
            )
            used = (fusion.dense_weight, fusion.bm25_weight, fusion.rrf_k)
        else:
            ranked = dense if mode == "dense" else lexical
        if mmr and ranked:
            if query_vector is None:
                query_vector = self.embedder.embed_query(query)
            candidates = [i for i, _ in ranked]
            ids, vectors = embedding_store.vectors(
                con, self.embedder.model, np.asarray(candidates, dtype=np.int64)
            )
            order = {int(i): n for n, i in enumerate(ids)}
            kept = [i for i in candidates if i in order]
            picked = mmr_order(
                query_vector, kept, vectors[[order[i] for i in kept]], k, self.settings.mmr_lambda
            )
            scores = dict(ranked)
            ranked = [(i, scores[i]) for i in picked]
        found = passages(con, [i for i, _ in ranked[: k + STALE_SLACK]])
        results: list[Passage] = []
        for chunk_id, score in ranked[: k + STALE_SLACK]:
            if len(results) == k:
                break
            passage = found.get(chunk_id)
            if passage is None:
                continue  # pruned since the index was synced
            passage.score = score
            passage.dense_rank = dense_rank.get(chunk_id)
            passage.bm25_rank = bm25_rank.get(chunk_id)
            passage.dense_score = dense_score.get(chunk_id)
            passage.bm25_score = bm25_score.get(chunk_id)
            passage.fusion = used
            results.append(passage)
        return results

    def _dense(
        self, con: duckdb.DuckDBPyConnection, query: str, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray | None, list[tuple[int, float]]]:
        index = self.vector_index()
        if index is None:
            row = con.execute("SELECT count(*) FROM silver_chunks").fetchone()
            if row and row[0]:
                raise IndexNotReady(
                    f"the lake has {row[0]} chunks but no vector index: run `terraqore lake index`"
                )
            return None, []
        embedder = self.embedder
        manifest = index.manifest
        if manifest.embedding_model != embedder.model:
            raise IndexNotReady(
                f"the index was built with {manifest.embedding_model}, the retriever embeds "
                f"with {embedder.model}: run `terraqore lake index`"
            )
        if manifest.lake_id != self.reader.memo["lake_id"]:
            raise IndexNotReady("the index belongs to another lake: run `terraqore lake index`")
        if "newest_chunk" not in self.reader.memo:
            row = con.execute("SELECT coalesce(max(id), 0) FROM silver_chunks").fetchone()
            self.reader.memo["newest_chunk"] = newest = int(row[0]) if row else 0
            if newest > manifest.last_chunk_id:
                log.warning(
                    "the vector index lags the lake (chunks after %d are not in it): "
                    "run `terraqore lake index`",
                    manifest.last_chunk_id,
                )
        query_vector = embedder.embed_query(query)
        hits = index.search(query_vector, k, self.settings, allowed)
        if allowed is not None and len(hits) < min(k, len(allowed)) and manifest.kind != "flat":
            hits = _exact(con, embedder.model, query_vector, allowed, k)
        return query_vector, hits


def _exact(
    con: duckdb.DuckDBPyConnection, model: str, query: np.ndarray, allowed: np.ndarray, k: int
) -> list[tuple[int, float]]:
    """Exact search over the allowed chunks (an ANN index can miss under a tight filter)."""
    ids, vectors = embedding_store.vectors(con, model, allowed)
    if not len(ids):
        return []
    scores = vectors @ query
    top = np.argsort(-scores)[:k]
    return [(int(ids[i]), float(scores[i])) for i in top]
