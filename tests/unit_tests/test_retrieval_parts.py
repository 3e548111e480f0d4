"""Retrieval's pure parts on real FAISS and real numbers: fusion, MMR, filters, the index."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from retrievers.config import (
    FLAT_FUSION_BY_MODEL,
    FORM_FUSION_BY_MODEL,
    FUSION_BY_MODEL,
    STANDARD_FUSION,
    Fusion,
    RetrievalSettings,
)
from retrievers.embedder import normalise, task_prefixes
from retrievers.filters import as_filters
from retrievers.fusion import mmr_order, reciprocal_rank_fusion
from retrievers.vector_index import IndexUnreadable, Manifest, VectorIndex, kind_for


def test_rrf_rewards_agreement_over_a_single_first_place() -> None:
    # 3 is second in both lists; 1 and 2 are each first in one list and missing from the other.
    fused = reciprocal_rank_fusion([[1, 3, 4], [2, 3, 5]], [1.0, 1.0], k=60)
    assert [i for i, _ in fused][:3] == [3, 1, 2]
    assert fused[0][1] == pytest.approx(2 / 62)
    assert fused[1][1] == pytest.approx(1 / 61)


def test_rrf_weights_and_ties() -> None:
    fused = dict(reciprocal_rank_fusion([[1], [2]], [2.0, 1.0], k=10))
    assert fused[1] == pytest.approx(2 / 11) and fused[2] == pytest.approx(1 / 11)
    # Equal scores keep first-seen order (the first list's item first).
    tie = reciprocal_rank_fusion([[7], [8]], [1.0, 1.0], k=60)
    assert [i for i, _ in tie] == [7, 8]
    assert reciprocal_rank_fusion([[], []], [1.0, 1.0]) == []


def test_mmr_skips_a_near_copy() -> None:
    query = normalise(np.array([[1.0, 0.0, 0.0]]))[0]
    vectors = normalise(np.array([[1.0, 0.1, 0.0], [1.0, 0.1, 0.001], [0.7, 0.0, 0.7]]))
    plain = mmr_order(query, [10, 11, 12], vectors, 2, lambda_mult=1.0)
    diverse = mmr_order(query, [10, 11, 12], vectors, 2, lambda_mult=0.3)
    assert plain == [10, 11] and diverse == [10, 12]
    assert mmr_order(query, [], np.empty((0, 3)), 2, 0.5) == []


def test_task_prefixes_and_normalise() -> None:
    assert task_prefixes("nomic-embed-text") == ("search_query: ", "search_document: ")
    assert task_prefixes("nomic-embed-text:latest") == task_prefixes("library/nomic-embed-text")
    assert task_prefixes("all-minilm") == ("", "")
    rows = normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert rows.dtype == np.float32 and np.allclose(rows, [[0.6, 0.8], [0.0, 0.0]])


def test_filters_accept_one_or_many_and_refuse_nonsense() -> None:
    f = as_filters({"kind": "feed", "topic": ["a", "b"], "since": date(2026, 1, 1)})
    assert f.kind == ("feed",) and f.topic == ("a", "b") and f.since == datetime(2026, 1, 1)
    sql, params = f.where()
    assert sql.count("?") == len(params) == 4
    assert as_filters(None).empty and as_filters({}).where() == ("TRUE", [])
    with pytest.raises(ValidationError, match="extra"):
        as_filters({"colour": "red"})
    with pytest.raises(ValidationError, match="before"):
        as_filters({"since": "2026-02-01", "until": "2026-01-01"})
    with pytest.raises(ValidationError):
        as_filters({"since": "not a date"})


def _vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    return normalise(np.random.default_rng(seed).standard_normal((n, dim)))


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_index_kinds_find_add_remove_and_persist(kind: str, tmp_path: Path) -> None:
    settings = RetrievalSettings(ivf_nprobe=64, hnsw_ef_search=128)
    vectors = _vectors(3000)
    ids = np.arange(100, 3100, dtype=np.int64)
    manifest = Manifest(lake_id="L", embedding_model="m", dim=32, kind=kind)  # type: ignore[arg-type]
    index = VectorIndex.build(ids, vectors, manifest, settings)
    assert manifest.chunk_count == 3000 and manifest.last_chunk_id == 3099
    hits = index.search(vectors[5], 3, settings, None)
    assert hits[0][0] == 105 and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    assert hits[0][1] >= hits[1][1] >= hits[2][1]
    allowed = np.array([110, 2000, 2500], dtype=np.int64)
    within = index.search(vectors[5], 3, settings, allowed)
    assert {i for i, _ in within} <= set(allowed.tolist())
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path)
    assert loaded is not None and loaded.manifest.kind == kind
    assert loaded.search(vectors[5], 1, settings, None)[0][0] == 105
    extra = _vectors(5, seed=1)
    loaded.add(np.arange(5000, 5005, dtype=np.int64), extra)
    assert loaded.search(extra[2], 1, settings, None)[0][0] == 5002
    removed = loaded.remove(np.array([105], dtype=np.int64))
    if kind == "hnsw":
        assert removed is False  # HNSW cannot delete: the indexer rebuilds instead
    else:
        assert removed and 105 not in {i for i, _ in loaded.search(vectors[5], 5, settings, None)}
        assert loaded.manifest.chunk_count == 3004


def test_index_save_replaces_old_files_and_damage_is_reported(tmp_path: Path) -> None:
    settings = RetrievalSettings()
    manifest = Manifest(lake_id="L", embedding_model="m", dim=32, kind="flat")
    index = VectorIndex.build(np.arange(10, dtype=np.int64), _vectors(10), manifest, settings)
    index.save(tmp_path)
    index.save(tmp_path)
    assert len(list(tmp_path.glob("*.faiss"))) == 1 and len(list(tmp_path.glob("*.npy"))) == 1
    assert VectorIndex.load(tmp_path / "nothing-here") is None
    (tmp_path / index.manifest.index_file).write_bytes(b"garbage")
    with pytest.raises(IndexUnreadable):
        VectorIndex.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(IndexUnreadable, match="damaged"):
        VectorIndex.load(tmp_path)


def test_kind_follows_size() -> None:
    settings = RetrievalSettings(flat_max_chunks=100, ann_kind="hnsw")
    assert kind_for(100, settings) == "flat" and kind_for(101, settings) == "hnsw"


def test_fusion_defaults_follow_the_model_and_yield_to_what_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert RetrievalSettings().fusion() == FUSION_BY_MODEL["all-minilm"]
    nomic = RetrievalSettings(embedding_model="nomic-embed-text:latest").fusion()
    assert nomic == FUSION_BY_MODEL["nomic-embed-text"]
    assert RetrievalSettings(embedding_model="my-embedder").fusion() == STANDARD_FUSION
    monkeypatch.setenv("TERRAQORE_BM25_WEIGHT", "0.5")
    assert RetrievalSettings(rrf_k=60).fusion() == Fusion(1.0, 0.5, 60)


def test_a_query_is_fused_by_its_form_where_the_model_has_weights_per_form() -> None:
    settings, forms = RetrievalSettings(), FORM_FUSION_BY_MODEL["all-minilm"]
    flat = [5.0, 4.8, 4.5, 4.1, 3.9]
    assert settings.fusion(flat, "Who wrote I, Robot?") == forms["question"]
    assert (
        settings.fusion(None, "This writer wrote the story collection I, Robot.")
        == (forms["statement"])
    )
    assert settings.fusion(flat, "I Robot author") == forms["keywords"]
    assert len(set(forms.values())) == 3
    # Off, or for a model without weights per form, the flat-BM25 rule as before.
    off = RetrievalSettings(fusion_by_form=False)
    assert off.fusion(flat, "I Robot author") == FLAT_FUSION_BY_MODEL["all-minilm"]
    nomic = RetrievalSettings(embedding_model="nomic-embed-text")
    assert nomic.fusion(flat, "I Robot author") == FUSION_BY_MODEL["nomic-embed-text"]
    assert RetrievalSettings(rrf_k=60).fusion(flat, "Who?") == Fusion(3.0, 1.0, 60)


def test_flat_bm25_scores_turn_to_the_dense_heavier_fusion() -> None:
    settings = RetrievalSettings()
    sharp, flat = [9.0, 4.0, 3.0, 2.5, 2.0], [5.0, 4.8, 4.5, 4.1, 3.9]
    assert settings.fusion(sharp) == FUSION_BY_MODEL["all-minilm"]
    assert settings.fusion(flat) == FLAT_FUSION_BY_MODEL["all-minilm"]
    assert settings.fusion([3.0]) == FLAT_FUSION_BY_MODEL["all-minilm"]  # under five: flat
    assert RetrievalSettings(flat_bm25=0).fusion(flat) == FUSION_BY_MODEL["all-minilm"]
    # A model without a measured flat-ranking fusion keeps its own.
    nomic = RetrievalSettings(embedding_model="nomic-embed-text")
    assert nomic.fusion(flat) == FUSION_BY_MODEL["nomic-embed-text"]
