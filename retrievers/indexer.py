"""Keep the retrieval indexes in step with the lake: embed new chunks, update FAISS and BM25.

Run it after an ingest or a prune (the CLI does). It embeds chunks that have no vector
yet, in batches through the server, and stores each batch in the lake before the next;
an interrupted run resumes where it stopped. The FAISS index is then updated in place
(added to, removed from), or rebuilt from the stored vectors when it is missing,
damaged, from another lake, from another embedding model, or of the wrong kind for the
lake's size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import numpy as np

from lake.config import LakeSettings
from lake.database import connect
from retrievers import bm25, embedding_store
from retrievers.config import RetrievalSettings
from retrievers.embedder import Embedder
from retrievers.vector_index import IndexUnreadable, Manifest, VectorIndex, index_dir, kind_for

Progress = Callable[[str, int, int], None]


@dataclass
class SyncReport:
    """What one sync did."""

    embedded: int = 0
    added: int = 0
    removed: int = 0
    rebuilt: str | None = None
    fts_refreshed: bool = False
    chunks: int = 0
    kind: str = ""
    model: str = ""


def stale_reason(
    manifest: Manifest | None, lake_id: str, model: str, dim: int | None, kind: str
) -> str | None:
    """Why an index with this manifest cannot be updated in place, or None if it can."""
    if manifest is None:
        return "no index yet"
    if manifest.lake_id != lake_id:
        return "the index belongs to another lake"
    if manifest.embedding_model != model:
        return f"the embedding model changed ({manifest.embedding_model} → {model})"
    if dim is not None and manifest.dim != dim:
        return f"the vector size changed ({manifest.dim} → {dim})"
    if manifest.kind != kind:
        return f"the index kind changed ({manifest.kind} → {kind})"
    return None


def embed_pending(
    con: duckdb.DuckDBPyConnection,
    settings: RetrievalSettings,
    embedder: Embedder,
    progress: Progress | None = None,
) -> int:
    """Embed every chunk that has no vector from the model yet; return how many."""
    total = embedding_store.count_pending(con, embedder.model)
    done = 0
    while done < total:
        batch = embedding_store.pending(con, embedder.model, settings.embed_batch)
        if not batch:
            break
        texts = [
            f"{title}\n{text}" if settings.embed_title and title else text
            for _, text, title in batch
        ]
        vectors = embedder.embed_documents(texts)
        embedding_store.write(con, embedder.model, [i for i, _, _ in batch], vectors)
        done += len(batch)
        if progress:
            progress("embedding", done, total)
    return done


def sync_index(
    lake: LakeSettings,
    settings: RetrievalSettings,
    embedder: Embedder,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> SyncReport:
    """Bring the embeddings, the FAISS index and the BM25 index up to date with silver."""
    if embedder.model != settings.embedding_model:
        raise ValueError(
            f"the embedder serves {embedder.model}, the settings name {settings.embedding_model}"
        )
    report = SyncReport(model=embedder.model)
    con = connect(lake)
    try:
        embedding_store.drop_orphans(con)
        report.embedded = embed_pending(con, settings, embedder, progress)
        if not bm25.is_current(con):
            if progress:
                progress("full-text index", 0, 1)
            bm25.refresh(con)
            report.fts_refreshed = True
            if progress:
                progress("full-text index", 1, 1)
        _sync_vectors(con, lake, settings, embedder.model, rebuild, report)
    finally:
        con.close()
    return report


def _sync_vectors(
    con: duckdb.DuckDBPyConnection,
    lake: LakeSettings,
    settings: RetrievalSettings,
    model: str,
    rebuild: bool,
    report: SyncReport,
) -> None:
    folder = index_dir(lake)
    lake_ids = embedding_store.embedded_ids(con, model)
    kind = kind_for(len(lake_ids), settings)
    this_lake = embedding_store.lake_id(con)
    try:
        current = None if rebuild else VectorIndex.load(folder)
    except IndexUnreadable as exc:
        current, report.rebuilt = None, str(exc)
    probe = embedding_store.vectors(con, model, lake_ids[:1])[1]
    dim = int(probe.shape[1]) if len(probe) else None
    reason = "asked to rebuild" if rebuild else report.rebuilt
    reason = reason or stale_reason(
        current.manifest if current else None, this_lake, model, dim, kind
    )
    if current is not None and reason is None:
        gone = np.setdiff1d(current.ids, lake_ids)
        new = np.setdiff1d(lake_ids, current.ids)
        if current.remove(gone):
            ids, vectors = embedding_store.vectors(con, model, new)
            current.add(ids, vectors)
            report.added, report.removed = len(ids), len(gone)
            if len(ids) or len(gone):
                current.save(folder)
            report.chunks, report.kind = len(current.ids), current.manifest.kind
            return
        reason = f"the {current.manifest.kind} index cannot remove chunks"
    ids, vectors = embedding_store.vectors(con, model)
    manifest = Manifest(
        lake_id=this_lake,
        embedding_model=model,
        dim=int(vectors.shape[1]) if len(ids) else 0,
        kind=kind,
    )
    built = VectorIndex.build(ids, vectors, manifest, settings) if len(ids) else None
    if built is None:
        report.rebuilt, report.chunks, report.kind = reason, 0, kind
        for old in folder.glob("*") if folder.is_dir() else []:
            old.unlink()
        return
    built.save(folder)
    report.rebuilt, report.added, report.chunks, report.kind = reason, len(ids), len(ids), kind
