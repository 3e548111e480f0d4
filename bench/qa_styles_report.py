"""Figures of `bench/qa.py --tag styles_` per question style, and the answer-kind rules chosen
on the dev half.

Each saved draft is re-checked with the current `nodes.verify.check` under every candidate
rule (the model's draft and the decision step's verdict do not depend on them):
- `decide`: the decision step's verdict on whether the cited source states the answer
  (recorded in the run) demotes a `stated` answer to `identified`, or is ignored;
- `question_coverage`: a `stated` answer whose cited sources hold less than this share of
  the question's content words becomes `identified` (0 for none);
- `strict`: only `stated` answers are kept.

Measures, per style and half: accuracy with sources (the gold answer appears anywhere in the
answer, whatever its kind) against closed-book answers of the same model in the same run;
each kind's share; citations pointing at given sources and the model's own citations kept;
`stated` answers whose cited sources include the gold article ("stated, gold cited") and
`stated` answers that are wrong; with the gold article removed, the share of `stated`
answers and of `stated` answers that name a wrong subject; time to first token.

The rule is chosen on dev: the most `stated` answers that are right, minus those that are
wrong, among rules whose dev "stated, wrong subject" with the gold removed stays at or under
10%. Usage: python bench/qa_styles_report.py [--file bench/results/qa_styles_...jsonl]
"""

from __future__ import annotations

import argparse
import itertools
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

COVERAGES = (0.0, 0.3, 0.5, 0.65)
STYLES = (
    "generated",
    "description-template",
    "paraphrased",
    "clue",
    "statement",
    "keywords",
    "followup",
)


def pct(values: list[bool]) -> float | None:
    """Share of true values, in percent (None when there are none)."""
    return round(100 * sum(values) / len(values), 1) if values else None


def rechecked(row: dict[str, Any], q: dict[str, Any], rule: dict[str, Any]) -> Checked:
    """The saved draft checked under a rule."""
    sources = [{**s, "text": s["snippet"]} for s in row["sources"]]
    question = row.get("standalone") or q["question"]
    return check(
        row["draft"],
        sources,  # type: ignore[arg-type]
        question,
        QAContext().support_threshold,
        rule["coverage"],
        stated=row.get("stated") if rule["decide"] else None,
        strict=rule["strict"],
    )


def figures(rows: list[dict[str, Any]], golds: dict[int, Any], rule: dict[str, Any]) -> Any:
    """Every measure of one rule on some rows."""
    by = {c: [r for r in rows if r["condition"] == c] for c in ("open", "closed", "removed")}
    opened = [(r, golds[r["id"]], rechecked(r, golds[r["id"]], rule)) for r in by["open"]]
    removed = [(golds[r["id"]], rechecked(r, golds[r["id"]], rule)) for r in by["removed"]]
    right = [contains(c.answer, q["answer"]) for _, q, c in opened]
    stated = [(r, q, c) for r, q, c in opened if c.kind == "stated"]
    ttft = [r["ttft"] for r in by["open"]]
    return {
        "questions": len(opened),
        "accuracy with sources": pct(right),
        "accuracy closed-book": pct(
            [contains(r["answer"], golds[r["id"]]["answer"]) for r in by["closed"]]
        ),
        "kind shares": {
            k: pct([c.kind == k for _, _, c in opened])
            for k in ("stated", "identified", "not_found")
        },
        "accuracy by kind": {
            k: pct([contains(c.answer, q["answer"]) for _, q, c in opened if c.kind == k])
            for k in ("stated", "identified", "not_found")
        },
        "citations pointing at given sources": pct(
            [set(cited(c.answer)) <= {s["n"] for s in r["sources"]} for r, _, c in opened]
        ),
        "model's own citations all kept": pct([c.citations_valid for _, _, c in opened]),
        "stated, gold article cited": pct(
            [
                q["url"] in {s["url"] for s in r["sources"] if s["n"] in cited(c.answer)}
                for r, q, c in stated
            ]
        ),
        "stated, wrong": pct([not contains(c.answer, q["answer"]) for _, q, c in stated]),
        "removed": len(removed),
        "removed: stated": pct([c.kind == "stated" for _, c in removed]),
        "removed: stated, wrong subject": pct(
            [c.kind == "stated" and not contains(c.answer, q["answer"]) for q, c in removed]
        ),
        "ttft median": round(statistics.median(ttft), 2) if ttft else None,
        "ttft p90": round(sorted(ttft)[int(0.9 * len(ttft))], 2) if ttft else None,
        "total median": round(statistics.median([r["total"] for r in by["open"]]), 2)
        if by["open"]
        else None,
    }


def rules() -> list[dict[str, Any]]:
    """Every rule the report compares."""
    return [
        {"decide": d, "coverage": c, "strict": s}
        for d, c, s in itertools.product((True, False), COVERAGES, (False, True))
    ]


def name(rule: dict[str, Any]) -> str:
    """A rule as a short label."""
    return f"decide={rule['decide']} coverage={rule['coverage']} strict={rule['strict']}"


def dev_score(rows: list[dict[str, Any]], golds: dict[int, Any], rule: dict[str, Any]) -> float:
    """Right `stated` answers minus wrong ones; -inf when removed "stated, wrong" passes 10%."""
    f = figures(rows, golds, rule)
    if (f["removed: stated, wrong subject"] or 0) > 10:
        return float("-inf")
    opened = [(r, golds[r["id"]]) for r in rows if r["condition"] == "open"]
    score = 0
    for r, q in opened:
        c = rechecked(r, q, rule)
        if c.kind == "stated":
            score += 1 if contains(c.answer, q["answer"]) else -1
    return score + 0.01 * (f["accuracy with sources"] or 0)


def report(path: Path) -> dict[str, Any]:
    """Figures per style and half, for the rule chosen on dev and the alternatives."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    golds = {q["id"]: q for q in load_questions(kind=None)}
    dev = [r for r in rows if r["split"] == "dev"]
    scores = {name(r): dev_score(dev, golds, r) for r in rules() if not r["strict"]}
    chosen = max((r for r in rules() if not r["strict"]), key=lambda r: scores[name(r)])
    default = QAContext()
    current = {"decide": default.decide, "coverage": default.question_coverage, "strict": False}
    shown = {
        "chosen on dev": chosen,
        "strict": {**chosen, "strict": True},
        "no decision, no coverage": {"decide": False, "coverage": 0.0, "strict": False},
        "old gate (coverage 0.65, not found)": {"decide": False, "coverage": 0.65, "strict": True},
    }
    out: dict[str, Any] = {"dev scores": scores, "chosen": chosen, "current default": current}
    styles = [s for s in STYLES if any(golds[r["id"]]["kind"] == s for r in rows)]
    for label, rule in shown.items():
        out[label] = {
            half: {
                style: figures([r for r in part if golds[r["id"]]["kind"] == style], golds, rule)
                for style in styles
            }
            for half, part in (("dev", dev), ("test", [r for r in rows if r["split"] == "test"]))
        }
    (RESULTS / f"{path.stem}_report.json").write_text(json.dumps(out, indent=1))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", default=str(RESULTS / "qa_styles_terraqore_answer.jsonl"))
    args = parser.parse_args()
    out = report(Path(args.file))
    print(json.dumps({k: out[k] for k in ("chosen", "current default")}, indent=1))
    for half in ("dev", "test"):
        print(f"\n{half}, chosen rule")
        for style, f in out["chosen on dev"][half].items():
            print(style, json.dumps(f))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
