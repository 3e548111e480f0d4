"""Word and sentence counts for a text."""

import re

_WORD = re.compile(r"[A-Za-z0-9']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def word_count(text: str) -> int:
    """Number of runs of letters, digits and apostrophes."""
    return len(_words(text))


def sentence_count(text: str) -> int:
    """Sentences ended by runs of . ! ?, plus trailing text without an ending."""
    parts = re.split(r"[.!?]+", text)
    return sum(1 for part in parts if _words(part))


def average_word_length(text: str) -> float:
    """Mean characters per word, rounded to 2 decimals; 0.0 without words."""
    words = _words(text)
    return round(sum(map(len, words)) / len(words), 2) if words else 0.0
