"""Retrieval on a real lake: real DuckDB (fts), real FAISS, real all-MiniLM through the server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import ollama
import pytest
from typer.testing import CliRunner

from lake.bronze import RawItem, Source, write_batch
from lake.config import LakeSettings
from lake.database import LakeBusy, LakeReader, connect
from lake.knowledge_base import seed, vital_articles
from lake.maintenance import add_source, prune
from lake.silver import promote
from retrievers import (
    IndexNotReady,
    LakeSearch,
    RetrievalSettings,
    bm25,
    lake_retriever,
    sync_index,
)
from retrievers.config import FORM_FUSION_BY_MODEL, FUSION_BY_MODEL
from retrievers.embedder import ServerEmbedder
from retrievers.filters import RetrievalFilters
from retrievers.vector_index import Manifest, index_dir
from terraqore.app.cli import app
from tests.server_harness import EMBED, RunningServer, guarded_cli

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = 300
NEWS = "https://news.test/feed.xml"
DATED = {
    datetime(2024, 3, 1): "Volcanologists measured sulphur dioxide plumes rising from the crater "
    "of an island volcano after weeks of small earthquakes and glowing lava fountains. ",
    datetime(2025, 6, 1): "A chess grandmaster sacrificed both rooks in the endgame and forced "
    "checkmate with a knight and bishop, stunning the commentators of the tournament. ",
    datetime(2026, 9, 1): "Beekeepers reported that honeybee colonies survived the mild winter, "
    "and the spring harvest of clover honey was the largest in a decade. ",
}
META_KEYS = {"chunk_id", "item_id", "source", "title", "published", "score"}


def embedder(server: RunningServer, model: str = EMBED) -> ServerEmbedder:
    return ServerEmbedder(ollama.Client(host=server.url), model)


def add_news(settings: LakeSettings) -> None:
    items = [
        RawItem(
            url=f"https://news.test/{d.year}", title=f"News {d.year}", raw=text * 3, published=d
        )
        for d, text in DATED.items()
    ]
    con = connect(settings)
    try:
        write_batch(con, Source("feed", NEWS, "news"), items)
        promote(con, settings)
    finally:
        con.close()


def silver_ids(settings: LakeSettings) -> set[int]:
    con = connect(settings)
    try:
        return {int(r[0]) for r in con.execute("SELECT id FROM silver_chunks").fetchall()}
    finally:
        con.close()


@pytest.fixture(scope="module", autouse=True)
def use_test_server(server: RunningServer) -> Iterator[None]:
    """Retrievers made without an embedder reach the test server, never one on :11434."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TERRAQORE_OLLAMA_HOST", server.url)
        yield


@pytest.fixture(scope="module")
def lake(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakeSettings]:
    """A lake of this project's docs, 300 vital articles and three dated news items, indexed."""
    settings = LakeSettings(home=tmp_path_factory.mktemp("retrieval") / "home")
    seed(settings, ROOT, articles=ARTICLES)
    add_news(settings)
    report = sync_index(settings, RetrievalSettings(), embedder(server))
    assert report.rebuilt == "no index yet" and report.fts_refreshed
    yield settings


def test_index_covers_the_lake_and_a_second_sync_is_a_no_op(
    lake: LakeSettings, server: RunningServer
) -> None:
    manifest = Manifest.read(index_dir(lake))
    ids = silver_ids(lake)
    assert manifest is not None and manifest.chunk_count == len(ids) > ARTICLES
    assert manifest.last_chunk_id == max(ids) and manifest.kind == "flat"
    assert manifest.embedding_model == EMBED and manifest.dim == 384
    con = connect(lake)
    try:
        row = con.execute(
            "SELECT count(*), min(dim), max(dim) FROM chunk_embeddings WHERE model = ?", [EMBED]
        ).fetchone()
    finally:
        con.close()
    assert row == (len(ids), 384, 384)  # stored in the lake, beside the chunks
    again = sync_index(lake, RetrievalSettings(), embedder(server))
    assert (again.embedded, again.added, again.removed, again.rebuilt) == (0, 0, 0, None)
    assert not again.fts_refreshed


