"""Build the question styles that look like users (`bench/data/vital_styles.jsonl`).

Styles, each with its gold article known (the same articles as `make_paraphrases.py`, in the
same sample order). One call of the local `qwen2.5-coder:1.5b` (temperature 0, a JSON schema,
a few-shot prompt that stays in the server's prefix cache) per article writes a reworded
question, a clue and a follow-up; `make_paraphrases.py`'s longer prompt (the passage and its
forbidden words) kept 7 of its first 64 questions, too few for the time we had:

- `paraphrased` (round 4): a trivia question whose answer is the subject, in the model's own
  words, kept with `question_problem`'s rules (it must not name the subject, may hold at
  most two of the lead's distinctive words, and at most `MAX_PARAPHRASE_OVERLAP` of its
  content words may be in the lead). Answer: the title.

- `clue`: a trivia question that names its subject only by what it did, made or is famous
  for. Kept with the same rules and a lead overlap of at most `MAX_CLUE_OVERLAP` (the share
  of its content words found in the lead). Answer: the title.
- `followup`: a thread of two turns. The first is the article's kept paraphrase or clue
  (else "Tell me about <title>."); the second asks another fact of the lead and refers to
  the subject only as it/he/she/they/this ... Kept when it holds such a word, does not name
  the subject, and its answer (1 to 6 words) is in the lead but not in the question.
  Answer: that span.
- `statement` and `keywords`: deterministic transforms of every kept paraphrase (both
  rounds) and of every question of `vital_questions.jsonl` (lead-copying and description
  templates; `origin` says which): "Which island has ...?" becomes "This island has ...";
  the keywords are its content words in order. Same gold as the question it came from.
- `followup-keywords`: the follow-up turn as bare keywords (same first turn and gold).

Dev and held-out halves go by a hash of the base question id (`qa_data.hash_split`), so a
transform sits on the same side as the question it came from. Every row records
`lead_overlap`.

Usage: python bench/make_styles.py [--sample 320] [--minutes 13]   # generate (model lock!)
       python bench/make_styles.py --finalize
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import ollama
from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.make_paraphrases import (
    candidates,
    generate_rows,
    lead_overlap,
    problem,
    stem,
)
from bench.make_questions import MODEL, names_subject
from bench.qa_data import DATA, HERE, PARAPHRASES, STYLES, hash_split, normalise
from lake.bronze import RawItem
from lake.knowledge_base import vital_articles
from nodes.sources import terms

RAW = HERE / "results" / "styles_raw.jsonl"
FIRST_ID = 2000
"""Ids of this set start here (`vital_questions` from 0, paraphrases from 1000)."""
MAX_CLUE_OVERLAP = 0.5
MAX_PARAPHRASE_OVERLAP = 0.75
"""Lead-copying questions hold about 0.85 of their words in the lead; a reworded one less."""
PASSAGE = 360
"""Characters of the lead shown: enough for a follow-up's fact, short for a fast prompt (the
system prompt, the same on every call, stays in the server's prefix cache)."""
SYSTEM = """You write quiz material about a subject, for testing a search engine. You are
given the subject's name, a short description and the start of an encyclopedia passage.
Reply in JSON with four fields:
- "question": a trivia question whose answer is the subject, describing it in your own
  everyday words (never the subject's name, never the passage's rare words);
- "clue": another trivia question whose answer is the subject, that identifies it only by
  something it did, made, caused or is famous for (never the subject's name);
- "follow_up": the question a person would ask next, once they know the subject, about a
  fact of the passage, calling the subject only "it", "he", "she", "they" or "this ...";
- "follow_up_answer": the answer to the follow-up, 1 to 5 words copied from the passage.

Example. Subject: Isaac Asimov. Description: American writer and biochemist (1920-1992).
Passage: Isaac Asimov was an American writer and professor of biochemistry at Boston
University. During his lifetime, Asimov was considered one of the "Big Three" science
fiction writers.
{"question": "Which American author, who also taught biochemistry, ranks among the three
giants of science fiction?", "clue": "Who came up with the Three Laws of Robotics?",
"follow_up": "At which university did he teach?", "follow_up_answer": "Boston University"}

Example. Subject: Sicily. Description: island in the Mediterranean Sea, region of Italy.
Passage: Sicily is the largest island in the Mediterranean Sea and one of the 20 regions of
Italy. Its capital is Palermo.
{"question": "What is the biggest island of the Mediterranean?", "clue": "Which island's
volcano Etna erupts more often than almost any other in Europe?", "follow_up": "What is
its capital city?", "follow_up_answer": "Palermo"}"""
EXAMPLES = {"Isaac Asimov", "Sicily"}
"""The prompt's examples: their articles are not sampled."""
PRONOUN = re.compile(r"\b(it|its|he|his|him|she|her|they|their|them|this|these)\b", re.I)
_QUESTION_WORDS = frozenset(
    [
        "who",
        "what",
        "which",
        "when",
        "where",
        "how",
        "name",
        "called",
        "he",
        "she",
        "they",
        "his",
        "her",
        "their",
        "him",
        "them",
    ]
)


