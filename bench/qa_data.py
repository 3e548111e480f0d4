"""The question set over the vital-articles corpus: where it lives, how it is read and matched."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import TypedDict

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "vital_questions.jsonl"
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
    """Which round of `bench/make_questions.py` wrote it (0 for description templates)."""
    kind: str
    """`generated` (by the model) or `description-template`."""


def normalise(text: str) -> str:
    """Lower case, accents folded, punctuation and articles dropped, single spaces."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = _PUNCT.sub(" ", folded.lower().replace("-", " "))
    return " ".join(_ARTICLES.sub(" ", words).split())


def contains(haystack: str, needle: str) -> bool:
    """Whether the normalised needle appears in the normalised haystack, on word boundaries."""
    n = normalise(needle)
    return bool(n) and f" {n} " in f" {normalise(haystack)} "


def load_questions(split: str | None = None, kind: str | None = "generated") -> list[Question]:
    """The committed question set (by default the model-generated ones), or one half of it."""
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    return [
        Question(**r)
        for r in rows
        if (split is None or r["split"] == split) and (kind is None or r["kind"] == kind)
    ]