def test_retriever_contract(lake: LakeSettings) -> None:
    for mode in ("hybrid", "dense", "bm25"):
        for k in (1, 3, 7):
            docs = lake_retriever(k=k, mode=mode, lake=lake).invoke("ancient Greek philosophy")
            assert len(docs) == k, (mode, k)
            assert len({d.metadata["chunk_id"] for d in docs}) == k
            scores = [d.metadata["score"] for d in docs]
            assert scores == sorted(scores, reverse=True)
            for d in docs:
                assert set(d.metadata) >= META_KEYS and d.page_content.strip()
                assert d.metadata["source"] and d.metadata["title"]
    con = connect(lake)
    try:
        urls = dict(con.execute("SELECT id, url FROM bronze_items").fetchall())
    finally:
        con.close()
    doc = lake_retriever(k=1, lake=lake).invoke("lighthouse keeper log book")[0]
    assert doc.metadata["source"] == urls[doc.metadata["item_id"]]


def test_known_items_are_found(lake: LakeSettings) -> None:
    """Each vital article's Wikidata description should retrieve the article itself."""
    probes = [a for a in vital_articles(ARTICLES, spread=True) if a.metadata.get("description")][
        ::15
    ][:20]
    hits = {"hybrid": 0, "dense": 0, "bm25": 0}
    for article in probes:
        for mode in hits:
            docs = lake_retriever(k=10, mode=mode, lake=lake).invoke(
                article.metadata["description"]
            )
            hits[mode] += any(d.metadata["source"] == article.url for d in docs)
    recall = {mode: n / len(probes) for mode, n in hits.items()}
    assert recall["dense"] >= 0.5 and recall["hybrid"] >= 0.5, recall
    assert recall["bm25"] > 0, recall


def test_hybrid_scores_are_the_fused_ranks(lake: LakeSettings) -> None:
    fusion = RetrievalSettings().fusion()
    assert fusion == FUSION_BY_MODEL["all-minilm"]
    query = "volcano lava earthquakes"
    docs = lake_retriever(k=8, mode="hybrid", lake=lake).invoke(query)
    # The fusion for the query's form (keywords here).
    used = {d.metadata["fusion"] for d in docs}
    assert used == {tuple(FORM_FUSION_BY_MODEL["all-minilm"]["keywords"])}
    dense_weight, bm25_weight, rrf_k = used.pop()
    weights = {"dense_rank": dense_weight, "bm25_rank": bm25_weight}
    for d in docs:
        expected = sum(
            weight / (rrf_k + d.metadata[rank])
            for rank, weight in weights.items()
            if d.metadata[rank] is not None
        )
        assert d.metadata["score"] == pytest.approx(expected)
    both = [d for d in docs if d.metadata["dense_rank"] and d.metadata["bm25_rank"]]
    assert both and docs[0].metadata["dense_rank"] and docs[0].metadata["bm25_rank"]
    assert "Volcanologists" in docs[0].page_content


def test_bm25_scores_are_duckdb_match_bm25(lake: LakeSettings) -> None:
    reader = LakeReader(lake)
    try:
        with reader.session() as con:
            for query in ("ancient Greek philosophy", "volcano lava crater", "run the tests"):
                ours = bm25.search(con, query, 10, RetrievalFilters())
                reference = bm25.reference_search(con, query, 10)
                assert len(ours) == len(reference) >= 1
                assert [s for _, s in ours] == pytest.approx([s for _, s in reference])
                assert ours[0][0] == reference[0][0] or ours[0][1] == pytest.approx(ours[1][1])
            assert bm25.search(con, "zqxjv wvkpq", 5, RetrievalFilters()) == []  # unknown words
    finally:
        reader.close()


