"""Figures of `bench/qa.py`, and the citation check's threshold chosen on the dev questions.

The check is pure code, so each saved draft is re-checked at every threshold of a grid:
the threshold with the best dev score (accuracy with sources plus the "not found" share
with the gold article removed) is chosen, and every figure is reported on the test half.

Usage: python bench/qa_report.py
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.qa_data import contains, load_questions
from bench.retrieval_questions import RESULTS
from nodes.verify import NOT_FOUND, check, cited

THRESHOLDS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)


def pct(values: list[bool]) -> float | None:
    """Share of true values, in percent (None when there are none)."""
    return round(100 * sum(values) / len(values), 1) if values else None


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def rechecked(row: dict[str, Any], question: str, threshold: float) -> str:
    """The answer the check gives for the saved draft at another threshold."""
    sources = [{**s, "text": s["snippet"]} for s in row["sources"]]
    return check(row["draft"], sources, question, threshold).answer  # type: ignore[arg-type]


def figures(
    rows: list[dict[str, Any]], golds: dict[int, Any], threshold: float | None
) -> dict[str, Any]:
    """Every measure of one model on some rows (answers re-checked at `threshold` if given)."""
    by = {c: [r for r in rows if r["condition"] == c] for c in ("open", "closed", "removed")}

    def answer(r: dict[str, Any]) -> str:
        if threshold is None or r["condition"] == "closed":
            return str(r["answer"])
        return rechecked(r, golds[r["id"]]["question"], threshold)

    opened = [(r, answer(r)) for r in by["open"]]
    answered = [(r, a) for r, a in opened if a != NOT_FOUND]
    given_ok = [set(cited(a)) <= {s["n"] for s in r["sources"]} for r, a in opened]
    gold_cited = [
        golds[r["id"]]["url"] in {s["url"] for s in r["sources"] if s["n"] in cited(a)}
        for r, a in answered
    ]
    ttft = [r["ttft"] for r in by["open"] if r["ttft"] is not None]
    return {
        "questions": len(opened),
        "accuracy_open": pct([contains(a, golds[r["id"]]["answer"]) for r, a in opened]),
        "accuracy_closed": pct(
            [contains(r["answer"], golds[r["id"]]["answer"]) for r in by["closed"]]
        ),
        "citations_point_at_given_sources": pct(given_ok),
        "model_citations_all_valid": pct([bool(r["citations_valid"]) for r in by["open"]]),
        "grounding_mean_answered": round(
            statistics.fmean([float(r["grounding"] or 0) for r, _ in answered]), 3
        )
        if answered and threshold is None
        else None,
        "gold_article_cited": pct(gold_cited),
        "not_found_open": pct([a == NOT_FOUND for _, a in opened]),
        "removed_questions": len(by["removed"]),
        "not_found_removed": pct([answer(r) == NOT_FOUND for r in by["removed"]]),
        "ttft_median": quantile(ttft, 0.5),
        "ttft_p90": quantile(ttft, 0.9),
        "total_median": quantile([r["total"] for r in by["open"]], 0.5),
        "total_p90": quantile([r["total"] for r in by["open"]], 0.9),
        "closed_total_median": quantile([r["total"] for r in by["closed"]], 0.5),
    }


def dev_score(rows: list[dict[str, Any]], golds: dict[int, Any], threshold: float) -> float:
    """What the threshold is chosen by: accuracy with sources plus "not found" when removed."""
    f = figures(rows, golds, threshold)
    return float((f["accuracy_open"] or 0) + (f["not_found_removed"] or 0))


def report() -> dict[str, Any]:
    """Figures per model: as run, and with the threshold chosen on dev, on test."""
    golds = {q["id"]: q for q in load_questions(kind=None)}
    out: dict[str, Any] = {}
    for path in sorted(RESULTS.glob("qa_*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        model = rows[0]["model"]
        dev = [r for r in rows if r["split"] == "dev"]
        test = [r for r in rows if r["split"] == "test"]

        scores = {t: dev_score(dev, golds, t) for t in THRESHOLDS}
        best = max(THRESHOLDS, key=lambda t: scores[t])
        out[model] = {
            "as run, all": figures(rows, golds, None),
            "as run, test": figures(test, golds, None),
            "threshold chosen on dev": best,
            "dev score by threshold": scores,
            "chosen threshold, test": figures(test, golds, best),
            "as run, by kind": {
                kind: figures([r for r in rows if golds[r["id"]]["kind"] == kind], golds, None)
                for kind in sorted({golds[r["id"]]["kind"] for r in rows})
            },
        }
    (RESULTS / "qa.json").write_text(json.dumps(out, indent=1))
    return out


ROWS = [
    ("questions", "questions"),
    ("accuracy with sources (%)", "accuracy_open"),
    ("accuracy closed-book (%)", "accuracy_closed"),
    ("citations pointing at given sources (%)", "citations_point_at_given_sources"),
    ("model's own citations all valid (%)", "model_citations_all_valid"),
    ("grounding, answered (mean)", "grounding_mean_answered"),
    ("gold article among cited (%)", "gold_article_cited"),
    ("'not found' with sources (%)", "not_found_open"),
    ("gold removed: questions", "removed_questions"),
    ("gold removed: 'not found' (%)", "not_found_removed"),
    ("time to first token, median / p90 (s)", ("ttft_median", "ttft_p90")),
    ("total, median / p90 (s)", ("total_median", "total_p90")),
    ("closed-book total, median (s)", "closed_total_median"),
]


def markdown(out: dict[str, Any], view: str = "as run, all") -> str:
    """One column per model."""
    models = list(out)
    lines = ["| measure | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for label, key in ROWS:
        cells = []
        for m in models:
            f = out[m][view]
            cells.append(
                " / ".join(str(f[k]) for k in key) if isinstance(key, tuple) else str(f[key])
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    result = report()
    print(json.dumps(result, indent=1))
    print(markdown(result))
