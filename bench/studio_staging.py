"""When may the Coder's first version go alone? Rules re-scored on stored studio runs, no model.

Every graph run that `bench/studio.py` recorded with all of the Coder's versions written at
once (`graph-fenced` before `Context.staged`, `eager-fenced` since) keeps each version's
designed-test results and its hidden-test verdict. A staging rule keeps the first version
when it holds, and otherwise takes what the run chose among all of them; so each rule gives,
per split, the tasks solved and how often the first version alone was kept (the calls saved).
The rule in `nodes.run_tests.widen` was chosen on the dev half, with the held-out figures already in view (bench/README.md says so); quote the held-out half.

Usage: python bench/studio_staging.py [RESULTS.jsonl ...]   (default: bench/results/studio*.jsonl)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import studio_suite as suite
from terraqore.codecheck.test_file import TEST_FILE, designed_names

RESULTS = Path(__file__).with_name("results")
STAGED = {"247fb55", "f8fcf5f"}
"""Commits whose `graph-fenced` runs were staged, before records said so (`staged`)."""

Rule = Callable[[bool, bool, bool, float], bool]
"""(the task states examples, the first passes them all, it passes every test, share passed)."""

RULES: dict[str, Rule] = {
    "all at once (never alone)": lambda stated, ok, every, share: False,
    "alone if every test passes": lambda stated, ok, every, share: every,
    "alone if every stated example passes, else if every test does (the staged rule)": (
        lambda stated, ok, every, share: ok if stated else every
    ),
    "alone if every stated example passes, else if half the tests do": (
        lambda stated, ok, every, share: ok if stated else share >= 0.5
    ),
    "alone if every stated example passes, else always": (
        lambda stated, ok, every, share: ok if stated else True
    ),
}


def runs(paths: list[Path]) -> list[dict[str, Any]]:
    """Graph runs whose versions were all written at once, the first of them tested."""
    out = []
    for path in paths:
        for r in map(json.loads, path.read_text().splitlines()):
            candidates = r.get("candidates") or []
            if not r.get("mode", "").startswith(("graph", "eager")) or not candidates:
                continue
            first = candidates[0]
            if first["origin"] != "first" or first.get("tests_run") is None:
                continue
            if r.get("staged", r["commit"] in STAGED):
                continue  # the first version went alone: not a pool written at once
            out.append(r)
    return out


def facts(r: dict[str, Any]) -> tuple[bool, bool, bool, float]:
    """What a staging rule sees of the run's first version."""
    first = r["candidates"][0]
    stated = {
        f"{TEST_FILE}::{name}"
        for name, test in designed_names(r.get("designed") or [])
        if test.get("stated")
    }
    passed = set(first.get("passed_ids") or [])
    ran = first.get("tests_run") or 0
    every = ran > 0 and first.get("tests_passed") == ran
    share = (first.get("tests_passed") or 0) / ran if ran else 0.0
    return bool(stated), stated <= passed, every, share


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    paths = args.files or sorted(p for p in RESULTS.glob("studio*.jsonl"))
    found = runs(paths)
    print("| rule | split | runs | solved | first version kept alone |")
    print("|---|---|---|---|---|")
    for name, rule in RULES.items():
        for split in ("dev", "held-out"):
            mine = [r for r in found if suite.split_of(r["task"]) == split]
            solved = alone = 0
            for r in mine:
                keep = rule(*facts(r))
                alone += keep
                chosen = next((c for c in r["candidates"] if c["id"] == r["selected"]), None)
                taken = r["candidates"][0] if keep else chosen
                solved += bool(taken and taken["hidden"].get("solved"))
            print(f"| {name} | {split} | {len(mine)} | {solved} | {alone} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
