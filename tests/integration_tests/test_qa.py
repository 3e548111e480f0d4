"""The Q&A graph on the real server, the real answer model, a real lake and index."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphs.qa import graph
from graphs.qa_context import QAContext
from lake.config import LakeSettings
from lake.database import connect
from nodes.verify import KINDS, NOT_FOUND, OWN
from tests.server_harness import RunningServer, guarded_cli
from tests.small_lake import build_small_lake
from tests.web_fixture import WebFixture


def cited(answer: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", answer)}


@pytest.fixture(scope="module")
def lake(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small indexed lake; the environment points the graph at it and at the test server."""
    home = tmp_path_factory.mktemp("qa") / "home"
    build_small_lake(home, server.url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TERRAQORE_HOME", str(home))
        patch.setenv("TERRAQORE_OLLAMA_HOST", server.url)
        patch.delenv("TERRAQORE_ONLINE", raising=False)
        yield home


def test_ask_streams_a_cited_answer_and_lists_its_sources_offline(
    lake: Path, server: RunningServer, tmp_path: Path
) -> None:
    log = tmp_path / "net.log"
    env = {"TERRAQORE_HOME": str(lake), "TERRAQORE_OLLAMA_HOST": server.url}
    proc = guarded_cli(["ask", "In which city was Bach born?", "-k", "3", "--json"], log, env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    numbers = {s["n"] for s in out["sources"]}
    assert numbers == {1, 2, 3} and out["sources"][0]["title"] == "Johann Sebastian Bach"
    assert out["kind"] in KINDS and out["kind"] != "not_found"
    assert "Eisenach" in out["answer"]
    sourced = out["answer"].split(OWN)[0]
    assert cited(out["answer"]) and cited(out["answer"]) <= numbers
    assert cited(out["answer"]) == cited(sourced)  # the model's own answer is never cited
    assert out["grounding"] > 0 and out["usage"][0]["agent"] == "answer"
    proc = guarded_cli(["ask", "When did Bach die?", "-k", "2"], log, env)
    assert proc.returncode == 0, proc.stderr
    assert "Sources:" in proc.stdout and "[1] Johann Sebastian Bach" in proc.stdout
    assert not log.exists() or log.read_text() == "", log.read_text()


def test_weak_retrieval_offline_searches_nothing_and_says_not_found(
    lake: Path, server: RunningServer, tmp_path: Path
) -> None:
    log = tmp_path / "net.log"
    env = {
        "TERRAQORE_HOME": str(lake),
        "TERRAQORE_OLLAMA_HOST": server.url,
        # A search backend outside loopback: any attempt to use it would be logged.
        "TERRAQORE_SEARCH_BACKEND": "http://192.0.2.1/search",
    }
    proc = guarded_cli(["ask", "Who won the 1966 football World Cup final?", "--json"], log, env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    # Nothing in the lake speaks of football: never an answer stated by a source.
    assert out["kind"] != "stated" and not any("web search" in n for n in out["notes"])
    if out["kind"] == "not_found":
        assert out["answer"].startswith(NOT_FOUND) and not cited(out["answer"])
    proc = guarded_cli(
        ["ask", "Who won the 1966 football World Cup final?", "--json", "--strict"], log, env
    )
    assert proc.returncode == 0, proc.stderr
    strict = json.loads(proc.stdout)
    assert strict["kind"] == "not_found" and strict["answer"] == NOT_FOUND
    assert not log.exists() or log.read_text() == "", log.read_text()


def test_online_search_results_land_in_the_lake_and_are_cited(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = WebFixture()
    monkeypatch.setenv("TERRAQORE_SEARCH_BACKEND", f"{web.url}/search")
    monkeypatch.setenv("TERRAQORE_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("TERRAQORE_ALLOW_HTTP", "1")
    monkeypatch.setenv("TERRAQORE_HOST_INTERVAL", "0")
    try:
        out = graph.invoke(
            {"question": "What did the volunteers repair at the old harbour lighthouse?"},
            context=QAContext(online=True, k=3),
        )
    finally:
        web.close()
    assert any(path.startswith("/search?") for path, _ in web.requests)
    assert any("web search added 2 page(s)" in n for n in out["notes"]), out["notes"]
    page = f"{web.url}/page.html"
    con = connect(LakeSettings(home=lake), read_only=True)
    try:
        stored = {r[0] for r in con.execute("SELECT url FROM bronze_items").fetchall()}
    finally:
        con.close()
    assert page in stored
    cited_urls = {s["url"] for s in out["sources"] if s["n"] in cited(out["answer"])}
    assert any(url.startswith(web.url) for url in cited_urls), out
