"""Retrieval on every question style, and the fusion that holds on all of them.

Corpus: the 2,000-lead lake of `bench/retrieval_questions.py` (1,880 chunks). Query sets:
every style of `bench/data/vital_*.jsonl` (lead-copying questions, description templates,
paraphrases, clues, statements, keywords, follow-ups as typed and as the first turn plus
the follow-up), each split dev / held-out by a hash of its base id (`qa_data.side`).

Stages (each one bounded hold of the model lock; results cached in `bench/results/`):
- `candidates --model M`: index the corpus with M; every query's dense and BM25 top 50;
- `hyde --limit N`: the answer model (`qwen2.5-coder:1.5b`) writes a two-sentence
  encyclopedia passage that would answer each query (timed), embedded with all-minilm in
  place of the query (HyDE), and with the query in front of it;
- `report`: recall@5 per style and half for BM25, dense, today's fusion, every fusion
  variant, form-aware fusion (`retrievers.fusion.query_form`), flat-BM25-aware fusion and
  HyDE; the choice is made on dev and shown on held-out.

Usage: python bench/retrieval_styles.py candidates|hyde|report [--model M] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import ollama

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.fusion_variants import Hits, all_variants, rrf
from bench.qa_data import load_questions, side
from bench.retrieval_corpus import ANSWER_MODEL, CANDIDATES, RESULTS, lake_and_corpus
from bench.retrieval_quality import PrecomputedQueries, embed_and_index, gold_rank, metrics
from retrievers.config import RetrievalSettings
from retrievers.embedder import ServerEmbedder
from retrievers.fusion import query_form
from retrievers.hybrid import LakeSearch
from tests.server_harness import start_server

HYDE = RESULTS / "style_hyde.json"
HYDE_PROMPT = (
    "Write the first two sentences of an encyclopedia article that answers the user's "
    "question or names what they describe. Start with the subject's name. No preamble."
)
Row = tuple[str, str, str]
"""(half, gold url, query text)."""


def style_queries() -> dict[str, list[Row]]:
    """Every style's queries; follow-ups also as "first turn + follow-up"."""
    out: dict[str, list[Row]] = {}
    for q in load_questions(kind=None):
        out.setdefault(q["kind"], []).append((side(q), q["url"], q["question"]))
        if q.get("first"):
            joined = f"{q['first']} {q['question']}"
            out.setdefault(f"{q['kind']}, after its first turn", []).append(
                (side(q), q["url"], joined)
            )
    return out


def candidates_path(model: str) -> Path:
    """Where one embedding model's candidate lists go."""
    return RESULTS / f"style_candidates_{model}.json"


def stage_candidates(client: ollama.Client, model: str) -> None:
    """Index with `model`; save every query's dense and BM25 candidates with scores."""
    lake, _, _ = lake_and_corpus()
    settings = RetrievalSettings(embedding_model=model)
    embedder = ServerEmbedder(client, model)
    embedded, embed_s, _, _ = embed_and_index(lake, settings, embedder)
    print(f"{model}: embedded {embedded} chunks in {embed_s:.0f} s", flush=True)
    texts = sorted({t for rows in style_queries().values() for _, _, t in rows})
    vectors = np.concatenate(
        [embedder.embed_queries(texts[i : i + 64]) for i in range(0, len(texts), 64)]
    )
    search = LakeSearch(
        lake, settings, PrecomputedQueries(model, dict(zip(texts, vectors, strict=True)))
    )
    found = {
        text: {
            mode: [(p.chunk_id, p.score) for p in search.search(text, CANDIDATES, mode)]
            for mode in ("dense", "bm25")
        }
        for text in texts
    }
    candidates_path(model).write_text(json.dumps({"model": model, "candidates": found}))


