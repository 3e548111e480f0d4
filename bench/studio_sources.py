"""Off-topic sources in the studio: how often one reaches the agents, before and after a floor.

Over the studio suite's 24 tasks (bench/studio_tasks, each task's text is the query, as in
`nodes.retrieve`) against the default knowledge base (`terraqore lake seed`, what `make demo`
loads: the project's docs and 1,000 Wikipedia vital-article leads), the studio's retrieval
(hybrid, top `K` = the studio's k) is recorded with each passage's scores. The demo's task and
the README's example are recorded too, and reported apart.

A source is *on-topic* when its title names the task's subject (`SUBJECTS`, written by hand
and checkable in the raw records); every other source is off-topic. A floor keeps a source
only when its cosine similarity to the task (`dense_score`, what `Context.relevance_floor`
compares) reaches it; a source that was not among the dense candidates has none and is
dropped. `report` re-scores any floor from the raw records, without a model.

    flock /tmp/terraqore-model.lock python bench/studio_sources.py run   # needs the lake
    python bench/studio_sources.py report
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TASKS = Path(__file__).with_name("studio_tasks")
RESULTS = Path(__file__).with_name("results") / "studio_sources.jsonl"
K = 3
"""Sources the studio's agents see (`graphs.studio_context.Context.k`)."""
DEPTH = 10
"""Passages recorded per task, so that a floor with backfill could be scored too."""

SUBJECTS: dict[str, tuple[str, ...]] = {
    "01_palindrome": ("palindrome",),
    "02_slugify": ("slug",),
    "03_roman": ("roman numeral",),
    "04_rle": ("run-length", "data compression"),
    "05_flatten": ("flatten", "nested"),
    "06_intervals": ("interval",),
    "07_word_freq": ("word frequency", "zipf"),
    "08_duration": ("duration", "iso 8601"),
    "09_chunk": ("chunk",),
    "10_caesar": ("caesar cipher", "cipher"),
    "11_ipv4": ("ip address", "ipv4", "internet protocol"),
    "12_lru_cache": ("cache",),
    "13_spiral": ("spiral", "matrix"),
    "14_brackets": ("bracket", "parenthes"),
    "15_fizzbuzz": ("fizz",),
    "16_leftmost_search": ("binary search",),
    "17_anagrams": ("anagram",),
    "18_snake_case": ("snake case", "camel case", "naming convention"),
    "19_moving_average": ("moving average",),
    "20_dedupe": ("duplicate", "deduplication"),
    "21_csv_line": ("comma-separated", "csv"),
    "22_next_prime": ("prime number",),
    "23_wrap_text": ("line wrap", "word wrap"),
    "24_rpn": ("reverse polish", "polish notation"),
    "demo_palindrome": ("palindrome",),
    "readme_duplicate_photos": ("duplicate", "photograph", "image hash"),
}
CONTROLS = {
    # Tasks in the suite's style whose subject the default knowledge base does hold (written
    # for this measurement): a floor must keep these sources.
    "control_binary": "Write a function `to_binary(n: int) -> str` in `solution.py` that returns"
    ' the binary numeral (base 2) of a non-negative integer: `to_binary(5)` is `"101"`.',
    "control_modular": "Write a function `mod_pow(base: int, exp: int, mod: int) -> int` in"
    " `solution.py` that computes base to the power exp modulo mod by repeated squaring"
    " (modular arithmetic), without calling pow.",
    "control_rational": "Write a function `add_fractions(a: tuple[int, int], b: tuple[int, int])"
    " -> tuple[int, int]` in `solution.py` that adds two rational numbers given as (numerator,"
    " denominator) and returns the sum in lowest terms.",
    "control_linear_programming": "Write a function `maximise(c, A, b)` in `solution.py` that"
    " solves a small linear programming problem in two variables (maximise c.x subject to"
    " A x <= b, x >= 0) by checking the vertices of the feasible region.",
    "control_lake": "Write a script `ingest.py` that loads a folder of Markdown notes into the"
    " TerraQore data lake (bronze, silver, gold) and then searches the lake for a phrase.",
    "control_server": "Write a Python client `client.py` that calls the built-in server's"
    " Ollama-compatible `/api/chat` endpoint with an API key and streams the answer.",
}
CONTROL_SUBJECTS = {
    "control_binary": ("binary number",),
    "control_modular": ("modular arithmetic",),
    "control_rational": ("rational number",),
    "control_linear_programming": ("linear programming",),
    "control_lake": ("data lake",),
    "control_server": ("built-in server", "serving"),
}
SUBJECTS.update(CONTROL_SUBJECTS)
EXTRA = {
    "demo_palindrome": "a Python function is_palindrome(text) that ignores case, spaces and"
    " punctuation",
    "readme_duplicate_photos": "a CLI that finds duplicate photos",
}


