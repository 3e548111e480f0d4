"""What the answer model would be shown, measured without a model, on the question set.

For each question, the top 5 chunks of a fusion are read back from the lake and turned
into sources as the Q&A graph does. Two things are measured:
- snippet size: the share of questions whose gold answer is in the snippets the model sees,
  for several `snippet_chars` (and in the whole passages, the ceiling); shorter snippets
  mean a faster first token;
- "weak" retrieval: the strength (`nodes.retrieve.strength`) of hits (gold article in the
  top 5) against misses, and for each cut-off the share of misses it flags (a web search
  would help) and of hits it flags (a search wasted).
"""

from __future__ import annotations

from typing import Any

from bench.qa_data import contains, load_questions
from bench.retrieval_corpus import chunk_documents, lake_and_corpus
from lake.database import connect
from nodes.retrieve import strength
from nodes.sources import number_sources

SNIPPET_CHARS = (200, 300, 400, 600, 100_000)
CUTOFFS = (0.3, 0.4, 0.5, 0.6, 0.7)


def context_report(found: dict[str, Any], combine: Any, split: str = "test") -> dict[str, Any]:
    """Snippet coverage and strength of hits and misses for one fusion, on one split."""
    lake, _, _ = lake_and_corpus()
    covered = {n: 0 for n in SNIPPET_CHARS}
    hits: list[float] = []
    misses: list[float] = []
    questions = load_questions(split)
    con = connect(lake, read_only=True)
    try:
        for q in questions:
            hit = found[q["question"]]
            top = combine(hit["dense"], hit["bm25"])[:5]
            docs = chunk_documents(con, top)
            for n in SNIPPET_CHARS:
                shown = " ".join(s["snippet"] for s in number_sources(docs, q["question"], n))
                covered[n] += contains(shown, q["answer"])
            sources = number_sources(docs, q["question"])
            value = strength(q["question"], sources)
            (hits if q["url"] in {s["url"] for s in sources} else misses).append(value)
    finally:
        con.close()

    def share(values: list[float], cut: float) -> float | None:
        return round(sum(v < cut for v in values) / len(values), 3) if values else None

    return {
        "questions": len(questions),
        "gold answer shown, by snippet_chars": {
            str(n): round(c / len(questions), 3) for n, c in covered.items()
        },
        "strength mean, hits": round(sum(hits) / len(hits), 3) if hits else None,
        "strength mean, misses": round(sum(misses) / len(misses), 3) if misses else None,
        "flagged weak, by cut-off": {
            str(c): {"misses": share(misses, c), "hits": share(hits, c)} for c in CUTOFFS
        },
    }
