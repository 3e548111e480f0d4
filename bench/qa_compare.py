"""Q&A runs side by side: accuracy, kinds, gold among the sources and first-token time, by style.

Each file is a `bench/qa.py` results file (condition `open`, the answers as the graph gave
them); `--closed FILE` adds the closed-book accuracy of the same questions from another run.

Usage: python bench/qa_compare.py RESULTS.jsonl ... [--closed RESULTS.jsonl]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.qa_data import contains, load_questions


def rows(path: str, condition: str) -> list[dict[str, Any]]:
    lines = Path(path).read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["condition"] == condition]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+")
    parser.add_argument("--closed", default=None)
    args = parser.parse_args()
    golds = {q["id"]: q for q in load_questions(kind=None)}
    closed = {r["id"]: r for r in rows(args.closed, "closed")} if args.closed else {}
    print(
        "| run | style | questions | right | closed-book | stated / identified / not found "
        "| gold among sources | first token, median (p90) | total, median |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for path in args.files:
        runs = rows(path, "open")
        for style in sorted({golds[r["id"]]["kind"] for r in runs}):
            part = [r for r in runs if golds[r["id"]]["kind"] == style]
            right = sum(contains(r["answer"], golds[r["id"]]["answer"]) for r in part)
            book = [closed[r["id"]] for r in part if r["id"] in closed]
            shut = sum(contains(r["answer"], golds[r["id"]]["answer"]) for r in book)
            kinds = " / ".join(
                str(sum(r["kind"] == k for r in part))
                for k in ("stated", "identified", "not_found")
            )
            gold = sum(any(s["url"] == golds[r["id"]]["url"] for s in r["sources"]) for r in part)
            ttft = sorted(r["ttft"] for r in part)
            p90 = ttft[int(0.9 * len(ttft))]
            total = statistics.median(r["total"] for r in part)
            print(
                f"| {Path(path).stem} | {style} | {len(part)} | {right} | "
                f"{shut if book else '-'} | {kinds} | {gold} | "
                f"{statistics.median(ttft):.1f} s ({p90:.1f}) | {total:.1f} s |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
