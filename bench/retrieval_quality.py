"""Retrieval quality and indexing speed on the Wikipedia vital-articles corpus.

Known-item search: each article's Wikidata description is a query and the article is
the one right answer. Chunks are ranked, then folded to articles (an article's best
chunk counts), and recall@1/5/10 and MRR@10 are computed for BM25, dense and hybrid.

The three modes run through `LakeSearch` as a retriever would. Fusion variants (other
weights and RRF constants) are re-fused offline from the same dense and BM25 candidate
lists; they are chosen on the even-numbered queries and reported on the odd ones too,
so a tuned figure is never only measured on the queries it was tuned on. The hybrid
mode runs with the model's default fusion (`retrievers.config.FUSION_BY_MODEL`), which
was chosen that way: its honest figure is the one on the odd queries.

Indexing speed is measured in the same run: chunks per second embedded through the
server's `/api/embed`, and seconds to build the BM25 and FAISS indexes.

Usage: python bench/retrieval_quality.py [--models all-minilm nomic-embed-text]
       [--articles N] [--queries N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import ollama

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lake.bronze import Source, write_batch
from lake.config import LakeSettings
from lake.database import connect
from lake.knowledge_base import vital_articles
from lake.silver import promote
from retrievers.config import RetrievalSettings
from retrievers.embedder import ServerEmbedder
from retrievers.fusion import reciprocal_rank_fusion
from retrievers.hybrid import LakeSearch
from retrievers.indexer import SyncReport, embed_pending, sync_index
from tests.server_harness import start_server

CANDIDATES = 50
WEIGHTS = [(1.0, 1.0), (1.5, 1.0), (2.0, 1.0), (3.0, 1.0), (1.0, 1.5), (1.0, 2.0)]
VARIANTS = [(dw, bw, k) for dw, bw in WEIGHTS for k in (10, 30, 60)]


class PrecomputedQueries:
    """Query vectors embedded in one batch up front, so the search loop times search only."""

    def __init__(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        self.model = model
        self.vectors = vectors

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("the chunks are embedded already")

    def embed_query(self, text: str) -> np.ndarray:
        return self.vectors[text]


def metrics(ranks: list[int | None]) -> dict[str, float]:
    """recall@1/5/10 and MRR@10 from the gold article's rank (1-based; None if not in 10)."""
    n = len(ranks)
    return {
        "recall@1": sum(r is not None and r <= 1 for r in ranks) / n,
        "recall@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "recall@10": sum(r is not None and r <= 10 for r in ranks) / n,
        "mrr@10": sum(1 / r for r in ranks if r is not None and r <= 10) / n,
    }


def gold_rank(chunk_ids: list[int], chunk_item: dict[int, str], gold: str) -> int | None:
    """Rank of the gold article among the distinct articles of a chunk ranking."""
    seen: list[str] = []
    for chunk in chunk_ids:
        item = chunk_item[chunk]
        if item not in seen:
            seen.append(item)
            if item == gold:
                return len(seen)
        if len(seen) >= 10:
            break
    return None


def build_lake(articles: int | None) -> tuple[LakeSettings, dict[int, str], dict[str, str]]:
    """The corpus in a fresh lake; (lake, chunk id → article url, url → description)."""
    items = vital_articles(articles)
    lake = LakeSettings(home=Path(tempfile.mkdtemp(prefix="tq-quality-")))
    con = connect(lake)
    try:
        write_batch(con, Source("dataset", "bench:vital", "wikipedia"), items)
        promote(con, lake)
        chunk_item = {
            int(i): str(u)
            for i, u in con.execute(
                "SELECT c.id, b.url FROM silver_chunks c JOIN bronze_items b ON b.id = c.item_id"
            ).fetchall()
        }
    finally:
        con.close()
    in_silver = set(chunk_item.values())
    described = {
        i.url: str(i.metadata["description"])
        for i in items
        if i.metadata.get("description") and i.url in in_silver
    }
    return lake, chunk_item, described


def embed_and_index(
    lake: LakeSettings, settings: RetrievalSettings, embedder: ServerEmbedder
) -> tuple[int, float, SyncReport, float]:
    """Embed the lake's new chunks, then sync the indexes: (embedded, seconds, report, seconds)."""
    embedder.embed_documents(["warm up"])
    con = connect(lake)
    try:
        start = time.perf_counter()
        embedded = embed_pending(con, settings, embedder)
        embed_s = time.perf_counter() - start
    finally:
        con.close()
    start = time.perf_counter()
    report = sync_index(lake, settings, embedder)
    return embedded, embed_s, report, time.perf_counter() - start


