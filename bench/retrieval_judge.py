"""The `judge` stage of `bench/retrieval_questions.py`: the answer model as a listwise reranker.

For held-out questions (of the set fusion is chosen on), the top 20 articles of the question-dev-best fusion are shown to
`qwen2.5-coder:1.5b` (title and first 30 words each); it names the ones that help answer,
best first. Those go to the front, the rest keep their order. Seconds per query are kept,
since a judge sits in front of the answer's first token.
"""

from __future__ import annotations

import json
import time
from typing import Any

import ollama

from bench.fusion_variants import all_variants
from bench.qa_data import load_questions
from bench.retrieval_corpus import ANSWER_MODEL, RESULTS, lake_and_corpus
from bench.retrieval_quality import metrics
from bench.retrieval_report import model_report
from lake.database import connect

TOP = 20
PROMPT = (
    "You rank search results. Given a question and numbered passages, list the numbers of "
    "the passages that help answer the question, most useful first (at most 5)."
)


def _heads(lake: Any, chunk_ids: list[int]) -> dict[int, tuple[str, str]]:
    con = connect(lake, read_only=True)
    try:
        rows = con.execute(
            "SELECT c.id, b.title, c.text FROM silver_chunks c JOIN bronze_items b"
            f" ON b.id = c.item_id WHERE c.id IN ({', '.join(map(str, chunk_ids))})"
        ).fetchall()
    finally:
        con.close()
    return {int(i): (str(t), " ".join(str(x).split()[:30])) for i, t, x in rows}


def stage_judge(client: ollama.Client, model: str, limit: int) -> None:
    """Rerank the top 20 of the held-out questions with the answer model; save ranks."""
    client.pull(ANSWER_MODEL)
    lake, chunk_item, _ = lake_and_corpus()
    found = json.loads((RESULTS / f"question_candidates_{model}.json").read_text())["candidates"]
    chosen = model_report(model, chunk_item)
    assert chosen is not None
    name = chosen["chosen"]["best on question dev"]
    combine = all_variants()[name]
    schema = {
        "type": "object",
        "properties": {
            "ranking": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": TOP},
                "maxItems": 5,
            }
        },
        "required": ["ranking"],
    }
    before, after, seconds = [], [], []
    unparsed = 0
    kind = "paraphrased" if chosen["chosen"]["chosen on"] == "paraphrased" else "generated"
    for q in load_questions("test", kind=kind)[:limit]:
        hits = found[q["question"]]
        ranked = combine(hits["dense"], hits["bm25"])
        top: list[int] = []
        seen: set[str] = set()
        for chunk in ranked:
            if chunk_item[chunk] not in seen:
                seen.add(chunk_item[chunk])
                top.append(chunk)
            if len(top) == TOP:
                break
        heads = _heads(lake, top)
        listing = "\n".join(
            f"[{n}] {heads[c][0]}: {heads[c][1]}" for n, c in enumerate(top, start=1)
        )
        start = time.perf_counter()
        reply = client.chat(
            model=ANSWER_MODEL,
            messages=[
                {"role": "system", "content": PROMPT},
                {"role": "user", "content": f"Question: {q['question']}\n\nPassages:\n{listing}"},
            ],
            format=schema,
            # Five numbers fit in 40 tokens; the schema's maxItems keeps the array that short.
            options={"temperature": 0, "num_predict": 40, "num_ctx": 4096},
        )
        seconds.append(time.perf_counter() - start)
        try:
            picked = json.loads(reply.message.content or "{}").get("ranking", [])
        except json.JSONDecodeError:  # cut short: the fused order stands, and it is counted
            picked, unparsed = [], unparsed + 1
        order = list(dict.fromkeys(n - 1 for n in picked if 1 <= n <= len(top)))
        reranked = [top[i] for i in order] + [c for i, c in enumerate(top) if i not in order]
        urls = [chunk_item[c] for c in top]
        new_urls = [chunk_item[c] for c in reranked]
        before.append(urls.index(q["url"]) + 1 if q["url"] in urls[:10] else None)
        after.append(new_urls.index(q["url"]) + 1 if q["url"] in new_urls[:10] else None)
        print(f"{len(after)} {before[-1]} -> {after[-1]} ({seconds[-1]:.1f} s)", flush=True)
    seconds.sort()
    summary = {
        "model": model,
        "fusion": name,
        "question set": kind,
        "questions": len(after),
        "fused": metrics(before),
        "judged": metrics(after),
        "unparsed_replies": unparsed,
        "seconds_median": seconds[len(seconds) // 2],
        "seconds_p90": seconds[int(len(seconds) * 0.9)],
    }
    (RESULTS / "question_judge.json").write_text(json.dumps({"summary": summary}, indent=1))
    print(json.dumps(summary, indent=1))
