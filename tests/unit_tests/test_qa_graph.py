"""The Q&A graph's routing and checks, with LangChain's fake chat models and a fake retriever."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

import agents.answer
import agents.structured
import nodes.retrieve
import nodes.search_ingest
from agents.condense import MAX_QUESTION, unresolved
from graphs.qa import build_graph, graph, run
from graphs.qa_context import QAContext
from graphs.qa_state import QAState
from nodes.sources import number_sources
from nodes.verify import (
    NOT_FOUND,
    OWN,
    adds_nothing,
    check,
    cited,
    coverage,
    denies,
    question_parts,
    repeats,
    split_sentences,
    stems,
    support,
    unprefaced,
)
from retrievers.fusion import query_form

BACH = Document(
    page_content="Johann Sebastian Bach was a German composer of the Baroque period. "
    "He was born in Eisenach in 1685 and died in Leipzig in 1750.",
    metadata={"chunk_id": 1, "item_id": 1, "title": "Johann Sebastian Bach", "source": "u1"},
)
OTTER = Document(
    page_content="Sea otters use stones as tools to open shellfish. They live in the North "
    "Pacific and rest floating on their backs.",
    metadata={"chunk_id": 2, "item_id": 2, "title": "Sea otter", "source": "u2"},
)


class FakeRetriever:
    def __init__(self, docs: list[Document], log: list[str]) -> None:
        self.docs, self.log = docs, log

    def invoke(self, query: str) -> list[Document]:
        self.log.append(query)
        return self.docs


@pytest.fixture
def wired(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Retrieval returns `docs`; the answer model replies `answers`; condense replies `standalone`.

    The decision step replies `verdicts` in turn (whether the cited source states the
    answer), then true.
    """
    setup: dict[str, Any] = {
        "docs": [BACH, OTTER],
        "answers": [],
        "standalone": [],
        "queries": [],
        "verdicts": [],
    }

    def retriever(**_: Any) -> FakeRetriever:
        return FakeRetriever(setup["docs"], setup["queries"])

    def answer_model(config: Any, *_: Any, **__: Any) -> GenericFakeChatModel:
        setup["answer_calls"] = setup.get("answer_calls", 0) + 1
        return GenericFakeChatModel(messages=iter([AIMessage(content=setup["answers"].pop(0))]))

    def condense_model(config: Any, *_: Any, **__: Any) -> FakeListChatModel:
        return FakeListChatModel(responses=[setup["standalone"].pop(0)])

    def decide_model(config: Any, *_: Any, **options: Any) -> FakeListChatModel:
        assert options["format"]["required"] == ["stated"]
        setup["decide_calls"] = setup.get("decide_calls", 0) + 1
        stated = setup["verdicts"].pop(0) if setup["verdicts"] else True
        return FakeListChatModel(responses=[json.dumps({"stated": stated})])

    by_agent = {"answer": answer_model, "condense": condense_model, "decide": decide_model}

    def model_for(config: Any, agent: str = "", **options: Any) -> Any:
        return by_agent[agent](config, agent, **options)

    monkeypatch.setattr(nodes.retrieve, "lake_retriever", retriever)
    monkeypatch.setattr(agents.structured, "model_for", model_for)
    return setup


def test_an_invented_citation_is_removed_and_citations_valid_says_so(wired):
    wired["answers"] = ["Bach was born in Eisenach in 1685 [1][7]."]
    out = graph.invoke({"question": "Where was Bach born?"}, context=QAContext())
    assert "[7]" not in out["answer"] and "[1]" in out["answer"]
    assert out["citations_valid"] is False and out["grounding"] == 1.0
    assert [s["n"] for s in out["sources"]] == [1, 2]


def test_a_correct_answer_keeps_its_citations(wired):
    wired["answers"] = ["Bach was born in Eisenach in 1685. [1]"]
    out = graph.invoke({"question": "Where was Bach born?"}, context=QAContext())
    assert out["answer"] == "Bach was born in Eisenach in 1685 [1]."
    assert out["citations_valid"] is True and out["grounding"] == 1.0


