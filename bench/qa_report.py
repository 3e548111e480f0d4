"""Figures of `bench/qa.py`, and the citation check's threshold chosen on the dev questions.

The check is pure code and the model's draft does not depend on it, so every figure comes
from re-checking the saved drafts with the current `nodes.verify` (at the context's default
threshold), and each draft is also re-checked at every threshold of a grid:
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
from bench.retrieval_corpus import RESULTS
from graphs.qa_context import QAContext
from nodes.verify import Checked, check, cited

THRESHOLDS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
COVERAGES = (0.0, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8)
"""Grid for `QAContext.question_coverage`, chosen on dev with the support threshold fixed."""


def pct(values: list[bool]) -> float | None:
    """Share of true values, in percent (None when there are none)."""
    return round(100 * sum(values) / len(values), 1) if values else None


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def rechecked(
    row: dict[str, Any], question: str, threshold: float, decided: bool, coverage: float
) -> Checked:
    """What the check gives for the saved draft at a threshold (the draft does not depend on it).

    `decided=False` takes the draft the model wrote when the decision step had said "none"
    (`bench/qa.py` asks for it), i.e. the graph without the decision step.
    """
    sources = [{**s, "text": s["snippet"]} for s in row["sources"]]
    draft = row["draft"] if decided else row.get("draft_without_decision") or row["draft"]
    return check(draft, sources, question, threshold, coverage)  # type: ignore[arg-type]


def figures(
    rows: list[dict[str, Any]],
    golds: dict[int, Any],
    threshold: float,
    decided: bool = True,
    coverage: float = 0.0,
) -> dict[str, Any]:
    """Every measure of one model on some rows, the drafts checked at `threshold`."""
    by = {c: [r for r in rows if r["condition"] == c] for c in ("open", "closed", "removed")}

    def checked(r: dict[str, Any]) -> Checked:
        return rechecked(r, golds[r["id"]]["question"], threshold, decided, coverage)

    opened = [(r, checked(r)) for r in by["open"]]
    removed = [checked(r) for r in by["removed"]]
    answered = [(r, c) for r, c in opened if not c.not_found]
    gold_cited = [
        golds[r["id"]]["url"] in {s["url"] for s in r["sources"] if s["n"] in cited(c.answer)}
        for r, c in answered
    ]
    ttft = [r["ttft"] for r in by["open"] if r["ttft"] is not None]
    return {
        "questions": len(opened),
        "accuracy_open": pct([contains(c.answer, golds[r["id"]]["answer"]) for r, c in opened]),
        "accuracy_closed": pct(
            [contains(r["answer"], golds[r["id"]]["answer"]) for r in by["closed"]]
        ),
        "citations_point_at_given_sources": pct(
            [set(cited(c.answer)) <= {s["n"] for s in r["sources"]} for r, c in opened]
        ),
        "model_citations_all_valid": pct([c.citations_valid for _, c in opened]),
        "grounding_mean_answered": round(statistics.fmean([c.grounding for _, c in answered]), 3)
        if answered
        else None,
        "gold_article_cited": pct(gold_cited),
        "not_found_open": pct([c.not_found for _, c in opened]),
        "removed_questions": len(removed),
        "not_found_removed": pct([c.not_found for c in removed]),
        "ttft_median": quantile(ttft, 0.5),
        "ttft_p90": quantile(ttft, 0.9),
        "total_median": quantile([r["total"] for r in by["open"]], 0.5),
        "total_p90": quantile([r["total"] for r in by["open"]], 0.9),
        "closed_total_median": quantile([r["total"] for r in by["closed"]], 0.5),
    }


def dev_score(
    rows: list[dict[str, Any]], golds: dict[int, Any], threshold: float, coverage: float = 0.0
) -> float:
    """What the threshold is chosen by: accuracy with sources plus "not found" when removed."""
    f = figures(rows, golds, threshold, coverage=coverage)
    return float((f["accuracy_open"] or 0) + (f["not_found_removed"] or 0))


def report() -> dict[str, Any]:
    """Figures per model: as run, and with the threshold chosen on dev, on test."""
    golds = {q["id"]: q for q in load_questions(kind=None)}
    out: dict[str, Any] = {}
    for path in sorted(
        p for p in RESULTS.glob("qa_*.jsonl") if not p.name.startswith("qa_styles_")
    ):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        model = rows[0]["model"]
        dev = [r for r in rows if r["split"] == "dev"]
        test = [r for r in rows if r["split"] == "test"]

        scores = {t: dev_score(dev, golds, t) for t in THRESHOLDS}
        best = max(THRESHOLDS, key=lambda t: scores[t])
        ctx = QAContext()
        current, cover = ctx.support_threshold, ctx.question_coverage
        by_cover = {c: dev_score(dev, golds, current, c) for c in COVERAGES}
        best_cover = max(COVERAGES, key=lambda c: (by_cover[c], -c))
        out[model] = {
            "all, current check": figures(rows, golds, current, coverage=cover),
            "test, current check": figures(test, golds, current, coverage=cover),
            "question coverage chosen on dev": best_cover,
            "dev score by question coverage": by_cover,
            "test, question coverage chosen on dev": figures(
                test, golds, current, coverage=best_cover
            ),
            "test, without the question coverage": figures(test, golds, current),
            "all, without the question coverage": figures(rows, golds, current),
            "threshold chosen on dev": best,
            "dev score by threshold": scores,
            "test, threshold chosen on dev": figures(test, golds, best),
            "all, without the decision step": figures(
                rows, golds, current, decided=False, coverage=cover
            ),
            "test, without the decision step": figures(
                test, golds, current, decided=False, coverage=cover
            ),
            "all, by kind": {
                kind: figures(
                    [r for r in rows if golds[r["id"]]["kind"] == kind],
                    golds,
                    current,
                    coverage=cover,
                )
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


def markdown(out: dict[str, Any], view: str = "all, current check") -> str:
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
