"""The ingest graph on a real lake and the real embedding model: a folder in, searchable after."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphs.ingest import graph
from graphs.ingest_state import IngestContext
from retrievers import lake_retriever
from tests.server_harness import RunningServer


@pytest.fixture()
def home(server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TERRAQORE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TERRAQORE_OLLAMA_HOST", server.host)
    monkeypatch.delenv("TERRAQORE_ONLINE", raising=False)
    return tmp_path / "home"


def _folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    topics = {
        "kiln.md": "A kiln is a thermally insulated chamber used to fire pottery and bricks. ",
        "loom.md": "A loom is a device used to weave cloth and tapestry from threads. ",
        "quern.md": "A quern is a stone tool for hand grinding a wide variety of grains. ",
    }
    for name, text in topics.items():
        (docs / name).write_text(f"# {name[:-3].title()}\n\n" + text * 8)
    return docs


def test_a_folder_is_ingested_indexed_and_found_with_progress(home: Path, tmp_path: Path) -> None:
    docs = _folder(tmp_path)
    events = []
    final = None
    for mode, data in graph.stream(
        {"source": str(docs), "topic": "crafts"},
        context=IngestContext(),
        stream_mode=["custom", "values"],
    ):
        if mode == "custom":
            events.append(data)
        else:
            final = data
    assert final is not None and not final["error"]
    assert final["added"] == 3 and final["promoted"] == 3 and final["chunks"] >= 3
    assert final["indexed"] >= 3
    assert {e["step"] for e in events} and all("done" in e for e in events)
    found = lake_retriever(k=1).invoke("weaving cloth from threads")
    assert found and found[0].metadata["title"].lower().startswith("loom")
    again = graph.invoke({"source": str(docs)}, context=IngestContext())
    assert again["added"] == 0 and again["already_present"] == 3 and again["indexed"] == 0


def test_bad_sources_are_errors_in_the_output_and_nothing_is_indexed(home: Path) -> None:
    missing = graph.invoke({"source": str(home / "nope")}, context=IngestContext())
    assert missing["error"] and missing["indexed"] == 0
    offline = graph.invoke({"source": "https://example.org/feed.xml"}, context=IngestContext())
    assert "online mode is off" in offline["error"]
