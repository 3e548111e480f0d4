"""The question set over the vital-articles corpus: where it lives, how it is read and matched."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path
from typing import NotRequired, TypedDict

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "vital_questions.jsonl"
PARAPHRASES = HERE / "data" / "vital_paraphrases.jsonl"
"""Questions that describe the subject without its distinctive words (`make_paraphrases.py`)."""
STYLES = HERE / "data" / "vital_styles.jsonl"
"""Clues, follow-ups, statement and keyword forms (`make_styles.py`)."""
RAW = HERE / "results" / "questions_raw.jsonl"
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = re.compile(r"[^a-z0-9 ]+")


class Question(TypedDict):
    """One question with its gold answer and gold article."""

    id: int
    split: str
    """`dev` (for choosing defaults) or `test` (held out)."""
    title: str
    url: str
    question: str
    answer: str
    round: int
    """Which round wrote it: 0 description templates, 1-2 `make_questions.py`, 3 paraphrases."""
    kind: str
    """`generated` (by the model from the lead), `description-template`, or `paraphrased`
    (by the model, without the lead's distinctive words: `bench/make_paraphrases.py`), or
    one of `bench/make_styles.py`'s: `clue`, `followup`, `followup-keywords`, `statement`,
    `keywords`."""
    base_id: NotRequired[int]
    """For a transformed or follow-up question: the id its dev/test side is hashed from."""
    first: NotRequired[str]
    """For a follow-up: the thread's first question (its gold answer is `first_answer`)."""
    first_answer: NotRequired[str]


def hash_split(key: int | str) -> str:
    """`dev` or `test` by a hash of a question's (base) id: stable, and blind to its order."""
    digest = hashlib.sha256(f"terraqore-qa:{key}".encode()).digest()
    return "dev" if digest[0] % 2 == 0 else "test"


def side(q: Question) -> str:
    """A question's half for the style benches: the hash of its base id, for every kind."""
    return hash_split(q.get("base_id", q["id"]))


def normalise(text: str) -> str:
    """Lower case, accents folded, punctuation and articles dropped, single spaces."""
    # Punctuation outside ASCII (an em dash, a curly quote) parts words like ASCII's does;
    # the ASCII fold alone would drop it and glue "premises—sentences" into one word.
    spaced = "".join(" " if unicodedata.category(c)[0] in "PZ" else c for c in text)
    folded = unicodedata.normalize("NFKD", spaced).encode("ascii", "ignore").decode()
    words = _PUNCT.sub(" ", folded.lower().replace("-", " "))
    return " ".join(_ARTICLES.sub(" ", words).split())


def contains(haystack: str, needle: str) -> bool:
    """Whether the normalised needle appears in the normalised haystack, on word boundaries."""
    n = normalise(needle)
    return bool(n) and f" {n} " in f" {normalise(haystack)} "


def load_questions(split: str | None = None, kind: str | None = "generated") -> list[Question]:
    """The committed questions of one kind (all kinds for None), or one half of them."""
    rows = [
        json.loads(line)
        for path in (DATA, PARAPHRASES, STYLES)
        if path.exists()
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    return [
        Question(**{k: r[k] for k in Question.__annotations__ if k in r})  # type: ignore[typeddict-item]
        for r in rows
        if (split is None or r["split"] == split) and (kind is None or r["kind"] == kind)
    ]
