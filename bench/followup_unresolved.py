"""Follow-ups whose rewrite resolved nothing, run again with the previous question taken along.

`agents.condense.unresolved` picks, among the stored follow-up runs (`bench/results/qa_*.jsonl`,
condition `open`), those whose standalone question adds no word to the follow-up while one of
them points back ("it", "this", ...). Each is run again through the Q&A graph on the corpus
lake, as `bench/qa.py` runs a follow-up; `--report` compares the gold article among the five
sources and the gold answer in the answer, before (the mean over the stored runs of that
question) and after, by half.

Usage: python bench/followup_unresolved.py [--report]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.qa_data import contains, load_questions, side
from bench.retrieval_corpus import LAKE_HOME, RESULTS

OUT = RESULTS / "qa_followup_unresolved.jsonl"


def stored() -> dict[int, list[dict[str, Any]]]:
    """The stored open runs of follow-ups whose rewrite was unresolved, by question id."""
    from agents.condense import unresolved

    golds = {q["id"]: q for q in load_questions(kind=None)}
    runs: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(glob.glob(str(RESULTS / "qa_*.jsonl"))):
        if Path(path) == OUT:
            continue
        for line in Path(path).read_text().splitlines():
            r = json.loads(line)
            q = golds.get(r["id"])
            if not q or not q.get("first") or r.get("condition") != "open":
                continue
            if "standalone" in r and unresolved(q["question"], r["standalone"]):
                runs[r["id"]].append(r)
    return runs


def run() -> None:
    import ollama

    from bench.qa import agent_config, prepare_lakes, run_graph
    from graphs.qa_context import QAContext
    from tests.server_harness import start_server

    ids = set(stored())
    questions = [q for q in load_questions(kind=None) if q["id"] in ids]
    srv = start_server(Path(tempfile.mkdtemp(prefix="tq-qa-srv-")))
    os.environ["TERRAQORE_OLLAMA_HOST"] = srv.url
    os.environ["TERRAQORE_EMBEDDING_MODEL"] = "all-minilm"
    try:
        prepare_lakes(ollama.Client(host=srv.url, timeout=900), "all-minilm")
        model = agent_config("terraqore/answer")
        context = QAContext(k=5, answer=model, condense=model)
        with OUT.open("w") as f:
            for q in questions:
                out = run_graph(q, LAKE_HOME, context)
                head = {"id": q["id"], "split": side(q), "kind": q["kind"], "condition": "open"}
                f.write(json.dumps({**head, **out}) + "\n")
                print(q["id"], out["standalone"], "|", out["kind"], out["answer"][:100], flush=True)
    finally:
        srv.stop()


def report() -> dict[str, dict[str, float]]:
    """Per half: questions, gold among the sources and right answers, before and after."""
    golds = {q["id"]: q for q in load_questions(kind=None)}
    before = stored()
    table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for line in OUT.read_text().splitlines():
        r = json.loads(line)
        q = golds[r["id"]]
        row = table[r["split"]]
        row["questions"] += 1
        row["rewrite unresolved again"] += r["standalone"].endswith(")")
        olds = before[r["id"]]
        row["gold among sources, before"] += sum(
            any(s["url"] == q["url"] for s in o["sources"]) for o in olds
        ) / len(olds)
        row["gold among sources, after"] += any(s["url"] == q["url"] for s in r["sources"])
        row["right, before"] += sum(contains(o["answer"], q["answer"]) for o in olds) / len(olds)
        row["right, after"] += contains(r["answer"], q["answer"])
    return {half: {k: round(v, 1) for k, v in row.items()} for half, row in table.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report", action="store_true", help="only compare the stored runs")
    if not parser.parse_args().report:
        run()
    print(json.dumps(report(), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