def stage_hyde(client: ollama.Client, limit: int) -> None:
    """A hypothetical passage per query (first `limit` of each style and half), embedded."""
    lake, _, _ = lake_and_corpus()
    done: dict[str, Any] = json.loads(HYDE.read_text()) if HYDE.exists() else {}
    client.pull(ANSWER_MODEL)
    todo = []
    for style, rows in style_queries().items():
        if "after its first turn" in style or style == "followup-keywords":
            continue
        for half in ("dev", "test"):
            todo += [t for h, _, t in rows if h == half][:limit]
    for text in dict.fromkeys(todo):
        if text in done:
            continue
        start = time.perf_counter()
        reply = client.chat(
            model=ANSWER_MODEL,
            messages=[
                {"role": "system", "content": HYDE_PROMPT},
                {"role": "user", "content": text},
            ],
            options={"temperature": 0, "num_predict": 60, "num_ctx": 1024},
        )
        done[text] = {
            "passage": (reply.message.content or "").strip(),
            "seconds": round(time.perf_counter() - start, 3),
        }
        HYDE.write_text(json.dumps(done, indent=1))
        print(f"{len(done)} {done[text]['seconds']}s {text} -> {done[text]['passage']}")
    settings = RetrievalSettings(embedding_model="all-minilm")
    embedder = ServerEmbedder(client, "all-minilm")
    embed_and_index(lake, settings, embedder)
    texts = [p["passage"] for p in done.values()] + [f"{t} {p['passage']}" for t, p in done.items()]
    vectors = embedder.embed_queries(texts)
    search = LakeSearch(
        lake, settings, PrecomputedQueries("all-minilm", dict(zip(texts, vectors, strict=True)))
    )
    for text, p in done.items():
        for key, query in (("hyde", p["passage"]), ("both", f"{text} {p['passage']}")):
            p[key] = {
                mode: [(h.chunk_id, h.score) for h in search.search(query, CANDIDATES, mode)]
                for mode in ("dense", "bm25")
            }
    HYDE.write_text(json.dumps(done))


Combine = Callable[[str, Hits, Hits], list[int]]


def product(model: str, by_form: bool = True) -> Combine:
    """The fusion `retrievers.hybrid` uses: by the query's form, its flat-BM25 one or the default."""
    settings = RetrievalSettings(embedding_model=model, fusion_by_form=by_form)

    def combine(text: str, dense: Hits, lexical: Hits) -> list[int]:
        return list(rrf(*settings.fusion([s for _, s in lexical], text))(dense, lexical))

    return combine


def ignoring_text(fusion: Any) -> Combine:
    """A fusion that does not look at the query text."""
    return lambda text, dense, lexical: list(fusion(dense, lexical))


def flat_aware(flat: float, sharp: Any, flat_fusion: Any) -> Combine:
    """One fusion when BM25's top score stands out, another when its top 5 are flat."""

    def combine(text: str, dense: Hits, lexical: Hits) -> list[int]:
        scores = [s for _, s in lexical[:5]]
        is_flat = len(scores) < 5 or scores[0] <= 0 or scores[4] / scores[0] >= flat
        return (flat_fusion if is_flat else sharp)(dense, lexical)

    return combine


def form_aware(by_form: dict[str, Any]) -> Combine:
    """A fusion per query form (question, statement, keywords)."""

    def combine(text: str, dense: Hits, lexical: Hits) -> list[int]:
        return list(by_form[query_form(text)](dense, lexical))

    return combine


def score(rows: list[Row], found: dict[str, Any], combine: Combine, chunk_item: Any) -> Any:
    """recall@k and MRR@10 of one combiner, per half."""
    ranks: dict[str, list[int | None]] = {"dev": [], "test": []}
    for half, gold, text in rows:
        hits = found[text]
        ranks[half].append(gold_rank(combine(text, hits["dense"], hits["bm25"]), chunk_item, gold))
    return {h: {**metrics(r), "n": len(r)} for h, r in ranks.items() if r}


