"""Retrieval latency at 10k and 100k chunks: p50 and p95 of dense, BM25 and hybrid.

A synthetic lake per size: chunk texts are pairs of Wikipedia vital-article leads (so
BM25 sees real vocabulary), vectors are random 384-dimensional rows written straight
into `chunk_embeddings` (latency does not depend on what the vectors mean). Queries are
vital-article descriptions with random query vectors, so no embedding model runs in the
timed path; the time to embed a query on the server is measured on its own.

Every search is timed end to end as the retriever runs it: the encrypted lake attached
read-only (a retriever keeps it attached while searches keep coming), search, fetch the
passages and their provenance.

Baselines in the same run, on the same lake and queries: DuckDB's own `match_bm25`
(top k by one SQL query over the full-text index), against which our postings-table
BM25 is a ratio, and the FAISS search alone, against which end-to-end dense search is a
ratio (what reading the passages and provenance adds).

Usage: python bench/retrieval_latency.py [--sizes 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lake.bronze import Source, write_batch
from lake.config import LakeSettings
from lake.database import LakeReader, bulk_load, connect
from lake.knowledge_base import vital_articles
from retrievers import bm25
from retrievers.config import RetrievalSettings
from retrievers.embedder import normalise
from retrievers.hybrid import LakeSearch, Mode
from retrievers.indexer import sync_index
from retrievers.vector_index import VectorIndex, index_dir

DIM = 384
MODEL = "synthetic-384"


class RandomEmbedder:
    """Random unit vectors: the index cannot tell them from a model's."""

    model = MODEL

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("every chunk was given a vector up front")

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = normalise(self.rng.standard_normal((1, DIM)))[0]
        return vector


def build_lake(home: Path, size: int, leads: list[str]) -> LakeSettings:
    """One source, `size` items, one chunk each, and a random vector per chunk."""
    settings = LakeSettings(home=home)
    con = connect(settings)
    try:
        source = write_batch(con, Source("dataset", "bench:synthetic", "bench"), []).source_id
        n = len(leads)
        rows = [
            (
                i + 1,
                source,
                f"bench://{i}",
                f"Doc {i}",
                leads[(i * 7919) % n][:700] + " " + leads[(i * 104729 + 13) % n][:500],
            )
            for i in range(size)
        ]
        bulk_load(
            con,
            "docs",
            {
                "id": "BIGINT",
                "source": "BIGINT",
                "url": "VARCHAR",
                "title": "VARCHAR",
                "text": "VARCHAR",
            },
            rows,
        )
        con.execute(
            "INSERT INTO bronze_items (id, source_id, url, title, raw, content_hash, state)"
            " SELECT id, source, url, title, text, md5(url), 'silver' FROM docs"
        )
        con.execute(
            "INSERT INTO silver_chunks (id, item_id, ordinal, text, tokens)"
            " SELECT id, id, 0, text, 250 FROM docs"
        )
        con.execute(
            f"INSERT INTO chunk_embeddings (chunk_id, model, dim, vector) SELECT id, '{MODEL}',"
            f" {DIM}, [random()::FLOAT - 0.5 FOR x IN range({DIM})] FROM docs"
        )
    finally:
        con.close()
    return settings


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))] * 1000,
    }


def time_modes(search: LakeSearch, queries: list[str], k: int) -> dict[str, dict[str, float]]:
    """Latency per mode, modes interleaved query by query so drift hits them alike."""
    samples: dict[str, list[float]] = {"dense": [], "bm25": [], "hybrid": []}
    modes: tuple[Mode, ...] = ("dense", "bm25", "hybrid")
    for query in queries[:5]:  # warm the page cache and the index
        for mode in modes:
            search.search(query, k, mode)
    for query in queries:
        for mode in modes:
            start = time.perf_counter()
            found = search.search(query, k, mode)
            samples[mode].append(time.perf_counter() - start)
            assert found or mode == "bm25"
    return {mode: percentiles(s) for mode, s in samples.items()}


