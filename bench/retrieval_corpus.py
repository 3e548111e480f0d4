"""The corpus the retrieval and Q&A benchmarks share: the question lake, its query sets, paths.

The stage scripts (`retrieval_questions.py`, `retrieval_report.py`, `retrieval_judge.py`,
`retrieval_context.py`, `retrieval_weak.py`, `retrieval_styles.py`, `qa*.py`) all import
this module and none imports another's helpers back, so no two of them import each other.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.qa_data import HERE, load_questions
from lake.bronze import Source, write_batch
from lake.config import LakeSettings
from lake.database import connect
from lake.knowledge_base import vital_articles
from lake.silver import promote

ARTICLES = 2000
CANDIDATES = 50
RESULTS = HERE / "results"
LAKE_HOME = RESULTS / "question-lake"
REWRITES = RESULTS / "question_rewrites.json"
ANSWER_MODEL = "qwen2.5-coder:1.5b"


def lake_and_corpus() -> tuple[LakeSettings, dict[int, str], dict[str, str]]:
    """The corpus lake (built once, kept under bench/results); chunk → url, url → description."""
    lake = LakeSettings(home=LAKE_HOME)
    items = vital_articles(ARTICLES)
    if not lake.db_path.exists():
        con = connect(lake)
        try:
            write_batch(con, Source("dataset", "bench:vital", "wikipedia"), items)
            promote(con, lake)
        finally:
            con.close()
    con = connect(lake, read_only=True)
    try:
        rows = con.execute(
            "SELECT c.id, b.url FROM silver_chunks c JOIN bronze_items b ON b.id = c.item_id"
        ).fetchall()
    finally:
        con.close()
    chunk_item = {int(i): str(u) for i, u in rows}
    kept = set(chunk_item.values())
    described = {
        i.url: str(i.metadata["description"])
        for i in items
        if i.metadata.get("description") and i.url in kept
    }
    return lake, chunk_item, described


def queries() -> dict[str, list[tuple[str, str, str]]]:
    """Query sets as (split, gold url, text); rewritten questions when `rewrite` has run."""
    _, _, described = lake_and_corpus()
    qs = load_questions()
    out = {
        "questions": [(q["split"], q["url"], q["question"]) for q in qs],
        "paraphrased": [
            (q["split"], q["url"], q["question"]) for q in load_questions(kind="paraphrased")
        ],
        "descriptions": [
            ("dev" if n % 2 == 0 else "test", url, text)
            for n, (url, text) in enumerate(sorted(described.items()))
        ],
    }
    for n in (1, 2):
        rows = [(q["split"], q["url"], q["question"]) for q in qs if q.get("round", 1) == n]
        if rows:
            out[f"questions, round {n}"] = rows
    if REWRITES.exists():
        rewrites = json.loads(REWRITES.read_text())["rewrites"]
        out["rewritten"] = [(s, u, f"{t} {rewrites[t]['query']}") for s, u, t in out["questions"]]
        out["rewrite only"] = [(s, u, rewrites[t]["query"]) for s, u, t in out["questions"]]
    return out


def chunk_documents(con: Any, chunk_ids: list[int]) -> list[Document]:
    """The chunks as LangChain documents, in the order of `chunk_ids` (missing ones left out)."""
    rows = con.execute(
        "SELECT c.id, c.item_id, b.title, b.url, c.text FROM silver_chunks c JOIN bronze_items b"
        f" ON b.id = c.item_id WHERE c.id IN ({', '.join(map(str, chunk_ids))})"
    ).fetchall()
    by_id = {
        int(r[0]): Document(
            page_content=r[4],
            metadata={"chunk_id": r[0], "item_id": r[1], "title": r[2], "source": r[3]},
        )
        for r in rows
    }
    return [by_id[i] for i in chunk_ids if i in by_id]