class Styles(BaseModel):
    """What the model writes for one article (the grammar caps the lengths)."""

    question: str = Field(max_length=200)
    clue: str = Field(max_length=200)
    follow_up: str = Field(max_length=160)
    follow_up_answer: str = Field(max_length=60)


def ask(client: ollama.Client, item: RawItem) -> Styles:
    """The model's question, clue and follow-up for one article."""
    description = str(item.metadata.get("description") or "").strip()
    passage = item.raw[:PASSAGE].rsplit(" ", 1)[0]
    user = f"Subject: {item.title}. Description: {description}.\nPassage: {passage}"
    reply = client.chat(
        model=MODEL,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
        format=Styles.model_json_schema(),
        options={"temperature": 0, "num_predict": 200, "num_ctx": 2048},
    )
    return Styles.model_validate_json(reply.message.content or "{}")


def generate(sample: int, minutes: float) -> None:
    """One model call per sampled article; append to the raw file (resumable)."""
    generate_rows(
        RAW,
        [i for i in candidates(sample) if i.title not in EXAMPLES],
        minutes,
        lambda client, item: ask(client, item).model_dump(),
        lambda s: f"{s['question']} | {s['clue']} | {s['follow_up']} = {s['follow_up_answer']}",
    )


def as_statement(question: str) -> str | None:
    """A "This ... is ..." statement of a question, or None when no rule fits."""
    q = " ".join(question.strip().rstrip("?").split())
    rules = [
        (r"^(?:what|which) (?:is|was) the name of (?:the|a|an) (.+)$", r"This \1"),
        (r"^(?:what|which) (?:is|was) the (.+?) (?:that|which|who) (.+)$", r"This \1 \2"),
        (r"^(?:what|which) (is|was|are|were) (.+)$", r"This \1 \2"),
        (r"^who (is|was|are|were) (.+)$", r"This person \1 \2"),
        (r"^who (.+)$", r"This person \1"),
        (r"^(?:what|which) (.+)$", r"This \1"),
    ]
    for pattern, replacement in rules:
        if re.match(pattern, q, re.I):
            return re.sub(pattern, replacement, q, flags=re.I) + "."
    return None


def as_keywords(question: str) -> str:
    """The question's content words in order, without question words, each once."""
    words = [w for w in re.findall(r"[A-Za-z0-9][\w'-]*", question) if terms(w)]
    kept = [w for w in words if w.lower() not in _QUESTION_WORDS]
    return " ".join(dict.fromkeys(kept))


def question_problem(row: dict[str, Any], question: str, max_overlap: float) -> str | None:
    """Why a reworded question or clue is dropped, or None to keep it.

    `make_paraphrases.problem`'s rules, except that two of the lead's distinctive words are
    allowed (a natural question about the Andes says "mountain range" and "South America");
    the share of its content words found in the lead must stay at most `max_overlap`.
    """
    why = problem({**row, "question": question})
    if why == "uses banned words":
        banned = {stem(w) for w in row["banned"]}
        why = "uses banned words" if len({stem(w) for w in terms(question)} & banned) > 2 else None
        if why is None and len(terms(question)) < 3:
            why = "too vague"
    if why is None and lead_overlap(question, row["lead"]) > max_overlap:
        why = "shares too many words with the lead"
    return why