def queries() -> dict[str, str]:
    """Each labelled task's name and text (the suite's first 24, whose subjects `SUBJECTS`
    names, then the demo's and the README's); later suite tasks carry no label."""
    found = {
        p.name: (p / "task.md").read_text()
        for p in sorted(TASKS.iterdir())
        if p.is_dir() and p.name in SUBJECTS
    }
    return {**found, **EXTRA, **CONTROLS}


def on_topic(task: str, title: str) -> bool:
    """Whether a source's title names the task's subject."""
    return any(word in title.lower() for word in SUBJECTS[task])


def run(out: Path) -> None:
    """Retrieve for every task as the studio does, and record each passage with its scores."""
    from retrievers import lake_retriever

    retriever = lake_retriever(k=DEPTH, mode="hybrid")
    with out.open("w", encoding="utf-8") as f:
        for name, text in queries().items():
            docs = retriever.invoke(text)
            rows = [
                {
                    "rank": rank,
                    "title": str(d.metadata.get("title") or ""),
                    "url": str(d.metadata.get("source") or ""),
                    "score": d.metadata.get("score"),
                    "dense_score": d.metadata.get("dense_score"),
                    "bm25_score": d.metadata.get("bm25_score"),
                    "head": d.page_content[:160],
                }
                for rank, d in enumerate(docs, 1)
            ]
            for row in rows:
                row["on_topic"] = on_topic(name, row["title"])
            f.write(json.dumps({"task": name, "query": text, "passages": rows}) + "\n")
            print(name, [(r["title"], r["dense_score"]) for r in rows[:K]])


def load(path: Path) -> list[dict[str, Any]]:
    """The raw records."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def kept(passages: list[dict[str, Any]], floor: float) -> list[dict[str, Any]]:
    """What reaches the agents: the top K, less those under the floor (no backfill)."""
    return [p for p in passages[:K] if floor <= 0 or (p["dense_score"] or -1.0) >= floor]


def tally(records: list[dict[str, Any]], floor: float) -> dict[str, int]:
    """Sources that reach the agents at this floor, off- and on-topic, and tasks touched."""
    off = on = touched = empty = 0
    for record in records:
        shown = kept(record["passages"], floor)
        off += sum(not p["on_topic"] for p in shown)
        on += sum(p["on_topic"] for p in shown)
        touched += any(not p["on_topic"] for p in shown)
        empty += not shown
    return {"off": off, "on": on, "tasks_with_off": touched, "tasks_without_sources": empty}


def report(path: Path, floors: list[float]) -> None:
    """Figures per floor, for the suite and apart for the demo and README tasks."""
    records = load(path)
    suite = [r for r in records if r["task"] not in EXTRA and r["task"] not in CONTROLS]
    extra = [r for r in records if r["task"] in EXTRA]
    controls = [r for r in records if r["task"] in CONTROLS]
    dense = sorted(
        (p["dense_score"] or -1.0, p["on_topic"], r["task"], p["title"])
        for r in suite
        for p in r["passages"][:K]
    )
    print(f"{len(suite)} suite tasks, top {K} each ({len(suite) * K} sources before any floor)")
    print("highest off-topic cosines:", [round(d, 3) for d, on, *_ in dense if not on][-5:])
    print("on-topic sources:", [(round(d, 3), t, title) for d, on, t, title in dense if on])
    print(
        "| floor | off-topic shown | on-topic shown | tasks with an off-topic source | tasks with no source |"
    )
    print("|---|---|---|---|---|")
    for floor in floors:
        t = tally(suite, floor)
        print(
            f"| {floor or 'none'} | {t['off']} | {t['on']} | {t['tasks_with_off']} of {len(suite)} | {t['tasks_without_sources']} |"
        )
    print("positive controls (a task whose subject the knowledge base holds):")
    for floor in floors:
        t = tally(controls, floor)
        print(f"  floor {floor or 'none'}: on-topic shown {t['on']}, off-topic {t['off']}")
    for record in controls:
        print(
            record["task"],
            [
                (p["title"], round(p["dense_score"] or -1, 3), p["on_topic"])
                for p in record["passages"][:K]
            ],
        )
    for record in extra:
        for floor in floors:
            shown = kept(record["passages"], floor)
            print(
                record["task"],
                floor or "none",
                [(p["title"], round(p["dense_score"] or -1, 3)) for p in shown],
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run").add_argument("--out", type=Path, default=RESULTS)
    rep = sub.add_parser("report")
    rep.add_argument("--results", type=Path, default=RESULTS)
    rep.add_argument("--floors", type=float, nargs="*", default=[0.0, 0.3, 0.35, 0.4, 0.45, 0.5])
    args = parser.parse_args()
    if args.command == "run":
        run(args.out)
    else:
        report(args.results, args.floors)


if __name__ == "__main__":
    main()
