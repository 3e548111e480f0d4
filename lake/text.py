"""Text cleaning for silver: normalisation, boilerplate, language, SimHash, token counts."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import unicodedata
import zipfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

_BOILERPLATE = re.compile(
    r"(?i)^(accept (all )?cookies|we use cookies|subscribe( now)?|sign up|log ?in|share this|"
    r"advertisement|all rights reserved|privacy policy|terms of (use|service)|"
    r"skip to (main )?content|follow us|read more|related articles?)\b"
)
_SPACES = re.compile(r"[ \t\u00a0]+")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

STOPWORDS = {
    "en": {
        "the",
        "and",
        "of",
        "to",
        "in",
        "is",
        "that",
        "it",
        "for",
        "was",
        "on",
        "are",
        "with",
        "as",
        "by",
        "this",
        "be",
        "from",
        "at",
        "or",
        "an",
        "which",
        "has",
        "its",
    },
    "de": {
        "der",
        "die",
        "und",
        "das",
        "ist",
        "nicht",
        "mit",
        "den",
        "ein",
        "eine",
        "von",
        "zu",
        "im",
    },
    "fr": {"le", "la", "les", "et", "des", "est", "une", "dans", "que", "du", "pour", "pas", "sur"},
    "es": {
        "el",
        "la",
        "los",
        "las",
        "y",
        "de",
        "que",
        "en",
        "es",
        "una",
        "por",
        "para",
        "con",
        "del",
    },
    "it": {"il", "di", "che", "la", "e", "un", "una", "per", "non", "sono", "della", "nel", "con"},
    "nl": {"de", "het", "een", "en", "van", "is", "dat", "niet", "op", "te", "met", "voor", "zijn"},
    "pt": {"o", "a", "os", "as", "de", "que", "e", "do", "da", "em", "um", "uma", "para", "com"},
}


def normalise(raw: str) -> str:
    """NFKC, no control characters, collapsed spaces, no boilerplate lines, no blank runs."""
    text = unicodedata.normalize("NFKC", raw).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C")
    lines = []
    for line in text.split("\n"):
        line = _SPACES.sub(" ", line).strip()
        if line and len(line) < 120 and _BOILERPLATE.match(line):
            continue
        lines.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def language(text: str) -> str:
    """A best guess from stopword frequency: `en`, `de`, …, or `und` when unsure."""
    words = [w.lower() for w in _WORD.findall(text[:20000])]
    if len(words) < 20:
        return "und"
    scores = {
        lang: sum(w in stops for w in words) / len(words) for lang, stops in STOPWORDS.items()
    }
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] >= 0.08 else "und"


def content_hash(text: str) -> str:
    """SHA-256 of a text, hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def simhash(text: str) -> int:
    """64-bit SimHash over word 3-shingles; close texts have close hashes."""
    words = [w.lower() for w in _WORD.findall(text)]
    shingles = [" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))]
    hashes = np.array(
        [
            int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big")
            for s in shingles
        ],
        dtype=np.uint64,
    )
    bits = (hashes[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    votes = bits.sum(axis=0, dtype=np.int64) * 2 - len(shingles)
    return sum(1 << int(bit) for bit in np.flatnonzero(votes > 0))


def hamming(a: int, b: int) -> int:
    """Bits that differ."""
    return (a ^ b).bit_count()


class NearDuplicateIndex:
    """Finds SimHashes within a few bits of one seen before.

    With the hash cut into `bands` parts, two hashes at most `bands - 1` bits apart agree
    exactly on at least one part, so only hashes sharing a part are compared.
    """

    def __init__(self, max_bits: int) -> None:
        self.max_bits = max_bits
        self.bands = max_bits + 1
        self.width = 64 // self.bands
        self.buckets: list[dict[int, list[int]]] = [{} for _ in range(self.bands)]

    def _parts(self, h: int) -> list[int]:
        mask = (1 << self.width) - 1
        return [h >> (i * self.width) & mask for i in range(self.bands)]

    def near(self, h: int) -> bool:
        """Whether a hash within `max_bits` was added."""
        for band, part in zip(self.buckets, self._parts(h), strict=True):
            if any(hamming(h, other) <= self.max_bits for other in band.get(part, ())):
                return True
        return False

    def add(self, h: int) -> None:
        """Remember a hash."""
        for band, part in zip(self.buckets, self._parts(h), strict=True):
            band.setdefault(part, []).append(h)


@lru_cache(maxsize=1)
def token_counter() -> Callable[[str], int]:
    """Count MiniLM tokens with the embedder's own tokenizer (from its package).

    Without that package, estimate: 1.3 tokens a word.
    """
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is not None and spec.submodule_search_locations:
        archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
        if archive.is_file():
            with zipfile.ZipFile(archive) as zf:
                tokenizer = Tokenizer.from_str(zf.read("tokenizer.json").decode("utf-8"))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)
    return lambda text: int(len(text.split()) * 1.3) + 1