def test_no_sources_gives_not_found_without_calling_the_model(wired):
    wired["docs"] = []
    out = graph.invoke({"question": "Who painted the Mona Lisa?"}, context=QAContext())
    assert out["answer"] == NOT_FOUND and out["grounding"] == 0.0
    assert out["kind"] == "not_found"
    assert "answer_calls" not in wired and out["usage"] == []


def test_an_answer_from_memory_that_no_source_supports_is_not_found_and_never_cited(wired):
    wired["docs"] = [OTTER]
    wired["answers"] = ["Leonardo da Vinci painted it around 1503 [1]."]
    out = graph.invoke({"question": "Who painted the Mona Lisa?"}, context=QAContext())
    assert out["kind"] == "not_found" and out["citations_valid"] is False
    assert out["answer"] == f"{NOT_FOUND}\n\n{OWN} Leonardo da Vinci painted it around 1503."
    assert "decide_calls" not in wired  # the draft had no supported citation to judge


def test_strict_keeps_only_a_stated_answer(wired):
    wired["docs"] = [OTTER]
    wired["answers"] = ["Leonardo da Vinci painted it around 1503 [1]."]
    out = graph.invoke({"question": "Who painted the Mona Lisa?"}, context=QAContext(strict=True))
    assert out["answer"] == NOT_FOUND and out["kind"] == "not_found"


@pytest.mark.parametrize(
    "refusal",
    [
        "The sources do not mention the Mona Lisa.",
        "There is no information about the Mona Lisa in the sources.",
        "I don't know.",
    ],
)
def test_the_models_own_refusal_becomes_the_plain_not_found(wired, refusal):
    wired["answers"] = [refusal]
    out = graph.invoke({"question": "Who painted the Mona Lisa?"}, context=QAContext())
    assert out["answer"] == NOT_FOUND and out["kind"] == "not_found"


@pytest.mark.parametrize("saver", ["memory", "sqlite"])
def test_a_follow_up_in_a_thread_is_condensed_and_usage_is_per_turn(wired, saver):
    checkpointer = (
        InMemorySaver()
        if saver == "memory"
        else SqliteSaver(sqlite3.connect(":memory:", check_same_thread=False))
    )
    qa = build_graph(checkpointer)
    config = {"configurable": {"thread_id": "t1"}}
    wired["answers"] = ["Bach was born in Eisenach in 1685 [1].", "He died in Leipzig in 1750 [1]."]
    wired["standalone"] = ['{"question": "When did Johann Sebastian Bach die?"}']
    ctx = QAContext(decide=True)
    first = qa.invoke({"question": "Where was Bach born?"}, config, context=ctx)
    second = qa.invoke({"question": "And when did he die?"}, config, context=ctx)
    assert wired["queries"] == ["Where was Bach born?", "When did Johann Sebastian Bach die?"]
    assert [u["agent"] for u in first["usage"]] == ["answer", "decide"]
    assert [u["agent"] for u in second["usage"]] == ["condense", "answer", "decide"]
    assert second["kind"] == "stated"
    assert "1750" in second["answer"] and second["citations_valid"]
    history = qa.get_state(config).values["history"]
    assert [t["question"] for t in history][-1] == "When did Johann Sebastian Bach die?"


def test_a_rewrite_that_resolves_nothing_takes_the_previous_question_along(wired):
    """The 1.5B once rewrote "Where does its key come from?" as "Where does the key come
    from?", and retrieval found a page on nuts and bolts."""
    qa = build_graph(InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}}
    wired["answers"] = ["Bach was born in Eisenach in 1685 [1].", "He died in Leipzig in 1750 [1]."]
    wired["standalone"] = ['{"question": "When did the composer die?"}']
    qa.invoke({"question": "Where was Bach born?"}, config, context=QAContext())
    qa.invoke({"question": "When did he die?"}, config, context=QAContext())
    # "composer" is a word of its own: that rewrite resolved "he", and is used as it is.
    assert wired["queries"][-1] == "When did the composer die?"
    wired["answers"] = ["Bach died in Leipzig [1]."]
    wired["standalone"] = ['{"question": "When did he die?"}']
    qa.invoke({"question": "When did he die?"}, config, context=QAContext())
    assert wired["queries"][-1] == "When did he die? (When did the composer die?)"
    # A chain of unresolved follow-ups stays bounded: the previous question is cut.
    config = {"configurable": {"thread_id": "t2"}}
    wired["answers"] = ["Bach was born in Eisenach [1]."]
    qa.invoke({"question": "Where was Bach born? " + "Tell me. " * 31}, config, context=QAContext())
    for _ in range(3):
        wired["answers"] = ["Bach died in Leipzig [1]."]
        wired["standalone"] = ['{"question": "When did he die?"}']
        qa.invoke({"question": "When did he die?"}, config, context=QAContext())
        assert len(wired["queries"][-1]) <= len("When did he die? ()") + MAX_QUESTION


