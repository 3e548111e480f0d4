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
   inside the question; the question ends with "?", has 5 to 30 words, does not name the
   subject (the whole title, most of the title's words of 4+ letters, or one of them written
   as a name, capitalised inside the question), shares at least two words of 4+ letters with the
   lead (so it says enough to have one answer), and does not point at a text ("this passage",
   "the article", ...), since a retrieval query has no passage beside it.
4. Articles alternate dev / test in sample order (both questions of a lead on one side):
   `dev` is for choosing defaults, `test` is the held-out half that reports them.
5. For the Q&A bench (at least 200 questions), `TEMPLATED` more are made without a model from
   Wikidata descriptions of other articles: "What is the name of the {description}?", with
   the title as the gold answer (kept only if the lead holds it and the description does not
   name the subject). They are marked `kind: description-template`; the retrieval bench
   leaves them out, since descriptions are its other query set.

Round 2 (`--round 2`: two questions per lead, title beside the passage, "in your own words")
was tried on 9 leads and abandoned: 2 of its 18 questions passed the filters (it named the
subject and wrote answers that are not in the lead). Its rows are kept apart, in
`bench/results/questions_round2_abandoned.jsonl`; every generated question is round 1's.

Generation appends to `bench/results/questions_raw.jsonl` (resumable: a re-run skips what is
there, so it can run in parts under the model lock); `--finalize` filters the raw file into
`bench/data/vital_questions.jsonl`.

Usage: python bench/make_questions.py [--sample 400] [--limit N]   # generate (model lock!)
       python bench/make_questions.py --finalize
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import ollama
from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.qa_data import DATA, RAW, normalise
from lake.knowledge_base import vital_articles
from tests.server_harness import start_server

MODEL = "qwen2.5-coder:1.5b"
MIN_LEAD = 200
TEMPLATED = 155
"""Description-template questions added for the Q&A bench (retrieval uses only generated ones)."""
PROMPTS = {
    1: """You write quiz questions for a trivia game.
Read the passage and write ONE question that a curious person could ask, and its answer.
Rules:
- The answer is a short phrase (1 to 5 words) copied exactly from the passage: a name, a
  date, a number, a place or a thing.
- The question must make sense on its own, to someone who has not seen the passage, and
  give enough details from the passage that only one answer fits.
- Never write the name of the passage's subject ("{title}") in the question: describe it
  instead (for example "Which planet is called the Red Planet?", not "What is Mars called?").
- Do not mention "the passage" or "the text".""",
    2: """You write quiz questions for a trivia game.
Read the passage about a subject and write TWO different questions that a curious person
could ask, each with its answer.
Rules:
- Each answer is a short phrase (1 to 5 words) copied exactly from the passage: a name, a
  date, a number, a place or a thing.
- Each question makes sense on its own, to someone who has not seen the passage, and gives
  at least two details from the passage, so that only one answer fits.
- Word each question in your own everyday words, as a person who has not read the passage
  would ask it: do not copy phrases from the passage (only the answer is copied).
- Never write the subject's name in a question: describe the subject instead.
- Never mention "the passage" or "the text".""",
}
TEXT_POINTERS = re.compile(
    r"\b(this|the) (passage|text|article|paragraph|excerpt|document)\b|\bmentioned\b", re.I
)
_STOP = {"the", "of", "and", "in", "on", "for", "with", "from", "that", "this", "into"}


class QA(BaseModel):
    """What the model writes for one lead in round 1 (the grammar caps the lengths)."""

    question: str = Field(max_length=200)
    answer: str = Field(max_length=60)


class TwoQA(BaseModel):
    """What the model writes for one lead in round 2: two questions."""

    question_1: str = Field(max_length=200)
    answer_1: str = Field(max_length=60)
    question_2: str = Field(max_length=200)
    answer_2: str = Field(max_length=60)


def ask(client: ollama.Client, round_: int, title: str, lead: str) -> list[tuple[str, str]]:
    """The model's (question, answer) pairs for one lead."""
    if round_ == 1:
        system, user, schema = PROMPTS[1].format(title=title), f"Passage:\n{lead}", QA
    else:
        system, user, schema = PROMPTS[2], f"Subject: {title}\n\nPassage:\n{lead}", TwoQA
    reply = client.chat(
        model=MODEL,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        format=schema.model_json_schema(),
        options={"temperature": 0, "num_predict": 200, "num_ctx": 2048},
    )
    content = reply.message.content or "{}"
    if round_ == 1:
        one = QA.model_validate_json(content)
        return [(one.question, one.answer)]
    two = TwoQA.model_validate_json(content)
    return [(two.question_1, two.answer_1), (two.question_2, two.answer_2)]


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


