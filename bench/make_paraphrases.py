"""Build the paraphrased question set (`bench/data/vital_paraphrases.jsonl`): trivia questions
that describe an article's subject without its distinctive words.

Why: the questions of `bench/make_questions.py` copy the lead's phrases, so BM25 finds 96% of
them; real users paraphrase. Method (re-runnable, same file from the same model):

1. Articles: the first 2,000 vital-article leads by title (the corpus of the question bench),
   leads of at least 200 characters whose title appears in the lead (so the gold answer can
   be found in the sources), not used by `vital_questions.jsonl`, drawn with a fixed seed.
2. Banned words per article: the title's words, and the lead's 12 most distinctive words
   (highest tf-idf over the 2,000 leads, from the first 500 characters): the rare words a
   keyword search would match.
3. The local `qwen2.5-coder:1.5b` (temperature 0, a JSON schema) reads the subject, its
   Wikidata description and the lead's first 500 characters, and writes one trivia question
   whose answer is the subject, in everyday words, told not to use the banned words.
4. A question is kept only when: it ends with "?" and has 6 to 30 words; it does not name the
   subject (`make_questions.names_subject`, or any title word of 4+ letters); it holds at most
   one banned word (compared on their first five letters: "stimulant" = "stimulates"); it
   keeps at least three content words (so it says enough to have one answer); it does not
   point at a text ("the passage"). The answer is the title.
5. Articles alternate dev / test in sample order.

Each kept question records `lead_overlap`: the share of its content words found in the lead,
which the README compares with the other sets (lower means more paraphrase).

Usage: python bench/make_paraphrases.py [--sample 520] [--minutes 25]   # generate (model lock!)
       python bench/make_paraphrases.py --finalize
"""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import ollama
from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.make_questions import MIN_LEAD, MODEL, TEXT_POINTERS, names_subject, title_words
from bench.qa_data import DATA, HERE, PARAPHRASES, normalise
from lake.bronze import RawItem
from lake.knowledge_base import vital_articles
from nodes.sources import terms
from tests.server_harness import start_server

RAW = HERE / "results" / "paraphrases_raw.jsonl"
HEAD = 500
BANNED = 12
FIRST_ID = 1000
"""Ids of this set start here, apart from `vital_questions.jsonl`'s."""
_STEM = 5
SYSTEM = """You write questions for a trivia quiz. You are given a subject, a short description
and a passage about it. Write ONE question whose answer is the subject.
Rules:
- Describe the subject by one or two facts from the passage, in plain everyday words, as a
  quiz host would say them: use synonyms and your own wording, not the passage's phrases.
- Never use any of the FORBIDDEN words (or forms of them) in the question.
- Never write the subject's name; never mention "the passage" or "the text".
- One sentence, ending with a question mark."""


class Question(BaseModel):
    """What the model writes (the grammar caps the length)."""

    question: str = Field(max_length=220)


def stem(word: str) -> str:
    """A crude stemmer: the first letters of a word."""
    return word[:_STEM]


def idf(leads: list[str]) -> dict[str, float]:
    """Inverse document frequency of every content word over the leads."""
    df = Counter(w for lead in leads for w in terms(lead))
    return {w: math.log(len(leads) / n) for w, n in df.items()}


def banned_words(item: RawItem, weights: dict[str, float]) -> list[str]:
    """The title's words and the lead head's most distinctive words (tf-idf), best first."""
    counts = Counter(
        w for w in re.findall(r"[a-z0-9]+", item.raw[:HEAD].lower()) if not w.isdigit()
    )
    scored = sorted(
        (w for w in counts if w in weights and len(w) > 2),
        key=lambda w: -counts[w] * weights[w],
    )
    plain = re.sub(r"\s*\(.*?\)", "", item.title)
    title = sorted(title_words(plain) | {w for w in terms(plain) if len(w) > 2})
    return list(dict.fromkeys([*title, *scored[:BANNED]]))


def candidates(sample: int) -> list[RawItem]:
    """The sampled articles, in sample order (see the module docstring, step 1)."""
    used = {json.loads(line)["url"] for line in DATA.read_text().splitlines() if line.strip()}
    leads = [
        a
        for a in vital_articles(2000)
        if len(a.raw) >= MIN_LEAD
        and a.url not in used
        and f" {normalise(re.sub(r'[(].*?[)]', '', a.title))} " in f" {normalise(a.raw)} "
    ]
    order = np.random.default_rng(29).permutation(len(leads))[:sample]
    return [leads[int(i)] for i in order]


def ask(client: ollama.Client, item: RawItem, banned: list[str]) -> str:
    """The model's question for one article."""
    description = str(item.metadata.get("description") or "").strip()
    user = (
        f"Subject (the answer): {item.title}\nDescription: {description}\n"
        f"FORBIDDEN words: {', '.join(banned)}\n\nPassage:\n{item.raw[:HEAD]}"
    )
    reply = client.chat(
        model=MODEL,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
        format=Question.model_json_schema(),
        options={"temperature": 0, "num_predict": 90, "num_ctx": 2048},
    )
    return Question.model_validate_json(reply.message.content or "{}").question.strip()