@pytest.mark.parametrize(
    ("follow_up", "rewrite", "expected"),
    [
        ("Where does its key come from?", "Where does the key come from?", True),
        ("Where does its key come from?", "Where does the lake's key come from?", False),
        ("What category does it belong to?", "What category does it belong to?", True),
        ("founded", "When was it founded?", True),  # the rewrite points back, at nothing
        ("founded", "When was the British Museum founded?", False),
        ("What is dividing by it?", "What is dividing by zero?", False),
    ],
)
def test_unresolved(follow_up, rewrite, expected):
    assert unresolved(follow_up, rewrite) is expected


def test_offline_weak_retrieval_never_searches_the_web(wired, monkeypatch):
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("search_ingest ran offline")

    monkeypatch.setattr(nodes.search_ingest, "ingest", refuse)
    wired["docs"] = [OTTER]
    wired["answers"] = [NOT_FOUND]
    out = graph.invoke({"question": "Who painted the Mona Lisa?"}, context=QAContext(online=False))
    assert out["answer"] == NOT_FOUND


def test_answer_tokens_stream_from_the_answer_node(wired):
    wired["answers"] = ["Bach was born in Eisenach in 1685 [1]."]
    nodes_seen = set()
    text = ""
    for part in graph.stream(
        {"question": "Where was Bach born?"},
        context=QAContext(decide=True),
        stream_mode=["updates", "messages"],
        version="v2",
    ):
        if part["type"] == "messages":
            chunk, meta = part["data"]
            nodes_seen.add(meta["langgraph_node"])
            if meta["langgraph_node"] == "answer":  # what `terraqore ask` shows
                text += chunk.content
    assert nodes_seen == {"answer", "decide"}  # the decision's JSON is not the answer
    assert text == "Bach was born in Eisenach in 1685 [1]."


def test_a_source_that_does_not_state_the_answer_makes_it_identified_and_uncited(wired):
    # Source 1 is about Bach but, the decision says, does not state what was asked.
    wired["verdicts"] = [False]
    wired["answers"] = ["Johann Sebastian Bach was a German composer [1]."]
    question = "Who was Johann Sebastian Bach?"
    out = graph.invoke({"question": question}, context=QAContext(decide=True))
    assert out["kind"] == "identified" and wired["decide_calls"] == 1
    sourced, own = out["answer"].split(OWN)
    assert sourced.strip() == "The sources speak of Johann Sebastian Bach [1]."
    assert own.strip() == "Johann Sebastian Bach was a German composer." and "[" not in own


def test_the_models_own_answer_is_identified_and_never_keeps_a_citation(wired):
    draft = (
        "Bach was a German composer of the Baroque period [1]. "
        "Not in the sources: he wrote the Mass in B minor [1]."
    )
    wired["answers"] = [draft, draft]
    question = "Which German composer wrote the Mass in B minor?"
    out = graph.invoke({"question": question}, context=QAContext(decide=True))
    assert out["kind"] == "identified" and "decide_calls" not in wired
    assert out["answer"] == (
        "Bach was a German composer of the Baroque period [1].\n\n"
        f"{OWN} he wrote the Mass in B minor."
    )
    strict = graph.invoke({"question": question}, context=QAContext(strict=True))
    assert strict["kind"] == "not_found" and strict["answer"] == NOT_FOUND


def test_without_the_decision_step_a_supported_answer_is_stated(wired):
    wired["answers"] = ["Bach was born in Eisenach [1]."]
    out = graph.invoke({"question": "Where was Bach born?"}, context=QAContext())
    assert out["kind"] == "stated" and "decide_calls" not in wired