def follow_up_problem(row: dict[str, Any]) -> str | None:
    """Why a follow-up is dropped, or None to keep it (module docstring)."""
    question, answer = str(row["follow_up"]).strip(), str(row["follow_up_answer"]).strip()
    q, a = normalise(question), normalise(answer)
    if not question.endswith("?") or not (3 <= len(question.split()) <= 25):
        return "not a question"
    if not PRONOUN.search(question):
        return "no pronoun"
    if names_subject(question, re.sub(r"\s*\(.*?\)", "", str(row["title"]))):
        return "names the subject"
    if not a or not (1 <= len(a.split()) <= 6) or f" {a} " not in f" {normalise(row['lead'])} ":
        return "answer not in the lead"
    if f" {a} " in f" {q} ":
        return "answer inside the question"
    return None


def style_row(
    n: int,
    style: str,
    base: int,
    row: dict[str, Any],
    question: str,
    answer: str,
    round_: int,
    **extra: Any,
) -> dict[str, Any]:
    """One question of a style, as `vital_styles.jsonl` holds it (its side hashed from `base`)."""
    return {
        "id": n,
        "base_id": base,
        "split": hash_split(base),
        "title": row["title"],
        "url": row["url"],
        "question": question,
        "answer": answer,
        "round": round_,
        "kind": style,
        "lead_overlap": lead_overlap(question, row["lead"]),
        **extra,
    }


def finalize() -> None:
    """Filter the raw file (and the paraphrases of `make_paraphrases.py`) into the styles."""
    rows = [json.loads(line) for line in RAW.read_text().splitlines() if line]
    out: list[dict[str, Any]] = []
    reasons: dict[str, Counter[str]] = {k: Counter() for k in ("paraphrased", "clue", "followup")}

    def add(
        style: str, base: int, row: dict[str, Any], question: str, answer: str, **extra: Any
    ) -> None:
        out.append(style_row(FIRST_ID + len(out), style, base, row, question, answer, 4, **extra))

    def forms(base: int, row: dict[str, Any], question: str, answer: str, origin: str) -> None:
        statement = as_statement(question)
        if statement:
            add("statement", base, row, statement, answer, origin=origin)
        add("keywords", base, row, as_keywords(question), answer, origin=origin)

    for n, row in enumerate(rows):
        title = re.sub(r"\s*\(.*?\)", "", row["title"]).strip()
        first = f"Tell me about {title}."
        clue = row["clue"].strip()
        why = question_problem(row, clue, MAX_CLUE_OVERLAP)
        if why:
            reasons["clue"][why] += 1
        else:
            add("clue", FIRST_ID + 10_000 + n, row, clue, title)
            first = clue
        question = row["question"].strip()
        why = question_problem(row, question, MAX_PARAPHRASE_OVERLAP)
        if why:
            reasons["paraphrased"][why] += 1
        else:
            add("paraphrased", FIRST_ID + n, row, question, title)
            forms(FIRST_ID + n, row, question, title, "paraphrased")
            first = question
        why = follow_up_problem(row)
        if why:
            reasons["followup"][why] += 1
            continue
        thread = {"first": first, "first_answer": title}
        base = FIRST_ID + 20_000 + n
        answer = row["follow_up_answer"].strip()
        add("followup", base, row, row["follow_up"].strip(), answer, **thread)
        add("followup-keywords", base, row, as_keywords(row["follow_up"]), answer, **thread)
    leads = {a.url: a.raw for a in vital_articles(2000)}
    earlier = [json.loads(line) for path in (PARAPHRASES, DATA) for line in _lines(path)]
    for q in earlier:
        forms(q["id"], {**q, "lead": leads[q["url"]]}, q["question"], q["answer"], q["kind"])
    STYLES.write_text("".join(json.dumps(r) + "\n" for r in out))
    summary: dict[str, Any] = {"generated": len(rows)}
    for style in sorted({r["kind"] for r in out}):
        kept = [r for r in out if r["kind"] == style]
        summary[style] = {
            "kept": len(kept),
            "dev": sum(r["split"] == "dev" for r in kept),
            "mean lead overlap": round(float(np.mean([r["lead_overlap"] for r in kept])), 3),
        }
    summary["dropped"] = {k: dict(v) for k, v in reasons.items()}
    print(json.dumps(summary, indent=2))


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line] if path.exists() else []


def main() -> int:
    # A `timeout` or `kill` still stops the server this script started (finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=320)
    parser.add_argument("--minutes", type=float, default=13, help="stop after this long")
    parser.add_argument("--finalize", action="store_true")
    args = parser.parse_args()
    if args.finalize:
        finalize()
    else:
        generate(args.sample, args.minutes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
