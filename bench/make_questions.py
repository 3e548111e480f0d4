"""Build the question-style query set over the vital-articles corpus (`bench/data/`).

Method (so anyone can re-run it and get the same file from the same model):

1. The corpus is the first `--articles` vital-article leads by title (2,000 by default, the
   corpus of `bench/retrieval_quality.py --articles 2000`); leads shorter than the lake's
   200-character minimum are skipped, as the lake skips them.
2. `--sample` of them are drawn with a fixed seed. For each, the local
   `qwen2.5-coder:1.5b` (temperature 0, JSON schema `{question, answer}`) reads the lead's
   first sentences (at most 900 characters) and writes one question a reader could ask whose
   answer is a short span of the lead, without naming the article's subject, plus that answer.
3. A question is kept only when: the answer (normalised: lower case, punctuation and
   articles dropped) appears in the normalised lead; the answer has 1 to 6 words and is not
   inside the question; the question ends with "?", has 5 to 30 words, does not contain the
   title, nor any title word of 4+ letters, shares at least two words of 4+ letters with the
   lead (so it says enough to have one answer), and does not point at a text ("this passage",
   "the article", ...), since a retrieval query has no passage beside it.
4. Kept questions alternate dev / test by their order in the sample: `dev` is for choosing
   defaults, `test` is the held-out half that reports them.

Generation appends to `bench/results/questions_raw.jsonl` (resumable: a re-run skips what is
there, so it can run in parts under the model lock); `--finalize` filters the raw file into
`bench/data/vital_questions.jsonl`.

Usage: python bench/make_questions.py [--sample 520] [--limit N]   # generate (model lock!)
       python bench/make_questions.py --finalize
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import ollama
from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.qa_data import DATA, RAW, normalise
from lake.knowledge_base import vital_articles
from tests.server_harness import start_server

MODEL = "qwen2.5-coder:1.5b"
MIN_LEAD = 200
PROMPT = """You write quiz questions for a trivia game.
Read the passage and write ONE question that a curious person could ask, and its answer.
Rules:
- The answer is a short phrase (1 to 5 words) copied exactly from the passage: a name, a
  date, a number, a place or a thing.
- The question must make sense on its own, to someone who has not seen the passage, and
  give enough details from the passage that only one answer fits.
- Never write the name of the passage's subject ("{title}") in the question: describe it
  instead (for example "Which planet is called the Red Planet?", not "What is Mars called?").
- Do not mention "the passage" or "the text"."""
TEXT_POINTERS = re.compile(
    r"\b(this|the) (passage|text|article|paragraph|excerpt|document)\b|\bmentioned\b", re.I
)
_STOP = {"the", "of", "and", "in", "on", "for", "with", "from", "that", "this", "into"}


class QA(BaseModel):
    """What the model writes for one lead (the grammar caps the answer's length)."""

    question: str = Field(max_length=200)
    answer: str = Field(max_length=60)


def lead_head(text: str, limit: int = 900) -> str:
    """The lead's first sentences, up to `limit` characters (ending on a sentence)."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
    return cut[: end + 1] if end > 200 else cut


def title_words(title: str) -> set[str]:
    """The title's words of 4+ letters, which a question must not contain."""
    words = set(re.findall(r"[a-z0-9]+", normalise(re.sub(r"\(.*?\)", "", title))))
    return {w for w in words if len(w) >= 4 and w not in _STOP}


def problem(row: dict[str, str]) -> str | None:
    """Why a generated question is dropped, or None to keep it."""
    question, answer, lead = row["question"].strip(), row["answer"].strip(), row["lead"]
    q, a = normalise(question), normalise(answer)
    if not a or not (1 <= len(a.split()) <= 6):
        return "answer length"
    if f" {a} " not in f" {normalise(lead)} ":
        return "answer not in the lead"
    if f" {a} " in f" {q} ":
        return "answer inside the question"
    if not question.endswith("?") or not (5 <= len(question.split()) <= 30):
        return "not a question"
    if (
        len({w for w in q.split() if len(w) > 3 and w not in _STOP} & set(normalise(lead).split()))
        < 2
    ):
        return "too vague"
    if normalise(row["title"]) in q or title_words(row["title"]) & set(q.split()):
        return "names the subject"
    if TEXT_POINTERS.search(question):
        return "points at a text"
    return None


def generate(articles: int, sample: int, limit: int | None) -> None:
    """Ask the model for one question per sampled lead; append to the raw file."""
    leads = [a for a in vital_articles(articles) if len(a.raw) >= MIN_LEAD]
    rng = np.random.default_rng(13)
    order = rng.permutation(len(leads))[:sample]
    done = set()
    if RAW.exists():
        done = {json.loads(line)["url"] for line in RAW.read_text().splitlines() if line}
    todo = [leads[i] for i in order if leads[i].url not in done][:limit]
    print(f"{len(done)} done, {len(todo)} to generate", flush=True)
    if not todo:
        return
    RAW.parent.mkdir(exist_ok=True)
    srv = start_server(Path(tempfile.mkdtemp(prefix="tq-questions-srv-")))
    try:
        client = ollama.Client(host=srv.url, timeout=600)
        client.pull(MODEL)
        for n, item in enumerate(todo, start=1):
            lead = lead_head(item.raw)
            start = time.perf_counter()
            reply = client.chat(
                model=MODEL,
                messages=[
                    {"role": "system", "content": PROMPT.format(title=item.title)},
                    {"role": "user", "content": f"Passage:\n{lead}"},
                ],
                format=QA.model_json_schema(),
                options={"temperature": 0, "num_predict": 120, "num_ctx": 2048},
            )
            qa = QA.model_validate_json(reply.message.content or "{}")
            row = {
                "url": item.url,
                "title": item.title,
                "lead": item.raw,
                "question": qa.question,
                "answer": qa.answer,
                "seconds": round(time.perf_counter() - start, 2),
            }
            with RAW.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"{n}/{len(todo)} {row['seconds']}s {qa.question} -> {qa.answer}", flush=True)
    finally:
        srv.stop()


def finalize() -> None:
    """Filter the raw file into the committed data file, alternating dev and test."""
    rows = [json.loads(line) for line in RAW.read_text().splitlines() if line]
    reasons: dict[str, int] = {}
    kept = []
    for row in rows:
        why = problem(row)
        if why:
            reasons[why] = reasons.get(why, 0) + 1
            continue
        kept.append(row)
    DATA.parent.mkdir(exist_ok=True)
    with DATA.open("w") as f:
        for n, row in enumerate(kept):
            out = {
                "id": n,
                "split": "dev" if n % 2 == 0 else "test",
                "title": row["title"],
                "url": row["url"],
                "question": row["question"].strip(),
                "answer": row["answer"].strip(),
            }
            f.write(json.dumps(out) + "\n")
    print(json.dumps({"generated": len(rows), "kept": len(kept), "dropped": reasons}, indent=2))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=520)
    parser.add_argument("--limit", type=int, default=None, help="generate at most N this run")
    parser.add_argument("--finalize", action="store_true")
    args = parser.parse_args()
    if args.finalize:
        finalize()
    else:
        generate(args.articles, args.sample, args.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