def test_cited_sources_that_hold_too_little_of_the_question_make_it_identified(wired):
    # The default coverage (0.65): the otter passage says nothing of dams or the Baltic.
    wired["docs"] = [OTTER]
    wired["answers"] = ["Sea otters use stones as tools to open shellfish [1]."]
    question = "Which aquatic mammal of the Baltic coast builds dams from driftwood?"
    out = graph.invoke({"question": question}, context=QAContext())
    assert out["kind"] == "identified"
    assert out["answer"].startswith("The sources speak of Sea otter [1].")


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("Who wrote I, Robot?", "question"),
        ("where was bach born", "question"),
        ("Tell me about Sicily", "question"),
        ("This Venetian master was born Tiziano Vecellio", "statement"),
        ("Its capital, largest city & chief port is Palermo.", "statement"),
        ("Italian island Palermo capital", "keywords"),
        ("capital of Sicily", "keywords"),
    ],
)
def test_query_forms_are_told_apart(text, form):
    assert query_form(text) == form


def test_the_answer_prompt_names_the_query_form(wired):
    wired["answers"] = ["Titian [1]."]
    graph.invoke({"question": "Venetian painter Tiziano Vecellio"}, context=QAContext())
    state_prompt = agents.answer.prompt("Venetian painter Tiziano Vecellio", QAState())
    assert state_prompt[-1].content.endswith("Keywords: Venetian painter Tiziano Vecellio")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("One. Two [1]. Three.", ["One.", "Two [1].", "Three."]),
        ("Paris is big. [2] It is old.", ["Paris is big. [2]", "It is old."]),
        ("A list:\n- first [1]\n- second [2]", ["A list:", "- first [1]", "- second [2]"]),
        # Initials and abbreviations do not end a sentence; an ellipsis before a capital does.
        ("J. R. R. Tolkien wrote it [1]. It sold.", ["J. R. R. Tolkien wrote it [1].", "It sold."]),
        ("**J. K. Rowling** wrote it.", None),
        ("It is in the U.S. State of Ohio, e.g. Dr. Smith's town.", None),
        ("Born in 1564... He died in 1616.", ["Born in 1564...", "He died in 1616."]),
        # Inside parentheses and code spans nothing ends (seen in `make demo`: "(`ATTACH ...").
        (
            "AES (`ATTACH ... (KEY ...)`) [1]. A key.",
            ["AES (`ATTACH ... (KEY ...)`) [1].", "A key."],
        ),
        ("Set `X=a.b. C`. Then run [1].", ["Set `X=a.b. C`.", "Then run [1]."]),
        # An unclosed parenthesis does not hide the rest of the line from the split.
        ("One (two. Three.", ["One (two.", "Three."]),
    ],
)
def test_sentences_keep_citations_written_after_the_full_stop(answer, expected):
    assert split_sentences(answer) == (expected or [answer])


def test_a_name_with_initials_is_kept_whole_in_the_checked_answer_and_the_snippet():
    """The old rule split "J. R. R. Tolkien" into "J.", "R.", "R. Tolkien ...": the checked
    answer lost the name's start, and a lead's snippet began with the sentence "J."."""
    tolkien = Document(
        page_content="J. R. R. Tolkien was an English writer and philologist. He wrote the "
        "high fantasy works The Hobbit and The Lord of the Rings.",
        metadata={"chunk_id": 3, "item_id": 3, "title": "J. R. R. Tolkien", "source": "u3"},
    )
    sources = number_sources([tolkien, BACH], "Who wrote The Hobbit?")
    assert sources[0]["snippet"].startswith("J. R. R. Tolkien was an English writer")
    result = check("J. R. R. Tolkien wrote The Hobbit [1].", sources, "Who wrote The Hobbit?", 0.5)
    assert result.kind == "stated"
    assert result.answer == "J. R. R. Tolkien wrote The Hobbit [1]."


def test_a_citation_after_an_ellipsis_keeps_the_ellipsis():
    sources = number_sources([BACH], "Bach")
    result = check("Bach was born in Eisenach in 1685...", sources, "Where was Bach born?", 0.5)
    assert result.answer == "Bach was born in Eisenach in 1685... [1]"
    moved = check("Bach was born in Eisenach in 1685 [1]...", sources, "Where?", 0.5)
    assert moved.answer == "Bach was born in Eisenach in 1685... [1]"  # no space left behind