def generate_rows(
    raw: Path,
    items: list[RawItem],
    minutes: float,
    ask_row: Callable[[ollama.Client, RawItem], dict[str, Any]],
    shown: Callable[[dict[str, Any]], str],
    limit: int | None = None,
) -> None:
    """Ask the model once per item not yet in `raw` (at most `limit`), one JSON line each.

    Resumable (items already in the file are skipped) and stopped after `minutes`; each
    line holds the article, its banned words, what `ask_row` returned and the call's time.
    """
    weights = idf([a.raw[:HEAD] for a in vital_articles(2000)])
    done = set()
    if raw.exists():
        done = {json.loads(line)["url"] for line in raw.read_text().splitlines() if line}
    todo = [i for i in items if i.url not in done][:limit]
    print(f"{len(done)} done, {len(todo)} to generate", flush=True)
    if not todo:
        return
    raw.parent.mkdir(exist_ok=True)
    srv = start_server(Path(tempfile.mkdtemp(prefix="tq-generate-srv-")))
    try:
        client = ollama.Client(host=srv.url, timeout=600)
        client.pull(MODEL)
        deadline = time.monotonic() + 60 * minutes
        for n, item in enumerate(todo, start=1):
            if time.monotonic() > deadline:
                print(f"stopped after {minutes} minutes; run again to continue", flush=True)
                break
            banned = banned_words(item, weights)
            start = time.perf_counter()
            answer = ask_row(client, item)
            seconds = round(time.perf_counter() - start, 2)
            row = {"url": item.url, "title": item.title, "lead": item.raw, "banned": banned}
            with raw.open("a") as f:
                f.write(json.dumps({**row, **answer, "seconds": seconds}) + "\n")
            print(f"{n}/{len(todo)} {seconds}s {item.title}: {shown(answer)}", flush=True)
    finally:
        srv.stop()


def generate(sample: int, limit: int | None, minutes: float) -> None:
    """Ask the model for one question per sampled article; append to the raw file."""
    weights = idf([a.raw[:HEAD] for a in vital_articles(2000)])
    generate_rows(
        RAW,
        candidates(sample),
        minutes,
        lambda client, item: {"question": ask(client, item, banned_words(item, weights))},
        lambda answer: str(answer["question"]),
        limit,
    )


def lead_overlap(question: str, lead: str) -> float:
    """Share of the question's content words (stemmed) that the lead holds."""
    asked = {stem(w) for w in terms(question)}
    held = {stem(w) for w in terms(lead)}
    return round(len(asked & held) / len(asked), 3) if asked else 0.0


def problem(row: dict[str, object]) -> str | None:
    """Why a generated question is dropped, or None to keep it (module docstring, step 4)."""
    question, title = str(row["question"]), str(row["title"])
    if not question.endswith("?") or not (6 <= len(question.split()) <= 30):
        return "not a question"
    asked = terms(question)
    plain = re.sub(r"\s*\(.*?\)", "", title)
    if names_subject(question, plain) or title_words(plain) & set(normalise(question).split()):
        return "names the subject"
    banned = {stem(w) for w in row["banned"]}  # type: ignore[attr-defined]
    if len({stem(w) for w in asked} & banned) > 1:
        return "uses banned words"
    if len(asked) < 3:
        return "too vague"
    if TEXT_POINTERS.search(question):
        return "points at a text"
    return None


def finalize() -> None:
    """Filter the raw file into the committed data file, alternating dev and test."""
    rows = [json.loads(line) for line in RAW.read_text().splitlines() if line]
    reasons: Counter[str] = Counter()
    kept = []
    for n, row in enumerate(rows):
        why = problem(row)
        if why:
            reasons[why] += 1
            continue
        kept.append(
            {
                "id": FIRST_ID + len(kept),
                "split": "dev" if n % 2 == 0 else "test",
                "title": row["title"],
                "url": row["url"],
                "question": row["question"],
                "answer": re.sub(r"\s*\(.*?\)", "", row["title"]).strip(),
                "round": 3,
                "kind": "paraphrased",
                "lead_overlap": lead_overlap(row["question"], row["lead"]),
            }
        )
    PARAPHRASES.write_text("".join(json.dumps(r) + "\n" for r in kept))
    overlap = float(np.mean([r["lead_overlap"] for r in kept])) if kept else 0.0
    summary = {"generated": len(rows), "kept": len(kept), "dropped": dict(reasons)}
    print(json.dumps({**summary, "mean lead overlap": round(overlap, 3)}, indent=2))


def main() -> int:
    # A `timeout` or `kill` still stops the server this script started (finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=520)
    parser.add_argument("--limit", type=int, default=None, help="generate at most N this run")
    parser.add_argument("--minutes", type=float, default=25, help="stop after this long")
    parser.add_argument("--finalize", action="store_true")
    args = parser.parse_args()
    if args.finalize:
        finalize()
    else:
        generate(args.sample, args.limit, args.minutes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