def test_filters(lake: LakeSettings) -> None:
    query = "news about nature and games"

    def search(**filters: object) -> list[dict[str, object]]:
        docs = lake_retriever(k=10, lake=lake, filters=filters).invoke(query)
        return [d.metadata for d in docs]

    files = search(kind="file")
    assert files and {m["kind"] for m in files} == {"file"}
    news = search(kind=["feed"])
    assert {m["title"] for m in news} == {"News 2024", "News 2025", "News 2026"}
    assert {m["title"] for m in search(topic="news", since="2025-01-01")} == {
        "News 2025",
        "News 2026",
    }
    assert {m["title"] for m in search(kind="feed", until="2025-01-01")} == {"News 2024"}
    window = search(since="2025-05-01", until="2025-07-01")
    assert [m["title"] for m in window] == ["News 2025"]
    assert window[0]["published"] == "2025-06-01T00:00:00"
    topic = vital_articles(ARTICLES, spread=True)[0].metadata["topic"]
    by_topic = search(topic=topic)
    assert by_topic and all(m["topic"] == topic for m in by_topic)
    assert search(kind="nothing-of-this-kind") == []
    for mode in ("dense", "bm25"):
        retriever = lake_retriever(k=5, mode=mode, lake=lake, filters={"kind": "feed"})
        docs = retriever.invoke("honey from bee colonies")
        assert docs and {d.metadata["kind"] for d in docs} == {"feed"}
    with pytest.raises(ValueError):
        lake_retriever(lake=lake, filters={"colour": "red"})


def test_mmr_spreads_the_results(lake: LakeSettings, server: RunningServer) -> None:
    query = "the lighthouse on the island"
    plain = lake_retriever(k=5, lake=lake, mode="dense").invoke(query)
    diverse = lake_retriever(k=5, lake=lake, mode="dense", mmr=True).invoke(query)
    assert len(diverse) == 5 and diverse[0].metadata["chunk_id"] == plain[0].metadata["chunk_id"]

    def mean_similarity(docs: list) -> float:  # type: ignore[type-arg]
        vectors = embedder(server).embed_documents([d.page_content for d in docs])
        sims = vectors @ vectors.T
        return float(sims[np.triu_indices(len(docs), 1)].mean())

    assert mean_similarity(diverse) < mean_similarity(plain)