def test_support_counts_only_what_the_sentence_adds_to_the_question():
    source = number_sources([BACH], "Bach")[0]
    question = "Where was Bach born?"
    assert support("Bach was born in Eisenach.", source, question) == 1.0
    assert support("Bach was born in Hamburg.", source, question) == 0.0


def test_an_uncited_supported_sentence_gets_its_source():
    sources = number_sources([OTTER, BACH], "Bach")
    out = check("Bach died in Leipzig in 1750.", sources, "When did Bach die?", 0.5)
    assert out.answer == "Bach died in Leipzig in 1750 [2]." and out.citations_valid


def test_run_without_a_context_runs_on_the_defaults(wired):
    # LangGraph leaves runtime.context as None without `context=`; `run` passes the default.
    wired["answers"] = ["Bach was born in Eisenach in 1685. [1]"]
    out = run({"question": "Where was Bach born?"})
    assert out["citations_valid"] is True and "[1]" in out["answer"]
    assert [s["n"] for s in out["sources"]] == [1, 2]


def test_a_supported_answer_about_another_subject_than_the_question_is_not_stated():
    # The gold article gone, the model pins the question on a neighbouring subject and copies
    # its passage: every sentence is supported, but the source never speaks of what was asked.
    sources = number_sources([OTTER, BACH], "Bach")
    question = "Which aquatic mammal of the Baltic coast builds dams from driftwood?"
    draft = "Sea otters use stones as tools to open shellfish [1]."
    assert coverage(question, [sources[0]]) < 0.5
    assert check(draft, sources, question, 0.6).kind == "stated"  # each sentence supported
    out = check(draft, sources, question, 0.6, question_coverage=0.5)
    assert out.kind == "identified" and out.own.startswith("Sea otters use stones")
    assert check(draft, sources, question, 0.6, stated=False).kind == "identified"
    # A plain question whose answer passage holds most of its words still stands.
    bach = check(
        "Bach was born in Eisenach [2].", sources, "In which city was Bach born?", 0.6, 0.5
    )
    assert bach.kind == "stated" and "[2]" in bach.answer


def test_an_own_answer_a_source_supports_is_cited_not_called_not_in_the_sources():
    """`make demo` once showed a cited answer followed by "Not in the sources:" and the same
    facts again: a claim a source supports is never shown as not in the sources."""
    sources = number_sources([OTTER, BACH], "Bach")
    draft = (
        "Bach was a German composer of the Baroque period [2]. "
        "Not in the sources: he was born in Eisenach in 1685."
    )
    out = check(draft, sources, "When was Bach born?", 0.5)
    assert out.kind == "stated" and OWN not in out.answer
    assert out.answer.endswith(" He was born in Eisenach in 1685 [2].")
    # One that only repeats the cited sentences is dropped, not shown twice.
    again = check(
        "Bach was born in Eisenach in 1685 [2]. Not in the sources: Bach was born in Eisenach.",
        sources,
        "When was Bach born?",
        0.5,
    )
    assert again.kind == "stated" and again.answer == "Bach was born in Eisenach in 1685 [2]."
    # One that mostly rewords them is dropped too (`make demo`); one with a new fact stays.
    reworded = check(
        "Bach was born in Eisenach in 1685 [2]. He died in Leipzig in 1750 [2]. "
        "Not in the sources: Bach, born at Eisenach in 1685, later died in Leipzig in 1750.",
        sources,
        "When was Bach born?",
        0.5,
    )
    assert reworded.answer.count("1685") == 1 and reworded.kind == "stated"
    assert not repeats("Bach was born in Eisenach and died in Leipzig in 1750", ["Bach was born."])
    # An own answer that no source supports stays the model's own, uncited.
    other = check(draft.replace("Eisenach in 1685", "Hamburg in 1690"), sources, "Born?", 0.5)
    assert other.kind == "identified" and other.answer.endswith(
        f"{OWN} he was born in Hamburg in 1690."
    )


