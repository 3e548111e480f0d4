"""The `report` stage of `bench/retrieval_questions.py`: every variant, chosen on dev, shown on test.

Choosing rule, per embedding model: among the fusion variants, the one with the best
question-dev recall@5 whose description-dev recall@5 is not below the current default's
by more than 0.005 (the description figures must not get worse). Query-type-aware
weighting takes the best question-dev variant for questions and the current default for
descriptions. Everything is then reported on the held-out halves.
"""

from __future__ import annotations

import json
from typing import Any

from bench.fusion_variants import all_variants, rrf
from bench.retrieval_context import context_report
from bench.retrieval_corpus import RESULTS, lake_and_corpus, queries
from bench.retrieval_quality import gold_rank, metrics
from bench.retrieval_weak import weak_report
from retrievers.config import FUSION_BY_MODEL
from retrievers.fusion import reciprocal_rank_fusion

MODELS = ("all-minilm", "nomic-embed-text")
SLACK = 0.005
CHOOSE_ON = ("paraphrased", "questions")
"""The question set whose dev half chooses fusion: the paraphrased one when it is there."""


def variants_by_name(model: str) -> dict[str, Any]:
    """Every fusion variant, plus the model's current default under its own name."""
    default = FUSION_BY_MODEL[model]
    variants = all_variants()
    name = f"rrf dense*{default.dense_weight:g} bm25*{default.bm25_weight:g} k={default.rrf_k}"
    variants[f"default {name}"] = rrf(*default)
    return variants


def score_set(
    rows: list[tuple[str, str, str]], found: dict[str, Any], combine: Any, chunk_item: Any
) -> dict[str, dict[str, float]]:
    """Metrics of one combiner on one query set, per split and overall."""
    ranks: dict[str, list[int | None]] = {"dev": [], "test": []}
    for split, gold, text in rows:
        hits = found[text]
        ranked = combine(hits["dense"], hits["bm25"])
        ranks[split].append(gold_rank(ranked, chunk_item, gold))
    return {split: metrics(r) for split, r in ranks.items() if r}


def model_report(model: str, chunk_item: dict[int, str]) -> dict[str, Any] | None:
    """Every variant of one embedding model on every query set."""
    path = RESULTS / f"question_candidates_{model}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    found = data["candidates"]
    sets = {
        name: rows
        for name, rows in queries().items()
        if rows and all(t in found for _, _, t in rows)
    }
    default = FUSION_BY_MODEL[model]
    variants = all_variants()
    variants[
        "default "
        + f"rrf dense*{default.dense_weight:g} bm25*{default.bm25_weight:g} k={default.rrf_k}"
    ] = rrf(*default)
    table = {
        name: {qs: score_set(rows, found, combine, chunk_item) for qs, rows in sets.items()}
        for name, combine in variants.items()
    }
    default_name = next(n for n in table if n.startswith("default "))
    floor = table[default_name]["descriptions"]["dev"]["recall@5"] - SLACK
    fused = [n for n in table if n not in ("dense", "bm25")]
    qset = next(q for q in CHOOSE_ON if sets.get(q))

    def on_dev(n: str) -> tuple[float, float]:
        # recall@5 first; MRR@10 breaks ties (many variants share a recall@5).
        dev = table[n][qset]["dev"]
        return dev["recall@5"], dev["mrr@10"]

    both = max(
        (n for n in fused if table[n]["descriptions"]["dev"]["recall@5"] >= floor), key=on_dev
    )
    on_questions = max(fused, key=on_dev)
    chosen: dict[str, Any] = {
        "chosen on": qset,
        "one fusion for both": both,
        "best on question dev": on_questions,
    }
    if "rewritten" in sets:
        chosen["rewritten, best on question dev"] = max(
            fused, key=lambda n: table[n]["rewritten"]["dev"]["recall@5"]
        )
    return {
        "embed_chunks_per_s": data["embed_chunks_per_s"],
        "query_embed_ms": data["query_embed_ms"],
        "table": table,
        "chosen": chosen,
        "default": default_name,
    }