def time_baselines(
    lake: LakeSettings, settings: RetrievalSettings, queries: list[str], k: int
) -> dict[str, dict[str, float]]:
    """DuckDB's `match_bm25` top k, and the FAISS search alone, on the same lake."""
    index = VectorIndex.load(index_dir(lake))
    assert index is not None
    embedder = RandomEmbedder(1)
    reader = LakeReader(lake)
    samples: dict[str, list[float]] = {"match_bm25": [], "faiss_only": []}
    try:
        with reader.session() as con:
            for query in queries[:5]:
                bm25.reference_search(con, query, k)
            for query in queries:
                start = time.perf_counter()
                bm25.reference_search(con, query, k)
                samples["match_bm25"].append(time.perf_counter() - start)
                vector = embedder.embed_query(query)
                start = time.perf_counter()
                index.search(vector, k, settings, None)
                samples["faiss_only"].append(time.perf_counter() - start)
    finally:
        reader.close()
    return {name: percentiles(s) for name, s in samples.items()}


def ratios(timed: dict[str, dict[str, float]]) -> dict[str, float]:
    """Our BM25 against `match_bm25`, end-to-end dense against FAISS alone (p50 over p50)."""
    return {
        "bm25 / match_bm25": timed["bm25"]["p50_ms"] / timed["match_bm25"]["p50_ms"],
        "dense / faiss_only": timed["dense"]["p50_ms"] / timed["faiss_only"]["p50_ms"],
    }


def run_size(size: int, leads: list[str], queries: list[str], k: int) -> dict[str, object]:
    """Build one lake, index it flat and with the ANN index, and time the searches."""
    home = Path(tempfile.mkdtemp(prefix=f"tq-retrieval-{size}-"))
    start = time.perf_counter()
    lake = build_lake(home, size, leads)
    build_s = time.perf_counter() - start
    result: dict[str, object] = {"chunks": size, "lake_build_s": build_s}
    kinds = {
        "flat": RetrievalSettings(embedding_model=MODEL, flat_max_chunks=10**9),
        "ivf": RetrievalSettings(embedding_model=MODEL, flat_max_chunks=0, ann_kind="ivf"),
        "hnsw": RetrievalSettings(embedding_model=MODEL, flat_max_chunks=0, ann_kind="hnsw"),
    }
    for name, settings in kinds.items():
        start = time.perf_counter()
        report = sync_index(lake, settings, RandomEmbedder(), rebuild=True)
        index_s = time.perf_counter() - start
        assert report.kind == name and report.chunks == size, report
        search = LakeSearch(lake, settings, RandomEmbedder(1))
        timed = {**time_modes(search, queries, k), **time_baselines(lake, settings, queries, k)}
        result[name] = {
            "index_s": index_s,
            "fts_refreshed": report.fts_refreshed,
            **timed,
            "ratios": ratios(timed),
        }
        print(f"{size} {name}: {json.dumps(result[name])}", flush=True)
    return result


def query_embedding_latency(queries: list[str]) -> dict[str, dict[str, float]]:
    """Time to embed one query on the real server, per embedding model."""
    import ollama

    from retrievers.embedder import ServerEmbedder
    from tests.server_harness import start_server

    srv = start_server(Path(tempfile.mkdtemp(prefix="tq-retrieval-srv-")))
    try:
        out = {}
        for model in ("all-minilm", "nomic-embed-text"):
            embedder = ServerEmbedder(ollama.Client(host=srv.url), model)
            embedder.embed_query("warm up")
            samples = []
            for query in queries[:50]:
                start = time.perf_counter()
                embedder.embed_query(query)
                samples.append(time.perf_counter() - start)
            out[model] = percentiles(samples)
        return out
    finally:
        srv.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    articles = vital_articles()
    leads = [a.raw for a in articles]
    rng = np.random.default_rng(7)
    described = [str(a.metadata["description"]) for a in articles if a.metadata.get("description")]
    queries = [described[i] for i in rng.permutation(len(described))[: args.queries]]
    result: dict[str, object] = {"queries": len(queries), "k": args.k}
    for size in args.sizes:
        result[str(size)] = run_size(size, leads, queries, args.k)
    result["query_embedding"] = query_embedding_latency(queries)
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    (out / "retrieval_latency.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