def test_a_sentence_that_only_repeats_the_question_answers_nothing_and_is_not_cited():
    """`terraqore ask --thread` once showed such a sentence as a `stated` answer: every word
    of it is in the source, but it is the question back, with no answer in it."""
    sources = number_sources([OTTER, BACH], "Bach")
    echo = check("Bach was born in [2].", sources, "Where was Bach born?", 0.5)
    assert echo.kind == "not_found" and "[2]" not in echo.answer
    # Beside a real answer the echo is left out and the answer stands, cited.
    both = check(
        "Bach was born in [2]. He was born in Eisenach [2].",
        sources,
        "Where was Bach born?",
        0.5,
    )
    assert both.kind == "stated" and both.answer == "He was born in Eisenach [2]."
    # Restating a yes/no question is how one affirms it: that stays.
    yes = check("Bach was born in Eisenach [2].", sources, "Was Bach born in Eisenach?", 0.5)
    assert yes.kind == "stated" and yes.answer == "Bach was born in Eisenach [2]."
    # Whole words, not stems: an answer that shares a stem with the question still answers.
    kingdom = "What is the biological kingdom that includes animals?"
    assert not adds_nothing("The kingdom that includes animals is Animalia [1].", kingdom)


def test_sentences_after_the_own_marker_are_checked_one_by_one():
    """`make demo` once drafted "... [1]. Not in the sources: the key opens the lake.\nThe key
    comes from ..." and the checked answer kept the unsupported sentence, uncited, inside a
    `stated` answer, because everything after the marker was checked as one sentence."""
    sources = number_sources([BACH, OTTER], "Bach")
    draft = (
        "Bach was a German composer [1]. Not in the sources: he liked coffee a great deal.\n"
        "Sea otters use stones as tools to open shellfish."
    )
    result = check(draft, sources, "Who was Bach?", 0.5)
    assert result.kind == "identified"
    assert result.own == "he liked coffee a great deal."
    body, own = result.answer.split(f"\n\n{OWN} ")
    assert "Sea otters use stones as tools to open shellfish [2]." in body
    assert "coffee" not in body and not cited(own)


def test_a_space_before_an_ellipsis_is_kept():
    sources = number_sources([BACH], "Bach")
    result = check("Bach (`born ... 1685`) was born in Eisenach [1].", sources, "Who?", 0.5)
    assert result.answer == "Bach (`born ... 1685`) was born in Eisenach [1]."


def test_an_unsupported_clause_after_initials_does_not_ride_on_the_rest():
    """Sentences stay whole across initials, so each clause that claims something is checked
    on its own as well (a review found "... known as J. S. B. He hated all music [1]." kept
    its citation)."""
    sources = number_sources([BACH], "Bach")
    question = "Where was Bach born?"
    draft = "Bach was born in Eisenach in 1685, known as J. S. B. He hated all music [1]."
    result = check(draft, sources, question, 0.6)
    assert not cited(result.answer.split(OWN)[-1]) and "hated" in result.own
    kept = check("J. S. Bach was born in Eisenach in 1685 [1].", sources, question, 0.6)
    assert kept.answer == "J. S. Bach was born in Eisenach in 1685 [1]." and kept.kind == "stated"


@pytest.mark.parametrize(
    "text", ["." * 100_000, "A. " * 33_333, "?!" * 50_000, "e.g. X " * 14_000, "x" + " " * 10**5]
)
def test_the_split_and_the_check_read_hostile_text_in_linear_time(text):
    """Model output and web titles are untrusted: the first splitter of this kind read a run
    of 100,000 dots in 147 s and 10,000 initials in over 20 s (a review's reproducers)."""
    import time

    start = time.perf_counter()
    split_sentences(text)
    check(text + " [1].", number_sources([BACH], "Bach"), "Who?", 0.6)
    assert time.perf_counter() - start < 5  # linear: about 0.1 s here; quadratic: minutes


