"""Q&A evaluation: the Q&A graph against closed-book answers of the same model, in one run.

Questions: `bench/data/vital_questions.jsonl` (`bench/make_questions.py` says how they were
made), each with a gold answer and a gold article, over the first 2,000 vital-article leads.
For each question and model, three runs:
- `open`: the Q&A graph on the corpus lake (k = 5), streamed, so time to first token is what
  a user waits for (retrieval included);
- `closed`: the same model asked the question alone ("one short sentence"), no sources;
- `removed`: the graph on a copy of the lake without the gold articles of the questions: the
  answer should be "not found", not a guess.

Each answer is appended to `bench/results/qa_<model>.jsonl` with its draft and sources, so a
run can stop and resume (hold the model lock in parts: `--limit 50`), and the citation
check's threshold can be re-chosen offline (`bench/qa_report.py`).

Usage: python bench/qa.py --model terraqore/answer|qwen2.5-coder:0.5b [--limit N]
       [--removed-every 2] [--embedding-model all-minilm]
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
from pathlib import Path
from typing import Any

import ollama

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.qa_data import Question, load_questions
from bench.retrieval_questions import LAKE_HOME, RESULTS, lake_and_corpus
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


def run_graph(question: str, home: Path, context: Any) -> dict[str, Any]:
    """One streamed run of the Q&A graph on a lake; answer, checks and timings."""
    from graphs.qa import graph

    os.environ["TERRAQORE_HOME"] = str(home)
    start = time.perf_counter()
    first = None
    final: dict[str, Any] = {}
    for part in graph.stream(
        {"question": question},
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
    without = ""
    if final.get("stated_in") == 0 and sources:
        without = draft_without_decision(question, sources, context)
    return {
        "answer": final.get("answer", ""),
        "draft": final.get("draft", ""),
        "stated_in": final.get("stated_in"),
        "short_answer": final.get("short_answer", ""),
        "draft_without_decision": without,
        "citations_valid": final.get("citations_valid"),
        "grounding": final.get("grounding"),
        "sources": [{k: s[k] for k in ("n", "title", "url", "snippet")} for s in sources],
        # With no answer tokens ("not found" decided before drafting), the user sees the
        # answer when the run ends.
        "ttft": first if first is not None else total,
        "total": total,
        "usage": list(final.get("usage", [])),
    }


def draft_without_decision(question: str, sources: list[Any], context: Any) -> str:
    """The answer the model would have drafted had the decision step not stopped it.

    Asked after the decision with the same sources, so the server's prefix cache makes it
    cheap; it lets the report compare the graph with and without the decision in one run.
    """
    from agents.answer import prompt
    from agents.structured import model_for
    from graphs.qa_state import QAState

    state = QAState(question=question, standalone=question, sources=sources)
    reply = model_for(context.answer).invoke(prompt(question, state))
    return str(reply.content).strip()


def closed_book(model: str, question: str) -> dict[str, Any]:
    """The same model, asked without sources."""
    from agents.structured import model_for

    llm = model_for(agent_config(model))
    start = time.perf_counter()
    reply = llm.invoke([("system", CLOSED_SYSTEM), ("human", question)])
    return {"answer": str(reply.content).strip(), "total": time.perf_counter() - start}


def agent_config(model: str) -> Any:
    """The answer agent's config for a model (a plain model gets the Modelfile's settings)."""
    from graphs.context import AgentConfig

    if model.startswith("terraqore/"):
        return AgentConfig(model=model)
    return AgentConfig(model=model, temperature=0.2, num_ctx=8192, num_predict=768)


def evaluate(model: str, questions: list[Question], removed_every: int) -> None:
    """Run the three conditions for each question not done yet; append the results."""
    from graphs.qa_context import QAContext

    path = out_path(model)
    done = set()
    if path.exists():
        done = {(r["id"], r["condition"]) for r in map(json.loads, path.read_text().splitlines())}
    context = QAContext(k=5, answer=agent_config(model))
    # Condition by condition, so consecutive calls share their system prompt, which the
    # server's prefix cache keeps evaluated, as it does for a user asking one question after
    # another.
    for condition in ("open", "removed", "closed"):
        for q in questions:
            if (q["id"], condition) in done:
                continue
            if condition == "removed" and q["id"] % removed_every:
                continue
            if condition == "closed":
                outcome = closed_book(model, q["question"])
            else:
                home = LAKE_HOME if condition == "open" else REMOVED_HOME
                outcome = run_graph(q["question"], home, context)
            result = {"id": q["id"], "split": q["split"], "condition": condition, **outcome}
            with path.open("a") as f:
                f.write(json.dumps({"model": model, **result}) + "\n")
            print(
                f"{q['id']} {condition} {result.get('ttft') or 0:.1f}/{result['total']:.1f}s "
                f"gold={q['answer']!r}: {result['answer'][:120]!r}",
                flush=True,
            )


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
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    srv = start_server(Path(tempfile.mkdtemp(prefix="tq-qa-srv-")))
    os.environ["TERRAQORE_OLLAMA_HOST"] = srv.url
    os.environ["TERRAQORE_EMBEDDING_MODEL"] = args.embedding_model
    try:
        client = ollama.Client(host=srv.url, timeout=900)
        prepare_lakes(client, args.embedding_model)
        chosen = [q for kind in args.kinds.split(",") for q in load_questions(kind=kind)]
        questions = chosen[args.start : args.start + args.limit]
        evaluate(args.model, questions, args.removed_every)
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