def report(model: str = "all-minilm") -> dict[str, Any]:
    """Every combiner on every style; the choices made on dev (see the module docstring)."""
    _, chunk_item, _ = lake_and_corpus()
    found = json.loads(candidates_path(model).read_text())["candidates"]
    sets = style_queries()
    plain = {n: ignoring_text(c) for n, c in all_variants().items()}
    plain["before issue 26: rrf dense*1 bm25*1.5 k=10"] = ignoring_text(rrf(1.0, 1.5, 10))
    plain["product default"] = product(model)
    plain["before the form-aware default"] = product(model, by_form=False)
    table = {
        n: {s: score(rows, found, c, chunk_item) for s, rows in sets.items()}
        for n, c in plain.items()
    }

    def dev_r5(name: str, styles: list[str]) -> float:
        return statistics.fmean(table[name][s]["dev"]["recall@5"] for s in styles)

    styles = [s for s in sets if "after its first turn" not in s and s != "followup"]
    fused = [n for n in table if n not in ("dense", "bm25")]
    # One fusion for every style: the best mean dev recall@5 over the styles.
    one = max(fused, key=lambda n: dev_r5(n, styles))

    # Per query form: the best dev recall@5 over the queries of that form.
    def hit5(name: str, rows: list[Row]) -> float:
        ranks = [
            gold_rank(plain[name](t, found[t]["dense"], found[t]["bm25"]), chunk_item, g)
            for _, g, t in rows
        ]
        return sum(r is not None and r <= 5 for r in ranks) / max(len(ranks), 1)

    by_form = {}
    for form in ("question", "statement", "keywords"):
        rows = [r for s in styles for r in sets[s] if query_form(r[2]) == form and r[0] == "dev"]
        by_form[form] = max(fused, key=lambda n: hit5(n, rows))
    variants = all_variants()
    combos: dict[str, Combine] = {
        f"form-aware {by_form}": form_aware({f: variants[n] for f, n in by_form.items()})
    }
    # The product's own rule is already flat-aware: the flat rules start from the best plain one.
    sharp = max((n for n in fused if n in variants), key=lambda n: dev_r5(n, styles))
    for flat in (0.5, 0.6, 0.7, 0.8, 0.9):
        for dense_heavy in ("rrf dense*2 bm25*1 k=10", "rrf dense*3 bm25*1 k=10", "dense"):
            combos[f"flat {flat}: {dense_heavy}, else {sharp}"] = flat_aware(
                flat, variants[sharp], variants[dense_heavy]
            )
    for name, combine in combos.items():
        table[name] = {s: score(rows, found, combine, chunk_item) for s, rows in sets.items()}
    adaptive = max(combos, key=lambda n: dev_r5(n, styles))
    out: dict[str, Any] = {
        "model": model,
        "one fusion chosen on dev": one,
        "form-aware chosen on dev": by_form,
        "best adaptive on dev": adaptive,
        "table": table,
    }
    if HYDE.exists() and model == "all-minilm":
        out["hyde"] = hyde_report(sets, chunk_item, variants[sharp])
    (RESULTS / f"retrieval_styles_{model}.json").write_text(json.dumps(out, indent=1))
    return out


def hyde_report(sets: dict[str, list[Row]], chunk_item: Any, fusion: Any) -> dict[str, Any]:
    """HyDE on the queries it was run for: recall@5 per style and half, and its seconds."""
    done = json.loads(HYDE.read_text())
    mini = json.loads(candidates_path("all-minilm").read_text())["candidates"]
    out: dict[str, Any] = {
        "seconds median": statistics.median(p["seconds"] for p in done.values()),
        "seconds p90": sorted(p["seconds"] for p in done.values())[int(0.9 * len(done))],
    }
    ways: dict[str, Callable[[str], list[int]]] = {
        "query, fused": lambda t: fusion(mini[t]["dense"], mini[t]["bm25"]),
        "hyde dense": lambda t: [i for i, _ in done[t]["hyde"]["dense"]],
        "query+hyde dense": lambda t: [i for i, _ in done[t]["both"]["dense"]],
        "query+hyde, fused": lambda t: fusion(done[t]["both"]["dense"], done[t]["both"]["bm25"]),
        "query dense + hyde dense + query bm25, RRF": lambda t: rrf_lists(
            [mini[t]["dense"], done[t]["hyde"]["dense"], mini[t]["bm25"]]
        ),
    }
    for style, rows in sets.items():
        rows = [r for r in rows if r[2] in done and "hyde" in done[r[2]]]
        if not rows:
            continue
        out[style] = {}
        for name, rank in ways.items():
            halves: dict[str, list[int | None]] = {"dev": [], "test": []}
            for half, gold, text in rows:
                halves[half].append(gold_rank(rank(text), chunk_item, gold))
            out[style][name] = {h: {**metrics(r), "n": len(r)} for h, r in halves.items() if r}
    return out


def rrf_lists(lists: list[Hits]) -> list[int]:
    """Plain RRF (k = 10) over several candidate lists."""
    from retrievers.fusion import reciprocal_rank_fusion

    fused = reciprocal_rank_fusion([[i for i, _ in h] for h in lists], [1.0] * len(lists), 10)
    return [i for i, _ in fused]


def main() -> int:
    # A `timeout` or `kill` still stops the server this script started (finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("stage", choices=["candidates", "hyde", "report"])
    parser.add_argument("--model", default="all-minilm")
    parser.add_argument("--limit", type=int, default=30)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.stage == "report":
        result = report(args.model)
        print(json.dumps({k: v for k, v in result.items() if k != "table"}, indent=1))
        return 0
    srv = start_server(Path(tempfile.mkdtemp(prefix="tq-styles-ret-srv-")))
    try:
        client = ollama.Client(host=srv.url, timeout=900)
        if args.stage == "candidates":
            stage_candidates(client, args.model)
        else:
            stage_hyde(client, args.limit)
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
