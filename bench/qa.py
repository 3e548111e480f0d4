"""Q&A evaluation: the Q&A graph against closed-book answers of the same model, in one run.

Questions: `bench/data/vital_*.jsonl` (`bench/make_questions.py`, `make_paraphrases.py` and
`make_styles.py` say how they were made), each with a gold answer and a gold article, over
the first 2,000 vital-article leads. `--per-kind N --split test` takes N questions of each
style (`--kinds`) from one half (by a hash of the base id, `qa_data.side`); a follow-up runs
as the second turn of a thread.
For each question and model, three runs:
- `open`: the Q&A graph on the corpus lake (k = 5), streamed, so time to first token is what
  a user waits for (retrieval included);
- `closed`: the same model asked the question alone ("one short sentence"), no sources;
- `removed`: the graph on a copy of the lake without the gold articles of the questions: the
  answer should not be `stated` (a source cannot state it).

Each answer is appended to `bench/results/qa_<model>.jsonl` with its draft and sources, so a
run can stop and resume (hold the model lock in parts: `--limit 50`), and the citation
check's threshold can be re-chosen offline (`bench/qa_report.py`).

Usage: python bench/qa.py --model terraqore/answer|qwen2.5-coder:0.5b [--limit N]
       [--removed-every 2] [--embedding-model all-minilm]
       python bench/qa.py --tag styles_ --kinds generated,paraphrased,clue,statement,keywords,
       followup --per-kind 20 --split test [--round 5]   # round 5: written by hand
       [--k 3] [--conditions open]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from itertools import zip_longest
from pathlib import Path
from typing import Any

import ollama

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.qa_data import Question, load_questions, side
from bench.retrieval_corpus import LAKE_HOME, RESULTS, lake_and_corpus
from tests.server_harness import start_server

REMOVED_HOME = RESULTS / "qa-removed-lake"
CLOSED_SYSTEM = "Answer the question in one short sentence."


def out_path(model: str) -> Path:
    """Where one model's answers go."""
    return RESULTS / f"qa_{model.replace('/', '_').replace(':', '_')}.jsonl"


def prepare_lakes(client: ollama.Client, embedding_model: str) -> None:
    """Index the corpus lake with the embedding model; make the lake without gold articles."""
    from lake.config import LakeSettings
    from lake.database import connect
    from retrievers.config import RetrievalSettings
    from retrievers.embedder import ServerEmbedder
    from retrievers.indexer import sync_index

    lake_and_corpus()
    settings = RetrievalSettings(embedding_model=embedding_model)
    embedder = ServerEmbedder(client, embedding_model)
    sync_index(LakeSettings(home=LAKE_HOME), settings, embedder)
    if not REMOVED_HOME.exists():
        shutil.copytree(LAKE_HOME, REMOVED_HOME, ignore=shutil.ignore_patterns("index"))
        removed = LakeSettings(home=REMOVED_HOME)
        golds = sorted({q["url"] for q in load_questions(kind=None)})
        con = connect(removed)
        try:
            marks = ", ".join("?" for _ in golds)
            ids = [
                r[0]
                for r in con.execute(
                    f"SELECT id FROM bronze_items WHERE url IN ({marks})", golds
                ).fetchall()
            ]
            listed = ", ".join(str(int(i)) for i in ids)
            con.execute(
                "DELETE FROM chunk_embeddings WHERE chunk_id IN"
                f" (SELECT id FROM silver_chunks WHERE item_id IN ({listed}))"
            )
            con.execute(f"DELETE FROM silver_chunks WHERE item_id IN ({listed})")
            con.execute(f"DELETE FROM bronze_items WHERE id IN ({listed})")
        finally:
            con.close()
        print(f"removed {len(ids)} gold articles from the copy", flush=True)
    sync_index(LakeSettings(home=REMOVED_HOME), settings, embedder)


def run_graph(question: Any, home: Path, context: Any) -> dict[str, Any]:
    """One streamed run of the Q&A graph on a lake; answer, kind, checks and timings.

    A follow-up (a question with `first`) runs as the second turn of a thread whose first
    turn is its `first` question, answered with the gold subject (`first_answer`), so the
    condense step has to resolve its "it" or "he".
    """
    from langgraph.checkpoint.memory import InMemorySaver

    from graphs.qa import build_graph
    from graphs.qa_state import Turn

    os.environ["TERRAQORE_HOME"] = str(home)
    graph = build_graph(InMemorySaver())
    config: Any = {"configurable": {"thread_id": f"q{question['id']}"}}
    if question.get("first"):
        turn = Turn(question=question["first"], answer=f"{question['first_answer']}.")
        graph.update_state(config, {"history": [turn]}, as_node="verify")
    start = time.perf_counter()
    first = None
    final: dict[str, Any] = {}
    for part in graph.stream(
        {"question": question["question"]},
        config,
        context=context,
        stream_mode=["updates", "messages"],
        version="v2",
    ):
        if part["type"] == "messages" and first is None:
            if part["data"][1].get("langgraph_node") == "answer":
                first = time.perf_counter() - start
        elif part["type"] == "updates":
            for update in part["data"].values():
                final.update(update or {})
    total = time.perf_counter() - start
    sources = final.get("sources", [])
    keys = ("n", "title", "url", "snippet", "score", "dense_score")
    return {
        "answer": final.get("answer", ""),
        "kind": final.get("kind"),
        "draft": final.get("draft", ""),
        "stated": final.get("stated"),
        "standalone": final.get("standalone", ""),
        "citations_valid": final.get("citations_valid"),
        "grounding": final.get("grounding"),
        "sources": [{k: s.get(k) for k in keys} for s in sources],
        # With no answer tokens (nothing retrieved), the user sees the answer when it ends.
        "ttft": first if first is not None else total,
        "total": total,
        "usage": list(final.get("usage", [])),
    }


