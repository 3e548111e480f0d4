"""Question styles written by hand, not by the 1.5B: more paraphrases, clues and follow-ups.

`make_styles.py` asks the bundled 1.5B for a reworded question, a clue and a follow-up per
article; its filters kept 13, 8 and 17 of 85 articles, far from the 100 per style that issue 26
asks for. Here the same three styles are written by people (in this project, helper sessions
of a larger model, each given only the article and the rules below, never a retriever or an
answer model), then kept or dropped by the same filters as the model's
(`make_styles.question_problem` and `follow_up_problem`).

1. `tasks`: a writer's share of the articles (not used by any earlier question), each with its
   lead and its banned words (`make_paraphrases.banned_words`), as JSON lines.
2. The writer adds `question`, `clue`, `follow_up` and `follow_up_answer` to each line (the
   rules are `make_styles.SYSTEM`'s; `check` prints what the filters would drop, so a writer
   can reword).
3. `add`: the kept questions join `vital_styles.jsonl` with `round` 5 and a `writer`, with
   their statement and keyword forms (paraphrases only, as `make_styles.finalize` does).
   Their dev/held-out side is the hash of their base id, as for every other style.

Usage: python bench/written_styles.py tasks --writer a --count 70 > tasks_a.jsonl
       python bench/written_styles.py check answers_a.jsonl
       python bench/written_styles.py add bench/data/written_a.jsonl [...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.make_paraphrases import HEAD, banned_words, idf, lead_overlap
from bench.make_styles import (
    EXAMPLES,
    MAX_CLUE_OVERLAP,
    MAX_PARAPHRASE_OVERLAP,
    as_keywords,
    as_statement,
    follow_up_problem,
    question_problem,
    style_row,
)
from bench.qa_data import DATA, PARAPHRASES, STYLES, normalise
from lake.knowledge_base import vital_articles

FIRST_ID = 5000
"""Ids of this set start here (after `make_styles.py`'s 2000 to about 4300)."""
WRITERS = "abcd"
"""Writers split the articles by position, so no two write about the same one."""
MIN_LEAD = 200


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def tasks(writer: str, count: int) -> list[dict[str, Any]]:
    """`count` articles for `writer`: unused by earlier questions, spread over the corpus."""
    used = {r["url"] for path in (DATA, PARAPHRASES, STYLES) for r in _rows(path)}
    articles = vital_articles(2000)
    weights = idf([a.raw[:HEAD] for a in articles])
    fresh = [
        a
        for a in articles
        if a.url not in used
        and a.title not in EXAMPLES
        and len(a.raw) >= MIN_LEAD
        and f" {normalise(re.sub(r'[(].*?[)]', '', a.title))} " in f" {normalise(a.raw)} "
    ]
    # Every n-th fresh article, offset by the writer: a spread over the alphabet, disjoint.
    step = max(1, len(fresh) // (count * len(WRITERS)))
    start = WRITERS.index(writer)
    mine = fresh[start * step :: step * len(WRITERS)][:count]
    return [
        {
            "title": a.title,
            "url": a.url,
            "lead": a.raw[:1200],
            "banned": banned_words(a, weights),
        }
        for a in mine
    ]


def problems(row: dict[str, Any]) -> dict[str, str | None]:
    """What the filters say of each style in one written row (None: kept)."""
    return {
        "paraphrased": question_problem(row, str(row.get("question", "")), MAX_PARAPHRASE_OVERLAP),
        "clue": question_problem(row, str(row.get("clue", "")), MAX_CLUE_OVERLAP),
        "followup": follow_up_problem(row) if row.get("follow_up") else "missing",
    }


def add(paths: list[Path]) -> dict[str, Any]:
    """Append the kept written questions to `vital_styles.jsonl` (replacing round 5's)."""
    kept = [r for r in _rows(STYLES) if r.get("round") != 5]
    out: list[dict[str, Any]] = []
    dropped: dict[str, Counter[str]] = {k: Counter() for k in ("paraphrased", "clue", "followup")}

    def put(style: str, base: int, row: dict[str, Any], question: str, answer: str, **extra: Any):
        n = FIRST_ID + len(out)
        extra["writer"] = row["writer"]
        out.append(style_row(n, style, base, row, question, answer, 5, **extra))

    rows = [{**r, "writer": p.stem} for p in paths for r in _rows(p)]
    for n, row in enumerate(rows):
        title = re.sub(r"\s*\(.*?\)", "", row["title"]).strip()
        why = problems(row)
        first = f"Tell me about {title}."
        if why["clue"] is None:
            put("clue", FIRST_ID + 10_000 + n, row, row["clue"].strip(), title)
            first = row["clue"].strip()
        if why["paraphrased"] is None:
            question = row["question"].strip()
            base = FIRST_ID + n
            put("paraphrased", base, row, question, title)
            statement = as_statement(question)
            if statement:
                put("statement", base, row, statement, title, origin="paraphrased")
            put("keywords", base, row, as_keywords(question), title, origin="paraphrased")
            first = question
        if why["followup"] is None:
            thread = {"first": first, "first_answer": title}
            base = FIRST_ID + 20_000 + n
            answer = str(row["follow_up_answer"]).strip()
            put("followup", base, row, row["follow_up"].strip(), answer, **thread)
            put("followup-keywords", base, row, as_keywords(row["follow_up"]), answer, **thread)
        for style, reason in why.items():
            if reason:
                dropped[style][reason] += 1
    STYLES.write_text("".join(json.dumps(r) + "\n" for r in [*kept, *out]))
    summary: dict[str, Any] = {"articles": len(rows)}
    for style in sorted({r["kind"] for r in out}):
        mine = [r for r in out if r["kind"] == style]
        summary[style] = {
            "kept": len(mine),
            "dev": sum(r["split"] == "dev" for r in mine),
            "mean lead overlap": round(sum(r["lead_overlap"] for r in mine) / len(mine), 3),
        }
    summary["dropped"] = {k: dict(v) for k, v in dropped.items()}
    return summary


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tasks")
    t.add_argument("--writer", choices=list(WRITERS), required=True)
    t.add_argument("--count", type=int, default=70)
    c = sub.add_parser("check")
    c.add_argument("path", type=Path)
    a = sub.add_parser("add")
    a.add_argument("paths", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "tasks":
        for row in tasks(args.writer, args.count):
            print(json.dumps(row))
    elif args.command == "check":
        for row in _rows(args.path):
            lapped = {
                "question": lead_overlap(str(row.get("question", "")), row["lead"]),
                "clue": lead_overlap(str(row.get("clue", "")), row["lead"]),
            }
            print(json.dumps({"title": row["title"], **problems(row), "overlap": lapped}))
    else:
        print(json.dumps(add(args.paths), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
