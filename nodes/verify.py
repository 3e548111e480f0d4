"""Verify a drafted answer: every citation must name a given source that supports its sentence.

The checks are code, not hope:
- a citation `[n]` whose n was not given is removed (the model invented it);
- a cited source must hold enough of its sentence's content words, and of the new ones (the
  words the sentence adds to the question); a citation below `support_threshold` is removed;
- a sentence left without a citation gets the source that supports it best, if one does;
- an answer with no supported sentence at all came from the model's memory, not the
  sources: it is replaced by the plain "not found" answer;
- so is an answer whose cited sources, together, hold less than `question_coverage` of the
  question's content words: they are about something else. This catches the answer that
  names a neighbouring subject and copies its passage's words (the gold article removed,
  "Baroque music" for the music of a small group of instruments): each sentence is
  supported, but the sources never speak of what was asked.

`grounding` is the share of sentences that end with a supported citation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langgraph.runtime import Runtime

from graphs.qa_context import QAContext
from graphs.qa_state import QAState, Turn
from graphs.state import Source
from nodes.sources import terms

NOT_FOUND = "I could not find the answer to this question in the sources."
_CITATION = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(*\[])")
_REFUSALS = re.compile(
    r"\b(could not|cannot|can ?not|couldn't|can't|unable to|do not|don't|does not|doesn't)"
    r"\b[^.]{0,40}\b(find|found|answer|contain|mention|provide|say|know)"
    r"|\bno (information|mention|answer)\b|\bnot (mentioned|provided|stated|specified)\b",
    re.I,
)
_STEM = 6
"""Words are compared on their first six letters, a crude stemmer ("invented", "invention")."""


@dataclass
class Checked:
    """The verified answer and what the check found."""

    answer: str
    citations_valid: bool
    grounding: float
    removed: list[int]
    """Citation numbers removed (invented or unsupported), in order of appearance."""
    not_found: bool


def stems(text: str) -> set[str]:
    """Content words of a text, cut to their first letters."""
    return {w[:_STEM] for w in terms(text)}


def support(sentence: str, source: Source, question: str) -> float:
    """How much of a sentence the source holds, 0 to 1: the smaller of two shares.

    The share of all the sentence's content words, so the claim's own words (often the
    question's) must be there; and the share of its new words (those not in the question),
    so the fact it adds must be there too. An answer from memory that pins the question's
    description on another source's subject ("Britten was the Hungarian composer ...") has
    the name but not the description, and fails the first.
    """
    said = stems(_CITATION.sub(" ", sentence))
    if not said:
        return 0.0
    new = said - stems(question) or said
    held = stems(f"{source['title']} {source['snippet']}")
    return min(len(said & held) / len(said), len(new & held) / len(new))


def split_sentences(answer: str) -> list[str]:
    """The answer's sentences; citations written after the full stop stay with their sentence."""
    parts: list[str] = []
    for line in answer.splitlines():
        for piece in _SENTENCE_END.split(line.strip()):
            if not piece:
                continue
            lead = re.match(r"^((?:\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]\s*)+)(.*)$", piece)
            if lead and parts:
                parts[-1] += " " + lead.group(1).strip()
                piece = lead.group(2)
            if piece.strip():
                parts.append(piece.strip())
    return parts


def cited(sentence: str) -> list[int]:
    """Citation numbers in a sentence, in order (`[1, 2]` and `[1][2]` alike)."""
    return [int(n) for group in _CITATION.findall(sentence) for n in re.split(r"[,;]", group)]


def is_refusal(answer: str) -> bool:
    """Whether the model said it could not answer from the sources."""
    return not cited(answer) and bool(_REFUSALS.search(answer))


def coverage(question: str, sources: Sequence[Source]) -> float:
    """The share of the question's content words that the sources hold together (1 if none)."""
    asked = stems(question)
    if not asked:
        return 1.0
    held: set[str] = set()
    for source in sources:
        held |= stems(f"{source['title']} {source['snippet']}")
    return len(asked & held) / len(asked)


def check(
    answer: str,
    sources: Sequence[Source],
    question: str,
    threshold: float,
    question_coverage: float = 0.0,
) -> Checked:
    """Verify an answer against its sources (see the module docstring)."""
    if not sources or not answer.strip() or is_refusal(answer):
        return Checked(NOT_FOUND, not cited(answer), 0.0, cited(answer), True)
    by_n = {s["n"]: s for s in sources}
    removed: list[int] = []
    out: list[str] = []
    supported = 0
    sentences = split_sentences(answer)
    for sentence in sentences:
        body = _CITATION.sub("", sentence).strip()
        body = re.sub(r"\s+([.,;:!?])", r"\1", body)
        keep = []
        for n in dict.fromkeys(cited(sentence)):
            if n in by_n and support(body, by_n[n], question) >= threshold:
                keep.append(n)
            else:
                removed.append(n)
        if not keep and body:
            best = max(sources, key=lambda s: support(body, s, question))
            if support(body, best, question) >= threshold:
                keep.append(best["n"])
        supported += bool(keep)
        out.append(_with_citations(body, keep))
    if not supported:
        return Checked(NOT_FOUND, not removed, 0.0, removed, True)
    answer = " ".join(out)
    used = set(cited(answer))
    if coverage(question, [s for s in sources if s["n"] in used]) < question_coverage:
        return Checked(NOT_FOUND, not removed, 0.0, removed, True)
    return Checked(answer, not removed, supported / len(sentences), removed, False)


def _with_citations(body: str, numbers: list[int]) -> str:
    """The sentence with its citations before its final punctuation."""
    if not numbers:
        return body
    marks = "".join(f"[{n}]" for n in numbers)
    if body and body[-1] in ".!?":
        return f"{body[:-1]} {marks}{body[-1]}"
    return f"{body} {marks}"


def verify(state: QAState, runtime: Runtime[QAContext]) -> dict[str, Any]:
    """Check the draft's citations; the checked answer becomes the turn's answer."""
    question = state.retrieval_query()
    ctx = runtime.context
    result = check(
        state.draft, state.sources, question, ctx.support_threshold, ctx.question_coverage
    )
    notes = []
    if result.removed:
        notes.append(f"removed citations that no source supports: {result.removed}")
    if result.not_found and state.draft and not is_refusal(state.draft) and state.sources:
        notes.append(
            "the draft answer had no supported citation, or its sources do not speak of what "
            "was asked, so it was not used"
        )
    if state.stated_in == 0 and state.sources:
        notes.append("the answer model found no source that states the answer")
    return {
        "answer": result.answer,
        "citations_valid": result.citations_valid,
        "grounding": round(result.grounding, 3),
        "notes": notes,
        "history": [Turn(question=question, answer=result.answer)],
    }