def closed_book(model: str, question: Any) -> dict[str, Any]:
    """The same model, asked without sources (a follow-up gets its thread's first turn)."""
    from agents.structured import model_for

    llm = model_for(agent_config(model))
    messages = [("system", CLOSED_SYSTEM)]
    if question.get("first"):
        messages += [("human", question["first"]), ("ai", f"{question['first_answer']}.")]
    start = time.perf_counter()
    reply = llm.invoke([*messages, ("human", question["question"])])
    return {"answer": str(reply.content).strip(), "total": time.perf_counter() - start}


def agent_config(model: str) -> Any:
    """The answer agent's config for a model (a plain model gets the Modelfile's settings)."""
    from graphs.context import AgentConfig

    if model.startswith("terraqore/"):
        return AgentConfig(model=model)
    return AgentConfig(model=model, temperature=0.2, num_ctx=8192, num_predict=768)


def evaluate(
    model: str,
    questions: list[Question],
    removed_every: int,
    tag: str,
    condense: str = "",
    k: int = 5,
    conditions: tuple[str, ...] = ("open", "removed", "closed"),
) -> None:
    """Run the conditions for each question not done yet; append the results.

    `condense` is the model that rewrites follow-ups (the answer model when empty); `k` the
    sources retrieved."""
    from graphs.qa_context import QAContext

    path = out_path(f"{tag}{model}")
    done = set()
    if path.exists():
        done = {(r["id"], r["condition"]) for r in map(json.loads, path.read_text().splitlines())}
    context = QAContext(k=k, answer=agent_config(model), condense=agent_config(condense or model))
    # Condition by condition, so consecutive calls share their system prompt, which the
    # server's prefix cache keeps evaluated, as it does for a user asking one question after
    # another.
    for condition in conditions:
        for n, q in enumerate(questions):
            if (q["id"], condition) in done:
                continue
            if condition == "removed" and n % removed_every:
                continue
            if condition == "closed":
                outcome = closed_book(model, q)
            else:
                home = LAKE_HOME if condition == "open" else REMOVED_HOME
                outcome = run_graph(q, home, context)
            result = {"id": q["id"], "split": side(q), "kind": q["kind"], "condition": condition}
            with path.open("a") as f:
                f.write(json.dumps({"model": model, **result, **outcome}) + "\n")
            print(
                f"{q['id']} {q['kind']} {condition} {outcome.get('kind')} "
                f"{outcome.get('ttft') or 0:.1f}/{outcome['total']:.1f}s "
                f"gold={q['answer']!r}: {outcome['answer'][:120]!r}",
                flush=True,
            )


def pick(
    kinds: list[str], split: str | None, per_kind: int, start: int, round_: int | None = None
) -> list[Question]:
    """The first `per_kind` questions of each kind on one side (after `start`), interleaved
    so that a run cut short still covers every kind; only one writing round's, if given."""
    chosen = []
    for kind in kinds:
        rows = [
            q
            for q in load_questions(kind=kind)
            if (split is None or side(q) == split) and round_ in (None, q["round"])
        ]
        chosen.append(rows[start : start + per_kind])
    return [q for group in zip_longest(*chosen) for q in group if q is not None]


def main() -> int:
    # A `timeout` or `kill` still stops the server this script started (finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="terraqore/answer")
    parser.add_argument("--limit", type=int, default=50, help="questions this run")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--removed-every", type=int, default=2)
    parser.add_argument("--embedding-model", default="all-minilm")
    parser.add_argument(
        "--kinds", default="paraphrased,generated", help="question kinds, in this order"
    )
    parser.add_argument("--split", choices=["dev", "test"], default=None)
    parser.add_argument("--per-kind", type=int, default=0, help="questions per kind (styles)")
    parser.add_argument("--tag", default="", help="prefix of the results file")
    parser.add_argument("--round", type=int, default=None, help="only this writing round's")
    parser.add_argument(
        "--condense-model", default="", help="the model that rewrites follow-ups (--model)"
    )
    parser.add_argument("--k", type=int, default=5, help="sources retrieved")
    parser.add_argument("--conditions", default="open,removed,closed", help="which runs")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    srv = start_server(Path(tempfile.mkdtemp(prefix="tq-qa-srv-")))
    os.environ["TERRAQORE_OLLAMA_HOST"] = srv.url
    os.environ["TERRAQORE_EMBEDDING_MODEL"] = args.embedding_model
    try:
        client = ollama.Client(host=srv.url, timeout=900)
        prepare_lakes(client, args.embedding_model)
        kinds = args.kinds.split(",")
        if args.per_kind:
            questions = pick(kinds, args.split, args.per_kind, args.start, args.round)
        else:
            chosen = [q for kind in kinds for q in load_questions(kind=kind)]
            questions = chosen[args.start : args.start + args.limit]
        evaluate(
            args.model,
            questions,
            args.removed_every,
            args.tag,
            args.condense_model,
            args.k,
            tuple(args.conditions.split(",")),
        )
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
