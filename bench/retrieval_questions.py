"""Retrieval on question-style queries and on description queries, to choose defaults for both.

Corpus: the first 2,000 vital-article leads by title (1,880 chunks), the corpus of
`bench/retrieval_quality.py --articles 2000`. Query sets over it:
- questions: `bench/data/vital_questions.jsonl` (see `bench/make_questions.py`), with its
  `dev` half for choosing and its held-out `test` half for reporting;
- descriptions: each article's Wikidata description (known-item search), even-numbered
  ones dev and odd ones test, as in `bench/retrieval_quality.py`.

Stages (each one holds the model lock for a bounded time; results are cached under
`bench/results/` so later stages and re-runs reuse them):
- `rewrite`: the answer model (`qwen2.5-coder:1.5b`) rewrites each question into a search
  query (its guess of the subject plus key terms), timed;
- `candidates --model M`: index the corpus with M and keep each query's dense and BM25
  top 50 with scores (questions, rewritten questions, descriptions);
- `judge --limit N`: the answer model reorders the top 20 of a fused list (listwise);
- `report`: every fusion variant, query-type-aware weighting, rewriting and the judge,
  chosen on dev and reported on test, no model needed.

Usage: python bench/retrieval_questions.py rewrite|candidates|judge|report [--model M]
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import ollama

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.qa_data import load_questions
from bench.retrieval_corpus import (
    ANSWER_MODEL,
    CANDIDATES,
    RESULTS,
    REWRITES,
    lake_and_corpus,
    queries,
)
from bench.retrieval_judge import stage_judge
from bench.retrieval_quality import PrecomputedQueries, embed_and_index
from bench.retrieval_report import report
from retrievers.config import RetrievalSettings
from retrievers.embedder import ServerEmbedder
from retrievers.hybrid import LakeSearch
from tests.server_harness import start_server

REWRITE_PROMPT = (
    "Rewrite the user's question as a search query for an encyclopedia. Give the name of the "
    "subject you think the question is about, then the question's key terms. At most 15 "
    "words, no explanation."
)


def stage_rewrite(client: ollama.Client) -> None:
    """Rewrite every question with the answer model; keep the query and the seconds it took."""
    client.pull(ANSWER_MODEL)
    done: dict[str, dict[str, object]] = {}
    if REWRITES.exists():
        done = json.loads(REWRITES.read_text())["rewrites"]
    schema = {
        "type": "object",
        "properties": {"query": {"type": "string", "maxLength": 120}},
        "required": ["query"],
    }
    for q in load_questions():
        text = q["question"]
        if text in done:
            continue
        start = time.perf_counter()
        reply = client.chat(
            model=ANSWER_MODEL,
            messages=[
                {"role": "system", "content": REWRITE_PROMPT},
                {"role": "user", "content": text},
            ],
            format=schema,
            options={"temperature": 0, "num_predict": 48, "num_ctx": 1024},
        )
        query = json.loads(reply.message.content or "{}").get("query", "")
        done[text] = {"query": query, "seconds": round(time.perf_counter() - start, 3)}
        REWRITES.write_text(json.dumps({"model": ANSWER_MODEL, "rewrites": done}, indent=1))
        print(f"{len(done)} {text} -> {query}", flush=True)


def stage_candidates(client: ollama.Client, model: str) -> None:
    """Index with `model`; save every query's dense and BM25 candidates with scores."""
    lake, chunk_item, _ = lake_and_corpus()
    settings = RetrievalSettings(embedding_model=model)
    embedder = ServerEmbedder(client, model)
    embedded, embed_s, _, _ = embed_and_index(lake, settings, embedder)
    print(f"{model}: embedded {embedded} chunks in {embed_s:.0f} s", flush=True)
    sets = queries()
    texts = sorted({t for rows in sets.values() for _, _, t in rows})
    start = time.perf_counter()
    vectors = np.concatenate(
        [embedder.embed_queries(texts[i : i + 64]) for i in range(0, len(texts), 64)]
    )
    query_s = time.perf_counter() - start
    search = LakeSearch(
        lake, settings, PrecomputedQueries(model, dict(zip(texts, vectors, strict=True)))
    )
    found = {}
    for text in texts:
        found[text] = {
            mode: [(p.chunk_id, p.score) for p in search.search(text, CANDIDATES, mode)]
            for mode in ("dense", "bm25")
        }
    out = {
        "model": model,
        "chunks": len(chunk_item),
        "embedded": embedded,
        "embed_chunks_per_s": embedded / embed_s if embedded else None,
        "query_embed_ms": 1000 * query_s / len(texts),
        "candidates": found,
    }
    (RESULTS / f"question_candidates_{model}.json").write_text(json.dumps(out))


def main() -> int:
    # A `timeout` or `kill` still stops the server this script started (finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("stage", choices=["rewrite", "candidates", "judge", "report"])
    parser.add_argument("--model", default="all-minilm")
    parser.add_argument("--limit", type=int, default=60)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.stage == "report":
        report()
        return 0
    srv = start_server(Path(tempfile.mkdtemp(prefix="tq-questions-srv-")))
    try:
        client = ollama.Client(host=srv.url, timeout=900)
        if args.stage == "rewrite":
            stage_rewrite(client)
        elif args.stage == "candidates":
            stage_candidates(client, args.model)
        else:
            stage_judge(client, args.model, args.limit)
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