def evaluate_model(
    model: str,
    lake: LakeSettings,
    chunk_item: dict[int, str],
    queries: list[tuple[str, str]],
    client: ollama.Client,
) -> dict[str, object]:
    """Index the lake with one embedding model and score every mode on every query."""
    settings = RetrievalSettings(embedding_model=model)
    embedder = ServerEmbedder(client, model)
    embedded, embed_s, report, index_s = embed_and_index(lake, settings, embedder)
    print(f"{model}: embedded {embedded} chunks in {embed_s:.0f} s; indexes in {index_s:.1f} s")
    texts = [q for _, q in queries]
    start = time.perf_counter()
    vectors = np.concatenate(
        [embedder.embed_queries(texts[i : i + 64]) for i in range(0, len(texts), 64)]
    )
    query_embed_s = time.perf_counter() - start
    precomputed = PrecomputedQueries(model, dict(zip(texts, vectors, strict=True)))
    search = LakeSearch(lake, settings, precomputed)
    ranks: dict[str, list[int | None]] = {"bm25": [], "dense": [], "hybrid": []}
    lists: list[tuple[list[int], list[int]]] = []
    for gold, query in queries:
        per_mode = {}
        for mode in ("dense", "bm25"):
            found = search.search(query, CANDIDATES, mode)
            per_mode[mode] = [p.chunk_id for p in found]
        hybrid = [p.chunk_id for p in search.search(query, 20, "hybrid")]
        lists.append((per_mode["dense"], per_mode["bm25"]))
        ranks["dense"].append(gold_rank(per_mode["dense"], chunk_item, gold))
        ranks["bm25"].append(gold_rank(per_mode["bm25"], chunk_item, gold))
        ranks["hybrid"].append(gold_rank(hybrid, chunk_item, gold))
    result: dict[str, object] = {
        "chunks": report.chunks,
        "index_kind": report.kind,
        "embed_chunks_per_s": embedded / embed_s if embed_s else None,
        "index_build_s": index_s,
        "query_embed_per_s": len(texts) / query_embed_s,
        "fusion": settings.fusion()._asdict(),
        "modes": {mode: metrics(r) for mode, r in ranks.items()},
    }
    result["ann"] = ann_recall(model, lake, chunk_item, queries, precomputed, lists, embedder)
    variants = {}
    for dense_weight, bm25_weight, rrf_k in VARIANTS:
        fused_ranks = [
            gold_rank(
                [i for i, _ in reciprocal_rank_fusion([d, b], [dense_weight, bm25_weight], rrf_k)],
                chunk_item,
                gold,
            )
            for (d, b), (gold, _) in zip(lists, queries, strict=True)
        ]
        variants[f"dense*{dense_weight:g} bm25*{bm25_weight:g} k={rrf_k}"] = {
            "all": metrics(fused_ranks),
            "dev (even)": metrics(fused_ranks[0::2]),
            "test (odd)": metrics(fused_ranks[1::2]),
        }
    best = max(variants, key=lambda v: variants[v]["dev (even)"]["mrr@10"])
    result["fusion_variants"] = variants
    result["best_on_dev"] = {"variant": best, "test (odd)": variants[best]["test (odd)"]}
    result["modes_on_test (odd)"] = {mode: metrics(r[1::2]) for mode, r in ranks.items()}
    return result


def ann_recall(
    model: str,
    lake: LakeSettings,
    chunk_item: dict[int, str],
    queries: list[tuple[str, str]],
    precomputed: PrecomputedQueries,
    lists: list[tuple[list[int], list[int]]],
    embedder: ServerEmbedder,
) -> dict[str, object]:
    """Dense quality and overlap with exact search when the same vectors sit in IVF or HNSW."""
    out: dict[str, object] = {}
    for kind in ("ivf", "hnsw"):
        settings = RetrievalSettings(embedding_model=model, flat_max_chunks=0, ann_kind=kind)
        start = time.perf_counter()
        report = sync_index(lake, settings, embedder)
        build_s = time.perf_counter() - start
        search = LakeSearch(lake, settings, precomputed)
        ranks, overlap = [], []
        for (gold, query), (flat, _) in zip(queries, lists, strict=True):
            found = [p.chunk_id for p in search.search(query, 10, "dense")]
            ranks.append(gold_rank(found, chunk_item, gold))
            overlap.append(len(set(found) & set(flat[:10])) / 10)
        out[kind] = {
            "build_s": build_s,
            "kind": report.kind,
            "overlap@10_with_exact": sum(overlap) / len(overlap),
            **metrics(ranks),
        }
    sync_index(lake, RetrievalSettings(embedding_model=model), embedder)  # back to exact
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=["all-minilm"])
    parser.add_argument("--articles", type=int, default=None)
    parser.add_argument("--queries", type=int, default=None)
    args = parser.parse_args()
    lake, chunk_item, described = build_lake(args.articles)
    rng = np.random.default_rng(11)
    golds = sorted(described)
    order = rng.permutation(len(golds))[: args.queries or len(golds)]
    queries = [(golds[i], described[golds[i]]) for i in order]
    result: dict[str, object] = {
        "articles": args.articles or "all",
        "chunks": len(chunk_item),
        "queries": len(queries),
    }
    srv = start_server(Path(tempfile.mkdtemp(prefix="tq-quality-srv-")))
    try:
        client = ollama.Client(host=srv.url, timeout=600)
        for model in args.models:
            result[model] = evaluate_model(model, lake, chunk_item, queries, client)
            print(json.dumps(result[model]["modes"], indent=2), flush=True)
    finally:
        srv.stop()
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    name = "retrieval_quality" + ("" if args.articles is None else f"_{args.articles}")
    (out / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