def two_model_report(fusion: str) -> dict[str, Any]:
    """Both embedding models at once: nomic-embed-text reranks all-minilm's fused top 20,
    and RRF over the three lists (all-minilm dense, nomic dense, BM25).

    Either needs the corpus embedded by both models (nomic-embed-text's indexing cost).
    """
    _, chunk_item, _ = lake_and_corpus()
    mini = json.loads((RESULTS / "question_candidates_all-minilm.json").read_text())["candidates"]
    nomic = json.loads((RESULTS / "question_candidates_nomic-embed-text.json").read_text())
    big = nomic["candidates"]
    combine = variants_by_name("all-minilm")[fusion]

    def reranked(text: str) -> list[int]:
        ranked = combine(mini[text]["dense"], mini[text]["bm25"])
        cosine = dict(big[text]["dense"])
        floor = min(cosine.values(), default=0.0) - 1
        top = sorted(ranked[:20], key=lambda i: -cosine.get(i, floor))
        return top + ranked[20:]

    def three(text: str) -> list[int]:
        lists = [mini[text]["dense"], big[text]["dense"], mini[text]["bm25"]]
        fused = reciprocal_rank_fusion([[i for i, _ in h] for h in lists], [1.0, 1.0, 1.5], 10)
        return [i for i, _ in fused]

    out: dict[str, Any] = {}
    for name, rank in (("nomic reranks top 20", reranked), ("RRF of three lists", three)):
        out[name] = {}
        for qs, rows in queries().items():
            if qs not in ("paraphrased", "questions", "descriptions"):
                continue
            if not rows or not all(t in mini and t in big for _, _, t in rows):
                continue
            ranks = [gold_rank(rank(t), chunk_item, g) for split, g, t in rows if split == "test"]
            out[name][qs] = {"test": metrics(ranks)}
    return out


def _row(label: str, scores: dict[str, dict[str, float]]) -> str:
    test = scores["test"]
    return (
        f"| {label} | {test['recall@1']:.3f} | {test['recall@5']:.3f} | "
        f"{test['recall@10']:.3f} | {test['mrr@10']:.3f} |"
    )


def report() -> None:
    """Compute, save and print the tables."""
    _, chunk_item, _ = lake_and_corpus()
    out: dict[str, Any] = {}
    lines = []
    for model in MODELS:
        result = model_report(model, chunk_item)
        if result is None:
            continue
        out[model] = result
        table, chosen = result["table"], result["chosen"]
        lines.append(f"\n### {model} (test halves)\n")
        lines.append("| query set | method | recall@1 | recall@5 | recall@10 | MRR@10 |")
        lines.append("|---|---|---|---|---|---|")
        shown = ["bm25", "dense", result["default"], chosen["one fusion for both"]]
        shown.append(chosen["best on question dev"])
        for qs in (
            "paraphrased",
            "questions",
            "questions, round 1",
            "questions, round 2",
            "rewritten",
            "rewrite only",
            "descriptions",
        ):
            for name in dict.fromkeys(shown):
                if qs in table[name]:
                    lines.append(_row(f"{qs} | {name}", table[name][qs]))
        qset = chosen["chosen on"]
        lines.append(
            _row(f"{qset} | query-type-aware", table[chosen["best on question dev"]][qset])
        )
        lines.append(
            _row("descriptions | query-type-aware", table[result["default"]]["descriptions"])
        )
        lines.append(f"\nchosen: {json.dumps(chosen)}; indexing {result['embed_chunks_per_s']}")
        found = json.loads((RESULTS / f"question_candidates_{model}.json").read_text())
        combine = variants_by_name(model)[chosen["one fusion for both"]]
        result["context"] = context_report(found["candidates"], combine)
        lines.append(json.dumps(result["context"], indent=1))
        result["weak"] = weak_report(found["candidates"], combine)
        lines.append(json.dumps(result["weak"], indent=1))
    if all(m in out for m in MODELS):
        out["two models"] = two_model_report(out["all-minilm"]["chosen"]["one fusion for both"])
        lines.append("\n### all-minilm fusion with nomic-embed-text (test halves)\n")
        for name, per_set in out["two models"].items():
            for qs, scores in per_set.items():
                lines.append(_row(f"{qs} | {name}", scores))
    judge = RESULTS / "question_judge.json"
    if judge.exists():
        lines.append("\n### listwise judge\n")
        lines.append(json.dumps(json.loads(judge.read_text())["summary"], indent=1))
    (RESULTS / "retrieval_questions.json").write_text(json.dumps(out, indent=1))
    text = "\n".join(lines)
    (RESULTS / "retrieval_questions.md").write_text(text)
    print(text)
