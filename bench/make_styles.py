"""Build the question styles that look like users (`bench/data/vital_styles.jsonl`).

Styles, each with its gold article known (the same articles as `make_paraphrases.py`, in the
same sample order, so a thread can link them):

- `clue`: a trivia question that names its subject only by what it did, made or is known
  for, written by the local `qwen2.5-coder:1.5b` (temperature 0, a JSON schema) with the
  paraphrase set's forbidden words (title words, the lead's most distinctive words). Kept
  with `make_paraphrases.problem`'s rules and a lead overlap of at most `MAX_CLUE_OVERLAP`
  (the share of its content words found in the lead). Answer: the title.
- `followup`: a thread of two turns. The first is the article's kept paraphrase or clue
  (else "Tell me about <title>."); the second, written by the model in the same call,
  asks another fact of the lead and refers to the subject only as it/he/she/they/this ...
  Kept when it holds such a word, does not name the subject, and its answer (1 to 6 words)
  is in the lead but not in the question. Answer: that span.
- `statement` and `keywords`: deterministic transforms of the kept paraphrases
  ("Which island has ...?" becomes "This island has ..."; the keywords are its content
  words in order). Same gold as the paraphrase.
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
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import ollama
from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.make_paraphrases import (
    HEAD,
    banned_words,
    candidates,
    idf,
    lead_overlap,
    problem,
)
from bench.make_questions import MODEL, names_subject
from bench.qa_data import HERE, PARAPHRASES, STYLES, hash_split, normalise
from lake.bronze import RawItem
from lake.knowledge_base import vital_articles
from nodes.sources import terms
from tests.server_harness import start_server

RAW = HERE / "results" / "styles_raw.jsonl"
FIRST_ID = 2000
"""Ids of this set start here (`vital_questions` from 0, paraphrases from 1000)."""
MAX_CLUE_OVERLAP = 0.5
SYSTEM = """You write quiz material about a subject. You are given its name, a short
description and a passage about it. Reply in JSON with three fields:
- "clue": ONE trivia question whose answer is the subject. Identify the subject only by
  something it did, made, caused or is known for (a work, a discovery, an event, a record),
  in plain everyday words, as a quiz host would. Never use the FORBIDDEN words or the
  subject's name. It ends with a question mark.
- "follow_up": ONE question a curious person would ask next, after learning the subject's
  name, about another fact in the passage. Refer to the subject only as "it", "he", "she",
  "they" or "this <kind of thing>", never by its name.
- "follow_up_answer": the answer to the follow-up: a short phrase (1 to 5 words) copied
  exactly from the passage."""
PRONOUN = re.compile(r"\b(it|its|he|his|him|she|her|they|their|them|this|these)\b", re.I)
_QUESTION_WORDS = frozenset({"who", "what", "which", "when", "where", "how", "name", "called"})


class Styles(BaseModel):
    """What the model writes for one article (the grammar caps the lengths)."""

    clue: str = Field(max_length=220)
    follow_up: str = Field(max_length=160)
    follow_up_answer: str = Field(max_length=60)


def ask(client: ollama.Client, item: RawItem, banned: list[str]) -> Styles:
    """The model's clue and follow-up for one article."""
    description = str(item.metadata.get("description") or "").strip()
    user = (
        f"Subject: {item.title}\nDescription: {description}\n"
        f"FORBIDDEN words: {', '.join(banned)}\n\nPassage:\n{item.raw[:HEAD]}"
    )
    reply = client.chat(
        model=MODEL,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
        format=Styles.model_json_schema(),
        options={"temperature": 0, "num_predict": 170, "num_ctx": 2048},
    )
    return Styles.model_validate_json(reply.message.content or "{}")


def generate(sample: int, minutes: float) -> None:
    """One model call per sampled article; append to the raw file (resumable)."""
    items = candidates(sample)
    weights = idf([a.raw[:HEAD] for a in vital_articles(2000)])
    done = set()
    if RAW.exists():
        done = {json.loads(line)["url"] for line in RAW.read_text().splitlines() if line}
    todo = [i for i in items if i.url not in done]
    print(f"{len(done)} done, {len(todo)} to generate", flush=True)
    if not todo:
        return
    RAW.parent.mkdir(exist_ok=True)
    srv = start_server(Path(tempfile.mkdtemp(prefix="tq-styles-srv-")))
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
            styles = ask(client, item, banned)
            seconds = round(time.perf_counter() - start, 2)
            row = {"url": item.url, "title": item.title, "lead": item.raw, "banned": banned}
            with RAW.open("a") as f:
                f.write(json.dumps({**row, **styles.model_dump(), "seconds": seconds}) + "\n")
            print(f"{n}/{len(todo)} {seconds}s {item.title}: {styles.clue}", flush=True)
    finally:
        srv.stop()


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
    words = [w for w in re.findall(r"[A-Za-z0-9][\w'-]*", question) if w.lower() in terms(w)]
    kept = [w for w in words if w.lower() not in _QUESTION_WORDS]
    return " ".join(dict.fromkeys(kept))


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


def finalize() -> None:
    """Filter the raw file and the paraphrases into the styles file."""
    rows = [json.loads(line) for line in RAW.read_text().splitlines() if line]
    paraphrases = {
        r["url"]: r
        for r in (json.loads(line) for line in PARAPHRASES.read_text().splitlines() if line)
    }
    out: list[dict[str, Any]] = []
    reasons: dict[str, Counter[str]] = {"clue": Counter(), "followup": Counter()}

    def add(
        style: str, base: int, row: dict[str, Any], question: str, answer: str, **extra: Any
    ) -> None:
        out.append(
            {
                "id": FIRST_ID + len(out),
                "base_id": base,
                "split": hash_split(base),
                "title": row["title"],
                "url": row["url"],
                "question": question,
                "answer": answer,
                "round": 4,
                "kind": style,
                "lead_overlap": lead_overlap(question, row["lead"]),
                **extra,
            }
        )

    for n, row in enumerate(rows):
        title = re.sub(r"\s*\(.*?\)", "", row["title"]).strip()
        clue_row = {**row, "question": row["clue"]}
        why = problem(clue_row)
        if why is None and lead_overlap(row["clue"], row["lead"]) > MAX_CLUE_OVERLAP:
            why = "shares too many words with the lead"
        if why:
            reasons["clue"][why] += 1
        else:
            add("clue", FIRST_ID + 10_000 + n, row, row["clue"].strip(), title)
        why = follow_up_problem(row)
        if why:
            reasons["followup"][why] += 1
            continue
        para = paraphrases.get(row["url"])
        if para:
            first = para["question"]
        elif out and out[-1]["url"] == row["url"] and out[-1]["kind"] == "clue":
            first = out[-1]["question"]  # the clue just kept
        else:
            first = f"Tell me about {title}."
        thread = {"first": first, "first_answer": title}
        base = FIRST_ID + 20_000 + n
        answer = row["follow_up_answer"].strip()
        add("followup", base, row, row["follow_up"].strip(), answer, **thread)
        add("followup-keywords", base, row, as_keywords(row["follow_up"]), answer, **thread)
    for para in paraphrases.values():
        lead = next((r["lead"] for r in rows if r["url"] == para["url"]), None)
        row = {**para, "lead": lead or _lead(para["url"])}
        statement = as_statement(para["question"])
        if statement:
            add("statement", para["id"], row, statement, para["answer"])
        add("keywords", para["id"], row, as_keywords(para["question"]), para["answer"])
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


def _lead(url: str) -> str:
    """An article's lead, by url."""
    return next(a.raw for a in vital_articles(2000) if a.url == url)


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