def test_retrieval_is_read_only_and_lets_an_ingest_write(lake: LakeSettings) -> None:
    before = lake.db_path.stat()
    search = LakeSearch(lake, RetrievalSettings(), embedder=None)
    assert search.search("volcano", 3, "bm25")
    after = lake.db_path.stat()
    assert (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
    con = connect(lake)  # the searcher holds nothing between searches
    con.close()
    with pytest.raises(IndexNotReady, match="embedding model"):
        search.search("volcano", 3, "dense")  # it was given no embedder


def test_a_writer_in_another_process_makes_the_search_wait_then_fail_clearly(
    lake: LakeSettings,
) -> None:
    holder = (
        "import sys, time\nfrom pathlib import Path\nfrom lake.config import LakeSettings\n"
        "from lake.database import connect\n"
        f"con = connect(LakeSettings(home=Path({str(lake.home)!r})))\n"
        "print('held', flush=True)\ntime.sleep(30)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        search = LakeSearch(lake.model_copy(update={"busy_timeout": 1.0}))
        with pytest.raises(LakeBusy, match="being written"):
            search.search("volcano", 3, "bm25")
    finally:
        proc.kill()
        proc.wait()
    assert LakeSearch(lake).search("volcano", 3, "bm25")  # free again


def test_a_writer_in_another_process_waits_for_a_lingering_reader(lake: LakeSettings) -> None:
    search = LakeSearch(lake.model_copy(update={"reader_linger": 1.5}))
    assert search.search("volcano", 3, "bm25")  # the lake stays attached for 1.5 s
    writer = (
        "import time\nfrom pathlib import Path\nfrom lake.config import LakeSettings\n"
        "from lake.database import connect\nstart = time.monotonic()\n"
        f"connect(LakeSettings(home=Path({str(lake.home)!r}))).close()\n"
        "print(round(time.monotonic() - start, 2))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", writer], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout) < 10  # it waited for the linger, not for its busy timeout


@pytest.fixture
def small_lake(tmp_path: Path, server: RunningServer) -> LakeSettings:
    settings = LakeSettings(home=tmp_path / "home")
    seed(settings, ROOT, articles=30)
    sync_index(settings, RetrievalSettings(), embedder(server))
    return settings


def test_incremental_add_and_prune(small_lake: LakeSettings, server: RunningServer) -> None:
    settings = RetrievalSettings()
    first = Manifest.read(index_dir(small_lake))
    assert first is not None
    before = silver_ids(small_lake)
    add_news(small_lake)
    new = silver_ids(small_lake) - before
    added = sync_index(small_lake, settings, embedder(server))
    assert added.rebuilt is None and added.embedded == added.added == len(new) > 0
    assert added.fts_refreshed
    grown = Manifest.read(index_dir(small_lake))
    assert grown is not None and grown.built_at == first.built_at  # updated, not rebuilt
    assert grown.chunk_count == first.chunk_count + len(new)
    hit = lake_retriever(k=1, mode="dense", lake=small_lake).invoke("chess endgame checkmate")
    assert hit[0].metadata["chunk_id"] in new
    # Old news goes: a one-day retention drops the three dated items and their chunks.
    add_source(small_lake, NEWS, "news", retention_days=1)
    pruned = prune(small_lake)
    assert pruned["chunks"] == len(new)
    for mode in ("dense", "bm25", "hybrid"):  # before the sync: stale indexes, no pruned chunk
        docs = lake_retriever(k=3, mode=mode, lake=small_lake).invoke("chess endgame checkmate")
        assert not {d.metadata["chunk_id"] for d in docs} & new
        assert len(docs) == 3 or mode == "bm25"  # only the pruned news had these words
    removed = sync_index(small_lake, settings, embedder(server))
    assert removed.rebuilt is None and removed.removed == len(new) and removed.added == 0
    assert removed.fts_refreshed
    for mode in ("dense", "bm25", "hybrid"):
        docs = lake_retriever(k=10, mode=mode, lake=small_lake).invoke("chess endgame checkmate")
        assert not {d.metadata["chunk_id"] for d in docs} & new
    con = connect(small_lake)
    try:
        row = con.execute("SELECT count(*) FROM chunk_embeddings").fetchone()
    finally:
        con.close()
    assert row is not None and row[0] == len(before)


def test_stale_indexes_are_detected_and_rebuilt(
    small_lake: LakeSettings, server: RunningServer, tmp_path: Path
) -> None:
    client = ollama.Client(host=server.url)
    client.copy(EMBED, "minilm-copy")
    other = RetrievalSettings(embedding_model="minilm-copy")
    with pytest.raises(IndexNotReady, match="built with all-minilm"):
        lake_retriever(mode="dense", lake=small_lake, settings=other).invoke("lighthouse")
    report = sync_index(small_lake, other, embedder(server, "minilm-copy"))
    assert report.rebuilt and "embedding model changed" in report.rebuilt
    assert report.embedded == report.chunks == len(silver_ids(small_lake))
    assert lake_retriever(mode="dense", lake=small_lake, settings=other).invoke("lighthouse")
    settings = RetrievalSettings()
    # Back to the first model: its vectors are still in the lake, so nothing is re-embedded.
    back = sync_index(small_lake, settings, embedder(server))
    assert back.rebuilt and back.embedded == 0 and back.chunks == report.chunks
    # Deleting the index loses nothing: it comes back from the stored vectors.
    shutil.rmtree(index_dir(small_lake))
    with pytest.raises(IndexNotReady, match="terraqore lake index"):
        lake_retriever(mode="hybrid", lake=small_lake).invoke("lighthouse")
    regrown = sync_index(small_lake, settings, embedder(server))
    assert regrown.rebuilt == "no index yet" and regrown.embedded == 0
    # A damaged index file, and an index copied from another lake, are rebuilt.
    manifest = Manifest.read(index_dir(small_lake))
    assert manifest is not None
    (index_dir(small_lake) / manifest.index_file).write_bytes(b"\0" * 64)
    assert "cannot be read" in (sync_index(small_lake, settings, embedder(server)).rebuilt or "")
    stranger = LakeSettings(home=tmp_path / "stranger")
    seed(stranger, ROOT, articles=5)
    shutil.copytree(index_dir(small_lake), index_dir(stranger))
    with pytest.raises(IndexNotReady, match="another lake"):
        lake_retriever(mode="dense", lake=stranger).invoke("lighthouse")
    report = sync_index(stranger, settings, embedder(server))
    assert report.rebuilt == "the index belongs to another lake"
    # Past the flat size an ANN index takes over; HNSW cannot delete, so a prune rebuilds it.
    ann = RetrievalSettings(flat_max_chunks=10, ann_kind="hnsw")
    grown = sync_index(small_lake, ann, embedder(server))
    assert grown.kind == "hnsw" and grown.rebuilt and "kind changed" in grown.rebuilt
    assert lake_retriever(k=3, mode="dense", lake=small_lake, settings=ann).invoke("lighthouse")
    add_news(small_lake)
    assert sync_index(small_lake, ann, embedder(server)).rebuilt is None  # adds in place
    add_source(small_lake, NEWS, "news", retention_days=1)
    prune(small_lake)
    after_prune = sync_index(small_lake, ann, embedder(server))
    assert after_prune.rebuilt and "cannot remove" in after_prune.rebuilt


def test_empty_lake_gives_empty_results(tmp_path: Path, server: RunningServer) -> None:
    nowhere = LakeSettings(home=tmp_path / "nothing")
    for mode in ("hybrid", "dense", "bm25"):
        assert lake_retriever(mode=mode, lake=nowhere).invoke("anything") == []
    assert not nowhere.db_path.exists()  # searching created nothing
    empty = LakeSettings(home=tmp_path / "empty")
    connect(empty).close()
    report = sync_index(empty, RetrievalSettings(), embedder(server))
    assert report.chunks == 0 and report.embedded == 0
    for mode in ("hybrid", "dense", "bm25"):
        assert lake_retriever(mode=mode, lake=empty).invoke("anything") == []
        assert lake_retriever(mode=mode, lake=empty).invoke("   ") == []


def test_indexing_and_searching_open_no_connection_beyond_loopback(
    lake: LakeSettings, server: RunningServer, tmp_path: Path
) -> None:
    log = tmp_path / "net.log"
    env = {"TERRAQORE_HOME": str(lake.home), "TERRAQORE_OLLAMA_HOST": server.url}
    for args in (["index"], ["search", "volcano eruption", "--json"]):
        proc = guarded_cli(["lake", *args], log, env)
        assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["title"] == "News 2024"
    assert not log.exists() or log.read_text() == "", log.read_text()


def test_cli_index_and_search(
    tmp_path: Path, server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TERRAQORE_OLLAMA_HOST", server.url)
    runner = CliRunner()
    r = runner.invoke(app, ["lake", "seed", "--articles", "20", "--no-index"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["lake", "search", "lighthouse", "--mode", "dense"])
    assert r.exit_code == 1 and "terraqore lake index" in r.output
    r = runner.invoke(app, ["lake", "index"])
    assert r.exit_code == 0 and "index:" in r.output and "embedded" in r.output, r.output
    r = runner.invoke(app, ["lake", "search", "how do I run the tests", "-k", "3", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert len(rows) == 3 and all(set(row) >= META_KEYS and row["text"] for row in rows)
    r = runner.invoke(app, ["lake", "search", "tests", "--kind", "file"])
    # One of this project's own docs (which one ranks first moves as the docs change).
    assert r.exit_code == 0 and "[1]" in r.output
    assert re.search(r"(README|docs/[\w-]+)\.md", r.output), r.output
    r = runner.invoke(app, ["lake", "search", "x", "--mode", "fuzzy"])
    assert r.exit_code == 1 and "--mode must be one of" in r.output
    r = runner.invoke(app, ["lake", "search", "x", "--since", "yesterday-ish"])
    assert r.exit_code == 1 and "bad filter" in r.output