def test_an_own_answer_that_names_a_sources_subject_is_identified_with_that_source():
    """Issue 26's example: the sources identify Asimov but never mention I, Robot. The draft
    gives the answer as the model's own: the sources still speak of the subject it names."""
    asimov = Document(
        page_content="Isaac Asimov was an American writer and professor of biochemistry at "
        "Boston University. He was one of the Big Three science fiction writers.",
        metadata={"chunk_id": 4, "item_id": 4, "title": "Isaac Asimov", "source": "u4"},
    )
    question = "Who wrote the 1950 story collection I, Robot?"
    sources = number_sources([BACH, asimov], question)
    draft = f"I could not find the answer in the sources.\n\n{OWN} Isaac Asimov wrote it."
    result = check(draft, sources, question, 0.5)
    assert result.kind == "identified"
    assert result.answer.startswith("The sources speak of Isaac Asimov [2].")
    assert result.answer.endswith(f"{OWN} Isaac Asimov wrote it.")
    # A subject the question itself names identifies nothing; nor does a source's subject
    # the answer does not name; strict keeps only stated answers.
    named = check(
        f"{NOT_FOUND}\n\n{OWN} He wrote it.", sources, "What did Isaac Asimov write?", 0.5
    )
    assert named.kind == "not_found"
    other = check(f"{NOT_FOUND}\n\n{OWN} Ray Bradbury wrote it.", sources, question, 0.5)
    assert other.kind == "not_found"
    assert check(draft, sources, question, 0.5, strict=True).kind == "not_found"
    # Only the first two sources count: a subject ranked third was the wrong one more often.
    third = number_sources([BACH, OTTER, asimov], question)
    assert check(draft, third, question, 0.5).kind == "not_found"


OPERATIONS = (
    "Files: lake/lake.duckdb and lake/lake.key hold the encrypted lake and its key. The lake is"
    " stored in a file named lake.duckdb under the home."
)
LAKE = Document(
    page_content="The lake is encrypted with DuckDB's AES. The key comes from TERRAQORE_LAKE_KEY, "
    "or from lake/lake.key, created on first use. A query that outgrows memory spills to disk.",
    metadata={"chunk_id": 7, "item_id": 7, "title": "The data lake", "source": "u7"},
)


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "How is the lake encrypted, and where does its key come from?",
            ["How is the lake encrypted", "where does its key come from"],
        ),
        ("Who were Tom and Jerry?", []),
        ("Which city, which is on a river, is the capital?", []),
        ("Where was Bach born; when did he die?", ["Where was Bach born", "when did he die"]),
    ],
)
def test_a_question_in_parts_is_split_only_where_a_part_begins(question, parts):
    assert question_parts(question) == parts


def test_a_part_the_answer_leaves_out_gets_the_source_sentence_that_answers_it():
    """`make demo` asked how the lake is encrypted and where its key comes from; the 1.5B
    answered the first part only, though its source said where the key comes from."""
    question = "How is the lake encrypted, and where does its key come from?"
    sources = number_sources([BACH, LAKE], question)
    result = check("The lake is encrypted with DuckDB's AES [2].", sources, question, 0.5)
    assert result.kind == "stated"
    assert result.answer == (
        "The lake is encrypted with DuckDB's AES [2]. The key comes from TERRAQORE_LAKE_KEY, "
        "or from lake/lake.key, created on first use [2]."
    )
    # The model's own answer to that part gives way to the source's, even when the snippet
    # the model saw had left that sentence out for room.
    short = [{**sources[1], "snippet": "The lake is encrypted with DuckDB's AES."}]
    draft = f"The lake is encrypted with DuckDB's AES [2]. {OWN} its key comes from a file."
    replaced = check(draft, [sources[0], *short], question, 0.5)
    assert replaced.kind == "stated" and not replaced.own
    assert replaced.answer.endswith("created on first use [2].")
    # An answer that covers both parts gets nothing added; a one-part question neither;
    # nor does an answer the sources do not support at all (that is not_found).
    both = "The lake is encrypted with DuckDB's AES, and the key comes from TERRAQORE_LAKE_KEY [2]."
    assert check(both, sources, question, 0.5).answer == both
    one = "How is the lake encrypted?"
    assert check("It is encrypted with DuckDB's AES [2].", sources, one, 0.5).answer.count("[") == 1
    assert check(f"{NOT_FOUND}", sources, question, 0.5).kind == "not_found"


