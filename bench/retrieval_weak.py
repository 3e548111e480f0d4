"""Weak retrieval: which signal says that the sources do not hold the answer, cut-off chosen on data.

For every question of the question bench (paraphrased and generated), two conditions built
from the saved candidate lists (`retrieval_questions.py candidates`), no model needed:
- `kept`: the lists as retrieved;
- `removed`: the gold article's chunks taken out of both lists, which is what the lake
  without that article returns (the other chunks keep their order; BM25's corpus statistics
  shift a little without the article, which this ignores).
The fused top 5 (the retrieval default) is what the answer model sees. A run is a *miss*
when the gold article is not among those 5: always when removed, sometimes when kept.
"Weak" should flag misses (a web search could help, an answer is likely a guess) and not
hits. Signals, lower is weaker:
- `strength`: the best source's share of the question's content words (`nodes.retrieve`);
- `dense`: the best cosine similarity of the query to a remaining chunk;
- `bm25`: the best remaining BM25 score, per query term (BM25 grows with query length).
Each cut-off is chosen on the dev half (best F1 at flagging misses) and reported on the
held-out half as precision (flagged runs that were misses) and recall (misses flagged).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

from bench.qa_data import Question, load_questions
from bench.retrieval_corpus import RESULTS, chunk_documents, lake_and_corpus
from lake.database import connect
from nodes.retrieve import strength
from nodes.sources import number_sources, terms

TOP = 5
Signals = dict[str, float]


def runs(
    found: dict[str, Any], combine: Callable[..., list[int]], questions: list[Question]
) -> list[dict[str, Any]]:
    """Both conditions of every question: its signals, split and whether it missed."""
    lake, chunk_item, _ = lake_and_corpus()
    out: list[dict[str, Any]] = []
    con = connect(lake, read_only=True)
    try:
        for q in questions:
            hits = found[q["question"]]
            for condition in ("kept", "removed"):
                dense, lexical = hits["dense"], hits["bm25"]
                if condition == "removed":
                    dense = [h for h in dense if chunk_item[h[0]] != q["url"]]
                    lexical = [h for h in lexical if chunk_item[h[0]] != q["url"]]
                top = combine(dense, lexical)[:TOP]
                sources = number_sources(chunk_documents(con, top), q["question"])
                asked = max(1, len(terms(q["question"])))
                signals = {
                    "strength": strength(q["question"], sources),
                    "dense": dense[0][1] if dense else 0.0,
                    "bm25": lexical[0][1] / asked if lexical else 0.0,
                }
                miss = q["url"] not in {chunk_item[c] for c in top}
                out.append({"split": q["split"], "condition": condition, "miss": miss, **signals})
    finally:
        con.close()
    return out


def scores(rows: list[dict[str, Any]], signal: str, cut: float) -> dict[str, float]:
    """Precision, recall and F1 of flagging misses with `signal < cut`."""
    flagged = [r for r in rows if r[signal] < cut]
    misses = [r for r in rows if r["miss"]]
    true = sum(r["miss"] for r in flagged)
    precision = true / len(flagged) if flagged else 0.0
    recall = true / len(misses) if misses else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "flagged": len(flagged),
    }


def choose(rows: list[dict[str, Any]], signal: str) -> float:
    """The cut-off with the best dev F1 (ties: the lower cut, fewer searches)."""
    values = sorted({round(r[signal], 3) for r in rows})
    cuts = [(a + b) / 2 for a, b in itertools.pairwise(values)] or [0.0]
    return round(max(cuts, key=lambda c: (scores(rows, signal, c)["f1"], -c)), 3)


def weak_report(found: dict[str, Any], combine: Callable[..., list[int]]) -> dict[str, Any]:
    """Every signal: its cut-off chosen on dev, and precision/recall on the held-out half."""
    questions = load_questions(kind="paraphrased") + load_questions()
    rows = runs(found, combine, questions)
    dev = [r for r in rows if r["split"] == "dev"]
    test = [r for r in rows if r["split"] == "test"]
    out: dict[str, Any] = {
        "runs": {"dev": len(dev), "test": len(test)},
        "misses": {
            split: {
                c: sum(r["miss"] for r in part if r["condition"] == c) for c in ("kept", "removed")
            }
            for split, part in (("dev", dev), ("test", test))
        },
    }
    for signal in ("strength", "dense", "bm25"):
        cut = choose(dev, signal)
        out[signal] = {
            "cut": cut,
            "dev": scores(dev, signal, cut),
            "test": scores(test, signal, cut),
            "test, gold removed only: flagged": scores(
                [r for r in test if r["condition"] == "removed"], signal, cut
            )["recall"],
            "test, kept hits flagged": round(
                sum(r[signal] < cut for r in test if not r["miss"])
                / max(1, sum(not r["miss"] for r in test)),
                3,
            ),
        }
    (RESULTS / "retrieval_weak.json").write_text(json.dumps({"summary": out}, indent=1))
    return out