def names_subject(question: str, title: str) -> bool:
    """Whether the question names the article's subject.

    It does when it holds the whole title, most of the title's words, or a title word
    written as a name (capitalised inside the question: "Einstein", "Chinese").
    """
    q = normalise(question)
    words = title_words(title)
    if f" {normalise(title)} " in f" {q} ":
        return True
    found = words & set(q.split())
    if words and len(found) * 2 > len(words):
        return True
    names = {w.lower() for w in re.findall(r"(?<=\s)[A-Z][\w'-]+", question)}
    return any(normalise(n) in found for n in names)


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
    if names_subject(question, row["title"]):
        return "names the subject"
    if TEXT_POINTERS.search(question):
        return "points at a text"
    return None


def generate(articles: int, sample: int, limit: int | None, round_: int) -> None:
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
            pairs = ask(client, round_, item.title, lead)
            seconds = round(time.perf_counter() - start, 2)
            with RAW.open("a") as f:
                for question, answer in pairs:
                    row = {"url": item.url, "title": item.title, "lead": item.raw}
                    row |= {"question": question, "answer": answer, "round": round_}
                    f.write(json.dumps({**row, "seconds": seconds}) + "\n")
            print(f"{n}/{len(todo)} {seconds}s {pairs}", flush=True)
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
    # Halves by article (in sample order), so both questions of one lead fall on one side.
    article = {url: n for n, url in enumerate(dict.fromkeys(r["url"] for r in rows))}
    DATA.parent.mkdir(exist_ok=True)
    with DATA.open("w") as f:
        for n, row in enumerate(kept):
            out = {
                "id": n,
                "split": "dev" if article[row["url"]] % 2 == 0 else "test",
                "title": row["title"],
                "url": row["url"],
                "question": row["question"].strip(),
                "answer": row["answer"].strip(),
                "round": row.get("round", 1),
                "kind": "generated",
            }
            f.write(json.dumps(out) + "\n")
        templated = template_questions({r["url"] for r in rows}, TEMPLATED, len(kept), len(article))
        for row in templated:
            f.write(json.dumps(row) + "\n")
    summary = {"generated": len(rows), "kept": len(kept), "dropped": reasons}
    print(json.dumps({**summary, "templated": len(templated)}, indent=2))


def template_questions(used: set[str], count: int, first_id: int, first_article: int) -> list[Any]:
    """Questions made from Wikidata descriptions, for the Q&A bench to reach 200 and more.

    "What is the name of the {description}?", gold answer the title (which the lead must
    hold), for articles not used by the generated questions, drawn with a fixed seed.
    """
    leads = [a for a in vital_articles(2000) if len(a.raw) >= MIN_LEAD and a.url not in used]
    rng = np.random.default_rng(17)
    out: list[Any] = []
    for i in rng.permutation(len(leads)):
        item = leads[int(i)]
        title = re.sub(r"\s*\(.*?\)", "", item.title).strip()
        described = str(item.metadata.get("description") or "").strip().rstrip(".")
        if described[:2].istitle():  # "Smallest unit" reads "smallest unit"; "UN agency" stays
            described = described[0].lower() + described[1:]
        if len(described.split()) < 3 or names_subject(described, title):
            continue
        if f" {normalise(title)} " not in f" {normalise(item.raw)} ":
            continue
        n = first_article + len(out)
        out.append(
            {
                "id": first_id + len(out),
                "split": "dev" if n % 2 == 0 else "test",
                "title": item.title,
                "url": item.url,
                "question": f"What is the name of the {described}?",
                "answer": title,
                "round": 0,
                "kind": "description-template",
            }
        )
        if len(out) == count:
            break
    return out


def main() -> int:
    # A `timeout` or `kill` still stops the server this script started (finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=400)
    parser.add_argument("--limit", type=int, default=None, help="generate at most N this run")
    parser.add_argument("--round", type=int, choices=[1, 2], default=1)
    parser.add_argument("--finalize", action="store_true")
    args = parser.parse_args()
    if args.finalize:
        finalize()
    else:
        generate(args.articles, args.sample, args.limit, args.round)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