def test_an_own_part_denying_what_a_cited_sentence_states_is_left_out():
    """`make demo` cited where the key comes from, then added "Not in the sources: it is not
    mentioned where the key comes from", and called the answer `identified`."""
    question = "How is the lake encrypted, and where does its key come from?"
    sources = number_sources([BACH, LAKE], question)
    cited_both = (
        "The lake is encrypted with DuckDB's AES [2]. The key comes from TERRAQORE_LAKE_KEY [2]."
    )
    for denial in (
        f"\n\n{OWN} It is not mentioned where the key comes from.",
        " The sources do not say where the key comes from.",
        " The sources don't say where the key comes from.",
        f"\n\n{OWN} The provided text does not specify where the key comes from.",
    ):
        result = check(cited_both + denial, sources, question, 0.5)
        assert result.kind == "stated" and not result.own, (denial, result)
        assert result.answer == cited_both
    # A denial of something else stays, and the answer says so: another question word, or
    # words the asked part does not have; so does one beside a one-part question.
    for other in ("It is not mentioned who chose AES.", "It is not stated why the key is kept."):
        kept = check(f"{cited_both}\n\n{OWN} {other}", sources, question, 0.5)
        assert kept.kind == "identified" and kept.own == other
    why = "Why is the lake encrypted?"
    caveat = f"The lake is encrypted with DuckDB's AES [2].\n\n{OWN} It is not stated why."
    assert check(caveat, sources, why, 0.5).kind == "identified"
    said = stems(cited_both)
    assert denies("The sources do not mention where its key comes from.", question, said)
    assert not denies("DuckDB does not know the key.", question, said)
    assert not denies("The key comes from X.", question, said)
    assert not denies("It is not said where the key comes from.", question, stems("AES [2]."))


def test_a_complete_answer_to_a_compound_question_gets_no_extra_sentence_from_the_own_part():
    """`make demo` answered both parts, then promoted the model's own "it is stored in a file
    named lake.duckdb" with a citation: after the key's sentence, "it" read as the key."""
    where = {"chunk_id": 8, "item_id": 8, "source": "u8", "title": "Operations"}
    operations = Document(OPERATIONS, metadata=where)
    question = "How is the lake encrypted, and where does its key come from?"
    sources = number_sources([LAKE, operations], question)
    answer = (
        "The lake is encrypted with DuckDB's AES [1]. The key comes from TERRAQORE_LAKE_KEY,"
        " or from lake/lake.key, created on first use [1]."
    )
    draft = f"{answer}\n\n{OWN} it is stored in a file named lake.duckdb."
    result = check(draft, sources, question, 0.5)
    assert result.kind == "stated" and result.answer == answer, result
    # Not complete (the key's part unanswered): the supported sentence is cited, as before.
    first = "The lake is encrypted with DuckDB's AES [1]."
    partial = check(
        f"{first}\n\n{OWN} it is stored in a file named lake.duckdb.", sources, question, 0.5
    )
    assert "lake.duckdb [2]" in partial.answer
    # A one-part question is never complete by its words alone.
    one = check(draft, sources, "How is the lake encrypted?", 0.5)
    assert "lake.duckdb [2]" in one.answer


def test_the_own_part_never_begins_with_the_sources_state():
    """A demoted sentence "The sources state that X" under "Not in the sources:" contradicted
    itself (seen on a keywords question)."""
    assert unprefaced("The sources state that Paris is big.") == "Paris is big."
    assert unprefaced("According to the sources, it was 1900.") == "It was 1900."
    assert unprefaced('The sources state it: "X is Y."') == '"X is Y."'
    assert unprefaced("The source of the Nile is Lake Victoria.") == (
        "The source of the Nile is Lake Victoria."
    )
    sources = number_sources([BACH], "Bach")
    draft = f"Bach was born in Eisenach [1].\n\n{OWN} The sources state that he liked tea."
    assert check(draft, sources, "Where was Bach born?", 0.5).own == "He liked tea."


def test_a_hostile_question_in_many_parts_is_checked_quickly():
    import time

    question = "What is it " + " and who is x y" * 5_000
    sources = number_sources([BACH, LAKE], "x")
    start = time.perf_counter()
    check("The lake is encrypted with DuckDB's AES [2].", sources, question, 0.5)
    assert len(question_parts(question)) <= 4 and time.perf_counter() - start < 5
